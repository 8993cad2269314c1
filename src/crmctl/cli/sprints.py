"""crmctl sprint ..."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmctl.cli.base import (
    ListingFormat,
    call,
    choose_format,
    emit,
)
from crmctl.render.tables import pairs

if TYPE_CHECKING:
    from crmctl.ops.sprints import SprintCard, SprintTask

sprint_app = typer.Typer(help="Sprints: time boxes of tasks.", no_args_is_help=True)

SprintArgument = Annotated[str, typer.Argument(metavar="SPRINT", help="The sprint's name.")]


def _minutes(value: float | int | None) -> str:
    from crmctl.domain.durations import format_minutes

    return "" if value is None else format_minutes(round(float(value)))


@sprint_app.command("create")
def create(
    name: SprintArgument,
    starts: Annotated[str, typer.Option("--from", metavar="DATE", help="First day (YYYY-MM-DD).")],
    ends: Annotated[str, typer.Option("--to", metavar="DATE", help="Last day (YYYY-MM-DD), included.")],
    goal: Annotated[str | None, typer.Option("--goal", help="What the sprint is for.")] = None,
) -> None:
    """Create a sprint: a named span of days to plan tasks into."""
    from crmctl.ops.sprints import SprintCreateRequest

    sprint = call("sprint.create", SprintCreateRequest(name, starts, ends, goal))
    emit(f"sprint '{sprint.name}' {sprint.starts_on} .. {sprint.ends_on}\n")


@sprint_app.command("add")
def add(
    name: SprintArgument,
    tasks: Annotated[list[str], typer.Argument(metavar="TASK...", help="Task ids, e.g. T-3 T-4.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the tasks out of the sprint instead.")] = False,
) -> None:
    """Plan tasks into a sprint (a task is in one sprint at a time: this moves it from another)."""
    from crmctl.ops.sprints import SprintAddRequest

    change = call("sprint.add", SprintAddRequest(name, tasks, remove))
    lines = []
    for move in change.moved:
        if remove:
            lines.append(f"{move.task} taken out of '{name}'\n")
        else:
            lines.append(f"{move.task} -> '{name}'" + (f" (was in '{move.before}')" if move.before else "") + "\n")
    emit("".join(lines) or "nothing to change\n")


@sprint_app.command("show")
def show(name: SprintArgument, output: ListingFormat = None) -> None:
    """A sprint's tasks with estimate, time spent and time left, and its totals."""
    from crmctl.ops.sprints import SprintShowRequest, SprintTask
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    card = call("sprint.show", SprintShowRequest(name))
    if fmt == "json":
        emit(_sprint_json(card))
    elif fmt == "csv":
        emit(listing("csv", card.tasks, SprintTask))
    else:
        emit(_sprint_text(card))


def _sprint_json(card: SprintCard) -> str:
    from crmctl.domain.records import plain
    from crmctl.render.shapes import rows

    data = {
        "name": card.sprint.name,
        "from": plain(card.sprint.starts_on),
        "to": plain(card.sprint.ends_on),
        "goal": card.sprint.goal,
        **dataclasses.asdict(card.totals),
        "tasks": [{k: plain(v) for k, v in row.items()} for row in rows(card.tasks)],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _minutes_cells(row: dict[str, Any], task: SprintTask) -> None:
    for name in ("estimate_minutes", "actual_minutes", "remaining_minutes"):
        row[name] = _minutes(getattr(task, name))


def _sprint_text(card: SprintCard) -> str:
    from crmctl.ops.sprints import SprintTask
    from crmctl.render.shapes import listing

    sprint, totals = card.sprint, card.totals
    head = pairs(
        [
            ("sprint", sprint.name),
            ("days", f"{sprint.starts_on} .. {sprint.ends_on}"),
            ("goal", sprint.goal),
            ("done", f"{totals.done} of {totals.count} tasks"),
            ("estimated", _minutes(totals.estimate_minutes)),
            ("spent", _minutes(totals.actual_minutes)),
            ("left", _minutes(totals.remaining_minutes)),
        ]
    )
    if not card.tasks:
        return head + "\n(no tasks)\n"
    return head + "\n" + listing("table", card.tasks, SprintTask, table=_minutes_cells)


@sprint_app.command("list")
def list_(output: ListingFormat = None) -> None:
    """Every sprint, latest first, with how many of its tasks are done."""
    from crmctl.ops.sprints import SprintListRequest, SprintRow
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    emit(listing(fmt, call("sprint.list", SprintListRequest()), SprintRow))
