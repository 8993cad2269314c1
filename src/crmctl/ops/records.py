"""Records: create, update, show, list, history, comments and reminders."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.model import SYSTEM_COLUMNS, FormDef, Rollup
from crmctl.domain.records import changed_values, new_values, plain
from crmctl.domain.shapes import column
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock
from crmctl.ops.lookups import locate, normalise_key, people_of, rollup_value, rollups, title_of
from crmctl.ops.process import enter
from crmctl.ops.session import Session
from crmctl.store import projects as project_store
from crmctl.store import records as record_store
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


def _check_refs(session: Session, form: FormDef, values: dict[str, Any]) -> None:
    problems = []
    for name, value in values.items():
        spec = form.fields.get(name)
        if spec is None or spec.type != "ref" or value is None or spec.form is None:
            continue
        key = normalise_key(value)
        values[name] = key
        if not record_store.existing_keys(session.conn, spec.form, [key]):
            problems.append(f"field '{name}': no {spec.form} record {key}")
    if problems:
        raise InputError("; ".join(problems))


def choose_process(session: Session, form: FormDef, process: str | None) -> str | None:
    candidates = session.defs.processes_of(form.name)
    if process is not None:
        if process not in {p.name for p in candidates}:
            names = ", ".join(p.name for p in candidates) or "none"
            raise InputError(f"form {form.name} has no process '{process}' (processes: {names})")
        return process
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise InputError(f"form {form.name} has several processes ({names}): choose one with --process")
    return candidates[0].name if candidates else None


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


def create(session: Session, request: CreateRequest) -> Created:
    """Create a record: checked against its form, written, and in its process's first stage."""
    form = session.defs.form(request.form)
    session.require("records.create", f"create {form.name} records", form.name)
    with session.transaction() as conn:
        key: str = create_in(session, conn, form, request.values, request.process)["key"]
    return Created(key, show(session, ShowRequest(key)) if request.card else None)


def create_in(
    session: Session, conn: Any, form: FormDef, raw: dict[str, Any], process: str | None = None
) -> dict[str, Any]:
    """A new record, inside the caller's transaction: checked, written, and in its process's first stage."""
    values = new_values(form, raw, people_of(session))
    _check_refs(session, form, values)
    chosen = choose_process(session, form, process)
    now = session.now
    number = record_store.last_number(conn, form) + 1
    key = f"{form.key_prefix}-{number}"
    record = {
        "key": key,
        "number": number,
        "author": session.actor,
        "created_at": now,
        "updated_at": now,
        "def_version": session.version,
        "process": chosen,
        **values,
    }
    record_store.insert(conn, form, record)
    filled = {k: v for k, v in values.items() if v is not None}
    record_store.add_event(
        conn, now, session.actor, Event.RECORD_CREATED, record=key, form=form.name, data={"values": filled}
    )
    if chosen:
        entered = session.defs.processes[chosen]
        record["stage"] = None
        given = frozenset(k for k, v in raw.items() if v not in (None, ""))
        enter(session, conn, form, record, entered, entered.initial, given=given)
    return record


@dataclass(frozen=True)
class UpdateRequest:
    key: str  # the record's key
    values: dict[str, Any]  # field id: new value (an empty one clears the field)
    card: bool = False  # also give the record's card after the change, as `record show` does


@dataclass(frozen=True)
class Change:
    """A field's value before and after an update."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Updated:
    """The fields an update changed (none when every value was the same), and the card when asked for."""

    key: str
    changes: list[Change]
    card: Card | None = None


def update(session: Session, request: UpdateRequest) -> Updated:
    """Change fields of a record; every change is kept in its history."""
    form, row = locate(session, request.key)
    key = row["key"]
    session.require("records.update", f"change {form.name} records", form.name, key)
    changes = changed_values(form, row, request.values, people_of(session))
    _check_refs(session, form, {k: v[1] for k, v in changes.items()})
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
    made = [Change(name, before, after) for name, (before, after) in changes.items()]
    return Updated(key, made, show(session, ShowRequest(key)) if request.card else None)


@dataclass(frozen=True)
class ShowRequest:
    key: str  # the record's key


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
    view: CardView = field(metadata={"json": False})


def show(session: Session, request: ShowRequest) -> Card:
    """A record's card: its fields, stage, roll-ups, related records, tasks, reminders and comments."""
    form, row = locate(session, request.key)
    key = row["key"]
    session.require("records.read", f"read {form.name} records", form.name, key)
    pending: list[str] = []
    if row.get("stage") and row.get("stage_since"):
        asked = approvals(session.conn, key, row["stage"], row["stage_since"])
        pending = [a["approver"] for a in asked if a["decision"] is None]
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
        pending_approvers=pending,
        fields={name: row.get(name) for name in form.fields},
        rollups=rollups(session.conn, session.defs, form, key),
        related=related,
        tasks=tasks,
        hidden=hidden,
        comments=[Comment(**c) for c in record_store.comments(session.conn, key)],
        reminders=[CardReminder(**{k: v for k, v in r.items() if k != "record"}) for r in reminders],
        view=_view(session, form, row, related),
    )


def _view(session: Session, form: FormDef, row: dict[str, Any], related: list[Related]) -> CardView:
    process = session.defs.processes.get(row["process"]) if row.get("process") else None
    stage = process.stages.get(row["stage"]) if process and row.get("stage") else None
    return CardView(
        title=title_of(form, row),
        form_title=form.title,
        process_title=(process.title if process else row["process"]) if row.get("process") else None,
        stage_title=stage.title if stage else row.get("stage"),
        stage_overdue=bool(row.get("stage_due")) and row["stage_due"] < session.now,
        fields=[_field_line(spec, row.get(spec.id)) for spec in form.fields.values()],
        rollups=[_rollup_line(session, r, row["key"]) for r in form.rollups],
        form_titles={r.form: session.defs.forms[r.form].title for r in related},
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
    sources = [
        (other.name, spec.id)
        for other in session.defs.forms.values()
        for spec in other.fields.values()
        if spec.type == "ref" and spec.form == form.name
    ]
    referring = project_store.records_referring_to(session.conn, sources, key) if sources else []
    tasks = project_store.tasks(session.conn, records=[key, *(k for _, k in referring)])
    hidden = {k for other, k in referring if not session.may("records.read", other)}
    shown = [t for t in tasks if t["record"] not in hidden and session.may_read_task(t)]
    related = [_related(session, other, k, tasks) for other, k in referring if k not in hidden]
    return related, [_card_task(session, t) for t in shown], {"related": len(hidden), "tasks": len(tasks) - len(shown)}


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
    rows = record_store.select(
        session.conn,
        form,
        parse_where(form, request.where, people_of(session)),
        process=process,
        stage=stage,
        sort=parse_sort(form, request.sort),
        limit=limit,
    )
    labels = {spec.id: spec.label or spec.id for spec in form.fields.values()}
    options = {spec.id: spec.option_labels for spec in form.fields.values() if spec.option_labels}
    return RecordList(form.name, bool(session.defs.processes_of(form.name)), labels, rows, options)


@dataclass(frozen=True)
class HistoryRequest:
    key: str  # the record's key


@dataclass(frozen=True)
class HistoryEvent:
    """An event of a record's history, its data as stored (the table and CSV show it described in words)."""

    # Every field is a column(...): to the type checker, a plain field after one would follow a default.
    id: int = column(table=False)
    at: dt.datetime = column()
    actor: str | None = column()
    action: str = column()
    data: dict[str, Any] = column(table=False)


def history(session: Session, request: HistoryRequest) -> list[HistoryEvent]:
    """Everything that happened to a record, in order: field changes, comments, stages, approvals."""
    form, row = locate(session, request.key)
    session.require("records.read", f"read {form.name} records", form.name, row["key"])
    return [HistoryEvent(**event) for event in record_store.events(session.conn, row["key"])]


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
    """A new reminder (key, text and at), or, with done, the id of a reminder to mark done (and nothing else)."""

    key: str | None = None  # the record's key
    text: str | None = None  # what to remember
    at: str | None = None  # when: an ISO date-time, a date, or +2h, +1d
    person: str | None = None  # whom to remind (default: the actor; everyone without one)
    done: int | None = None  # the id of a reminder to mark done instead


@dataclass(frozen=True)
class Reminder:
    """A reminder set, or one marked done."""

    id: int
    record: str | None
    due_at: dt.datetime
    text: str
    person: str | None
    done: bool  # it was marked done (rather than set)


def remind(session: Session, request: RemindRequest) -> Reminder:
    """Set a reminder on a record, or mark one done."""
    if request.done is not None:
        if request.key or request.text or request.at:
            raise UsageError("--done takes only the reminder id")
        found = finish_reminder(session, request.done)
        return Reminder(found["id"], found["record"], found["due_at"], found["text"], found["person"], done=True)
    if not request.key or not request.text or not request.at:
        raise UsageError("give KEY, TEXT and --at WHEN (or --done ID)")
    return add_reminder(session, request.key, request.at, request.text, request.person)


def add_reminder(session: Session, key: str, at: str, text: str, person: str | None) -> Reminder:
    if not text.strip():
        raise InputError("a reminder needs some text")
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
    return Reminder(reminder_id, row["key"], due, text, who, done=False)


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
    return found
