"""Projects, template launches, tasks, dependencies and the timer.

Each command is an operation here: `name(session, request) -> result`, the request a frozen dataclass of
the command's arguments beside it. A task is shown as a `TaskRow` wherever it is shown (task list, task
show, task add, project show, project launch, task done's unblocked tasks): its fields are the names of
project_store.projects.tasks()' columns, so the JSON and CSV contract and the SELECT cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from crmctl.domain import permissions, recurrence
from crmctl.domain import projects as domain
from crmctl.domain.durations import format_minutes, parse_duration
from crmctl.domain.events import Event
from crmctl.domain.graph import find_cycle
from crmctl.domain.model import FormDef
from crmctl.domain.projects import Choice, PlannedTask
from crmctl.domain.records import plain
from crmctl.domain.shapes import column, names
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock, series
from crmctl.ops import timekeeping as keeping
from crmctl.ops.lookups import (
    calendar_for,
    earliest_member,
    get_task,
    prefixed_id,
    record_of,
    require_reading,
    rollups,
    stand_in,
    team_person,
)
from crmctl.ops.session import Session
from crmctl.ops.timekeeping import TimeRow
from crmctl.store import process as process_store
from crmctl.store import projects as project_store
from crmctl.store import records as record_store
from crmctl.store import series as series_store
from crmctl.store import workimports as work_store

Row = dict[str, Any]
Target = tuple[FormDef, Row]  # a record: its form and its stored row


def _event(session: Session, conn: Any, event: Event, record: str | None, data: dict[str, Any]) -> None:
    form = record_store.form_of(conn, record) if record else None
    record_store.add_event(conn, session.now, session.actor, event, record=record, form=form, data=data)


def tell_watchers(session: Session, conn: Any, task: Row, what: str, skip: tuple[str | None, ...] = ()) -> None:
    """A notice (kind `task.watch`) to each watcher of a task of what happened to it: `T-3 «Макет» <what>`.
    Whoever did it is not told, nor the people in `skip` (told otherwise)."""
    people = [w for w in task.get("watchers") or () if w != session.actor and w not in skip]
    if people:
        text = f"{task['id']} «{task['title']}» {what}"
        process_store.notify(conn, people, "task.watch", task["record"], text, session.now)


def due_change(session: Session, before: dt.datetime | None, after: dt.datetime | None) -> str:
    """What a watcher is told of a task's new due date: `due 2027-03-05 18:00 (was 2027-03-04 18:00), by kim`."""
    from zoneinfo import ZoneInfo  # the time zone database only where a due date is shown

    tz = ZoneInfo(session.defs.timezone)

    def shown(moment: dt.datetime | None) -> str:
        return "none" if moment is None else f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"

    return f"due {shown(after)} (was {shown(before)}), by {session.actor or '-'}"


def _key(target: Target | None) -> str | None:
    """The key of a record looked up, or None for none."""
    return None if target is None else str(target[1]["key"])


def _stored(session: Session, conn: Any, tid: str) -> Row:
    """A task that is known to be there (just written or looked up in this transaction)."""
    return get_task(session, tid, conn)


@dataclass(frozen=True)
class TaskRow:
    """A task as every listing and card shows it. JSON and CSV hold these fields in this order; the table's
    columns (in their own order) are the command line's."""

    id: str
    project: str | None
    record: str | None
    template_task: str | None  # the template's id of the task, for a task a launch made
    title: str
    description: str | None
    type: str | None
    subtype: str | None
    assignee: str | None
    watchers: list[str]
    priority: int
    status: str
    estimate_minutes: int | None
    actual_minutes: float  # the time of its closed intervals, to a tenth of a minute
    due_at: dt.datetime | None
    overdue: bool  # open and past its due time
    depends_on: list[str]
    blocked_by: list[str]  # the tasks it depends on that are not done (or cancelled) yet
    created_at: dt.datetime
    created_by: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, task: Row, now: dt.datetime) -> TaskRow:
        """A row of project_store.projects.tasks() as it is now."""
        late = task["due_at"] is not None and task["due_at"] < now and task["status"] in project_store.OPEN
        stored = {name: task[name] for name in names(cls) if name in task}
        return cls(**{**stored, "overdue": late, "actual_minutes": round(float(task["actual_minutes"]), 1)})


def _rows(session: Session, tasks: list[Row]) -> list[TaskRow]:
    return [TaskRow.of(task, session.now) for task in tasks]


# -- projects ------------------------------------------------------------------------------------------------
def project_path(session: Session, conn: Any, title: str, parent: str | None) -> tuple[str | None, str]:
    """'Клиенты / ООО Ромашка' -> (id of the project 'Клиенты', created if missing, 'ООО Ромашка')."""
    parts = [p.strip() for p in title.split(" / ")]
    if any(not p for p in parts):
        raise InputError(f"project title '{title}' has an empty part")
    for part in parts[:-1]:
        found = project_store.root_project_by_title(conn, part, parent)
        if found is None:
            found = project_store.add_project(
                conn, {"title": part, "parent": parent, "created_at": session.now, "created_by": session.actor}
            )
            _event(session, conn, Event.PROJECT_CREATED, None, {"project": found, "title": part, "parent": parent})
        parent = found
    return parent, parts[-1]


def _check_parent(session: Session, parent: str | None) -> str | None:
    if parent is None:
        return None
    pid = prefixed_id(parent, "P")
    if project_store.project(session.conn, pid) is None:
        raise NotFound(f"no project {pid}")
    return pid


@dataclass(frozen=True)
class ProjectCreateRequest:
    title: str  # 'Clients / ACME' makes ACME a subproject of Clients (created if missing)
    parent: str | None = None  # the parent project, e.g. P-1
    record: str | None = None  # the record it belongs to, e.g. CL-3


@dataclass(frozen=True)
class NewProject:
    """The project made."""

    id: str


def create_project(session: Session, request: ProjectCreateRequest) -> NewProject:
    """Create a project, optionally under a parent and linked to a record."""
    session.require("tasks.add", "create projects")
    parent_id = _check_parent(session, request.parent)
    key = _key(record_of(session, request.record))
    with session.transaction() as conn:
        parent_id, leaf = project_path(session, conn, request.title, parent_id)
        pid = project_store.add_project(
            conn,
            {"title": leaf, "parent": parent_id, "record": key, "created_at": session.now, "created_by": session.actor},
        )
        _event(session, conn, Event.PROJECT_CREATED, key, {"project": pid, "title": leaf, "parent": parent_id})
    return NewProject(pid)


@dataclass(frozen=True)
class ProjectListRequest:
    parent: str | None = None  # only the subprojects of this project
    record: str | None = None  # only the projects of this record


@dataclass(frozen=True)
class ProjectRow:
    """A project with its task counts."""

    # every field is a column(): mypy takes a call for a default, and a field without one cannot follow it
    id: str = column("project")
    title: str = column()
    parent: str | None = column()
    record: str | None = column()
    template: str | None = column()  # the template it was launched from
    priority: int | None = column(table=False)
    created_at: dt.datetime = column(table=False)
    created_by: str | None = column(table=False)
    tasks: int = column()
    done: int = column()
    open: int = column()


def _project_rows(conn: Any, parent: str | None = None, record: str | None = None) -> list[ProjectRow]:
    return [
        ProjectRow(**{name: row[name] for name in names(ProjectRow)})
        for row in project_store.projects(conn, parent=parent, record=record)
    ]


def list_projects(session: Session, request: ProjectListRequest) -> list[ProjectRow]:
    """Projects with their task counts."""
    session.require("tasks.read", "read tasks")
    found = record_of(session, request.record) if request.record else None
    return _project_rows(session.conn, _check_parent(session, request.parent), _key(found))


@dataclass(frozen=True)
class ProjectShowRequest:
    project: str  # the project id, e.g. P-3 (or 3)


@dataclass(frozen=True)
class Project:
    """A project as stored, its template's parameters parsed."""

    id: str
    title: str
    parent: str | None
    record: str | None
    template: str | None
    params: dict[str, Any]
    priority: int | None
    created_at: dt.datetime
    created_by: str | None
    due_at: dt.datetime | None  # set with `project update --due`


@dataclass(frozen=True)
class ProjectCard:
    project: Project
    subprojects: list[ProjectRow]
    tasks: list[TaskRow] = field(default_factory=list)  # of the project and its subprojects, the actor's to read
    hidden: dict[str, int] = field(default_factory=lambda: {"tasks": 0})  # tasks left out: not the actor's to read


def show_project(session: Session, request: ProjectShowRequest) -> ProjectCard:
    """A project: its parameters, subprojects and the tasks of all of them."""
    session.require("tasks.read", "read tasks")
    pid = prefixed_id(request.project, "P")
    found = project_store.project(session.conn, pid)
    if found is None:
        raise NotFound(f"no project {pid}")
    stored = {name: found[name] for name in names(Project)}
    project = Project(**{**stored, "params": json.loads(found["params"]) if found["params"] else {}})
    tasks = project_store.tasks(session.conn, projects=project_store.project_tree(session.conn, pid), now=session.now)
    shown = [t for t in tasks if session.may_read_task(t)]
    return ProjectCard(
        project, _project_rows(session.conn, parent=pid), _rows(session, shown), {"tasks": len(tasks) - len(shown)}
    )


@dataclass(frozen=True)
class FieldChange:
    """A value of a task or project before and after a change."""

    field: str
    before: Any
    after: Any


def _changes(stored: Row, wanted: Row) -> list[FieldChange]:
    return [FieldChange(k, stored.get(k), v) for k, v in wanted.items() if stored.get(k) != v]


def _change_data(changes: list[FieldChange]) -> dict[str, list[Any]]:
    return {c.field: [plain(c.before), plain(c.after)] for c in changes}


@dataclass(frozen=True)
class ProjectUpdateRequest:
    project: str  # the project id, e.g. P-3
    title: str | None = None
    priority: int | None = None  # 1 (highest) to 5
    due: str | None = None  # a due date-time, ISO (a date alone: the end of that day); empty clears it


@dataclass(frozen=True)
class ProjectChanged:
    """A project's changes (none when every value was the same)."""

    project: str
    changes: list[FieldChange]


def _priority(value: int | None, what: str = "--priority") -> int | None:
    if value is not None and not 1 <= value <= 5:
        raise InputError(f"{what} is 1 (highest) to 5, not {value}")
    return value


def update_project(session: Session, request: ProjectUpdateRequest) -> ProjectChanged:
    """Change a project's title, priority or due date; each change goes to the history of its record."""
    session.require("tasks.add", "change projects")
    pid = prefixed_id(request.project, "P")
    stored = project_store.project(session.conn, pid)
    if stored is None:
        raise NotFound(f"no project {pid}")
    wanted: Row = {}
    if request.title is not None:
        if not request.title.strip():
            raise InputError("a project needs a title")
        wanted["title"] = request.title.strip()
    if request.priority is not None:
        wanted["priority"] = _priority(request.priority)
    if request.due is not None:
        wanted["due_at"] = _due(request.due, session) if request.due.strip() else None
    changes = _changes(stored, wanted)
    if changes:
        with session.transaction() as conn:
            _write_project(session, conn, pid, stored["record"], changes)
    return ProjectChanged(pid, changes)


def _write_project(
    session: Session, conn: Any, pid: str, record: str | None, changes: list[FieldChange], reason: str | None = None
) -> None:
    project_store.update_project(conn, pid, {c.field: c.after for c in changes})
    data: dict[str, Any] = {"project": pid, "changes": _change_data(changes)}
    if reason:
        data["reason"] = reason
    _event(session, conn, Event.PROJECT_UPDATED, record, data)


def follow_record(session: Session, conn: Any, form: FormDef, row: Row, changed: set[str]) -> list[ProjectChanged]:
    """A record whose fields changed: each of its projects whose template binds the priority to a changed
    field takes the priority the field says now. The caller holds the transaction."""
    found = []
    for project in project_store.projects(conn, record=row["key"]):
        template = session.defs.templates.get(project["template"] or "")
        if template is None or domain.bound_field(template) not in changed:
            continue
        priority = domain.project_priority(template, record_context(session, form, row))
        changes = _changes(project, {"priority": priority})
        if changes:
            reason = f"{row['key']} {domain.bound_field(template)} changed"
            _write_project(session, conn, project["id"], row["key"], changes, reason)
            found.append(ProjectChanged(project["id"], changes))
    return found


# -- launching a template --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchRequest:
    template: str  # the project template to launch
    params: dict[str, str] = field(default_factory=dict)  # the template's parameters, as text
    record: str | None = None  # the record it is launched for (--for)
    name: str | None = None  # the project's title (default: the template's)


@dataclass(frozen=True)
class Launched:
    project: str
    title: str
    tasks: list[TaskRow]  # as stored (the launcher sees them all)
    left_out: list[tuple[str, str]]  # (the template's task, why) of each task its conditions left out
    chosen: list[tuple[str, str]] = field(default_factory=list)  # (task id, why its assignee) for role tasks


@dataclass(frozen=True)
class LaunchNote:
    """A project a stage launched, as `advance` and `record create` tell it."""

    project: str
    title: str
    tasks: int  # how many tasks it made
    left_out: list[tuple[str, str]]  # (the template's task, why) of each task its conditions left out
    chosen: list[tuple[str, str]] = field(default_factory=list)  # (task id, why its assignee) for role tasks


def record_context(session: Session, form: FormDef, row: Row) -> Row:
    """What templates see as `record`: the key, the fields and the roll-ups."""
    context = {"key": row["key"], **{name: row.get(name) for name in form.fields}}
    context.update(rollups(session.conn, session.defs, form, row["key"]))
    return context


def choose(
    session: Session, who: str | None, queued: dict[str, float], author: str | None, minutes: int = 0
) -> Choice | None:
    """author -> the record's author (given); actor -> the person acting; role:x -> the member who would finish
    their queued work and these minutes first by their calendar (ties by queued work, then id); else the person."""
    if who is None:
        return None
    if who in ("author", "actor"):
        named = author if who == "author" else session.actor
        return _deputy(session, Choice(named, who)) if named else None
    if who.startswith("role:"):
        people = permissions.members(session.defs, who[5:])
        if not people:
            raise InputError(f"nobody has the role '{who[5:]}' to take a task")
        work = {p: int(queued.get(p, 0.0)) + minutes for p in people}
        return earliest_member(session, who, people, work, queued)
    return _deputy(session, Choice(who, who))


def _deputy(session: Session, chosen: Choice) -> Choice:
    """The person named, or their deputy while an absence of theirs names one."""
    person, standing_for = stand_in(session, chosen.person)
    if standing_for is None or person is None:
        return chosen
    return Choice(person, f"{chosen.why}: {person} as deputy of {standing_for}, who is absent")


def choose_assignee(session: Session, who: str | None, queued: dict[str, float], author: str | None) -> str | None:
    """The person `choose` picks, without the why."""
    chosen = choose(session, who, queued, author)
    return chosen.person if chosen else None


def _template(session: Session, name: str, target: Target | None) -> dict[str, Any]:
    """The template to launch, for the record given if it is for a form's records."""
    template = session.defs.templates.get(name)
    if template is None:
        known = ", ".join(sorted(session.defs.templates)) or "none"
        raise NotFound(f"no template '{name}' (templates: {known})")
    if target is not None and template.get("form") and target[0].name != template["form"]:
        raise InputError(
            f"template {name} is launched for {template['form']} records, not for {target[0].name} {target[1]['key']}"
        )
    if target is None and template.get("form"):
        raise UsageError(f"template {name} is launched for a {template['form']} record: give --for KEY")
    return dict(template)


def _planned_row(
    session: Session, task: PlannedTask, queued: dict[str, float], pid: str, key: str | None, author: str | None
) -> tuple[Row, str | None]:
    """The stored row of a planned task, its assignee and watchers chosen; and why a role's member was chosen."""
    chosen = choose(session, task.assignee, queued, author, task.estimate_minutes or 0)
    watchers = [w for w in (choose_assignee(session, x, queued, author) for x in task.watchers) if w]
    row = {
        "project": pid,
        "record": key,
        "template_task": task.id,
        "title": task.title,
        "description": task.description,
        "type": task.type,
        "subtype": task.subtype,
        "assignee": chosen.person if chosen else None,
        "watchers": list(dict.fromkeys(watchers)),
        "priority": task.priority,
        "estimate_minutes": task.estimate_minutes,
        "due_at": task.due_at,
        "start_after": task.start_after,
        "start_after_why": task.start_after_why,
        "status": "todo",
        "created_at": session.now,
        "created_by": session.actor,
    }
    return row, chosen.why if chosen and chosen.why != task.assignee else None


def _add_planned(
    session: Session, conn: Any, tasks: list[PlannedTask], pid: str, target: Target | None, author: str | None
) -> list[Row]:
    """The planned tasks stored, each with its id, the ids of those it depends on and, for a task given to a
    member of a role, why that member (`why`). `author` in a task is whom the launch is for where given (a
    scheduled launch's person), else the record's author (the launcher's without a record)."""
    key = _key(target)
    author = author or (target[1].get("author") if target else session.actor)
    queued = project_store.queued_minutes(conn, sorted(session.defs.people), session.now)
    first = work_store.last_task_number(conn) + 1  # numbered on, in the template's order, and written together
    ids: dict[str, str] = {}
    created = []
    for number, task in enumerate(tasks, start=first):
        row, why = _planned_row(session, task, queued, pid, key, author)
        row = {**row, "id": f"T-{number}", "number": number}
        ids[task.id] = row["id"]
        if row["assignee"]:
            queued[row["assignee"]] = queued.get(row["assignee"], 0.0) + (task.estimate_minutes or 0)
        created.append({**row, "depends_on": [ids[d] for d in task.depends_on], "why": why})
    project_store.add_tasks(conn, [{k: v for k, v in r.items() if k not in ("depends_on", "why")} for r in created])
    project_store.add_dependencies(conn, [(r["id"], dep) for r in created for dep in r["depends_on"]])
    return created


def _announce_launch(session: Session, conn: Any, key: str | None, launched: Row, created: list[Row]) -> None:
    """The events of a launch, and a notice to each assignee of a task that can start at once."""
    _event(session, conn, Event.PROJECT_LAUNCHED, key, {**launched, "tasks": [t["id"] for t in created]})
    form = record_store.form_of(conn, key) if key else None
    events = []
    for task in created:
        data = {
            "task": task["id"],
            "title": task["title"],
            "assignee": task["assignee"],
            "depends_on": task["depends_on"],
            **({"why": task["why"]} if task["why"] else {}),
        }
        events.append(
            record_store.event_row(session.now, session.actor, Event.TASK_CREATED, record=key, form=form, data=data)
        )
    record_store.add_events(conn, events)
    notices = [
        (task["assignee"], session.now, "task", key, f"{task['id']} «{task['title']}» is yours")
        for task in created
        if task["assignee"] and not task["depends_on"]
    ]
    process_store.add_notices(conn, notices)


def _launch(
    session: Session,
    conn: Any,
    template_name: str,
    raw_params: dict[str, Any],
    target: Target | None,
    title: str | None,
    author: str | None = None,
) -> LaunchNote:
    """Launch a template in the caller's transaction. `author` is whom it is launched for (`assignee: author`
    in the template): the actor by default."""
    template = _template(session, template_name, target)
    record = record_context(session, *target) if target else None
    people = set(session.defs.people) if session.defs.has_team else None
    tz = ZoneInfo(session.defs.timezone)
    plan = domain.plan(template, raw_params, record, people, session.defs.hours_per_day, title, tz)
    key = _key(target)
    parent, leaf = project_path(session, conn, plan.title, None)
    pid = project_store.add_project(
        conn,
        {
            "title": leaf,
            "parent": parent,
            "record": key,
            "template": template_name,
            "params": {k: plain(v) for k, v in plan.params.items()},
            "priority": plan.priority,
            "created_at": session.now,
            "created_by": session.actor,
        },
    )
    created = _add_planned(session, conn, plan.tasks, pid, target, author)
    left_out = [t for t, _ in plan.left_out]
    launched = {"project": pid, "title": leaf, "template": template_name, "tasks": [], "left_out": left_out}
    _announce_launch(session, conn, key, launched, created)
    chosen = [(t["id"], t["why"]) for t in created if t["why"]]
    return LaunchNote(pid, leaf, len(created), plan.left_out, chosen)


def launch(session: Session, request: LaunchRequest) -> Launched:
    """Launch a template; the result holds the tasks it made as stored (the launcher sees them all)."""
    session.require("tasks.add", "launch projects")
    target = record_of(session, request.record)
    with session.transaction() as conn:
        note = _launch(session, conn, request.template, dict(request.params), target, request.name)
        tasks = _rows(session, project_store.tasks(conn, projects=[note.project], now=session.now))
    return Launched(note.project, note.title, tasks, note.left_out, note.chosen)


def launch_for_stage(session: Session, conn: Any, form: FormDef, row: Row, spec: dict[str, Any]) -> LaunchNote | None:
    """The `launch` action of a stage's on_enter: parameters and name rendered from the record. Once per record:
    a record that enters the stage again keeps the project it has from the template (None: nothing launched),
    unless `repeat: true`."""
    from crmctl.domain import templating  # jinja2: imported when a stage launches a template

    if not spec.get("repeat") and project_store.launched_for(conn, row["key"], spec["template"]):
        return None

    context = {"record": record_context(session, form, row)}
    where = f"launching {spec['template']} for {row['key']}"
    try:
        params = {
            name: templating.render(value, context).strip() if isinstance(value, str) else value
            for name, value in spec.get("params", {}).items()
        }
        title = templating.render(spec["name"], context).strip() if spec.get("name") else None
    except templating.TemplateProblem as exc:
        raise InputError(f"{where}: {exc}") from None
    try:
        return _launch(session, conn, spec["template"], params, (form, row), title)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


# -- tasks ---------------------------------------------------------------------------------------------------
def _minutes(text: str, what: str, hours_per_day: float) -> int:
    try:
        return parse_duration(text, hours_per_day)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _when(text: str, session: Session, what: str) -> dt.datetime:
    try:
        return clock.parse_instant(text, session.defs.timezone)
    except UsageError as exc:
        raise UsageError(f"{what}: {exc.message}") from None


def _due(text: str, session: Session) -> dt.datetime:
    """A due date alone means by the end of that day."""
    if len(text.strip()) == 10:
        return _when(text.strip() + "T23:59", session, "--due")
    return _when(text, session, "--due")


START_AFTER_WHY = "set with --start-after"


def _start_bound(session: Session, text: str | None) -> Row:
    """A task's start bound as --start-after gives it (a date alone: its start); empty or None: no bound."""
    if text is None or not text.strip():
        return {"start_after": None, "start_after_why": None}
    return {"start_after": _when(text, session, "--start-after"), "start_after_why": START_AFTER_WHY}


def _check_cycle(conn: Any, tid: str, deps: list[str]) -> None:
    graph = project_store.dependency_graph(conn)
    graph.setdefault(tid, [])
    graph[tid] = list(dict.fromkeys([*graph[tid], *deps]))
    cycle = find_cycle(graph)
    if cycle:
        if tid in cycle:  # tell it from the task being changed: "T-1 -> T-3 -> T-2 -> T-1"
            at = cycle.index(tid)
            cycle = [*cycle[at:-1], *cycle[:at], tid]
        raise InputError("dependency cycle: " + " -> ".join(cycle))


@dataclass(frozen=True)
class TaskAddRequest:
    title: str
    project: str | None = None  # e.g. P-2
    record: str | None = None  # the record it belongs to (--for)
    assignee: str | None = None
    watchers: list[str] = field(default_factory=list)
    type: str | None = None
    subtype: str | None = None
    estimate: str | None = None  # working time as text: 90m, 2h, 1d
    priority: int = 3  # 1 (highest) to 5
    due: str | None = None  # a due date-time, ISO (a date alone: the end of that day)
    depends_on: list[str] = field(default_factory=list)  # the tasks it waits for
    description: str | None = None
    every: str | None = None  # repeat: 1d, 2w, 1mo from its due date (needs --due)
    start_after: str | None = None  # not started before this date-time, ISO (a date alone: its start)


def add_task(session: Session, request: TaskAddRequest) -> TaskRow:
    """Add a task; with every, the first of a recurring series (its next occurrence is made when it is done, or
    by tick once its due date has passed)."""
    session.require("tasks.add", "add tasks")
    every = series.every_of(request.every) if request.every is not None else None
    if every is not None and (request.due is None or request.depends_on):
        raise UsageError("--every repeats a task from its --due date: give --due (and no --depends-on)")
    values = {name: getattr(request, name) for name in names(TaskAddRequest) if name not in ("title", "every")}
    with session.transaction() as conn:
        task = add_task_in(session, conn, request.title, values)
        if every is not None:
            spec = {
                "title": request.title,
                "values": {**values, "due": None, "start_after": None},
                "record": task["record"],
            }
            made = {"person": task["assignee"], "spec": spec, "nominal": task["due_at"], "current": task["id"]}
            series.start(session, conn, "task", every, made, task["record"])
        return TaskRow.of(task, session.now)


# -- recurring tasks and scheduled launches ---------------------------------------------------------------------
def _next_task(session: Session, conn: Any, found: Row) -> series.Done:
    """The next task of a series, made now: as the first, due at the series' next date on the assignee's
    working calendar."""
    spec = found["spec"]
    nominal = series.following(found, session.now)
    due = series.falls(session, nominal, found["person"])
    values = {**spec["values"], "due": due.isoformat()}
    task = add_task_in(session, conn, spec["title"], values)
    series_store.move_on(conn, found["id"], task["id"], nominal)
    data = {"series": found["id"], "item": task["id"], "due": due}
    series.event(session, conn, Event.SERIES_NEXT, task["record"], data)
    return (
        "task",
        task["id"],
        f"{task['title']} due {due:%Y-%m-%d %H:%M} (series {found['id']}, every {found['every']})",
    )


def renew_tasks(session: Session) -> list[series.Done]:
    """Each task series whose current task is done or cancelled, or past its due date: its next task, in a
    transaction of its own."""
    done: list[series.Done] = []
    for found in series_store.active(session.conn, "task"):
        current = project_store.task(session.conn, str(found["current"]))
        finished = current is None or current["status"] not in project_store.OPEN
        if not finished and (current is None or current["due_at"] is None or current["due_at"] > session.now):
            continue
        with session.transaction() as conn:
            done.append(_next_task(session, conn, found))
    return done


def _schedule_for(session: Session, who: str | None) -> str | None:
    """Whom a scheduled launch is for: a person, or the least loaded member of a role (by queued work now)."""
    if who is None or not who.startswith("role:"):
        return who
    people = permissions.members(session.defs, who[5:])
    return domain.least_loaded(people, project_store.queued_minutes(session.conn, people)) if people else None


def _launch_series(session: Session, conn: Any, name: str, schedule: Row) -> Row:
    """The active series of a template's schedule; a new one (its first date the first moment the schedule
    names from now) where there is none, or where the schedule changed (the old one stopped)."""
    found = next((s for s in series_store.active(conn, "launch") if s["spec"]["template"] == name), None)
    if found is not None and found["spec"]["schedule"] == schedule:
        return found
    if found is not None:
        series.stop(session, conn, found, "the schedule changed")
    tz = calendar_for(session, None).tz
    at = dt.time.fromisoformat(schedule.get("at", "09:00"))
    every = series.every_of(schedule["every"])
    # the first date whose occurrence has not passed: Monday's, moved by a holiday to Tuesday, is still to come
    nominal = recurrence.first_on(session.now - dt.timedelta(weeks=1), schedule.get("on"), at, tz)
    person = _schedule_for(session, schedule.get("for"))
    while series.falls(session, nominal, person) < session.now:
        nominal = every.after(nominal)
    spec = {"template": name, "schedule": schedule}
    values = {"person": schedule.get("for"), "spec": spec, "nominal": nominal, "current": None}
    sid = series.start(session, conn, "launch", every, values, None)
    made = series_store.get(conn, sid)
    assert made is not None
    return made


def renew_launches(session: Session) -> list[series.Done]:
    """Each template with a schedule: launched when its date has come, once per date; a schedule taken out of
    the definitions stops its series."""
    done: list[series.Done] = []
    scheduled = {name: t["schedule"] for name, t in session.defs.templates.items() if t.get("schedule")}
    for found in series_store.active(session.conn, "launch"):
        if found["spec"]["template"] not in scheduled:
            with session.transaction() as conn:
                series.stop(session, conn, found, "the schedule was taken out of the definitions")
            done.append(("stopped", found["spec"]["template"], f"launch series {found['id']}: no schedule any more"))
    for name, schedule in scheduled.items():
        with session.transaction() as conn:
            found = _launch_series(session, conn, name, schedule)
            person = _schedule_for(session, schedule.get("for"))
            if series.falls(session, found["nominal"], person) > session.now:
                continue
            note = _launch(session, conn, name, dict(schedule.get("params", {})), None, None, person)
            pid, title = note.project, note.title
            series_store.move_on(conn, found["id"], pid, series.following(found, session.now))
            series.event(session, conn, Event.SERIES_NEXT, None, {"series": found["id"], "item": pid})
        done.append(("launch", pid, f"{title} from {name} for {person or '-'} (series {found['id']})"))
    return done


@dataclass(frozen=True)
class TaskStopSeriesRequest:
    task: str  # a task of the series (its current one), e.g. T-12


@dataclass(frozen=True)
class SeriesStopped:
    """A recurring series stopped: its id, its period and the task that stays its last."""

    series: int
    every: str
    task: str


def stop_series(session: Session, request: TaskStopSeriesRequest) -> SeriesStopped:
    """Stop a recurring task's series: no next task is made; the current one stays as it is."""
    session.require("tasks.add", "stop recurring tasks")
    task = get_task(session, request.task)
    found = series_store.of_current(session.conn, "task", task["id"])
    if found is None:
        raise NotFound(f"{task['id']} is not the current task of a recurring series")
    with session.transaction() as conn:
        series.stop(session, conn, found)
    return SeriesStopped(found["id"], found["every"], task["id"])


def _new_task(session: Session, title: str, values: dict[str, Any]) -> tuple[Row, list[str]]:
    """The row of a new task from the values given (see add_task_in), checked in the order the options are
    told, and the ids of the tasks it depends on."""
    project = _check_parent(session, values.get("project"))
    key = _key(record_of(session, values.get("record")))
    if key is None and project is not None:
        key = (project_store.project(session.conn, project) or {}).get("record")
    deps: list[str] = [get_task(session, d)["id"] for d in values.get("depends_on") or []]
    estimate, due = values.get("estimate"), values.get("due")
    if not estimate and values.get("type"):  # a type's default estimate (the Workspace's estimates:)
        estimate = session.defs.estimates.get(values["type"])
    row: Row = {
        "project": project,
        "record": key,
        "title": title.strip(),
        "description": values.get("description"),
        "type": values.get("type"),
        "subtype": values.get("subtype"),
        "assignee": team_person(session, values.get("assignee"), "--assignee"),
        "watchers": [team_person(session, w, "--watcher") for w in values.get("watchers") or []],
        "priority": 3 if values.get("priority") is None else int(values["priority"]),
        "estimate_minutes": _minutes(estimate, "--estimate", session.defs.hours_per_day) if estimate else None,
        "due_at": _due(due, session) if due else None,
        **_start_bound(session, values.get("start_after")),
        "status": "todo",
        "created_at": session.now,
        "created_by": session.actor,
    }
    if not 1 <= row["priority"] <= 5:
        raise InputError(f"--priority is 1 (highest) to 5, not {row['priority']}")
    return row, deps


def add_task_in(session: Session, conn: Any, title: str, values: dict[str, Any]) -> Row:
    """A new task, inside the caller's transaction. values hold project, record, type, subtype, assignee,
    watchers, priority, estimate, due, depends_on, description as the command line gives them."""
    if not title.strip():
        raise InputError("a task needs a title")
    row, deps = _new_task(session, title, values)
    tid = project_store.add_task(conn, row)
    for dep in deps:
        project_store.add_dependency(conn, tid, dep)
    data = {"task": tid, "title": row["title"], "assignee": row["assignee"], "depends_on": deps}
    _event(session, conn, Event.TASK_CREATED, row["record"], data)
    if row["assignee"]:
        text = f"{tid} «{row['title']}» is yours"
        process_store.notify(conn, [row["assignee"]], "task", row["record"], text, session.now)
    return _stored(session, conn, tid)


@dataclass(frozen=True)
class TaskShowRequest:
    task: str  # the task id, e.g. T-12 (or 12)


@dataclass(frozen=True)
class TaskInterval:
    """A time interval on a task's card."""

    id: int
    person: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None  # None while the timer runs
    minutes: float  # its length (a running one's up to now), to a tenth
    note: str | None
    source: str  # timer, log or import


@dataclass(frozen=True)
class TaskCard:
    task: TaskRow
    dependents: list[str]  # the tasks that wait for it
    intervals: list[TaskInterval]
    events: list[dict[str, Any]]  # its history: id, at, actor, action, data
    start_after: dt.datetime | None = None  # the schedule never starts it before
    start_after_why: str | None = None  # where that bound came from: "the template's start_after (delivery_date)"


def show_task(session: Session, request: TaskShowRequest) -> TaskCard:
    """A task: status, people, estimate against actual time, dependencies, time intervals and history."""
    session.require("tasks.read", "read tasks")
    task = get_task(session, request.task)
    require_reading(session, task)
    intervals = [
        TaskInterval(**{name: getattr(row, name) for name in names(TaskInterval)})
        for row in (
            TimeRow.of(i, task["title"], session.now) for i in project_store.intervals(session.conn, task=task["id"])
        )
    ]
    return TaskCard(
        TaskRow.of(task, session.now),
        project_store.dependents(session.conn, task["id"]),
        intervals,
        project_store.task_events(session.conn, task["id"]),
        task["start_after"],
        task["start_after_why"],
    )


_OTHERS_WORK = ("tasks.manage_others", "work on others' tasks")


def _others_work(session: Session, task: Row, person: str | None = None) -> str | None:
    """Who works on the task: the person named, else its assignee, else the actor. Work on a task given to
    someone else, or done for someone else, needs tasks.manage_others besides tasks.execute."""
    who = team_person(session, person, "--for") or task["assignee"] or session.actor
    if any(p is not None and p != session.actor for p in (task["assignee"], who)):
        session.require(*_OTHERS_WORK, record=task["record"])
    return who


@dataclass(frozen=True)
class TaskListRequest:
    assignee: str | None = None  # only this person's tasks
    project: str | None = None  # only this project and its subprojects
    record: str | None = None  # only the tasks of this record (--for)
    status: list[str] = field(default_factory=list)  # only tasks in one of these (todo, in_progress, ...)
    type: str | None = None  # only tasks of this type
    blocked: bool = False  # only tasks waiting for others
    ready: bool = False  # only tasks to do whose dependencies are done
    unassigned: bool = False  # only tasks given to nobody yet
    recurring: bool = False  # only the current tasks of recurring series
    process: str | None = None  # only the tasks of records in this process


def _viewed_assignee(session: Session, request: TaskListRequest) -> str | None:
    """Whose tasks a listing may show: the assignee asked for, checked; the actor's own without
    tasks.view_others; None for everyone's."""
    if request.blocked and request.ready:
        raise UsageError("--blocked and --ready exclude each other")
    if request.unassigned and request.assignee is not None:
        raise UsageError("--unassigned and --assignee exclude each other")
    if request.unassigned:
        session.require("tasks.view_unassigned", "view undistributed tasks")
    elif request.assignee is not None and request.assignee != session.actor:
        session.require("tasks.view_others", "view others' tasks")
    elif not session.may("tasks.view_others"):
        return session.actor
    return request.assignee


def list_tasks(session: Session, request: TaskListRequest) -> list[TaskRow]:
    """Tasks by the filters given. Without tasks.view_others a person sees their own tasks only (and, with
    --unassigned and tasks.view_unassigned, those of nobody)."""
    session.require("tasks.read", "read tasks")
    assignee = _viewed_assignee(session, request)
    for value in request.status:
        if value not in domain.STATUSES:
            raise UsageError(f"--status is one of {', '.join(domain.STATUSES)}, not '{value}'")
    project = _check_parent(session, request.project) if request.project else None
    projects = project_store.project_tree(session.conn, project) if project else None
    records = [str(_key(record_of(session, request.record)))] if request.record else None
    process = None
    if request.process is not None:
        chosen = session.defs.processes.get(request.process)
        if chosen is None:
            names = ", ".join(sorted(session.defs.processes)) or "none"
            raise NotFound(f"no process '{request.process}' (processes: {names})")
        process = (chosen.form, chosen.name)
    found = project_store.tasks(
        session.conn,
        assignee=team_person(session, assignee, "--assignee"),
        projects=projects,
        records=records,
        status=request.status or None,
        type_=request.type,
        now=session.now,
        process=process,
    )
    if request.unassigned:
        found = [t for t in found if t["assignee"] is None]
    if request.blocked:
        found = [t for t in found if domain.blocked(t)]
    if request.ready:
        found = [t for t in found if domain.ready(t)]
    if request.recurring:
        current = series_store.currents(session.conn, "task")
        found = [t for t in found if t["id"] in current]
    return _rows(session, found)


@dataclass(frozen=True)
class TaskAssignRequest:
    task: str
    person: str | None  # who will do it; None leaves it to nobody


def assign(session: Session, request: TaskAssignRequest) -> TaskRow:
    """Give a task to a person; they find a notice in their inbox."""
    session.require("tasks.assign", "assign tasks")
    task = get_task(session, request.task)
    person = team_person(session, request.person, "assignee")
    if person == task["assignee"]:
        return TaskRow.of(task, session.now)
    with session.transaction() as conn:
        project_store.update_task(conn, task["id"], {"assignee": person})
        data = {"task": task["id"], "from": task["assignee"], "to": person}
        _event(session, conn, Event.TASK_ASSIGNED, task["record"], data)
        if person:
            text = f"{task['id']} «{task['title']}» is yours (assigned by {session.actor or '-'})"
            process_store.notify(conn, [person], "task", task["record"], text, session.now)
        moved = f"reassigned from {task['assignee'] or 'nobody'} to {person or 'nobody'} by {session.actor or '-'}"
        tell_watchers(session, conn, task, moved, skip=(person,))
        return TaskRow.of(_stored(session, conn, task["id"]), session.now)


@dataclass(frozen=True)
class TaskUpdateRequest:
    task: str
    title: str | None = None
    description: str | None = None  # empty clears it
    priority: int | None = None  # 1 (highest) to 5
    estimate: str | None = None  # working time as text: 90m, 2h, 1d; empty clears it
    due: str | None = None  # a due date-time, ISO (a date alone: the end of that day); empty clears it
    type: str | None = None  # empty clears it
    subtype: str | None = None  # empty clears it
    add_watchers: list[str] = field(default_factory=list)  # people to follow it (--watcher)
    remove_watchers: list[str] = field(default_factory=list)  # people to stop following it (--no-watcher)
    start_after: str | None = None  # not started before this date-time, ISO (a date alone: its start); empty clears


@dataclass(frozen=True)
class TaskChanged:
    """A task's changes (none when every value was the same) and the task after them."""

    task: TaskRow
    changes: list[FieldChange]


def _cleared(text: str) -> str | None:
    return text.strip() or None


def _task_values(session: Session, task: Row, request: TaskUpdateRequest) -> Row:
    """The values the request sets, checked, under the task's column names."""
    wanted: Row = {}
    if request.title is not None:
        if not request.title.strip():
            raise InputError("a task needs a title")
        wanted["title"] = request.title.strip()
    for name in ("description", "type", "subtype"):
        if getattr(request, name) is not None:
            wanted[name] = _cleared(getattr(request, name))
    if request.priority is not None:
        wanted["priority"] = _priority(request.priority)
    if request.estimate is not None:
        text = request.estimate.strip()
        wanted["estimate_minutes"] = _minutes(text, "--estimate", session.defs.hours_per_day) if text else None
    if request.due is not None:
        wanted["due_at"] = _due(request.due, session) if request.due.strip() else None
    if request.start_after is not None:
        wanted["start_after"] = _start_bound(session, request.start_after)["start_after"]
    if request.add_watchers or request.remove_watchers:
        added = [team_person(session, w, "--watcher") for w in request.add_watchers]
        removed = {team_person(session, w, "--no-watcher") for w in request.remove_watchers}
        kept = [w for w in [*task["watchers"], *added] if w not in removed]
        wanted["watchers"] = list(dict.fromkeys(kept))
    return wanted


def update_task(session: Session, request: TaskUpdateRequest) -> TaskChanged:
    """Change what was planned for a task: title, description, priority, estimate, due date, type, subtype,
    watchers, several at once; each change goes to its history as `field: before -> after`."""
    session.require("tasks.add", "change tasks")
    task = get_task(session, request.task)
    _others_work(session, task)
    changes = _changes(task, _task_values(session, task, request))
    if not changes:
        return TaskChanged(TaskRow.of(task, session.now), [])
    with session.transaction() as conn:
        values = {c.field: c.after for c in changes}
        if "start_after" in values:  # the bound is the command's now, or none
            values["start_after_why"] = START_AFTER_WHY if values["start_after"] else None
        project_store.update_task(conn, task["id"], values)
        _event(
            session, conn, Event.TASK_UPDATED, task["record"], {"task": task["id"], "changes": _change_data(changes)}
        )
        stored = _stored(session, conn, task["id"])
        for change in changes:
            if change.field == "due_at":  # watchers hear of a due date moved
                tell_watchers(session, conn, stored, due_change(session, change.before, change.after))
        return TaskChanged(TaskRow.of(stored, session.now), changes)


@dataclass(frozen=True)
class TaskDependRequest:
    task: str
    on: list[str]  # the tasks it waits for
    remove: bool = False  # drop these dependencies instead


def depend(session: Session, request: TaskDependRequest) -> TaskRow:
    """Make a task wait for others (a cycle is refused and named), or drop such a dependency."""
    session.require("tasks.add", "change task dependencies")
    task = get_task(session, request.task)
    others: list[str] = [get_task(session, o)["id"] for o in request.on]
    if task["id"] in others:
        raise InputError(f"{task['id']} cannot depend on itself")
    with session.transaction() as conn:
        if request.remove:
            missing = [o for o in others if o not in task["depends_on"]]
            if missing:
                raise InputError(f"{task['id']} does not depend on {', '.join(missing)}")
            for other in others:
                project_store.remove_dependency(conn, task["id"], other)
        else:
            _check_cycle(conn, task["id"], others)
            for other in others:
                project_store.add_dependency(conn, task["id"], other)
        data = {"task": task["id"], "removed" if request.remove else "added": others}
        _event(session, conn, Event.TASK_DEPENDENCIES, task["record"], data)
        return TaskRow.of(_stored(session, conn, task["id"]), session.now)


def _set_status(session: Session, conn: Any, task: Row, status: str, **extra: Any) -> None:
    project_store.update_task(conn, task["id"], {"status": status, **extra})
    data = {"task": task["id"], "from": task["status"], "to": status, "assignee": task["assignee"]}
    _event(session, conn, Event.TASK_STATUS, task["record"], data)


def _close_timer(session: Session, conn: Any, interval: Row, at: dt.datetime | None = None) -> float:
    """Stop a running interval at `at` (default: now, or the timer cap where it ran past it); its minutes."""
    at = at or keeping.cap_end(session, interval) or session.now
    project_store.close_interval(conn, interval["id"], at)
    minutes: float = (at - interval["started_at"]).total_seconds() / 60
    record = _stored(session, conn, interval["task"])["record"]
    data = {"task": interval["task"], "person": interval["person"], "minutes": round(minutes, 1)}
    if at != session.now:
        data["at"] = at
    _event(session, conn, Event.TIMER_STOPPED, record, data)
    return minutes


def _check_running(session: Session, running: Row) -> None:
    if running["started_at"] > session.now:
        raise InputError(f"the running timer started at {running['started_at']:%Y-%m-%d %H:%M}, after now")


@dataclass(frozen=True)
class TimerChange:
    task: str  # the task whose timer started (or stopped)
    stopped: str | None = None  # the task whose timer was running before
    minutes: float = 0.0  # how long the stopped timer ran
    capped: str | None = None  # the timer cap (e.g. 12h) where the stopped timer was stopped at it


@dataclass(frozen=True)
class TaskStartRequest:
    task: str


def start(session: Session, request: TaskStartRequest) -> TimerChange:
    """Open a time interval for the task's assignee (else the actor); a running one is closed first (one timer
    per person)."""
    session.require("tasks.execute", "work on tasks")
    task = get_task(session, request.task)
    who = _others_work(session, task)
    if task["status"] in ("done", "cancelled"):
        raise InputError(f"{task['id']} is {task['status']}: reopen it to work on it")
    if task["blocked_by"]:
        raise InputError(f"{task['id']} waits for {', '.join(task['blocked_by'])} to be done")
    change = TimerChange(task["id"])
    with session.transaction() as conn:
        running = project_store.open_interval(conn, who)
        if running is not None:
            if running["task"] == task["id"]:
                raise InputError(f"the timer of {who or 'nobody'} already runs on {task['id']}")
            _check_running(session, running)
            capped = session.defs.timer_cap if keeping.cap_end(session, running) else None
            change = TimerChange(task["id"], running["task"], _close_timer(session, conn, running), capped)
        keeping.check_free(session, conn, who, session.now, None)
        project_store.start_interval(conn, task["id"], who, session.now)
        if task["status"] == "todo":
            _set_status(session, conn, task, "in_progress", started_at=session.now)
        _event(session, conn, Event.TIMER_STARTED, task["record"], {"task": task["id"], "person": who})
    return change


@dataclass(frozen=True)
class TaskStopRequest:
    person: str | None = None  # whose timer (default: the actor's)
    at: str | None = None  # when the work really ended, ISO (a forgotten timer)
    at_cap: bool = False  # a timer past the workspace's timer_cap stops at the cap


def _stop_at(session: Session, running: Row, request: TaskStopRequest) -> tuple[dt.datetime, str | None]:
    """Where a running timer stops, and the cap where it stops at it: --at, else now; past the timer cap,
    --at or --at-cap is needed."""
    if request.at is not None and request.at_cap:
        raise UsageError("--at and --at-cap exclude each other")
    cap = keeping.cap_end(session, running)
    if request.at is not None:
        at = _when(request.at, session, "--at")
        if not running["started_at"] < at <= session.now:
            start = keeping.moment(session, running["started_at"])
            raise InputError(f"--at must be after the timer started ({start}) and not after now")
        return at, None
    if cap is None:
        return session.now, None
    if not request.at_cap:
        ran = format_minutes(int((session.now - running["started_at"]).total_seconds() // 60))
        raise InputError(
            f"the timer on {running['task']} has run {ran} since {keeping.moment(session, running['started_at'])}, "
            f"past the {session.defs.timer_cap} cap: give the real end with --at, or stop it at the cap with --at-cap"
        )
    return cap, session.defs.timer_cap


def stop(session: Session, request: TaskStopRequest) -> TimerChange:
    """Stop the running timer of the person named (else the actor's), now or at --at; one that has run past
    the workspace's timer cap needs --at (the real end) or --at-cap."""
    session.require("tasks.execute", "work on tasks")
    who = team_person(session, request.person, "--for") or session.actor
    if who != session.actor:  # asked before telling whether their timer runs
        session.require(*_OTHERS_WORK)
    running = project_store.open_interval(session.conn, who)
    if running is None:
        raise InputError(f"no timer is running for {who or 'nobody (give --as or CRMCTL_USER)'}")
    _others_work(session, get_task(session, running["task"]), who)
    _check_running(session, running)
    at, capped = _stop_at(session, running, request)
    with session.transaction() as conn:
        minutes = _close_timer(session, conn, running, at)
    return TimerChange(running["task"], running["task"], minutes, capped)


@dataclass(frozen=True)
class TaskDoneRequest:
    task: str
    comment: str | None = None  # a comment for the task's history


@dataclass(frozen=True)
class Finished:
    task: str
    unblocked: list[TaskRow]  # the tasks it was the last blocker of
    next: str | None = None  # the next task of its recurring series, made now


def _workable(session: Session, tid: str) -> Row:
    """A task the actor may work on (someone else's: tasks.manage_others)."""
    session.require("tasks.execute", "work on tasks")
    task = get_task(session, tid)
    _others_work(session, task)
    return task


def _finish(session: Session, conn: Any, task: Row, status: str, comment: str | None) -> None:
    """Done or cancelled: its timers stop, its status and the comment go to its history."""
    for interval in project_store.open_intervals_of_task(conn, task["id"]):
        _close_timer(session, conn, interval)
    _set_status(session, conn, task, status, finished_at=session.now)
    if comment:
        _event(session, conn, Event.TASK_COMMENTED, task["record"], {"task": task["id"], "text": comment})


def _unblock(session: Session, conn: Any, task: Row) -> list[Row]:
    """The tasks a finished task was the last blocker of, each announced to its assignee."""
    unblocked = []
    for other in project_store.tasks(conn, ids=project_store.dependents(conn, task["id"]), now=session.now):
        if other["status"] == "todo" and not other["blocked_by"]:
            unblocked.append(other)
            if other["assignee"]:
                who = session.actor or "-"
                text = f"{other['id']} «{other['title']}» is ready: {task['id']} «{task['title']}» done by {who}"
                process_store.notify(conn, [other["assignee"]], "task.ready", other["record"], text, session.now)
    return unblocked


def done(session: Session, request: TaskDoneRequest) -> Finished:
    """Finish a task: its timers stop, and each task it was the last blocker of is announced to its assignee."""
    task = _workable(session, request.task)
    if task["status"] == "done":
        raise InputError(f"{task['id']} is done already")
    if task["status"] == "cancelled":
        raise InputError(f"{task['id']} is cancelled: reopen it first")
    if task["blocked_by"]:
        raise InputError(f"{task['id']} waits for {', '.join(task['blocked_by'])} to be done")
    with session.transaction() as conn:
        _finish(session, conn, task, "done", request.comment)
        unblocked = _unblock(session, conn, task)
        tell_watchers(session, conn, task, f"done by {session.actor or '-'}")
        found = series_store.of_current(conn, "task", task["id"])
        following = _next_task(session, conn, found)[1] if found is not None else None
    return Finished(task["id"], _rows(session, unblocked), following)


@dataclass(frozen=True)
class TaskReopenRequest:
    task: str


def reopen(session: Session, request: TaskReopenRequest) -> TaskRow:
    """Open a done or cancelled task again."""
    task = _workable(session, request.task)
    if task["status"] in domain.OPEN_STATUSES:
        raise InputError(f"{task['id']} is open already ({task['status']})")
    with session.transaction() as conn:
        _set_status(session, conn, task, "todo", finished_at=None)
        return TaskRow.of(_stored(session, conn, task["id"]), session.now)


@dataclass(frozen=True)
class TaskCancelRequest:
    task: str
    comment: str | None = None  # a comment for the task's history


def cancel(session: Session, request: TaskCancelRequest) -> TaskRow:
    """Cancel a task that will not be done."""
    task = _workable(session, request.task)
    if task["status"] in ("done", "cancelled"):
        raise InputError(f"{task['id']} is {task['status']} already")
    with session.transaction() as conn:
        _finish(session, conn, task, "cancelled", request.comment)
        return TaskRow.of(_stored(session, conn, task["id"]), session.now)


@dataclass(frozen=True)
class TaskCommentRequest:
    task: str
    text: str


@dataclass(frozen=True)
class Commented:
    task: str  # the task commented on


def comment(session: Session, request: TaskCommentRequest) -> Commented:
    """Add a comment to a task's history."""
    session.require("tasks.read", "comment on tasks")
    task = get_task(session, request.task)
    require_reading(session, task)
    if not request.text.strip():
        raise InputError("a comment needs some text")
    with session.transaction() as conn:
        _event(session, conn, Event.TASK_COMMENTED, task["record"], {"task": task["id"], "text": request.text})
        tell_watchers(session, conn, task, f"commented by {session.actor or '-'}: {request.text}")
    return Commented(task["id"])


# -- time ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeLogRequest:
    task: str
    duration: str  # how long: 90m, 2h, 1h30m, 1d (a working day)
    at: str | None = None  # when the work began (default: it ends now)
    note: str | None = None  # what was done
    person: str | None = None  # who did the work (default: the task's assignee, else the actor)


@dataclass(frozen=True)
class Logged:
    task: str
    person: str | None
    started_at: dt.datetime
    ended_at: dt.datetime
    minutes: int
    note: str | None
    intervals: list[int] = field(default_factory=list)  # the ids of the intervals made (one per working stretch)


def _log_spans(session: Session, request: TimeLogRequest, who: str | None, minutes: int) -> list[tuple[Any, Any]]:
    """The stretches logged: from --at, `minutes` of working time on the person's calendar (breaks and days
    off left out; clock time from a start outside working hours); without --at, the clock time up to now."""
    if request.at is None:
        return [(session.now - dt.timedelta(minutes=minutes), session.now)]
    start = _when(request.at, session, "--at")
    spans = calendar_for(session, who).working_spans(start, minutes)
    tz = start.tzinfo
    return [(a.astimezone(tz), b.astimezone(tz)) for a, b in spans]


def log_time(session: Session, request: TimeLogRequest) -> Logged:
    """Past work of the person named (else the task's assignee, else the actor): the given working time from
    --at over their calendar (or ending now), one interval per working stretch, overlapping none of theirs."""
    session.require("tasks.execute", "log time")
    task = get_task(session, request.task)
    who = _others_work(session, task, request.person)
    minutes = _minutes(request.duration, "duration", session.defs.hours_per_day)  # 1d: a working day, as estimates
    spans = _log_spans(session, request, who, minutes)
    start_at, end_at = spans[0][0], spans[-1][1]
    if end_at > session.now:
        raise InputError(f"time cannot be logged in the future: it would end at {end_at:%Y-%m-%d %H:%M}")
    note = request.note
    with session.transaction() as conn:
        ids = []
        for a, b in spans:
            keeping.check_free(session, conn, who, a, b)
            ids.append(project_store.log_interval(conn, task["id"], who, a, b, note))
        data = {"task": task["id"], "person": who, "minutes": minutes, "from": start_at, "note": note}
        if len(ids) > 1:
            data.update({"to": end_at, "intervals": ids})
        _event(session, conn, Event.TIME_LOGGED, task["record"], data)
    return Logged(task["id"], who, start_at, end_at, minutes, note, ids)


@dataclass(frozen=True)
class TimeListRequest:
    person: str | None = None  # only this person's time
    since: str | None = None  # from this date-time, ISO (--from)
    until: str | None = None  # up to this date-time, ISO (--to)
    task: str | None = None  # only this task


def list_time(session: Session, request: TimeListRequest) -> list[TimeRow]:
    """Time intervals, a running timer included (counted up to now)."""
    session.require("tasks.read", "read tasks")
    person = request.person
    if person is not None and person != session.actor:
        session.require("tasks.view_others", "view others' tasks")
    elif not session.may("tasks.view_others"):
        person = session.actor
    begin = _when(request.since, session, "--from") if request.since else None
    end = _when(request.until, session, "--to") if request.until else None
    if begin and end and end <= begin:
        raise InputError("--to must be after --from")
    found = project_store.intervals(
        session.conn,
        person=team_person(session, person, "--person"),
        task=get_task(session, request.task)["id"] if request.task else None,
        since=begin,
        until=end,
    )
    return [TimeRow.of(interval, interval["title"], session.now) for interval in found]
