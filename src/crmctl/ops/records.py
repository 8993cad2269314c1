"""Records: create, update, show, list, history, comments and reminders."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.model import SYSTEM_COLUMNS, FormDef, Rollup
from crmctl.domain.records import changed_values, duplicate_message, new_values, plain, unique_checks
from crmctl.domain.shapes import column
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock, lookups
from crmctl.ops.attachments import CardFile, card_files
from crmctl.ops.lookups import locate, normalise_key, people_of, rollup_value, rollups, stage_duty, title_of
from crmctl.ops.process import check_refs, check_unique, create_in
from crmctl.ops.projects import FieldChange, LaunchNote, ProjectChanged, follow_record
from crmctl.ops.schedule import Promise, promises
from crmctl.ops.series import every_of, reminder_done, start_reminders, stop_reminders
from crmctl.ops.session import Session
from crmctl.store import projects as project_store
from crmctl.store import records as record_store
from crmctl.store import series as series_store
from crmctl.store.process import approvals

_WHERE = re.compile(r"^([a-z][a-z0-9_]*)\s*(!=|>=|<=|=|>|<|~)(.*)$", re.S)
_SYSTEM_TYPES = {
    "key": "text",
    "number": "number",
    "author": "person",
    "created_at": "datetime",
    "updated_at": "datetime",
    "def_version": "number",
    "process": "text",
    "stage": "text",
    "stage_since": "datetime",
    "stage_due": "datetime",
    "responsible": "person",
}


def holder_of(session: Session, conn: Any, form: FormDef, raw: dict[str, Any]) -> tuple[str, str] | None:
    """The record a new one with these values would duplicate, and why; None if there is none."""
    values = new_values(form, raw, people_of(session), strict=False)
    for shared in unique_checks(form, values):
        existing = record_store.holder(conn, form, shared)
        if existing is not None:
            return existing, duplicate_message(form, existing, shared)
    return None


@dataclass(frozen=True)
class CreateRequest:
    form: str  # the form of the new record
    values: dict[str, Any]  # field id: value, as given (text from --set, or what a YAML or JSON file holds)
    process: str | None = None  # the process to enter, when the form has several
    card: bool = False  # also give the new record's card, as `record show` does


@dataclass(frozen=True)
class Created:
    """A new record's key, and its card when the request asked for it."""

    key: str
    card: Card | None = None
    launched: list[LaunchNote] = field(default_factory=list)  # the projects entering its first stage launched


def create(session: Session, request: CreateRequest) -> Created:
    """Create a record: checked against its form, written, and in its process's first stage."""
    form = session.defs.form(request.form)
    session.require("records.create", f"create {form.name} records", form.name)
    launched: list[LaunchNote] = []
    with session.transaction() as conn:
        key: str = create_in(session, conn, form, request.values, request.process, launched)["key"]
    return Created(key, show(session, ShowRequest(key)) if request.card else None, launched)


@dataclass(frozen=True)
class UpdateRequest:
    key: str  # the record's key
    values: dict[str, Any]  # field id: new value (an empty one clears the field)
    card: bool = False  # also give the record's card after the change, as `record show` does


@dataclass(frozen=True)
class Updated:
    """The fields an update changed (none when every value was the same), and the card when asked for."""

    key: str
    changes: list[FieldChange]
    card: Card | None = None
    projects: list[ProjectChanged] = field(default_factory=list)  # its projects whose bound priority followed


def update(session: Session, request: UpdateRequest) -> Updated:
    """Change fields of a record; every change is kept in its history."""
    form, row = locate(session, request.key)
    key = row["key"]
    session.require("records.update", f"change {form.name} records", form.name, key)
    changes = changed_values(form, row, request.values, people_of(session))
    check_refs(session, form, {k: v[1] for k, v in changes.items()})
    check_unique(session.conn, form, {**row, **{k: v[1] for k, v in changes.items()}}, key, changes)
    followed: list[ProjectChanged] = []
    if changes:
        with session.transaction() as conn:
            record_store.update(conn, form, key, {**{k: v[1] for k, v in changes.items()}, "updated_at": session.now})
            record_store.add_event(
                conn,
                session.now,
                session.actor,
                Event.RECORD_UPDATED,
                record=key,
                form=form.name,
                data={"changes": {k: [plain(a), plain(b)] for k, (a, b) in changes.items()}},
            )
            row = {**row, **{k: v[1] for k, v in changes.items()}}
            followed = follow_record(session, conn, form, row, set(changes))
    made = [FieldChange(name, before, after) for name, (before, after) in changes.items()]
    return Updated(key, made, show(session, ShowRequest(key)) if request.card else None, followed)


@dataclass(frozen=True)
class ShowRequest:
    key: str  # the record's key
    previews: bool = False  # the bytes of attached images come along, for the HTML card's thumbnails


@dataclass(frozen=True)
class Related:
    """A record that refers to the one shown, with how far its tasks are."""

    key: str
    form: str
    title: str
    stage: str | None
    tasks_done: int
    tasks: int  # its tasks, leaving out cancelled ones


@dataclass(frozen=True)
class CardTask:
    """A task of the record shown or of a record that refers to it."""

    id: str
    title: str
    status: str
    assignee: str | None
    due_at: dt.datetime | None
    record: str | None
    overdue: bool


@dataclass(frozen=True)
class Comment:
    id: int
    at: dt.datetime
    author: str | None
    text: str


@dataclass(frozen=True)
class CardReminder:
    """An open reminder on the record."""

    id: int
    due_at: dt.datetime
    text: str
    person: str | None
    created_by: str | None


@dataclass(frozen=True)
class FieldLine:
    """A field as the card's text shows it: under its label, a list field's value by its option's label, a money
    field's with its currency."""

    id: str
    name: str
    option: str | None  # the label of a list field's value (None: not a list field, or no value)
    currency: str | None


@dataclass(frozen=True)
class RollupLine:
    id: str
    label: str
    count: bool  # a count shows 0 when there is nothing to count
    of: int | None = None  # a count with a condition: how many there are in all ("1 of 2")


@dataclass(frozen=True)
class CardView:
    """What the card's text shows besides the record's data: titles and labels from the definitions, and
    whether the stage is overdue at the time the card was made."""

    title: str  # the record's title (its display field)
    form_title: str
    process_title: str | None
    stage_title: str | None
    stage_overdue: bool
    fields: list[FieldLine]
    rollups: list[RollupLine]
    form_titles: dict[str, str]  # the title of each related record's form
    duty: str | None = None  # who does what at the stage: "zaitsev prepares it; belov (Проверка КП) approves it"


@dataclass(frozen=True)
class Card:
    """A record with everything around it, as `record show` shows it. Its JSON is every field but `view`
    (crmctl.render.records.card_json), in this order."""

    key: str
    form: str
    process: str | None
    stage: str | None
    stage_since: dt.datetime | None
    stage_due: dt.datetime | None
    responsible: str | None
    author: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    def_version: int
    pending_approvers: list[str]  # person ids and role:X the current stage waits for
    fields: dict[str, Any]  # field id: value
    rollups: dict[str, Any]  # roll-up id: value
    related: list[Related]  # readable records that refer to this one
    tasks: list[CardTask]  # its tasks and those of the related records, the readable ones
    hidden: dict[str, int]  # related records and tasks left out: not the actor's to read
    comments: list[Comment]
    reminders: list[CardReminder]
    promise: Promise | None  # the promised date against the ready date, where the form names a promised field
    files: list[CardFile]  # attached files (deleted ones left out)
    view: CardView = field(metadata={"json": False})


def show(session: Session, request: ShowRequest) -> Card:
    """A record's card: its fields, stage, roll-ups, related records, tasks, reminders and comments."""
    form, row = locate(session, request.key)
    key = row["key"]
    session.require("records.read", f"read {form.name} records", form.name, key)
    pending: list[tuple[str, str]] = []
    if row.get("stage") and row.get("stage_since"):
        asked = approvals(session.conn, key, row["stage"], row["stage_since"])
        pending = [(a["approval_group"], a["approver"]) for a in asked if a["decision"] is None]
    related, tasks, hidden = _around(session, form, key)
    far = session.now + dt.timedelta(days=36500)
    reminders = record_store.open_reminders(session.conn, until=far, person=None, record=key)
    return Card(
        key=key,
        form=form.name,
        process=row.get("process"),
        stage=row.get("stage"),
        stage_since=row.get("stage_since"),
        stage_due=row.get("stage_due"),
        responsible=row.get("responsible"),
        author=row.get("author"),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        def_version=row["def_version"],
        pending_approvers=[who for _, who in pending],
        fields={name: row.get(name) for name in form.fields},
        rollups=rollups(session.conn, session.defs, form, key),
        related=related,
        tasks=tasks,
        hidden=hidden,
        comments=[Comment(**c) for c in record_store.comments(session.conn, key)],
        reminders=[CardReminder(**{k: v for k, v in r.items() if k != "record"}) for r in reminders],
        promise=promises(session, form, [row]).get(key),
        files=card_files(session, key, request.previews),
        view=_view(session, form, row, related, pending),
    )


def _view(
    session: Session, form: FormDef, row: dict[str, Any], related: list[Related], pending: list[tuple[str, str]]
) -> CardView:
    process = session.defs.processes.get(row["process"]) if row.get("process") else None
    stage = process.stages.get(row["stage"]) if process and row.get("stage") else None
    acts = stage_duty(session, row.get("responsible"), pending) if stage is not None and not stage.terminal else None
    return CardView(
        title=title_of(form, row),
        form_title=form.title,
        process_title=(process.title if process else row["process"]) if row.get("process") else None,
        stage_title=stage.title if stage else row.get("stage"),
        stage_overdue=bool(row.get("stage_due")) and row["stage_due"] < session.now,
        fields=[_field_line(spec, row.get(spec.id)) for spec in form.fields.values()],
        rollups=[_rollup_line(session, r, row["key"]) for r in form.rollups],
        form_titles={r.form: session.defs.forms[r.form].title for r in related},
        duty=acts,
    )


def _rollup_line(session: Session, rollup: Rollup, key: str) -> RollupLine:
    count = rollup.aggregate == "count"
    of = rollup_value(session.conn, session.defs, rollup, key, conditioned=False) if count and rollup.where else None
    return RollupLine(rollup.id, rollup.label, count, of)


def _field_line(spec: FieldSpec, value: Any) -> FieldLine:
    option = spec.option_labels.get(value, value) if spec.type == "list" and value is not None else None
    return FieldLine(spec.id, spec.name, option, spec.currency if spec.type == "money" else None)


def _around(session: Session, form: FormDef, key: str) -> tuple[list[Related], list[CardTask], dict[str, int]]:
    """The records that refer to this one with their readiness, and every task of all of them: of those, only
    the records and tasks the actor may read, and how many others there are."""
    referring = lookups.referring(session, session.conn, form.name, key)
    tasks = _record_tasks(session, [key, *(k for _, k in referring)])
    hidden = {k for other, k in referring if not session.may("records.read", other)}
    shown = [t for t in tasks if t["record"] not in hidden and session.may_read_task(t)]
    related = [_related(session, other, k, tasks) for other, k in referring if k not in hidden]
    return related, [_card_task(session, t) for t in shown], {"related": len(hidden), "tasks": len(tasks) - len(shown)}


def _descendants(session: Session, form: FormDef, key: str) -> list[tuple[str, str]]:
    """(form, key) of every record that refers to this one, or to one that does, however far."""
    found: list[tuple[str, str]] = []
    queue = [(form, key)]
    while queue:
        here, at = queue.pop(0)
        new = [
            r
            for r in lookups.referring(session, session.conn, here.name, at)
            if r not in found and r != (form.name, key)
        ]
        found += new
        queue += [(session.defs.forms[name], other) for name, other in new]
    return found


def _record_tasks(session: Session, keys: list[str]) -> list[dict[str, Any]]:
    """The tasks of these records: theirs, and those of their projects' subprojects at every level."""
    own = project_store.tasks(session.conn, records=keys, now=session.now)
    under = project_store.tasks(
        session.conn, projects=project_store.projects_under(session.conn, keys), now=session.now
    )
    seen = {t["id"] for t in own}
    return sorted([*own, *(t for t in under if t["id"] not in seen)], key=lambda t: t["number"])


def _related(session: Session, form_name: str, key: str, tasks: list[dict[str, Any]]) -> Related:
    other_form = session.defs.forms[form_name]
    row = record_store.get(session.conn, other_form, key) or {}
    own = [t for t in tasks if t["record"] == key and t["status"] != "cancelled"]
    done = sum(1 for t in own if t["status"] == "done")
    return Related(key, form_name, title_of(other_form, row), row.get("stage"), done, len(own))


def _card_task(session: Session, task: dict[str, Any]) -> CardTask:
    due = task["due_at"]
    overdue = due is not None and due < session.now and task["status"] in ("todo", "in_progress")
    return CardTask(task["id"], task["title"], task["status"], task["assignee"], due, task["record"], overdue)


def parse_where(form: FormDef, expressions: list[str], defs_people: set[str] | None) -> list[tuple[str, str, Any]]:
    parsed: list[tuple[str, str, Any]] = []
    for text in expressions:
        match = _WHERE.match(text.strip())
        if not match:
            raise UsageError(f"--where takes field=value (or !=, >, >=, <, <=, ~), not '{text}'")
        column, op, raw = match.group(1), match.group(2), match.group(3).strip()
        if column in form.fields:
            spec = form.fields[column]
        elif column in _SYSTEM_TYPES:
            spec = FieldSpec(column, _SYSTEM_TYPES[column])
        else:
            raise InputError(f"form {form.name} has no field '{column}'")
        if raw == "":
            if op not in ("=", "!="):
                raise InputError(f"--where {text}: an empty value only works with = or !=")
            parsed.append((column, op, None))
            continue
        if op == "~":
            parsed.append((column, op, raw))
            continue
        loose = FieldSpec(spec.id, spec.type, options=spec.options)
        try:
            value = convert(loose, raw) if spec.type not in ("person", "ref") else raw
        except ValueError as exc:
            raise InputError(f"--where {text}: {exc}") from None
        if spec.type == "ref":
            value = normalise_key(value)
        parsed.append((column, op, value))
    return parsed


def parse_sort(form: FormDef, sort: list[str]) -> list[tuple[str, bool]]:
    result = []
    for item in sort:
        desc = item.startswith("-")
        column = item.lstrip("-")
        if column not in form.fields and column not in SYSTEM_COLUMNS:
            raise InputError(f"cannot sort by '{column}': form {form.name} has no such field")
        result.append((column, desc))
    return result


@dataclass(frozen=True)
class ListRequest:
    form: str  # the form whose records to list
    where: list[str] = field(default_factory=list)  # field=value; also !=, >, >=, <, <= and ~ (contains)
    process: str | None = None  # only records in this process
    stage: str | None = None  # only records in this stage
    sort: list[str] = field(default_factory=list)  # field, or -field for descending
    limit: int | None = None  # at most this many records
    deleted: bool = False  # the records deleted to the archive instead (no other filter applies)


@dataclass(frozen=True)
class RecordList:
    """The records of a form: each row holds the system columns and the form's fields by their ids."""

    form: str
    in_process: bool  # the form has a process: the table shows each record's stage
    labels: dict[str, str]  # each field's id and its label, in the form's order
    rows: list[dict[str, Any]]
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # a list field's options' labels (the table's)


def list_records(session: Session, request: ListRequest) -> RecordList:
    """The records of a form, filtered, sorted and limited."""
    form = session.defs.form(request.form)
    process, stage, limit = request.process, request.stage, request.limit
    session.require("records.read", f"read {form.name} records", form.name)
    if process is not None and process not in {p.name for p in session.defs.processes_of(form.name)}:
        raise InputError(f"form {form.name} has no process '{process}'")
    if stage is not None:
        stages = {s for p in session.defs.processes_of(form.name) if process in (None, p.name) for s in p.stages}
        if stage not in stages:
            raise InputError(f"no stage '{stage}' in the processes of form {form.name}")
    if limit is not None and limit < 0:
        raise UsageError("--limit must not be negative")
    labels = {spec.id: spec.label or spec.id for spec in form.fields.values()}
    if request.deleted:
        if request.where or process or stage or request.sort:
            raise UsageError("--deleted lists every deleted record of the form: no --where, --process, --stage, --sort")
        rows = record_store.archived(session.conn, form)[:limit]
        return RecordList(form.name, bool(session.defs.processes_of(form.name)), labels, rows)
    rows = record_store.select(
        session.conn,
        form,
        parse_where(form, request.where, people_of(session)),
        process=process,
        stage=stage,
        sort=parse_sort(form, request.sort),
        limit=limit,
    )
    options = {spec.id: spec.option_labels for spec in form.fields.values() if spec.option_labels}
    return RecordList(form.name, bool(session.defs.processes_of(form.name)), labels, rows, options)


@dataclass(frozen=True)
class HistoryRequest:
    key: str  # the record's key
    related: bool = False  # also the events of the records that refer to it (however far) and of its tasks


@dataclass(frozen=True)
class HistoryEvent:
    """An event of a record's history, its data as stored (the table and CSV show it described in words)."""

    # Every field is a column(...): to the type checker, a plain field after one would follow a default.
    id: int = column(table=False)
    at: dt.datetime = column()
    actor: str | None = column()
    action: str = column()
    data: dict[str, Any] = column(table=False)
    record: str | None = column(table=False, default=None)  # whose event it is (shown with --related)


def history(session: Session, request: HistoryRequest) -> list[HistoryEvent]:
    """Everything that happened to a record, in order: field changes, comments, stages, approvals; with
    related, interleaved with the events of the records that refer to it and of the tasks of it all (those
    the actor may read)."""
    form, row = locate(session, request.key)
    key = row["key"]
    session.require("records.read", f"read {form.name} records", form.name, key)
    keys, work = [key], []
    if request.related:
        keys += [k for name, k in _descendants(session, form, key) if session.may("records.read", name)]
        work = [t["id"] for t in _record_tasks(session, keys) if session.may_read_task(t)]
        work += project_store.projects_under(session.conn, keys)
    return [HistoryEvent(**event) for event in record_store.events(session.conn, keys, work)]


@dataclass(frozen=True)
class CommentRequest:
    key: str  # the record's key
    text: str


@dataclass(frozen=True)
class Commented:
    id: int  # the new comment's
    record: str


def comment(session: Session, request: CommentRequest) -> Commented:
    """Add a comment to a record's history."""
    text = request.text
    if not text.strip():
        raise InputError("a comment needs some text")
    form, row = locate(session, request.key)
    session.require("records.comment", f"comment on {form.name} records", form.name, row["key"])
    with session.transaction() as conn:
        comment_id = record_store.add_comment(conn, row["key"], session.now, session.actor, text)
        record_store.add_event(
            conn,
            session.now,
            session.actor,
            Event.COMMENT_ADDED,
            record=row["key"],
            form=form.name,
            data={"comment": comment_id, "text": text},
        )
    return Commented(comment_id, row["key"])


@dataclass(frozen=True)
class RemindRequest:
    """A new reminder (key, text and at, every for a recurring one); or, alone: done, the id of a reminder to
    mark done; stop, the id of a recurring reminder whose series to stop; list, to list open reminders."""

    key: str | None = None  # the record's key
    text: str | None = None  # what to remember
    at: str | None = None  # when: an ISO date-time, a date, or +2h, +1d (the first one of a recurring reminder)
    person: str | None = None  # whom to remind (default: the actor; everyone without one)
    done: int | None = None  # the id of a reminder to mark done instead
    every: str | None = None  # repeat: 1d, 2w, 1mo (the next one appears when one is done or has come)
    stop: int | None = None  # the id of a recurring reminder: stop its series
    listing: bool = False  # list the open reminders (the person's; everyone's with tasks.view_others)


@dataclass(frozen=True)
class Reminder:
    """A reminder: set, marked done, its series stopped, or listed."""

    id: int = column()
    record: str | None = column()
    due_at: dt.datetime = column("due")
    text: str = column()
    person: str | None = column("for")
    every: str | None = column()  # the period of its series, for a recurring reminder
    series: int | None = column(table=False)  # the id of its series


@dataclass(frozen=True)
class Reminded:
    """What `remind` did (set, done, stopped or list) and the reminders it did it to."""

    action: str
    reminders: list[Reminder]


def remind(session: Session, request: RemindRequest) -> Reminded:
    """Set a reminder on a record (a recurring one with every), mark one done, stop a series, or list them."""
    alone = {"done": request.done is not None, "stop": request.stop is not None, "list": request.listing}
    chosen = [name for name, given in alone.items() if given]
    if chosen:
        if len(chosen) > 1 or request.key or request.text or request.at or request.every:
            raise UsageError(f"--{chosen[0]} takes nothing else")
        if request.listing:
            return Reminded("list", _reminders(session, request.person))
        if request.stop is not None:
            series = stop_reminders(session, request.stop)
            stopped = record_store.reminder(session.conn, request.stop)
            assert stopped is not None
            return Reminded("stopped", [_reminder_of(stopped, series)])
        assert request.done is not None
        found = finish_reminder(session, request.done)
        return Reminded("done", [_reminder(session, found["id"])])
    if not request.key or not request.text or not request.at:
        raise UsageError("give KEY, TEXT and --at WHEN (or --done ID, --stop ID, --list)")
    made = add_reminder(session, request.key, request.at, request.text, request.person, request.every)
    return Reminded("set", [_reminder(session, made)])


def _reminder(session: Session, reminder_id: int) -> Reminder:
    found = record_store.reminder(session.conn, reminder_id)
    assert found is not None
    series = series_store.of_current(session.conn, "reminder", str(reminder_id))
    return _reminder_of(found, series)


def _reminder_of(found: dict[str, Any], series: dict[str, Any] | None) -> Reminder:
    return Reminder(
        found["id"],
        found["record"],
        found["due_at"],
        found["text"],
        found["person"],
        series["every"] if series else None,
        series["id"] if series else None,
    )


def _reminders(session: Session, person: str | None) -> list[Reminder]:
    """The open reminders of a person (the actor's by default; everyone's takes tasks.view_others)."""
    who = person or session.actor
    if who is None or who != session.actor:
        session.require("tasks.view_others", "read others' reminders")
    far = session.now + dt.timedelta(days=366 * 100)
    series = series_store.currents(session.conn, "reminder")
    found = record_store.open_reminders(session.conn, until=far, person=who)
    return [_reminder_of(r, series.get(str(r["id"]))) for r in found]


def add_reminder(session: Session, key: str, at: str, text: str, person: str | None, every: str | None = None) -> int:
    """Set a reminder (the first of a series, with every); its id."""
    if not text.strip():
        raise InputError("a reminder needs some text")
    period = every_of(every) if every is not None else None
    form, row = locate(session, key)
    session.require("records.comment", f"comment on {form.name} records", form.name, row["key"])
    due = clock.parse_instant(at, session.defs.timezone, session.now)
    who = person or session.actor
    if who is not None and session.defs.has_team and who not in session.defs.people:
        raise InputError(f"--for '{who}' is not a person of the team")
    with session.transaction() as conn:
        reminder_id = record_store.add_reminder(conn, row["key"], due, text, who, session.actor, session.now)
        record_store.add_event(
            conn,
            session.now,
            session.actor,
            Event.REMINDER_ADDED,
            record=row["key"],
            form=form.name,
            data={"reminder": reminder_id, "due_at": due, "for": who, "text": text},
        )
        if period is not None:
            spec = {"record": row["key"], "text": text, "person": who}
            start_reminders(session, conn, period, reminder_id, due, spec)
    return reminder_id


def finish_reminder(session: Session, reminder_id: int) -> dict[str, Any]:
    found = record_store.reminder(session.conn, reminder_id)
    if found is None:
        raise NotFound(f"no reminder {reminder_id}")
    if found["person"] is None or found["person"] != session.actor:  # someone else's, or everyone's
        form = record_store.form_of(session.conn, found["record"]) if found["record"] else None
        name = form or "these"
        session.require("records.read", f"read {name} records", form, found["record"])
        session.require("records.update", f"change {name} records", form, found["record"])
    if found["done_at"] is not None:
        raise InputError(f"reminder {reminder_id} is done already")
    with session.transaction() as conn:
        record_store.finish_reminder(conn, reminder_id, session.now)
        record_store.add_event(
            conn,
            session.now,
            session.actor,
            Event.REMINDER_DONE,
            record=found["record"],
            data={"reminder": reminder_id},
        )
        reminder_done(session, conn, reminder_id)
    return found


@dataclass(frozen=True)
class DeleteRequest:
    key: str  # the record's key
    cascade: bool = False  # also delete the records that refer to it (and those that refer to them)


@dataclass(frozen=True)
class Deleted:
    """The records moved to the archive: the one named first, then those deleted with it (cascade)."""

    keys: list[str]


def delete(session: Session, request: DeleteRequest) -> Deleted:
    """Move a record (its row; its history stays in the event log) to the archive, from which `record restore`
    brings it back. Refused while other records refer to it, unless cascade deletes them too."""
    form, row = locate(session, request.key)
    key = row["key"]
    doomed = _doomed(session, form, key, request.cascade)
    with session.transaction() as conn:
        for name, other in reversed(doomed):  # those that refer first, the record named last
            record_store.move_to_archive(conn, session.defs.forms[name], other, session.now, session.actor)
            cause = {"with": key} if other != key else {}
            record_store.add_event(
                conn, session.now, session.actor, Event.RECORD_DELETED, record=other, form=name, data=cause
            )
    return Deleted([k for _, k in doomed])


def _doomed(session: Session, form: FormDef, key: str, cascade: bool) -> list[tuple[str, str]]:
    """(form, key) of the record and, with cascade, of every record that refers to it, however far; each
    checked for records.delete. Without cascade, InputError naming the records that refer to it."""
    session.require("records.delete", f"delete {form.name} records", form.name, key)
    referring = lookups.referring(session, session.conn, form.name, key)
    if referring and not cascade:
        names = ", ".join(k for _, k in referring)
        raise InputError(f"{key} is referred to by {names}: delete those first, or give --cascade")
    found = [(form.name, key), *_descendants(session, form, key)]
    for name, other in found[1:]:
        session.require("records.delete", f"delete {name} records", name, other)
    return found


@dataclass(frozen=True)
class RestoreRequest:
    key: str  # the key of a deleted record


@dataclass(frozen=True)
class Restored:
    key: str
    form: str


def restore(session: Session, request: RestoreRequest) -> Restored:
    """Bring a deleted record back from the archive, as it was (the fields its form still has)."""
    key = normalise_key(request.key)
    name = record_store.deleted_form(session.conn, key)
    if name is None:
        raise NotFound(f"no deleted record {key}")
    form = session.defs.forms.get(name)
    if form is None:
        raise InputError(f"{key} was a record of form {name}, which the definitions no longer have")
    session.require("records.delete", f"restore {form.name} records", form.name, key)
    row = record_store.archived(session.conn, form, key)[0]
    values = {name: row[name] for name in form.fields}
    check_refs(session, form, dict(values))  # what it refers to must be there (restore a deleted one first)
    with session.transaction() as conn:
        check_unique(conn, form, values)
        record_store.restore_from_archive(conn, form, row["deletion"], session.now, session.actor)
        record_store.add_event(conn, session.now, session.actor, Event.RECORD_RESTORED, record=key, form=form.name)
    return Restored(key, form.name)
