"""crmctl project ..., task ..., time ..."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from crmctl.cli.base import LISTING_FORMATS, FormatOption, choose_format, color_wanted, emit, options
from crmctl.render.tables import FLAG, cell, clip, hidden_line, pairs, render, terminal_width, visible

project_app = typer.Typer(help="Projects: create, list, show, and launch project templates.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks: add, assign, chain, work on and finish them.", no_args_is_help=True)
time_app = typer.Typer(help="Time worked on tasks: log past work, list intervals.", no_args_is_help=True)

TaskArgument = Annotated[str, typer.Argument(metavar="TASK", help="The task id, e.g. T-12 (or 12).")]
ForOption = Annotated[str | None, typer.Option("--for", help="The record it belongs to, e.g. CL-3.")]
CommentOption = Annotated[str | None, typer.Option("--comment", "-m", help="A comment for the task's history.")]

TASK_JSON = (
    "id",
    "project",
    "record",
    "template_task",
    "title",
    "description",
    "type",
    "subtype",
    "assignee",
    "watchers",
    "priority",
    "status",
    "estimate_minutes",
    "actual_minutes",
    "due_at",
    "overdue",
    "depends_on",
    "blocked_by",
    "created_at",
    "created_by",
    "started_at",
    "finished_at",
)


def _session(write: bool = True) -> Any:
    from crmctl.ops.session import open_session

    return open_session(options(), write=write)


def _minutes(value: Any) -> str:
    from crmctl.domain.durations import format_minutes

    return "" if value is None else format_minutes(round(float(value)))


def task_rows(tasks: list[dict[str, Any]], now: Any) -> list[dict[str, Any]]:
    """Tasks as listings show them: an overdue flag, durations as text for tables."""
    rows = []
    for task in tasks:
        late = task["due_at"] is not None and task["due_at"] < now and task["status"] in ("todo", "in_progress")
        rows.append({**task, "overdue": late, FLAG: late, "actual_minutes": round(float(task["actual_minutes"]), 1)})
    return rows


def tasks_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return json.loads(render("json", rows, [(k, k) for k in TASK_JSON]))


def render_tasks(fmt: str, rows: list[dict[str, Any]]) -> str:
    if fmt != "table":
        return render(fmt, rows, [(k, k) for k in TASK_JSON], color=False)
    shown = [
        {
            **r,
            "estimate": _minutes(r["estimate_minutes"]),
            "actual": _minutes(r["actual_minutes"]),
            "waits": ", ".join(r["blocked_by"]),
            "due": cell(r["due_at"]) + (" overdue" if r["overdue"] else ""),
        }
        for r in rows
    ]
    columns = [
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
    return render(fmt, shown, columns, color=color_wanted())


# -- project -------------------------------------------------------------------------------------------------
@project_app.command("create")
def project_create(
    title: Annotated[str, typer.Argument(help="The title; 'Clients / ACME' makes ACME a subproject of Clients.")],
    parent: Annotated[str | None, typer.Option("--parent", help="The parent project, e.g. P-1.")] = None,
    for_key: ForOption = None,
) -> None:
    """Create a project, optionally under a parent and linked to a record."""
    from crmctl.ops import projects

    with _session() as session:
        pid = projects.create_project(session, title, parent, for_key)
    emit(pid + "\n")


@project_app.command("list")
def project_list(
    parent: Annotated[str | None, typer.Option("--parent", help="Only the subprojects of this project.")] = None,
    for_key: ForOption = None,
    output: FormatOption = None,
) -> None:
    """List projects with their task counts."""
    from crmctl.ops import projects

    fmt = choose_format(output, LISTING_FORMATS)
    with _session(write=False) as session:
        rows = projects.list_projects(session, parent, for_key)
    columns = [
        ("id", "project"),
        ("title", "title"),
        ("parent", "parent"),
        ("record", "record"),
        ("template", "template"),
        ("tasks", "tasks"),
        ("done", "done"),
        ("open", "open"),
    ]
    if fmt != "table":
        columns = [
            (k, k)
            for k in (
                "id",
                "title",
                "parent",
                "record",
                "template",
                "priority",
                "created_at",
                "created_by",
                "tasks",
                "done",
                "open",
            )
        ]
    emit(render(fmt, rows, columns))


@project_app.command("show")
def project_show(
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="The project id, e.g. P-3.")],
    output: FormatOption = None,
) -> None:
    """Show a project: its parameters, subprojects and the tasks of all of them."""
    from crmctl.domain.records import plain
    from crmctl.ops import projects

    fmt = choose_format(output, ("table", "json"))
    with _session(write=False) as session:
        card = projects.show_project(session, project)
        rows = task_rows(card.tasks, session.now)
    p = card.project
    if fmt == "json":
        data = {k: plain(v) for k, v in p.items() if k != "number"}
        data["params"] = json.loads(p["params"]) if p["params"] else {}
        data["subprojects"] = [s["id"] for s in card.subprojects]
        data["tasks"] = tasks_json(rows)
        data["hidden"] = card.hidden
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    meta = [
        ("parent", p["parent"]),
        ("record", p["record"]),
        ("template", p["template"]),
        ("created", p["created_at"]),
        ("by", p["created_by"]),
    ]
    params = json.loads(p["params"]) if p["params"] else {}
    text = _head(p["id"], p["title"]) + pairs([(k, v) for k, v in meta if v is not None])
    if params:
        text += "\nparameters\n" + "".join(f"  {k} = {cell(v)}\n" for k, v in params.items())
    if card.subprojects:
        text += "\nsubprojects\n" + "".join(f"  {_head(s['id'], s['title']).rstrip()}\n" for s in card.subprojects)
    done = sum(1 for r in rows if r["status"] == "done")
    text += f"\ntasks ({done}/{len(rows)} done)\n" + render_tasks("table", rows) + hidden_line(card.hidden)
    emit(text)


@project_app.command("launch")
def project_launch(
    template: Annotated[str, typer.Argument(help="The project template to launch.")],
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value of a template parameter (repeat).")
    ] = None,
    for_key: ForOption = None,
    name: Annotated[str | None, typer.Option("--name", help="The project's title (default: the template's).")] = None,
    output: FormatOption = None,
) -> None:
    """Launch a template: check its parameters, create the project and its chain of assigned tasks at once."""
    from crmctl.domain.records import parse_assignments
    from crmctl.ops import projects

    fmt = choose_format(output, ("table", "json"))
    raw = {k: v for k, v in parse_assignments(params or []).items()}
    with _session() as session:
        launched = projects.launch(session, template, raw, for_key, name)
        rows = task_rows(launched.tasks, session.now)
    if fmt == "json":
        emit(
            json.dumps(
                {
                    "project": launched.project,
                    "title": launched.title,
                    "left_out": [{"task": t, "why": why} for t, why in launched.left_out],
                    "tasks": tasks_json(rows),
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
        return
    text = f"{launched.project}  {launched.title}: {len(rows)} tasks\n" + render_tasks("table", rows)
    for task, why in launched.left_out:
        text += f"left out {task}: {why}\n"
    emit(text)


# -- task ----------------------------------------------------------------------------------------------------
@task_app.command("add")
def task_add(
    title: Annotated[str, typer.Argument(help="What is to be done.")],
    project: Annotated[str | None, typer.Option("--project", help="The project, e.g. P-2.")] = None,
    for_key: ForOption = None,
    assignee: Annotated[str | None, typer.Option("--assignee", "-a", help="Who does it.")] = None,
    watchers: Annotated[list[str] | None, typer.Option("--watcher", help="Who follows it (repeat).")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Task type, e.g. design (reports group by it).")] = None,
    subtype: Annotated[str | None, typer.Option("--subtype", help="Task subtype.")] = None,
    estimate: Annotated[str | None, typer.Option("--estimate", "-e", help="Working time: 90m, 2h, 1d.")] = None,
    priority: Annotated[int, typer.Option("--priority", help="1 (highest) to 5.")] = 3,
    due: Annotated[str | None, typer.Option("--due", help="A hard due date-time (ISO).")] = None,
    depends_on: Annotated[list[str] | None, typer.Option("--depends-on", help="A task it waits for (repeat).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="Details.")] = None,
    output: FormatOption = None,
) -> None:
    """Add a task; prints its id (the whole task with --format json)."""
    from crmctl.ops import projects

    fmt = choose_format(output, ("table", "json"))
    values = {
        "project": project,
        "record": for_key,
        "assignee": assignee,
        "watchers": watchers,
        "type": type_,
        "subtype": subtype,
        "estimate": estimate,
        "priority": priority,
        "due": due,
        "depends_on": depends_on,
        "description": description,
    }
    with _session() as session:
        task = projects.add_task(session, title, values)
        rows = task_rows([task], session.now)
    emit(json.dumps(tasks_json(rows)[0], ensure_ascii=False, indent=2) + "\n" if fmt == "json" else task["id"] + "\n")


@task_app.command("show")
def task_show(task: TaskArgument, output: FormatOption = None) -> None:
    """Show a task: status, people, estimate against actual time, dependencies, time intervals and history."""
    from crmctl.ops import projects
    from crmctl.render.records import describe_event

    fmt = choose_format(output, ("table", "json"))
    with _session(write=False) as session:
        card = projects.show_task(session, task)
        row = task_rows([card.task], session.now)[0]
    if fmt == "json":
        data = tasks_json([row])[0]
        data["dependents"] = card.dependents
        data["intervals"] = json.loads(
            render(
                "json", card.intervals, [(k, k) for k in ("id", "person", "started_at", "ended_at", "note", "source")]
            )
        )
        data["history"] = [
            {"at": e["at"].isoformat(), "actor": e["actor"], "action": e["action"], "data": e["data"]}
            for e in card.events
        ]
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    meta = [
        ("status", row["status"]),
        ("project", row["project"]),
        ("record", row["record"]),
        ("type", "/".join(x for x in (row["type"], row["subtype"]) if x)),
        ("assignee", row["assignee"]),
        ("watchers", row["watchers"]),
        ("priority", row["priority"]),
        ("estimate", _minutes(row["estimate_minutes"])),
        ("actual", _minutes(row["actual_minutes"])),
        ("due", cell(row["due_at"]) + (" (overdue)" if row["overdue"] else "")),
        ("waits for", row["blocked_by"]),
        ("depends on", row["depends_on"]),
        ("needed by", card.dependents),
    ]
    text = _head(row["id"], row["title"]) + pairs([(k, v) for k, v in meta if v not in (None, "", [])])
    if row["description"]:
        text += "\n" + row["description"].rstrip() + "\n"
    if card.events:
        width = terminal_width()
        text += "\nhistory\n" + "".join(
            clip(
                cell(f"  {cell(e['at'])}  {e['actor'] or '-'}  {e['action']}  {describe_event(e)}", width), width
            ).replace("\n", " ")
            + "\n"
            for e in card.events
        )
    emit(visible(text))  # titles, descriptions and history are the users' text: no terminal escapes


def _head(name: str, title: str) -> str:
    """The first line of a project's or task's card, cut to the terminal (titles can be long)."""
    width = terminal_width()
    return clip(cell(f"{name}  {title}", width).replace("\n", " "), width) + "\n\n"


@task_app.command("list")
def task_list(
    assignee: Annotated[str | None, typer.Option("--assignee", "-a", help="Only this person's tasks.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project (and its subprojects).")] = None,
    for_key: ForOption = None,
    status: Annotated[list[str] | None, typer.Option("--status", help="todo, in_progress, done, cancelled.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only tasks of this type.")] = None,
    blocked: Annotated[bool, typer.Option("--blocked", help="Only tasks waiting for others.")] = False,
    ready: Annotated[bool, typer.Option("--ready", help="Only tasks to do whose dependencies are done.")] = False,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Only tasks given to nobody yet.")] = False,
    output: FormatOption = None,
) -> None:
    """List tasks; overdue ones are red on a terminal and flagged in JSON. Without the tasks.view_others
    permission, only your own."""
    from crmctl.ops import projects

    fmt = choose_format(output, LISTING_FORMATS)
    with _session(write=False) as session:
        found = projects.list_tasks(
            session,
            assignee=assignee,
            project=project,
            record=for_key,
            status=status,
            type_=type_,
            blocked=blocked,
            ready=ready,
            unassigned=unassigned,
        )
        rows = task_rows(found, session.now)
    emit(render_tasks(fmt, rows))


@task_app.command("assign")
def task_assign(
    task: TaskArgument,
    person: Annotated[str, typer.Argument(help="The person who will do it ('-' leaves it unassigned).")],
) -> None:
    """Give a task to a person; they find a notice in their inbox."""
    from crmctl.ops import projects

    with _session() as session:
        found = projects.assign(session, task, None if person == "-" else person)
    emit(f"{found['id']} -> {found['assignee'] or 'nobody'}\n")


@task_app.command("depend")
def task_depend(
    task: TaskArgument,
    on: Annotated[list[str], typer.Option("--on", help="A task it waits for (repeat).")],
    remove: Annotated[bool, typer.Option("--remove", help="Drop these dependencies instead.")] = False,
) -> None:
    """Make a task wait for others (a cycle is refused and named), or drop such a dependency."""
    from crmctl.ops import projects

    with _session() as session:
        found = projects.depend(session, task, on, remove)
    emit(f"{found['id']} depends on {', '.join(found['depends_on']) or 'nothing'}\n")


@task_app.command("start")
def task_start(task: TaskArgument) -> None:
    """Start the timer on a task for its assignee (someone else's task: tasks.manage_others); a timer of theirs
    running on another task is stopped first."""
    from crmctl.ops import projects

    with _session() as session:
        change = projects.start(session, task)
    before = f" (stopped {change.stopped} after {_minutes(change.minutes)})" if change.stopped else ""
    emit(f"timer started on {change.task}{before}\n")


@task_app.command("stop")
def task_stop(
    person: Annotated[
        str | None, typer.Option("--for", help="Whose timer (default: yours; someone else's: tasks.manage_others).")
    ] = None,
) -> None:
    """Stop your running timer (or, with --for, someone else's)."""
    from crmctl.ops import projects

    with _session() as session:
        change = projects.stop(session, person)
    emit(f"timer stopped on {change.task} after {_minutes(change.minutes)}\n")


@task_app.command("done")
def task_done(task: TaskArgument, comment: CommentOption = None) -> None:
    """Finish a task; whoever it was blocking is told their task is ready."""
    from crmctl.ops import projects

    with _session() as session:
        finished = projects.done(session, task, comment)
    ready = "".join(f"ready: {t['id']} {t['title']} ({t['assignee'] or 'unassigned'})\n" for t in finished.unblocked)
    emit(f"{finished.task} done\n{ready}")


@task_app.command("reopen")
def task_reopen(task: TaskArgument) -> None:
    """Open a done or cancelled task again."""
    from crmctl.ops import projects

    with _session() as session:
        found = projects.reopen(session, task)
    emit(f"{found['id']} reopened\n")


@task_app.command("cancel")
def task_cancel(task: TaskArgument, comment: CommentOption = None) -> None:
    """Cancel a task that will not be done."""
    from crmctl.ops import projects

    with _session() as session:
        found = projects.cancel(session, task, comment)
    emit(f"{found['id']} cancelled\n")


@task_app.command("comment")
def task_comment(task: TaskArgument, text: Annotated[str, typer.Argument(help="The comment.")]) -> None:
    """Add a comment to a task's history."""
    from crmctl.ops import projects

    with _session() as session:
        tid = projects.comment(session, task, text)
    emit(f"comment added to {tid}\n")


# -- time ----------------------------------------------------------------------------------------------------
@time_app.command("log")
def time_log(
    task: TaskArgument,
    duration: Annotated[str, typer.Argument(help="How long: 90m, 2h, 1h30m, 1d (a working day).")],
    at: Annotated[str | None, typer.Option("--at", help="When the work began (default: it ends now).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="What was done.")] = None,
    person: Annotated[
        str | None,
        typer.Option("--for", help="Who did the work (default: the task's assignee, else you)."),
    ] = None,
) -> None:
    """Record past work on a task, for its assignee (work on someone else's task needs tasks.manage_others)."""
    from crmctl.ops import projects

    with _session() as session:
        logged = projects.log_time(session, task, duration, at, note, person)
    emit(
        f"{_minutes(logged['minutes'])} logged on {logged['task']} from {cell(logged['started_at'])}"
        f" to {cell(logged['ended_at'])}\n"
    )


@time_app.command("list")
def time_list(
    person: Annotated[str | None, typer.Option("--person", help="Only this person's time.")] = None,
    since: Annotated[str | None, typer.Option("--from", help="From this date-time (ISO).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Up to this date-time (ISO).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only this task.")] = None,
    output: FormatOption = None,
) -> None:
    """List time intervals, a running timer included (counted up to now)."""
    from crmctl.ops import projects

    fmt = choose_format(output, LISTING_FORMATS)
    with _session(write=False) as session:
        rows = projects.list_time(session, person, since, until, task)
    if fmt == "table":
        shown = [{**r, "length": _minutes(r["minutes"]) + (" running" if r["running"] else "")} for r in rows]
        total = sum(r["minutes"] for r in rows)
        columns = [
            ("started_at", "from"),
            ("ended_at", "to"),
            ("length", "time"),
            ("person", "person"),
            ("task", "task"),
            ("title", "title"),
            ("note", "note"),
        ]
        emit(render(fmt, shown, columns) + (f"total {_minutes(total)}\n" if rows else ""))
        return
    columns = [
        (k, k)
        for k in ("id", "task", "title", "person", "started_at", "ended_at", "minutes", "running", "note", "source")
    ]
    emit(render(fmt, rows, columns))
