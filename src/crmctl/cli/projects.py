"""crmctl project ..., task ..., time ..."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from crmctl.cli.base import (
    DryRunOption,
    FormatOption,
    ListingFormat,
    call,
    choose_format,
    color_wanted,
    completes,
    emit,
    rehearse,
)
from crmctl.render.tables import FLAG, cell, clip, hidden_line, pairs, render, terminal_width, visible

if TYPE_CHECKING:
    from crmctl.ops.projects import ProjectCard, TaskCard, TaskInterval, TaskRow

project_app = typer.Typer(help="Projects: create, list, show, and launch project templates.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks: add, assign, chain, work on and finish them.", no_args_is_help=True)
time_app = typer.Typer(
    help="Time worked on tasks: log past work, list, correct and delete intervals.", no_args_is_help=True
)

TaskArgument = Annotated[str, typer.Argument(metavar="TASK", help="The task id, e.g. T-12 (or 12).")]
ForOption = Annotated[
    str | None, typer.Option("--for", help="The record it belongs to, e.g. CL-3.", autocompletion=completes("record"))
]
CommentOption = Annotated[str | None, typer.Option("--comment", "-m", help="A comment for the task's history.")]
StartAfterOption = Annotated[
    str | None,
    typer.Option(
        "--start-after",
        metavar="DATETIME",
        help="Not started before this date-time (ISO; a date alone: its start); empty clears it.",
    ),
]

# The task table's columns: fields of ops.projects.TaskRow, and its cells made for the table (see render_tasks)
TASK_TABLE = [
    ("id", "task"),
    ("status", "status"),
    ("title", "title"),
    ("assignee", "assignee"),
    ("estimate", "estimate"),
    ("actual", "actual"),
    ("due", "due"),
    ("waits", "waits for"),
    ("record", "record"),
]


def _minutes(value: float | None) -> str:
    from crmctl.domain.durations import format_minutes

    return "" if value is None else format_minutes(round(float(value)))


def render_tasks(fmt: str, tasks: Sequence[TaskRow]) -> str:
    """Tasks as a listing: JSON and CSV hold a TaskRow's fields; the table shows TASK_TABLE, overdue tasks
    red on a terminal."""
    from crmctl.ops.projects import TaskRow
    from crmctl.render.shapes import listing, rows

    if fmt != "table":
        return listing(fmt, tasks, TaskRow)
    cells = [
        {
            **row,
            FLAG: task.overdue,
            "estimate": _minutes(task.estimate_minutes),
            "actual": _minutes(task.actual_minutes),
            "waits": ", ".join(task.blocked_by),
            "due": cell(task.due_at) + (" overdue" if task.overdue else ""),
        }
        for row, task in zip(rows(tasks), tasks, strict=True)
    ]
    return render(fmt, cells, TASK_TABLE, color=color_wanted())


def tasks_json(tasks: Sequence[TaskRow]) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], json.loads(render_tasks("json", tasks)))


# -- project -------------------------------------------------------------------------------------------------
@project_app.command("create")
def project_create(
    title: Annotated[str, typer.Argument(help="The title; 'Clients / ACME' makes ACME a subproject of Clients.")],
    parent: Annotated[str | None, typer.Option("--parent", help="The parent project, e.g. P-1.")] = None,
    for_key: ForOption = None,
) -> None:
    """Create a project, optionally under a parent and linked to a record."""
    from crmctl.ops.projects import ProjectCreateRequest

    made = call("project.create", ProjectCreateRequest(title, parent, for_key))
    emit(made.id + "\n")


@project_app.command("list")
def project_list(
    parent: Annotated[str | None, typer.Option("--parent", help="Only the subprojects of this project.")] = None,
    for_key: ForOption = None,
    output: ListingFormat = None,
) -> None:
    """List projects with their task counts."""
    from crmctl.ops.projects import ProjectListRequest, ProjectRow
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    found = call("project.list", ProjectListRequest(parent, for_key))
    emit(listing(fmt, found, ProjectRow))


@project_app.command("show")
def project_show(
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="The project id, e.g. P-3.")],
    output: FormatOption = None,
) -> None:
    """Show a project: its parameters, subprojects and the tasks of all of them."""
    from crmctl.ops.projects import ProjectShowRequest

    fmt = choose_format(output)
    card = call("project.show", ProjectShowRequest(project))
    emit(_project_json(card) if fmt == "json" else _project_text(card))


def _project_json(card: ProjectCard) -> str:
    from crmctl.domain.records import plain

    data = {k: plain(v) for k, v in dataclasses.asdict(card.project).items()}
    data["subprojects"] = [s.id for s in card.subprojects]
    data["tasks"] = tasks_json(card.tasks)
    data["hidden"] = card.hidden
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _project_text(card: ProjectCard) -> str:
    p = card.project
    meta = [
        ("parent", p.parent),
        ("record", p.record),
        ("template", p.template),
        ("priority", p.priority),
        ("due", p.due_at),
        ("created", p.created_at),
        ("by", p.created_by),
    ]
    text = _head(p.id, p.title) + pairs([(k, v) for k, v in meta if v is not None])
    if p.params:
        text += "\nparameters\n" + "".join(f"  {k} = {cell(v)}\n" for k, v in p.params.items())
    if card.subprojects:
        text += "\nsubprojects\n" + "".join(f"  {_head(s.id, s.title).rstrip()}\n" for s in card.subprojects)
    done = sum(1 for t in card.tasks if t.status == "done")
    text += f"\ntasks ({done}/{len(card.tasks)} done)\n" + render_tasks("table", card.tasks)
    return text + hidden_line(card.hidden)


@project_app.command("launch")
def project_launch(
    template: Annotated[
        str, typer.Argument(help="The project template to launch.", autocompletion=completes("template"))
    ],
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value of a template parameter (repeat).")
    ] = None,
    for_key: ForOption = None,
    name: Annotated[str | None, typer.Option("--name", help="The project's title (default: the template's).")] = None,
    dry_run: DryRunOption = False,
    output: FormatOption = None,
) -> None:
    """Launch a template: check its parameters, create the project and its chain of assigned tasks at once."""
    from crmctl.domain.records import parse_assignments
    from crmctl.ops.projects import LaunchRequest

    fmt = choose_format(output)
    raw = parse_assignments(params or [])
    if dry_run:
        return rehearse("project.launch", LaunchRequest(template, raw, for_key, name), fmt)
    launched = call("project.launch", LaunchRequest(template, raw, for_key, name))
    if fmt == "json":
        data = {
            "project": launched.project,
            "title": launched.title,
            "left_out": [{"task": t, "why": why} for t, why in launched.left_out],
            "assigned": [{"task": t, "why": why} for t, why in launched.chosen],
            "tasks": tasks_json(launched.tasks),
        }
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    text = f"{launched.project}  {launched.title}: {len(launched.tasks)} tasks\n" + render_tasks(
        "table", launched.tasks
    )
    text += "".join(f"left out {task}: {why}\n" for task, why in launched.left_out)
    emit(text + "".join(f"assigned {task} by {why}\n" for task, why in launched.chosen))


@project_app.command("update")
def project_update(
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="The project id, e.g. P-3.")],
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="1 (highest) to 5.")] = None,
    due: Annotated[str | None, typer.Option("--due", help="A due date-time (ISO); empty clears it.")] = None,
    output: FormatOption = None,
) -> None:
    """Change a project's title, priority or due date: `crmctl project update P-1 --priority 1`."""
    from crmctl.errors import UsageError
    from crmctl.ops.projects import ProjectUpdateRequest
    from crmctl.render.records import changed as changed_lines

    fmt = choose_format(output)
    if title is None and priority is None and due is None:
        raise UsageError("nothing to change: give --title, --priority or --due")
    changed = call("project.update", ProjectUpdateRequest(project, title, priority, due))
    emit(
        _changes_json(changed.project, changed.changes)
        if fmt == "json"
        else changed_lines(changed.project, changed.changes)
    )


def _changes_json(name: str, changes: Sequence[Any], task: dict[str, Any] | None = None) -> str:
    from crmctl.domain.records import plain

    data: dict[str, Any] = {
        "id": name,
        "changes": [{"field": c.field, "before": plain(c.before), "after": plain(c.after)} for c in changes],
    }
    if task is not None:
        data["task"] = task
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# -- task ----------------------------------------------------------------------------------------------------
@task_app.command("add")
def task_add(
    title: Annotated[str, typer.Argument(help="What is to be done.")],
    project: Annotated[str | None, typer.Option("--project", help="The project, e.g. P-2.")] = None,
    for_key: ForOption = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", "-a", help="Who does it.", autocompletion=completes("person"))
    ] = None,
    watchers: Annotated[list[str] | None, typer.Option("--watcher", help="Who follows it (repeat).")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Task type, e.g. design (reports group by it).")] = None,
    subtype: Annotated[str | None, typer.Option("--subtype", help="Task subtype.")] = None,
    estimate: Annotated[
        str | None, typer.Option("--estimate", "-e", metavar="DURATION", help="Working time: 90m, 2h, 1d.")
    ] = None,
    priority: Annotated[int, typer.Option("--priority", help="1 (highest) to 5.")] = 3,
    due: Annotated[str | None, typer.Option("--due", metavar="DATETIME", help="A hard due date-time (ISO).")] = None,
    start_after: StartAfterOption = None,
    depends_on: Annotated[list[str] | None, typer.Option("--depends-on", help="A task it waits for (repeat).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="Details.")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Repeat from --due every 1d, 2w, 1mo (a recurring task).")
    ] = None,
    dry_run: DryRunOption = False,
    output: FormatOption = None,
) -> None:
    """Add a task; prints its id (the whole task with --format json). With --every it recurs: the next one is
    made when it is done, or by `crmctl tick` once its due date has passed.

    Example: crmctl task add "Отчёт за неделю" --assignee anna --due 2027-03-05T17:00 --every 1w
    """
    from crmctl.ops.projects import TaskAddRequest

    fmt = choose_format(output)
    request = TaskAddRequest(
        title,
        project=project,
        record=for_key,
        assignee=assignee,
        watchers=watchers or [],
        type=type_,
        subtype=subtype,
        estimate=estimate,
        priority=priority,
        due=due,
        depends_on=depends_on or [],
        description=description,
        every=every,
        start_after=start_after,
    )
    if dry_run:
        return rehearse("task.add", request, fmt)
    task = call("task.add", request)
    emit(json.dumps(tasks_json([task])[0], ensure_ascii=False, indent=2) + "\n" if fmt == "json" else task.id + "\n")


@task_app.command("show")
def task_show(task: TaskArgument, output: FormatOption = None) -> None:
    """Show a task: status, people, estimate against actual time, dependencies, time intervals and history."""
    from crmctl.ops.projects import TaskShowRequest

    fmt = choose_format(output)
    card = call("task.show", TaskShowRequest(task))
    emit(_task_json(card) if fmt == "json" else _task_text(card))


def _task_json(card: TaskCard) -> str:
    from crmctl.ops.projects import TaskInterval
    from crmctl.render.shapes import listing

    data = tasks_json([card.task])[0]
    data["dependents"] = card.dependents
    data["start_after"] = card.start_after.isoformat() if card.start_after else None
    data["start_after_why"] = card.start_after_why
    data["intervals"] = json.loads(listing("json", card.intervals, TaskInterval))
    data["history"] = [
        {"at": e["at"].isoformat(), "actor": e["actor"], "action": e["action"], "data": e["data"]} for e in card.events
    ]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _task_text(card: TaskCard) -> str:
    from crmctl.render.records import describe_event

    t = card.task
    meta = [
        ("status", t.status),
        ("project", t.project),
        ("record", t.record),
        ("type", "/".join(x for x in (t.type, t.subtype) if x)),
        ("assignee", t.assignee),
        ("watchers", t.watchers),
        ("priority", t.priority),
        ("estimate", _minutes(t.estimate_minutes)),
        ("actual", _minutes(t.actual_minutes)),
        ("due", cell(t.due_at) + (" (overdue)" if t.overdue else "")),
        ("not before", f"{cell(card.start_after)}: {card.start_after_why}" if card.start_after else None),
        ("waits for", t.blocked_by),
        ("depends on", t.depends_on),
        ("needed by", card.dependents),
    ]
    text = _head(t.id, t.title) + pairs([(k, v) for k, v in meta if v not in (None, "", [])])
    if t.description:
        text += "\n" + t.description.rstrip() + "\n"
    if card.intervals:
        text += "\ntime\n" + render("table", [_interval_cells(i) for i in card.intervals], INTERVAL_TABLE)
    if card.events:
        width = terminal_width()
        text += "\nhistory\n" + "".join(
            clip(
                cell(f"  {cell(e['at'])}  {e['actor'] or '-'}  {e['action']}  {describe_event(e)}", width), width
            ).replace("\n", " ")
            + "\n"
            for e in card.events
        )
    return visible(text)  # titles, descriptions and history are the users' text: no terminal escapes


# A task card's time intervals: fields of ops.projects.TaskInterval ("length" made for the table)
INTERVAL_TABLE = [
    ("id", "id"),
    ("person", "person"),
    ("started_at", "from"),
    ("ended_at", "to"),
    ("length", "time"),
    ("note", "note"),
]


def _interval_cells(interval: TaskInterval) -> dict[str, Any]:
    length = _minutes(interval.minutes) + (" running" if interval.ended_at is None else "")
    return {**dataclasses.asdict(interval), "length": length}


def _head(name: str, title: str) -> str:
    """The first line of a project's or task's card, cut to the terminal (titles can be long)."""
    width = terminal_width()
    return clip(cell(f"{name}  {title}", width).replace("\n", " "), width) + "\n\n"


@task_app.command("list")
def task_list(
    assignee: Annotated[
        str | None,
        typer.Option("--assignee", "-a", help="Only this person's tasks.", autocompletion=completes("person")),
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project (and its subprojects).")] = None,
    for_key: ForOption = None,
    status: Annotated[list[str] | None, typer.Option("--status", help="todo, in_progress, done, cancelled.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only tasks of this type.")] = None,
    blocked: Annotated[bool, typer.Option("--blocked", help="Only tasks waiting for others.")] = False,
    ready: Annotated[bool, typer.Option("--ready", help="Only tasks to do whose dependencies are done.")] = False,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Only tasks given to nobody yet.")] = False,
    recurring: Annotated[bool, typer.Option("--recurring", help="Only current tasks of recurring series.")] = False,
    process: Annotated[str | None, typer.Option("--process", help="Only the tasks of records in this process.")] = None,
    output: ListingFormat = None,
) -> None:
    """List tasks; overdue ones are red on a terminal and flagged in JSON. Without the tasks.view_others
    permission, only your own."""
    from crmctl.ops.projects import TaskListRequest

    fmt = choose_format(output)
    request = TaskListRequest(
        assignee, project, for_key, status or [], type_, blocked, ready, unassigned, recurring, process
    )
    emit(render_tasks(fmt, call("task.list", request)))


@task_app.command("update")
def task_update(
    task: TaskArgument,
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="Details; empty clears.")] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="1 (highest) to 5.")] = None,
    estimate: Annotated[str | None, typer.Option("--estimate", "-e", help="Working time: 90m, 2h, 1d.")] = None,
    due: Annotated[str | None, typer.Option("--due", help="A hard due date-time (ISO); empty clears it.")] = None,
    start_after: StartAfterOption = None,
    type_: Annotated[str | None, typer.Option("--type", help="Task type; empty clears it.")] = None,
    subtype: Annotated[str | None, typer.Option("--subtype", help="Task subtype; empty clears it.")] = None,
    watchers: Annotated[list[str] | None, typer.Option("--watcher", help="A person to follow it (repeat).")] = None,
    unwatch: Annotated[
        list[str] | None, typer.Option("--no-watcher", help="A person to stop following it (repeat).")
    ] = None,
    output: FormatOption = None,
) -> None:
    """Change what was planned for a task, several things at once: `crmctl task update T-3 --priority 1 -e 4h`."""
    from crmctl.errors import UsageError
    from crmctl.ops.projects import TaskUpdateRequest
    from crmctl.render.records import changed as changed_lines

    fmt = choose_format(output)
    request = TaskUpdateRequest(
        task,
        title,
        description,
        priority,
        estimate,
        due,
        type_,
        subtype,
        watchers or [],
        unwatch or [],
        start_after,
    )
    if request == TaskUpdateRequest(task):
        raise UsageError("nothing to change: give --title, --priority, --estimate, --due ... (see --help)")
    changed = call("task.update", request)
    if fmt == "json":
        emit(_changes_json(changed.task.id, changed.changes, tasks_json([changed.task])[0]))
    else:
        emit(changed_lines(changed.task.id, changed.changes))


@task_app.command("assign")
def task_assign(
    task: TaskArgument,
    person: Annotated[
        str,
        typer.Argument(
            help="The person who will do it ('-' leaves it unassigned).", autocompletion=completes("person")
        ),
    ],
) -> None:
    """Give a task to a person; they find a notice in their inbox."""
    from crmctl.ops.projects import TaskAssignRequest

    found = call("task.assign", TaskAssignRequest(task, None if person == "-" else person))
    emit(f"{found.id} -> {found.assignee or 'nobody'}\n")


@task_app.command("depend")
def task_depend(
    task: TaskArgument,
    on: Annotated[list[str], typer.Option("--on", help="A task it waits for (repeat).")],
    remove: Annotated[bool, typer.Option("--remove", help="Drop these dependencies instead.")] = False,
) -> None:
    """Make a task wait for others (a cycle is refused and named), or drop such a dependency."""
    from crmctl.ops.projects import TaskDependRequest

    found = call("task.depend", TaskDependRequest(task, on, remove))
    emit(f"{found.id} depends on {', '.join(found.depends_on) or 'nothing'}\n")


@task_app.command("start")
def task_start(task: TaskArgument) -> None:
    """Start the timer on a task for its assignee (someone else's task: tasks.manage_others); a timer of theirs
    running on another task is stopped first."""
    from crmctl.ops.projects import TaskStartRequest

    change = call("task.start", TaskStartRequest(task))
    capped = f" at the {change.capped} cap" if change.capped else ""
    before = f" (stopped {change.stopped}{capped} after {_minutes(change.minutes)})" if change.stopped else ""
    emit(f"timer started on {change.task}{before}\n")


@task_app.command("stop")
def task_stop(
    person: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Whose timer (default: yours; someone else's: tasks.manage_others).",
            autocompletion=completes("person"),
        ),
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When the work really ended (ISO): a forgotten timer.")] = None,
    at_cap: Annotated[
        bool, typer.Option("--at-cap", help="A timer past the workspace's timer_cap stops at the cap.")
    ] = False,
) -> None:
    """Stop your running timer (or, with --for, someone else's); one that ran past the workspace's timer cap
    (12h unless timer_cap says) needs its real end (--at) or --at-cap."""
    from crmctl.ops.projects import TaskStopRequest

    change = call("task.stop", TaskStopRequest(person, at, at_cap))
    capped = f" (stopped at the {change.capped} cap)" if change.capped else ""
    emit(f"timer stopped on {change.task} after {_minutes(change.minutes)}{capped}\n")


@task_app.command("done")
def task_done(task: TaskArgument, comment: CommentOption = None) -> None:
    """Finish a task; whoever it was blocking is told their task is ready."""
    from crmctl.ops.projects import TaskDoneRequest

    finished = call("task.done", TaskDoneRequest(task, comment))
    ready = "".join(f"ready: {t.id} {t.title} ({t.assignee or 'unassigned'})\n" for t in finished.unblocked)
    following = f"next: {finished.next}\n" if finished.next else ""
    emit(f"{finished.task} done\n{ready}{following}")


@task_app.command("stop-series")
def task_stop_series(task: TaskArgument) -> None:
    """Stop a recurring task's series: no next task is made (the task itself stays as it is).

    Example: crmctl task stop-series T-12
    """
    from crmctl.ops.projects import SeriesStopped, TaskStopSeriesRequest

    stopped: SeriesStopped = call("task.stop-series", TaskStopSeriesRequest(task))
    emit(f"series {stopped.series} (every {stopped.every}) stopped: {stopped.task} is its last task\n")


@task_app.command("reopen")
def task_reopen(task: TaskArgument) -> None:
    """Open a done or cancelled task again."""
    from crmctl.ops.projects import TaskReopenRequest

    found = call("task.reopen", TaskReopenRequest(task))
    emit(f"{found.id} reopened\n")


@task_app.command("cancel")
def task_cancel(task: TaskArgument, comment: CommentOption = None) -> None:
    """Cancel a task that will not be done."""
    from crmctl.ops.projects import TaskCancelRequest

    found = call("task.cancel", TaskCancelRequest(task, comment))
    emit(f"{found.id} cancelled\n")


@task_app.command("comment")
def task_comment(task: TaskArgument, text: Annotated[str, typer.Argument(help="The comment.")]) -> None:
    """Add a comment to a task's history."""
    from crmctl.ops.projects import TaskCommentRequest

    commented = call("task.comment", TaskCommentRequest(task, text))
    emit(f"comment added to {commented.task}\n")


# -- time ----------------------------------------------------------------------------------------------------
@time_app.command("log")
def time_log(
    task: TaskArgument,
    duration: Annotated[str, typer.Argument(metavar="DURATION", help="How long: 90m, 2h, 1h30m, 1d (a working day).")],
    at: Annotated[
        str | None, typer.Option("--at", metavar="DATETIME", help="When the work began (default: it ends now).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="What was done.")] = None,
    person: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Who did the work (default: the task's assignee, else you).",
            autocompletion=completes("person"),
        ),
    ] = None,
) -> None:
    """Record past work on a task, for its assignee (work on someone else's task needs tasks.manage_others)."""
    from crmctl.ops.projects import TimeLogRequest

    logged = call("time.log", TimeLogRequest(task, duration, at, note, person))
    pieces = f" (intervals {', '.join(map(str, logged.intervals))}, around breaks)" if len(logged.intervals) > 1 else ""
    emit(
        f"{_minutes(logged.minutes)} logged on {logged.task} from {cell(logged.started_at)}"
        f" to {cell(logged.ended_at)}{pieces}\n"
    )


# The time table's columns: fields of ops.timekeeping.TimeRow, and "length" made for the table
TIME_TABLE = [
    ("id", "id"),
    ("started_at", "from"),
    ("ended_at", "to"),
    ("length", "time"),
    ("person", "person"),
    ("task", "task"),
    ("title", "title"),
    ("note", "note"),
]


@time_app.command("list")
def time_list(
    person: Annotated[
        str | None, typer.Option("--person", help="Only this person's time.", autocompletion=completes("person"))
    ] = None,
    since: Annotated[str | None, typer.Option("--from", metavar="DATETIME", help="From this date-time (ISO).")] = None,
    until: Annotated[str | None, typer.Option("--to", metavar="DATETIME", help="Up to this date-time (ISO).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only this task.")] = None,
    output: ListingFormat = None,
) -> None:
    """List time intervals, a running timer included (counted up to now)."""
    from crmctl.ops.projects import TimeListRequest
    from crmctl.ops.timekeeping import TimeRow
    from crmctl.render.shapes import listing, rows

    fmt = choose_format(output)
    found = call("time.list", TimeListRequest(person, since, until, task))
    if fmt != "table":
        emit(listing(fmt, found, TimeRow))
        return
    shown = [
        {**row, "length": _minutes(r.minutes) + (" running" if r.running else "")}
        for row, r in zip(rows(found), found, strict=True)
    ]
    total = sum(r.minutes for r in found)
    emit(render(fmt, shown, TIME_TABLE) + (f"total {_minutes(total)}\n" if found else ""))


@time_app.command("edit")
def time_edit(
    interval: Annotated[int, typer.Argument(help="The interval's id (time list shows it).")],
    start: Annotated[str | None, typer.Option("--start", help="Its real start (ISO).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Its real end (ISO).")] = None,
    minutes: Annotated[int | None, typer.Option("--minutes", help="Its length in minutes from its start.")] = None,
    note: Annotated[str | None, typer.Option("--note", help='What was done ("" removes the note).')] = None,
) -> None:
    """Correct a time interval: its start, end or length, and its note (someone else's: tasks.manage_others)."""
    from crmctl.ops.timekeeping import TimeEditRequest

    row = call("time.edit", TimeEditRequest(interval, start, end, minutes, note))
    end_text = cell(row.ended_at) if row.ended_at else "running"
    emit(f"interval {row.id} on {row.task}: {cell(row.started_at)} to {end_text} ({_minutes(row.minutes)})\n")


@time_app.command("delete")
def time_delete(interval: Annotated[int, typer.Argument(help="The interval's id (time list shows it).")]) -> None:
    """Delete a time interval logged by mistake; the task's history keeps what it held (someone else's:
    tasks.manage_others)."""
    from crmctl.ops.timekeeping import TimeDeleteRequest

    row = call("time.delete", TimeDeleteRequest(interval))
    end_text = cell(row.ended_at) if row.ended_at else "running"
    emit(
        f"interval {row.id} deleted ({row.task}, {row.person or '-'}, {cell(row.started_at)} to {end_text},"
        f" {_minutes(row.minutes)}); task show {row.task} keeps it in the history\n"
    )
