"""crmctl queue, eta."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from crmctl.cli.base import LISTING_FORMATS, FormatOption, choose_format, color_wanted, emit, options
from crmctl.render.tables import FLAG, cell, hidden_line, render

QUEUE_JSON = (
    "id",
    "title",
    "status",
    "record",
    "project",
    "project_priority",
    "priority",
    "estimate_minutes",
    "actual_minutes",
    "remaining_minutes",
    "due_at",
    "start",
    "finish",
    "at_risk",
    "reason",
    "problem",
)


def _minutes(value: Any) -> str:
    from crmctl.domain.durations import format_minutes

    return "" if value is None else format_minutes(round(float(value)))


def _table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **r,
            FLAG: r["at_risk"],
            "estimate": _minutes(r["estimate_minutes"]),
            "spent": _minutes(r["actual_minutes"]),
            "left": _minutes(r["remaining_minutes"]),
            "due": cell(r["due_at"]) + (" AT RISK" if r["at_risk"] else ""),
            "when": f"{cell(r['start'])} → {cell(r['finish'])}" if r["start"] else f"cannot: {r['problem']}",
        }
        for r in rows
    ]


def queue(
    person: Annotated[str | None, typer.Argument(help="Whose queue (default: yours).")] = None,
    sprint: Annotated[str | None, typer.Option("--sprint", help="Only the tasks of this sprint.")] = None,
    output: FormatOption = None,
) -> None:
    """A person's open, unblocked tasks in the order to do them, with computed start and finish."""
    from crmctl.ops import schedule
    from crmctl.ops.session import open_session

    fmt = choose_format(output, LISTING_FORMATS)
    with open_session(options()) as session:
        _, rows = schedule.queue(session, person, sprint)
    if fmt != "table":
        emit(render(fmt, rows, [(k, k) for k in QUEUE_JSON]))
        return
    columns = [
        ("id", "task"),
        ("title", "title"),
        ("status", "status"),
        ("estimate", "estimate"),
        ("spent", "spent"),
        ("left", "left"),
        ("when", "start → finish"),
        ("due", "due"),
    ]
    emit(render(fmt, _table_rows(rows), columns, color=color_wanted()))


def eta(
    key: Annotated[str, typer.Argument(metavar="KEY", help="A task (T-3), a project (P-2) or a record (ORD-5).")],
    output: FormatOption = None,
) -> None:
    """When a task, project or record will be ready, computed from queues, estimates, calendars and dependencies."""
    from crmctl.domain.records import plain
    from crmctl.ops import schedule
    from crmctl.ops.session import open_session

    fmt = choose_format(output, ("table", "json"))
    with open_session(options(), write=False) as session:
        found = schedule.eta(session, key)
    if fmt == "json":
        data = {
            "what": found.what,
            "ready": plain(found.finish),
            "last_task": found.last,
            "reason": found.reason,
            "at_risk": [r["id"] for r in found.tasks if r["at_risk"]],
            "tasks": json.loads(render("json", found.tasks, [(k, k) for k in ("assignee", *QUEUE_JSON)])),
            "hidden": found.hidden,
        }
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    head = f"{found.what}: ready {cell(found.finish)}" if found.finish else f"{found.what}: no ready date"
    text = f"{head}\nwhy: {found.reason}\n"
    risky = [r["id"] for r in found.tasks if r["at_risk"]]
    if risky:
        text += f"at risk (due before they finish): {', '.join(risky)}\n"
    if found.tasks:
        columns = [
            ("id", "task"),
            ("assignee", "assignee"),
            ("title", "title"),
            ("left", "left"),
            ("when", "start → finish"),
            ("due", "due"),
            ("reason", "why"),
        ]
        text += "\n" + render("table", _table_rows(found.tasks), columns, color=color_wanted())
    emit(text + hidden_line(found.hidden))
