"""Projects, template launches, tasks, dependencies and the timer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain import permissions
from crmctl.domain import projects as domain
from crmctl.domain.durations import parse_duration
from crmctl.domain.events import Event
from crmctl.domain.graph import find_cycle
from crmctl.domain.model import FormDef
from crmctl.domain.records import plain
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock
from crmctl.ops.lookups import get_task, prefixed_id, record_of, require_reading, team_person
from crmctl.ops.session import Session
from crmctl.store import process as process_store
from crmctl.store import projects as store
from crmctl.store import records as record_store


def _event(session: Session, conn: Any, event: Event, record: str | None, data: dict[str, Any]) -> None:
    form = record_store.form_of(conn, record) if record else None
    record_store.add_event(conn, session.now, session.actor, event, record=record, form=form, data=data)


# -- projects ------------------------------------------------------------------------------------------------
def project_path(session: Session, conn: Any, title: str, parent: str | None) -> tuple[str | None, str]:
    """'Клиенты / ООО Ромашка' -> (id of the project 'Клиенты', created if missing, 'ООО Ромашка')."""
    parts = [p.strip() for p in title.split(" / ")]
    if any(not p for p in parts):
        raise InputError(f"project title '{title}' has an empty part")
    for part in parts[:-1]:
        found = store.root_project_by_title(conn, part, parent)
        if found is None:
            found = store.add_project(
                conn, {"title": part, "parent": parent, "created_at": session.now, "created_by": session.actor}
            )
            _event(session, conn, Event.PROJECT_CREATED, None, {"project": found, "title": part, "parent": parent})
        parent = found
    return parent, parts[-1]


def _check_parent(session: Session, parent: str | None) -> str | None:
    if parent is None:
        return None
    pid = prefixed_id(parent, "P")
    if store.project(session.conn, pid) is None:
        raise NotFound(f"no project {pid}")
    return pid


def create_project(session: Session, title: str, parent: str | None, record: str | None) -> str:
    session.require("tasks.add", "create projects")
    parent_id = _check_parent(session, parent)
    found = record_of(session, record)
    key = found[1]["key"] if found else None
    with session.transaction() as conn:
        parent_id, leaf = project_path(session, conn, title, parent_id)
        pid = store.add_project(
            conn,
            {"title": leaf, "parent": parent_id, "record": key, "created_at": session.now, "created_by": session.actor},
        )
        _event(session, conn, Event.PROJECT_CREATED, key, {"project": pid, "title": leaf, "parent": parent_id})
    return pid


def list_projects(session: Session, parent: str | None, record: str | None) -> list[dict[str, Any]]:
    session.require("tasks.read", "read tasks")
    key = record_of(session, record)[1]["key"] if record else None
    return store.projects(session.conn, parent=_check_parent(session, parent), record=key)


@dataclass
class ProjectCard:
    project: dict[str, Any]
    subprojects: list[dict[str, Any]]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    hidden: dict[str, int] = field(default_factory=lambda: {"tasks": 0})  # tasks left out: not the actor's to read


def show_project(session: Session, pid: str) -> ProjectCard:
    session.require("tasks.read", "read tasks")
    pid = prefixed_id(pid, "P")
    project = store.project(session.conn, pid)
    if project is None:
        raise NotFound(f"no project {pid}")
    tasks = store.tasks(session.conn, projects=store.project_tree(session.conn, pid))
    shown = [t for t in tasks if session.may_read_task(t)]
    return ProjectCard(project, store.projects(session.conn, parent=pid), shown, {"tasks": len(tasks) - len(shown)})


# -- launching a template --------------------------------------------------------------------------------------
@dataclass
class Launched:
    project: str
    title: str
    tasks: list[dict[str, Any]]
    left_out: list[tuple[str, str]]


def record_context(session: Session, form: FormDef, row: dict[str, Any]) -> dict[str, Any]:
    """What templates see as `record`: the key, the fields and the roll-ups."""
    context = {"key": row["key"], **{name: row.get(name) for name in form.fields}}
    context.update(rollups(session.conn, form, row["key"]))
    return context


def rollups(conn: Any, form: FormDef, key: str) -> dict[str, Any]:
    return {r.id: store.rollup(conn, r.source, r.via, r.aggregate, r.field, key) for r in form.rollups}


def choose_assignee(session: Session, who: str | None, queued: dict[str, float], author: str | None) -> str | None:
    """author -> the actor; role:x -> the member with the least queued work (ties by id); else the person."""
    if who is None:
        return None
    if who == "author":
        return author
    if who.startswith("role:"):
        people = permissions.members(session.defs, who[5:])
        if not people:
            raise InputError(f"nobody has the role '{who[5:]}' to take a task")
        return domain.least_loaded(people, queued)
    return who


def _launch(
    session: Session,
    conn: Any,
    template_name: str,
    raw_params: dict[str, Any],
    target: tuple[FormDef, dict[str, Any]] | None,
    title: str | None,
) -> Launched:
    template = session.defs.templates.get(template_name)
    if template is None:
        names = ", ".join(sorted(session.defs.templates)) or "none"
        raise NotFound(f"no template '{template_name}' (templates: {names})")
    if target is not None and template.get("form") and target[0].name != template["form"]:
        raise InputError(
            f"template {template_name} is launched for {template['form']} records, "
            f"not for {target[0].name} {target[1]['key']}"
        )
    if target is None and template.get("form"):
        raise UsageError(f"template {template_name} is launched for a {template['form']} record: give --for KEY")
    record = record_context(session, *target) if target else None
    people = set(session.defs.people) if session.defs.has_team else None
    plan = domain.plan(template, raw_params, record, people, session.defs.hours_per_day, title)
    key = target[1]["key"] if target else None
    parent, leaf = project_path(session, conn, plan.title, None)
    pid = store.add_project(
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
    everyone = sorted(session.defs.people)
    queued = store.queued_minutes(conn, everyone)
    ids: dict[str, str] = {}
    created = []
    for task in plan.tasks:
        assignee = choose_assignee(session, task.assignee, queued, session.actor)
        watchers = [w for w in (choose_assignee(session, x, queued, session.actor) for x in task.watchers) if w]
        row = {
            "project": pid,
            "record": key,
            "template_task": task.id,
            "title": task.title,
            "description": task.description,
            "type": task.type,
            "subtype": task.subtype,
            "assignee": assignee,
            "watchers": list(dict.fromkeys(watchers)),
            "priority": task.priority,
            "estimate_minutes": task.estimate_minutes,
            "status": "todo",
            "created_at": session.now,
            "created_by": session.actor,
        }
        tid = store.add_task(conn, row)
        ids[task.id] = tid
        for dep in task.depends_on:
            store.add_dependency(conn, tid, ids[dep])
        if assignee:
            queued[assignee] = queued.get(assignee, 0.0) + (task.estimate_minutes or 0)
        created.append({"id": tid, **row, "depends_on": [ids[d] for d in task.depends_on]})
    _event(
        session,
        conn,
        Event.PROJECT_LAUNCHED,
        key,
        {
            "project": pid,
            "title": leaf,
            "template": template_name,
            "tasks": list(ids.values()),
            "left_out": [t for t, _ in plan.left_out],
        },
    )
    for task in created:
        _event(
            session,
            conn,
            Event.TASK_CREATED,
            key,
            {
                "task": task["id"],
                "title": task["title"],
                "assignee": task["assignee"],
                "depends_on": task["depends_on"],
            },
        )
    notices = [t for t in created if t["assignee"] and not t["depends_on"]]
    for task in notices:
        process_store.notify(
            conn, [task["assignee"]], "task", key, f"{task['id']} «{task['title']}» is yours", session.now
        )
    return Launched(pid, leaf, created, plan.left_out)


def launch(
    session: Session, template: str, raw_params: dict[str, Any], for_key: str | None, title: str | None
) -> Launched:
    """Launch a template; the result holds the tasks it made as stored (the launcher sees them all)."""
    session.require("tasks.add", "launch projects")
    target = record_of(session, for_key)
    with session.transaction() as conn:
        launched = _launch(session, conn, template, raw_params, target, title)
        launched.tasks = store.tasks(conn, projects=[launched.project])
        return launched


def launch_for_stage(session: Session, conn: Any, form: FormDef, row: dict[str, Any], spec: dict[str, Any]) -> None:
    """The `launch` action of a stage's on_enter: parameters and name rendered from the record."""
    from crmctl.domain import templating

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
        _launch(session, conn, spec["template"], params, (form, row), title)
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


def _check_cycle(conn: Any, tid: str, deps: list[str]) -> None:
    graph = store.dependency_graph(conn)
    graph.setdefault(tid, [])
    graph[tid] = list(dict.fromkeys([*graph[tid], *deps]))
    cycle = find_cycle(graph)
    if cycle:
        if tid in cycle:  # tell it from the task being changed: "T-1 -> T-3 -> T-2 -> T-1"
            at = cycle.index(tid)
            cycle = [*cycle[at:-1], *cycle[:at], tid]
        raise InputError("dependency cycle: " + " -> ".join(cycle))


def add_task(session: Session, title: str, values: dict[str, Any]) -> dict[str, Any]:
    """task add: values hold project, record, type, subtype, assignee, watchers, priority, estimate, due,
    depends_on, description as the command line gave them."""
    session.require("tasks.add", "add tasks")
    with session.transaction() as conn:
        return add_task_in(session, conn, title, values)


def add_task_in(session: Session, conn: Any, title: str, values: dict[str, Any]) -> dict[str, Any]:
    """A new task, inside the caller's transaction."""
    if not title.strip():
        raise InputError("a task needs a title")
    project = _check_parent(session, values.get("project"))
    found = record_of(session, values.get("record"))
    key = found[1]["key"] if found else None
    if key is None and project is not None:
        key = store.project(session.conn, project)["record"]
    deps = [get_task(session, d)["id"] for d in values.get("depends_on") or []]
    row = {
        "project": project,
        "record": key,
        "title": title.strip(),
        "description": values.get("description"),
        "type": values.get("type"),
        "subtype": values.get("subtype"),
        "assignee": team_person(session, values.get("assignee"), "--assignee"),
        "watchers": [team_person(session, w, "--watcher") for w in values.get("watchers") or []],
        "priority": 3 if values.get("priority") is None else int(values["priority"]),
        "estimate_minutes": _minutes(values["estimate"], "--estimate", session.defs.hours_per_day)
        if values.get("estimate")
        else None,
        "due_at": _due(values["due"], session) if values.get("due") else None,
        "status": "todo",
        "created_at": session.now,
        "created_by": session.actor,
    }
    if not 1 <= row["priority"] <= 5:
        raise InputError(f"--priority is 1 (highest) to 5, not {row['priority']}")
    tid = store.add_task(conn, row)
    for dep in deps:
        store.add_dependency(conn, tid, dep)
    _event(
        session,
        conn,
        Event.TASK_CREATED,
        key,
        {"task": tid, "title": row["title"], "assignee": row["assignee"], "depends_on": deps},
    )
    if row["assignee"]:
        process_store.notify(conn, [row["assignee"]], "task", key, f"{tid} «{row['title']}» is yours", session.now)
    return store.task(conn, tid)


@dataclass
class TaskCard:
    task: dict[str, Any]
    dependents: list[str]
    intervals: list[dict[str, Any]]
    events: list[dict[str, Any]]


def show_task(session: Session, tid: str) -> TaskCard:
    session.require("tasks.read", "read tasks")
    task = get_task(session, tid)
    require_reading(session, task)
    return TaskCard(
        task,
        store.dependents(session.conn, task["id"]),
        store.intervals(session.conn, task=task["id"]),
        store.task_events(session.conn, task["id"]),
    )


_OTHERS_WORK = ("tasks.manage_others", "work on others' tasks")


def _others_work(session: Session, task: dict[str, Any], person: str | None = None) -> str | None:
    """Who works on the task: the person named, else its assignee, else the actor. Work on a task given to
    someone else, or done for someone else, needs tasks.manage_others besides tasks.execute."""
    who = team_person(session, person, "--for") or task["assignee"] or session.actor
    if any(p is not None and p != session.actor for p in (task["assignee"], who)):
        session.require(*_OTHERS_WORK, record=task["record"])
    return who


def list_tasks(
    session: Session,
    *,
    assignee: str | None = None,
    project: str | None = None,
    record: str | None = None,
    status: list[str] | None = None,
    type_: str | None = None,
    blocked: bool = False,
    ready: bool = False,
    unassigned: bool = False,
) -> list[dict[str, Any]]:
    """Tasks by the filters given. Without tasks.view_others a person sees their own tasks only (and, with
    --unassigned and tasks.view_unassigned, those of nobody)."""
    session.require("tasks.read", "read tasks")
    if blocked and ready:
        raise UsageError("--blocked and --ready exclude each other")
    if unassigned and assignee is not None:
        raise UsageError("--unassigned and --assignee exclude each other")
    if unassigned:
        session.require("tasks.view_unassigned", "view undistributed tasks")
    elif assignee is not None and assignee != session.actor:
        session.require("tasks.view_others", "view others' tasks")
    elif not session.may("tasks.view_others"):
        assignee = session.actor
    for value in status or []:
        if value not in domain.STATUSES:
            raise UsageError(f"--status is one of {', '.join(domain.STATUSES)}, not '{value}'")
    projects = store.project_tree(session.conn, _check_parent(session, project)) if project else None
    records = [record_of(session, record)[1]["key"]] if record else None
    found = store.tasks(
        session.conn,
        assignee=team_person(session, assignee, "--assignee"),
        projects=projects,
        records=records,
        status=status,
        type_=type_,
    )
    if unassigned:
        found = [t for t in found if t["assignee"] is None]
    if blocked:
        found = [t for t in found if domain.blocked(t)]
    if ready:
        found = [t for t in found if domain.ready(t)]
    return found


def assign(session: Session, tid: str, person: str | None) -> dict[str, Any]:
    session.require("tasks.assign", "assign tasks")
    task = get_task(session, tid)
    person = team_person(session, person, "assignee")
    if person == task["assignee"]:
        return task
    with session.transaction() as conn:
        store.update_task(conn, task["id"], {"assignee": person})
        _event(
            session,
            conn,
            Event.TASK_ASSIGNED,
            task["record"],
            {"task": task["id"], "from": task["assignee"], "to": person},
        )
        if person:
            text = f"{task['id']} «{task['title']}» is yours (assigned by {session.actor or '-'})"
            process_store.notify(conn, [person], "task", task["record"], text, session.now)
        return store.task(conn, task["id"])


def depend(session: Session, tid: str, on: list[str], remove: bool) -> dict[str, Any]:
    session.require("tasks.add", "change task dependencies")
    task = get_task(session, tid)
    others = [get_task(session, o)["id"] for o in on]
    if task["id"] in others:
        raise InputError(f"{task['id']} cannot depend on itself")
    with session.transaction() as conn:
        if remove:
            missing = [o for o in others if o not in task["depends_on"]]
            if missing:
                raise InputError(f"{task['id']} does not depend on {', '.join(missing)}")
            for other in others:
                store.remove_dependency(conn, task["id"], other)
        else:
            _check_cycle(conn, task["id"], others)
            for other in others:
                store.add_dependency(conn, task["id"], other)
        _event(
            session,
            conn,
            Event.TASK_DEPENDENCIES,
            task["record"],
            {"task": task["id"], "removed" if remove else "added": others},
        )
        return store.task(conn, task["id"])


def _set_status(session: Session, conn: Any, task: dict[str, Any], status: str, **extra: Any) -> None:
    store.update_task(conn, task["id"], {"status": status, **extra})
    data = {"task": task["id"], "from": task["status"], "to": status, "assignee": task["assignee"]}
    _event(session, conn, Event.TASK_STATUS, task["record"], data)


def _close_timer(session: Session, conn: Any, interval: dict[str, Any]) -> None:
    store.close_interval(conn, interval["id"], session.now)
    minutes = (session.now - interval["started_at"]).total_seconds() / 60
    record = store.task(conn, interval["task"])["record"]
    _event(
        session,
        conn,
        Event.TIMER_STOPPED,
        record,
        {"task": interval["task"], "person": interval["person"], "minutes": round(minutes, 1)},
    )


@dataclass
class TimerChange:
    task: str
    stopped: str | None = None  # the task whose timer was running before
    minutes: float = 0.0


def start(session: Session, tid: str) -> TimerChange:
    """Open a time interval for the task's assignee (else the actor); a running one is closed first (one timer
    per person)."""
    session.require("tasks.execute", "work on tasks")
    task = get_task(session, tid)
    who = _others_work(session, task)
    if task["status"] in ("done", "cancelled"):
        raise InputError(f"{task['id']} is {task['status']}: reopen it to work on it")
    if task["blocked_by"]:
        raise InputError(f"{task['id']} waits for {', '.join(task['blocked_by'])} to be done")
    change = TimerChange(task["id"])
    with session.transaction() as conn:
        running = store.open_interval(conn, who)
        if running is not None:
            if running["task"] == task["id"]:
                raise InputError(f"the timer of {who or 'nobody'} already runs on {task['id']}")
            if running["started_at"] > session.now:
                raise InputError(f"the running timer started at {running['started_at']:%Y-%m-%d %H:%M}, after now")
            _close_timer(session, conn, running)
            change.stopped = running["task"]
            change.minutes = (session.now - running["started_at"]).total_seconds() / 60
        store.start_interval(conn, task["id"], who, session.now)
        if task["status"] == "todo":
            _set_status(session, conn, task, "in_progress", started_at=session.now)
        _event(session, conn, Event.TIMER_STARTED, task["record"], {"task": task["id"], "person": who})
    return change


def stop(session: Session, person: str | None = None) -> TimerChange:
    """Stop the running timer of the person named (else the actor's)."""
    session.require("tasks.execute", "work on tasks")
    who = team_person(session, person, "--for") or session.actor
    if who != session.actor:  # asked before telling whether their timer runs
        session.require(*_OTHERS_WORK)
    running = store.open_interval(session.conn, who)
    if running is None:
        raise InputError(f"no timer is running for {who or 'nobody (give --as or CRMCTL_USER)'}")
    _others_work(session, get_task(session, running["task"]), who)
    if running["started_at"] > session.now:
        raise InputError(f"the running timer started at {running['started_at']:%Y-%m-%d %H:%M}, after now")
    with session.transaction() as conn:
        _close_timer(session, conn, running)
    return TimerChange(running["task"], running["task"], (session.now - running["started_at"]).total_seconds() / 60)


@dataclass
class Finished:
    task: str
    unblocked: list[dict[str, Any]]


def done(session: Session, tid: str, comment: str | None = None) -> Finished:
    """Finish a task: its timers stop, and each task it was the last blocker of is announced to its assignee."""
    session.require("tasks.execute", "work on tasks")
    task = get_task(session, tid)
    _others_work(session, task)
    if task["status"] == "done":
        raise InputError(f"{task['id']} is done already")
    if task["status"] == "cancelled":
        raise InputError(f"{task['id']} is cancelled: reopen it first")
    if task["blocked_by"]:
        raise InputError(f"{task['id']} waits for {', '.join(task['blocked_by'])} to be done")
    with session.transaction() as conn:
        for interval in store.open_intervals_of_task(conn, task["id"]):
            _close_timer(session, conn, interval)
        _set_status(session, conn, task, "done", finished_at=session.now)
        if comment:
            _event(session, conn, Event.TASK_COMMENTED, task["record"], {"task": task["id"], "text": comment})
        unblocked = []
        for other in store.tasks(conn, ids=store.dependents(conn, task["id"])):
            if other["status"] == "todo" and not other["blocked_by"]:
                unblocked.append(other)
                if other["assignee"]:
                    who = session.actor or "-"
                    text = f"{other['id']} «{other['title']}» is ready: {task['id']} «{task['title']}» done by {who}"
                    process_store.notify(conn, [other["assignee"]], "task.ready", other["record"], text, session.now)
    return Finished(task["id"], unblocked)


def reopen(session: Session, tid: str) -> dict[str, Any]:
    session.require("tasks.execute", "work on tasks")
    task = get_task(session, tid)
    _others_work(session, task)
    if task["status"] in domain.OPEN_STATUSES:
        raise InputError(f"{task['id']} is open already ({task['status']})")
    with session.transaction() as conn:
        _set_status(session, conn, task, "todo", finished_at=None)
        return store.task(conn, task["id"])


def cancel(session: Session, tid: str, comment: str | None) -> dict[str, Any]:
    session.require("tasks.execute", "work on tasks")
    task = get_task(session, tid)
    _others_work(session, task)
    if task["status"] in ("done", "cancelled"):
        raise InputError(f"{task['id']} is {task['status']} already")
    with session.transaction() as conn:
        for interval in store.open_intervals_of_task(conn, task["id"]):
            _close_timer(session, conn, interval)
        _set_status(session, conn, task, "cancelled", finished_at=session.now)
        if comment:
            _event(session, conn, Event.TASK_COMMENTED, task["record"], {"task": task["id"], "text": comment})
        return store.task(conn, task["id"])


def comment(session: Session, tid: str, text: str) -> str:
    session.require("tasks.read", "comment on tasks")
    task = get_task(session, tid)
    require_reading(session, task)
    if not text.strip():
        raise InputError("a comment needs some text")
    with session.transaction() as conn:
        _event(session, conn, Event.TASK_COMMENTED, task["record"], {"task": task["id"], "text": text})
    return task["id"]


# -- time ----------------------------------------------------------------------------------------------------
def log_time(
    session: Session, tid: str, duration: str, at: str | None, note: str | None, person: str | None = None
) -> dict[str, Any]:
    """Past work of the person named (else the task's assignee, else the actor): an interval of the given
    length, starting at --at (or ending now)."""
    session.require("tasks.execute", "log time")
    task = get_task(session, tid)
    who = _others_work(session, task, person)
    minutes = _minutes(duration, "duration", session.defs.hours_per_day)  # 1d is a working day, as in estimates
    length = dt.timedelta(minutes=minutes)
    start_at = _when(at, session, "--at") if at else session.now - length
    end_at = start_at + length
    if end_at > session.now:
        raise InputError(f"time cannot be logged in the future: it would end at {end_at:%Y-%m-%d %H:%M}")
    with session.transaction() as conn:
        store.log_interval(conn, task["id"], who, start_at, end_at, note)
        _event(
            session,
            conn,
            Event.TIME_LOGGED,
            task["record"],
            {"task": task["id"], "person": who, "minutes": minutes, "from": start_at, "note": note},
        )
    return {
        "task": task["id"],
        "person": who,
        "started_at": start_at,
        "ended_at": end_at,
        "minutes": minutes,
        "note": note,
    }


def list_time(
    session: Session, person: str | None, since: str | None, until: str | None, task: str | None
) -> list[dict[str, Any]]:
    session.require("tasks.read", "read tasks")
    if person is not None and person != session.actor:
        session.require("tasks.view_others", "view others' tasks")
    elif not session.may("tasks.view_others"):
        person = session.actor
    begin = _when(since, session, "--from") if since else None
    end = _when(until, session, "--to") if until else None
    if begin and end and end <= begin:
        raise InputError("--to must be after --from")
    found = store.intervals(
        session.conn,
        person=team_person(session, person, "--person"),
        task=get_task(session, task)["id"] if task else None,
        since=begin,
        until=end,
    )
    for interval in found:
        stop_at = interval["ended_at"] or session.now
        interval["running"] = interval["ended_at"] is None
        interval["minutes"] = round(max(0.0, (stop_at - interval["started_at"]).total_seconds() / 60), 1)
    return found
