"""crmctl sprint ..."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from crmctl.cli.base import LISTING_FORMATS, FormatOption, choose_format, emit, options
from crmctl.render.tables import pairs, render

sprint_app = typer.Typer(help="Sprints: time boxes of tasks.", no_args_is_help=True)

SprintArgument = Annotated[str, typer.Argument(metavar="SPRINT", help="The sprint's name.")]
SPRINT_TASK_JSON = (
    "id",
    "title",
    "status",
    "assignee",
    "type",
    "estimate_minutes",
    "actual_minutes",
    "remaining_minutes",
    "due_at",
)


def _minutes(value: float | int | None) -> str:
    from crmctl.domain.durations import format_minutes

    return "" if value is None else format_minutes(round(float(value)))


@sprint_app.command("create")
def create(
    name: SprintArgument,
    starts: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    ends: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD), included.")],
    goal: Annotated[str | None, typer.Option("--goal", help="What the sprint is for.")] = None,
) -> None:
    """Create a sprint: a named span of days to plan tasks into."""
    from crmctl.ops import sprints
    from crmctl.ops.session import open_session

    with open_session(options()) as session:
        sprint = sprints.create(session, name, starts, ends, goal)
    emit(f"sprint '{sprint['name']}' {sprint['starts_on']} .. {sprint['ends_on']}\n")


@sprint_app.command("add")
def add(
    name: SprintArgument,
    tasks: Annotated[list[str], typer.Argument(metavar="TASK...", help="Task ids, e.g. T-3 T-4.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the tasks out of the sprint instead.")] = False,
) -> None:
    """Plan tasks into a sprint (a task is in one sprint at a time: this moves it from another)."""
    from crmctl.ops import sprints
    from crmctl.ops.session import open_session

    with open_session(options()) as session:
        moved = sprints.add(session, name, tasks, remove)
    lines = []
    for task, before in moved:
        if remove:
            lines.append(f"{task} taken out of '{name}'\n")
        else:
            lines.append(f"{task} -> '{name}'" + (f" (was in '{before}')" if before else "") + "\n")
    emit("".join(lines) or "nothing to change\n")


@sprint_app.command("show")
def show(name: SprintArgument, output: FormatOption = None) -> None:
    """A sprint's tasks with estimate, time spent and time left, and its totals."""
    from crmctl.ops import sprints
    from crmctl.ops.session import open_session

    fmt = choose_format(output, LISTING_FORMATS)
    with open_session(options(), write=False) as session:
        card = sprints.show(session, name)
    if fmt == "json":
        from crmctl.domain.records import plain

        data = {
            "name": card.sprint["name"],
            "from": plain(card.sprint["starts_on"]),
            "to": plain(card.sprint["ends_on"]),
            "goal": card.sprint["goal"],
            **card.totals,
            "tasks": [{k: plain(t[k]) for k in SPRINT_TASK_JSON} for t in card.tasks],
        }
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        emit(render("csv", card.tasks, [(k, k) for k in SPRINT_TASK_JSON]))
        return
    totals = card.totals
    head = pairs(
        [
            ("sprint", card.sprint["name"]),
            ("days", f"{card.sprint['starts_on']} .. {card.sprint['ends_on']}"),
            ("goal", card.sprint["goal"]),
            ("done", f"{totals['done']} of {totals['count']} tasks"),
            ("estimated", _minutes(totals["estimate_minutes"])),
            ("spent", _minutes(totals["actual_minutes"])),
            ("left", _minutes(totals["remaining_minutes"])),
        ]
    )
    rows = [
        {
            **t,
            "estimate": _minutes(t["estimate_minutes"]),
            "spent": _minutes(t["actual_minutes"]),
            "left": _minutes(t["remaining_minutes"]),
        }
        for t in card.tasks
    ]
    columns = [
        ("id", "task"),
        ("title", "title"),
        ("status", "status"),
        ("assignee", "assignee"),
        ("estimate", "estimate"),
        ("spent", "spent"),
        ("left", "left"),
    ]
    emit(head + ("\n" + render("table", rows, columns) if rows else "\n(no tasks)\n"))


@sprint_app.command("list")
def list_(output: FormatOption = None) -> None:
    """Every sprint, latest first, with how many of its tasks are done."""
    from crmctl.ops import sprints
    from crmctl.ops.session import open_session

    fmt = choose_format(output, LISTING_FORMATS)
    with open_session(options(), write=False) as session:
        rows = sprints.list_sprints(session)
    columns = [
        ("name", "sprint"),
        ("starts_on", "from"),
        ("ends_on", "to"),
        ("tasks", "tasks"),
        ("done", "done"),
        ("goal", "goal"),
    ]
    emit(render(fmt, rows, columns))
