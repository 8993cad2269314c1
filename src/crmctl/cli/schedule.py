"""crmctl queue, eta, load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmctl.cli.base import (
    LISTING_FORMATS,
    FormatOption,
    ListingFormat,
    call,
    check_output,
    choose_format,
    color_wanted,
    completes,
    emit,
    formats,
    write_file,
)
from crmctl.render.records import promise_text
from crmctl.render.tables import FLAG, cell, hidden_line, render

if TYPE_CHECKING:
    from crmctl.ops.schedule import Eta, QueueItem, TimeOff

QUEUE_TABLE = [
    ("id", "task"),
    ("title", "title"),
    ("status", "status"),
    ("estimate", "estimate"),
    ("spent", "spent"),
    ("left", "left"),
    ("when", "start → finish"),
    ("due", "due"),
]
ETA_TABLE = [
    ("id", "task"),
    ("assignee", "assignee"),
    ("title", "title"),
    ("left", "left"),
    ("when", "start → finish"),
    ("due", "due"),
    ("reason", "why"),
]


def _minutes(value: Any) -> str:
    from crmctl.domain.durations import format_minutes

    return "" if value is None else format_minutes(round(float(value)))


def _cells(row: dict[str, Any], item: QueueItem) -> None:
    """The table's cells of a queue item: its times as durations, its dates as a span."""
    row.update(
        estimate=_minutes(item.estimate_minutes),
        spent=_minutes(item.actual_minutes),
        left=_minutes(item.remaining_minutes),
        due=cell(item.due_at) + (" AT RISK" if item.at_risk else ""),
        when=f"{cell(item.start)} → {cell(item.finish)}" if item.start else f"cannot: {item.problem}",
    )


def queue(
    person: Annotated[
        str | None, typer.Argument(help="Whose queue (default: yours).", autocompletion=completes("person"))
    ] = None,
    sprint: Annotated[str | None, typer.Option("--sprint", help="Only the tasks of this sprint.")] = None,
    output: ListingFormat = None,
) -> None:
    """A person's open, unblocked tasks in the order to do them, with computed start and finish."""
    from crmctl.ops.schedule import QueueItem, QueueRequest
    from crmctl.render.shapes import listing, rows

    fmt = choose_format(output)
    items = call("queue", QueueRequest(person, sprint))
    if fmt == "csv":
        emit(render(fmt, rows(items), _csv_columns()))
        return
    flag = (lambda item: item.at_risk) if fmt == "table" else None
    emit(listing(fmt, items, QueueItem, color=color_wanted(), flag=flag, table=_cells, extra=QUEUE_TABLE))


def _csv_columns() -> list[tuple[str, str]]:
    """A queue's CSV columns: its fields, with project_priority before priority, where CSV has always had it
    (JSON after it)."""
    from crmctl.domain.shapes import names
    from crmctl.ops.schedule import QueueItem

    fields = [name for name in names(QueueItem) if name != "project_priority"]
    fields.insert(fields.index("priority"), "project_priority")
    return [(name, name) for name in fields]


def _eta_rows(found: Eta) -> list[dict[str, Any]]:
    """Each task an ETA lists as one row: its fields as in a queue, with its assignee after its status (where the
    JSON has always had it)."""
    from crmctl.render.shapes import rows

    listed = []
    for task, row in zip(found.tasks, rows(t.task for t in found.tasks), strict=True):
        head = {name: row[name] for name in ("id", "title", "status")}
        listed.append({**head, "assignee": task.assignee, **row})
    return listed


def eta(
    key: Annotated[
        str,
        typer.Argument(
            metavar="KEY", help="A task (T-3), a project (P-2) or a record (ORD-5).", autocompletion=completes("record")
        ),
    ],
    output: FormatOption = None,
) -> None:
    """When a task, project or record will be ready, computed from queues, estimates, calendars and dependencies."""
    from crmctl.ops.schedule import EtaRequest

    fmt = choose_format(output)
    found = call("eta", EtaRequest(key))
    emit(_eta_json(found) if fmt == "json" else _eta_table(found))


def _time_off(off: TimeOff) -> str:
    """'2027-03-08 holiday: Международный женский день (antonov, frolov)'; a span of days first..last."""
    days = str(off.first) if off.first == off.last else f"{off.first}..{off.last}"
    return f"{days} {off.reason} ({', '.join(off.people)})"


def _eta_json(found: Eta) -> str:
    from crmctl.domain.records import plain
    from crmctl.domain.shapes import names
    from crmctl.ops.schedule import QueueItem

    data = {
        "what": found.what,
        "ready": plain(found.finish),
        "last_task": found.last,
        "reason": found.reason,
        "at_risk": [t.task.id for t in found.tasks if t.task.at_risk],
        "tasks": json.loads(render("json", _eta_rows(found), [(k, k) for k in ("assignee", *names(QueueItem))])),
        "hidden": found.hidden,
        "finished": found.finished,
        "promise": plain(dataclasses.asdict(found.promise)) if found.promise else None,
        "time_off": [plain(dataclasses.asdict(t)) for t in found.time_off],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=plain) + "\n"


def _eta_table(found: Eta) -> str:
    done = "finished" if found.finished else "ready"
    head = f"{found.what}: {done} {cell(found.finish)}" if found.finish else f"{found.what}: no ready date"
    text = f"{head}\nwhy: {found.reason}\n"
    if found.time_off:
        text += "time off before then:\n" + "".join(f"  {_time_off(t)}\n" for t in found.time_off)
    if found.promise:
        text += f"promised {promise_text(found.promise)}\n"
    risky = [t.task.id for t in found.tasks if t.task.at_risk]
    if risky:
        text += f"at risk (due before they finish): {', '.join(risky)}\n"
    if found.tasks:
        shown = _eta_rows(found)
        for row, t in zip(shown, found.tasks, strict=True):
            _cells(row, t.task)
            row[FLAG] = t.task.at_risk
        text += "\n" + render("table", shown, ETA_TABLE, color=color_wanted())
    return text + hidden_line(found.hidden)


def load(
    since: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD), included; default today.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), excluded; default two weeks after --from.")
    ] = None,
    output: Annotated[str | None, formats(*LISTING_FORMATS, "html")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """The team at a glance: each person's queued work, when their queue empties, their working hours in a
    period and how much of them the work takes; overloaded people flagged.

    Example: crmctl load --from 2027-03-01 --to 2027-03-15 --format html --out load.html
    """
    from crmctl.ops.schedule import LoadRequest, LoadRow
    from crmctl.render.pages import load_page
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    if out is not None:
        check_output(out)
    found = call("load", LoadRequest(since, until))
    if fmt == "html":
        text = load_page(found)
    else:
        flag = (lambda row: row.overloaded) if fmt == "table" else None
        text = listing(fmt, found.people, LoadRow, color=color_wanted(), flag=flag)
        if fmt == "table":
            last = (found.until - dt.timedelta(days=1)).date()
            text = f"Load from {found.since.date()} to {last}\n\n{text}"
    if out is not None:
        write_file(out, text)
    else:
        emit(text)
