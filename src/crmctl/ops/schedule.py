"""Work queues and due dates: the schedule of all open work, read for one person or one thing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from crmctl.domain import schedule as domain
from crmctl.domain.model import FormDef
from crmctl.domain.shapes import column, names
from crmctl.errors import InputError, NotFound
from crmctl.ops.lookups import calendar_for, day_start, get_task, locate, referring, require_reading
from crmctl.ops.session import Session
from crmctl.ops.sprints import task_ids
from crmctl.store import projects as project_store
from crmctl.store import schedule as schedule_store
from crmctl.store.records import form_of


def compute(session: Session) -> tuple[domain.Schedule, list[dict[str, Any]]]:
    """The schedule of all open work, and the rows of the open tasks (in queue order)."""
    import gc  # the collector is paused while a big schedule is built (see below)

    # Reading the rows and simulating make many small objects and free none of them: the collector would only
    # walk them again and again (at 100k tasks, more than the work itself).
    gc.disable()
    try:
        return _compute(session)
    finally:
        gc.enable()


def _compute(session: Session) -> tuple[domain.Schedule, list[dict[str, Any]]]:
    tasks = project_store.open_work(session.conn, session.defs.queue_order, session.now)
    shared: dict[Any, Any] = {}

    def calendar_of(person: str) -> Any:
        """People with the same calendar and no absences share one, and its laid-out days."""
        who = session.defs.people.get(person)
        if who is not None and who.raw.get("absences"):
            return calendar_for(session, person)
        name = (who.calendar if who else None) or session.defs.calendar
        return shared.get(name) or shared.setdefault(name, calendar_for(session, person))

    schedule = domain.build(
        tasks,
        calendar_of,
        session.now,
        order=session.defs.queue_order,
        horizon_days=session.defs.horizon_days,
    )
    return schedule, tasks


def export_tjp(session: Session, report: str) -> str:
    """The open work as a TaskJuggler project: what crmctl's schedule places, and what it cannot, named."""
    session.require("tasks.view_others", "view others' tasks")
    # the export is a rendering of the schedule in TaskJuggler's language; only this operation needs it
    from crmctl.render.tjp import project

    schedule, tasks = compute(session)
    people = sorted({slot.person for slot in schedule.slots.values() if slot.person and not slot.problem})
    return project(
        tasks,
        {person: calendar_for(session, person) for person in people},
        schedule,
        session.now,
        timezone=session.defs.timezone,
        horizon_days=session.defs.horizon_days,
        order=session.defs.queue_order,
        title=session.defs.name,
        report=report,
    )


def _row(task: dict[str, Any], slot: domain.Slot) -> dict[str, Any]:
    return {
        "id": task["id"],
        "title": task["title"],
        "status": task["status"],
        "assignee": task["assignee"],
        "record": task["record"],
        "project": task["project"],
        "priority": task["priority"],
        "project_priority": task["project_priority"],
        "estimate_minutes": task["estimate_minutes"],
        "actual_minutes": round(float(task["actual_minutes"]), 1),
        "remaining_minutes": slot.remaining,
        "due_at": task["due_at"],
        "start": slot.start,
        "finish": slot.finish,
        "at_risk": slot.at_risk,
        "reason": slot.reason,
        "problem": slot.problem,
    }


@dataclass(frozen=True)
class QueueRequest:
    person: str | None = None  # whose queue (default: the actor's)
    sprint: str | None = None  # only the tasks of this sprint


@dataclass(frozen=True)
class QueueItem:
    """An open task in a queue, with the dates the schedule gives it. The table shows cells made of these."""

    id: str = column(table=False)
    title: str = column(table=False)
    status: str = column(table=False)
    record: str | None = column(table=False)
    project: str | None = column(table=False)
    priority: int | None = column(table=False)
    project_priority: int | None = column(table=False)  # CSV has it before priority (cli/schedule.py)
    estimate_minutes: int | None = column(table=False)
    actual_minutes: float = column(table=False)
    remaining_minutes: float | None = column(table=False)
    due_at: dt.datetime | None = column(table=False)
    start: dt.datetime | None = column(table=False)
    finish: dt.datetime | None = column(table=False)
    at_risk: bool = column(table=False)
    reason: str | None = column(table=False)  # why it is placed where it is
    problem: str | None = column(table=False)  # why it cannot be scheduled


def _item(row: dict[str, Any]) -> QueueItem:
    """A row of the schedule (as computed or stored, with its assignee) as an item of a queue."""
    return QueueItem(**{name: row[name] for name in names(QueueItem)})


def queue(session: Session, request: QueueRequest) -> list[QueueItem]:
    """A person's open, unblocked tasks in the order they should be done, with their computed dates (only
    those of a sprint, when one is named: the dates still come from all the work there is). The schedule
    computed is stored for the next one."""
    who, chosen = _queue_of(session, request)
    return _items(stored_queue(session, who), chosen)


def queue_read(session: Session, request: QueueRequest) -> list[QueueItem] | None:
    """What `queue` gives, read only, while the stored schedule holds; else None (it computes and stores a new
    one). The team server asks this first, beside the writes (see Operation.read_first)."""
    who, chosen = _queue_of(session, request)
    rows = _kept_queue(session, who, _wanted(session))
    return None if rows is None else _items(rows, chosen)


def _queue_of(session: Session, request: QueueRequest) -> tuple[str, set[str] | None]:
    """Whose queue the request reads, once the actor may, and the tasks of the sprint it names (None: all)."""
    who = request.person or session.actor
    if who is None:
        raise NotFound("whose queue? give PERSON, --as or CRMCTL_USER")
    session.require("tasks.read", "read tasks")
    if who != session.actor:
        session.require("tasks.view_others", "view others' tasks")
    if session.defs.has_team and who not in session.defs.people:
        raise NotFound(f"no person '{who}' in the team")
    return who, None if request.sprint is None else task_ids(session, request.sprint)


def _items(rows: list[dict[str, Any]], chosen: set[str] | None) -> list[QueueItem]:
    return [_item(r) for r in rows if chosen is None or r["id"] in chosen]


_DATES = ("due_at", "start", "finish")


def _wanted(session: Session) -> dict[str, Any]:
    """The stamp of a schedule that holds now: the definitions, what it depends on in the data, the minute."""
    return {
        "version": session.version,
        "inputs": schedule_store.inputs(session.conn),
        "minute": session.now.replace(second=0, microsecond=0).isoformat(),
    }


def _kept_queue(session: Session, person: str, wanted: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A person's queue from the stored schedule, if its stamp is the wanted one; else None."""
    if schedule_store.stamp(session.conn) != wanted:
        return None
    rows = schedule_store.queue(session.conn, person)
    for row in rows:
        for name in _DATES:
            row[name] = dt.datetime.fromisoformat(row[name]) if row[name] else None
    return rows


def stored_queue(session: Session, person: str) -> list[dict[str, Any]]:
    """A person's queue from the stored schedule while nothing it depends on has changed and the clock is in
    the same minute; else from a new computation, which is stored for the next one."""
    wanted = _wanted(session)
    kept = _kept_queue(session, person, wanted)
    if kept is not None:
        return kept
    schedule, tasks = compute(session)
    unblocked = {t["id"]: t for t in tasks if not t["depends_on"]}
    queues = {
        who: [_row(unblocked[tid], schedule.slots[tid]) for tid in order if tid in unblocked]
        for who, order in schedule.order.items()
    }
    with session.transaction() as conn:
        schedule_store.keep(conn, wanted, queues)
    return queues.get(person, [])


@dataclass(frozen=True)
class EtaRequest:
    key: str  # a task (T-3), a project (P-2) or a record (ORD-5)


@dataclass(frozen=True)
class EtaTask:
    """A task an ETA counts, with the person who does it."""

    assignee: str | None
    task: QueueItem


@dataclass(frozen=True)
class TimeOff:
    """A holiday or an absence before a ready date, of people whose tasks it counts: it moved the date."""

    first: dt.date
    last: dt.date
    reason: str  # "holiday: Международный женский день", "absence: Отпуск"
    people: list[str]


@dataclass(frozen=True)
class Promise:
    """What a record's form names as promised to the client (its `promised` field) against its ready date."""

    field: str
    promised: str  # the promised date as written: 2027-04-10 (a datetime field: 2027-04-10 15:00)
    ready: dt.datetime | None
    late: bool  # ready (or done) after the promise


@dataclass(frozen=True)
class Eta:
    what: str  # "task T-3", "project P-1", "record ORD-2"
    finish: dt.datetime | None
    last: str | None  # the task that finishes last
    tasks: list[EtaTask]
    reason: str
    hidden: dict[str, int]  # tasks left out of `tasks`: not the actor's to read (the date still counts them)
    finished: bool = False  # all its tasks are done: finish is when the last one was
    promise: Promise | None = None  # a record's promised date, where its form names one
    time_off: list[TimeOff] = field(default_factory=list)  # holidays and absences up to the ready date


def promise_at(session: Session, value: Any) -> tuple[str, dt.datetime]:
    """A promised value as text, and the moment a ready date is late after (a date: the end of that day)."""
    tz = ZoneInfo(session.defs.timezone)
    if isinstance(value, dt.datetime):
        return f"{value.astimezone(tz):%Y-%m-%d %H:%M}", value
    return value.isoformat(), dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), tzinfo=tz)


def promise_of(session: Session, form: FormDef, row: dict[str, Any], ready: dt.datetime | None) -> Promise | None:
    """The record's promise against its ready date, or None where its form names no promised field or the
    record has no value there."""
    value = row.get(form.promised) if form.promised else None
    if form.promised is None or value is None:
        return None
    text, at = promise_at(session, value)
    return Promise(form.promised, text, ready, ready is not None and ready > at)


def record_keys(session: Session, form: FormDef, key: str) -> list[str]:
    """A record and the records that refer to it (a deal's orders): whose tasks make its ready date."""
    return [key, *(k for _, k in referring(session, session.conn, form.name, key))]


def finished_at(session: Session, keys: list[str]) -> tuple[dt.datetime | None, str | None]:
    """When the last done task of these records was finished, and which, for records with no open task."""
    done = [t for t in project_store.tasks(session.conn, records=keys) if t["status"] == "done" and t["finished_at"]]
    last = max(done, key=lambda t: (t["finished_at"], t["number"]), default=None)
    return (last["finished_at"], last["id"]) if last else (None, None)


def promises(session: Session, form: FormDef, rows: list[dict[str, Any]]) -> dict[str, Promise]:
    """The promise of each of these records (of one form) that has one, against its ready date: the schedule
    of all open work is computed only when there is one."""
    promised = [row for row in rows if form.promised and row.get(form.promised) is not None]
    if not promised:
        return {}
    schedule, tasks = compute(session)
    by_record: dict[str, list[str]] = {}
    for t in tasks:
        by_record.setdefault(t["record"], []).append(t["id"])
    found = {}
    for row in promised:
        keys = set(record_keys(session, form, row["key"]))  # one look-up per record: a board of promised records
        ids = [tid for key in keys for tid in by_record.get(key, [])]
        if ids:
            finish, _, problems = schedule.ready_date(ids)
            ready = None if problems else finish
        else:
            ready = finished_at(session, sorted(keys))[0]
        found[row["key"]] = promise_of(session, form, row, ready)
    return {key: p for key, p in found.items() if p is not None}


def _time_off(session: Session, schedule: domain.Schedule, ids: set[str], finish: dt.datetime) -> list[TimeOff]:
    """The holidays and absences from now to the ready date of the people of these tasks, each with who."""
    found: dict[tuple[dt.date, dt.date, str], list[str]] = {}
    people = sorted({s.person for tid, s in schedule.slots.items() if tid in ids and s.person})
    for person in people:
        for first, last, reason in calendar_for(session, person).time_off(session.now, finish):
            found.setdefault((first, last, reason), []).append(person)
    return [TimeOff(first, last, reason, who) for (first, last, reason), who in sorted(found.items())]


def _chosen(session: Session, text: str, tasks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], Any]:
    """What an ETA is of: its words, the open tasks it counts, and (a task already closed: its Eta; a record:
    its form, row and keys)."""
    prefix, _, number = text.partition("-")
    if form_of(session.conn, text) is not None:  # a record key first: a form may use the prefix T or P
        prefix = ""
    if prefix == "T" and number.isdigit():
        found = get_task(session, text)
        require_reading(session, found)
        what = f"task {found['id']}"
        if found["status"] not in domain.OPEN:
            reason = f"{found['id']} is {found['status']}"
            return what, [], Eta(what, found["finished_at"], found["id"], [], reason, {"tasks": 0})
        return what, [t for t in tasks if t["id"] == found["id"]], None
    if prefix == "P" and number.isdigit():
        if project_store.project(session.conn, text) is None:
            raise NotFound(f"no project {text}")
        tree = set(project_store.project_tree(session.conn, text))
        return f"project {text}", [t for t in tasks if t["project"] in tree], None
    form, row = locate(session, text)
    session.require("records.read", f"read {form.name} records", form.name, row["key"])
    keys = record_keys(session, form, row["key"])
    return f"record {row['key']}", [t for t in tasks if t["record"] in keys], (form, row, keys)


def _reason(schedule: domain.Schedule, ids: list[str], shown: set[str]) -> tuple[dt.datetime | None, str | None, str]:
    """The ready date of these open tasks, the task that finishes last (where the actor may read it), and why."""
    finish, last, problems = schedule.ready_date(ids)
    if problems:
        slot = schedule.slots[problems[0]]
        if problems[0] in shown:
            return None, last, f"{problems[0]} cannot be scheduled: {slot.problem}"
        return None, last, "a task not yours to read cannot be scheduled"
    if last is not None and last in shown:
        slot = schedule.slots[last]
        return finish, last, f"{last} finishes last ({slot.person}; {slot.reason})"
    return finish, None, "a task not yours to read finishes last"


def _done_record(session: Session, what: str, record: Any) -> Eta:
    """The ETA of a record with no open task: when its last task was done, if it had any."""
    form, row, keys = record
    finish, last = finished_at(session, keys)
    reason = f"all its tasks are done; {last} finished last" if last else "no open tasks"
    return Eta(what, finish, last, [], reason, {"tasks": 0}, finish is not None, promise_of(session, form, row, finish))


def eta(session: Session, request: EtaRequest) -> Eta:
    """When a task, a project (with its subprojects) or a record (its tasks, and those of the records that
    refer to it: a deal's orders) will be ready, and why; a record whose tasks are all done, when it was. Only
    the tasks the actor may read are listed, and named in the reason; the date comes from all of them."""
    session.require("tasks.read", "read tasks")
    schedule, tasks = compute(session)
    what, chosen, other = _chosen(session, request.key.strip().upper(), tasks)
    if isinstance(other, Eta):
        return other
    ids = [t["id"] for t in chosen]
    if not ids:
        return _done_record(session, what, other) if other else Eta(what, None, None, [], "no open tasks", {"tasks": 0})
    shown = {t["id"] for t in chosen if session.may_read_task(t)}
    rows = sorted(
        (_row(t, schedule.slots[t["id"]]) for t in chosen if t["id"] in shown),
        key=lambda r: (r["finish"] is None, r["finish"] or 0, r["id"]),
    )
    finish, last, reason = _reason(schedule, ids, shown)
    listed = [EtaTask(r["assignee"], _item(r)) for r in rows]
    promise = promise_of(session, other[0], other[1], finish) if other else None
    off = _time_off(session, schedule, shown, finish) if finish else []
    return Eta(what, finish, last, listed, reason, {"tasks": len(ids) - len(shown)}, False, promise, off)


@dataclass(frozen=True)
class LoadRequest:
    since: str | None = None  # --from: the first day (YYYY-MM-DD), included; default today
    until: str | None = None  # --to: the last day, excluded; default two weeks after --from


@dataclass(frozen=True)
class LoadRow:
    """A person's queued work against the working hours they have in the period."""

    person: str
    name: str = column(table=False)
    tasks: int = column()
    queued_hours: float = column("queued h")  # all their open work left (estimate less time logged)
    unscheduled: int = column("unplaced")  # tasks the schedule cannot place (no estimate, a cycle ...)
    empties_at: dt.datetime | None = column("queue empties")  # when the last task it can place finishes
    demand_hours: float = column("to do h")  # queued work not done before the period starts
    available_hours: float = column("avail h")  # their working hours in the period (from now, if later)
    utilisation: int | None = column("use %")  # demand against available, in percent
    overloaded: bool = column("over")  # more demand than available hours


@dataclass(frozen=True)
class Load:
    """The team's load in a period, with the workspace and the time it was made (for the page)."""

    people: list[LoadRow]
    since: dt.datetime
    until: dt.datetime  # excluded
    workspace: str
    made_at: dt.datetime


def load(session: Session, request: LoadRequest) -> Load:
    """Per person: their queued work, the date their queue empties, their working hours in a period (default:
    the next two weeks) and how much of them the work takes. Everyone of the team is listed, idle or not."""
    session.require("tasks.read", "read tasks")
    session.require("tasks.view_others", "view others' tasks")
    from zoneinfo import ZoneInfo  # the time zone database only for a command that needs a period's bounds

    today = session.now.astimezone(ZoneInfo(session.defs.timezone)).date().isoformat()
    since = day_start(session, request.since or today, "--from")
    until = day_start(session, request.until, "--to") if request.until else since + dt.timedelta(days=14)
    if since >= until:
        raise InputError(f"--from {since.date()} is not before --to {until.date()}")
    schedule, _ = compute(session)
    people = sorted({*session.defs.people, *schedule.order})
    rows = [_load_row(session, schedule, person, since, until) for person in people]
    return Load(rows, since, until, session.defs.name, session.now)


def _load_row(
    session: Session, schedule: domain.Schedule, person: str, since: dt.datetime, until: dt.datetime
) -> LoadRow:
    calendar = calendar_for(session, person)
    slots = [schedule.slots[tid] for tid in schedule.order.get(person, [])]
    queued = sum(slot.remaining for slot in slots)
    finishes, done_before = [], 0
    for slot in slots:
        if not slot.problem and slot.start is not None and slot.finish is not None:
            finishes.append(slot.finish)
            done_before += calendar.between(slot.start, min(slot.finish, since))
    demand = queued - done_before
    available = calendar.between(max(since, session.now), until)
    who = session.defs.people.get(person)
    return LoadRow(
        person=person,
        name=who.name if who else person,
        tasks=len(slots),
        queued_hours=round(queued / 60, 1),
        unscheduled=len(slots) - len(finishes),
        empties_at=max(finishes, default=None),
        demand_hours=round(demand / 60, 1),
        available_hours=round(available / 60, 1),
        utilisation=round(100 * demand / available) if available else None,
        overloaded=demand > available,
    )
