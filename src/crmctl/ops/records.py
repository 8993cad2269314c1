"""Records: create, update, show, list, history, comments, reminders and the agenda."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.model import SYSTEM_COLUMNS, FormDef
from crmctl.domain.records import changed_values, new_values, plain
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock
from crmctl.ops.lookups import locate, normalise_key, people_of, title_of
from crmctl.ops.process import enter
from crmctl.ops.session import Session
from crmctl.store import records as store

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
        if not store.existing_keys(session.conn, spec.form, [key]):
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


def create(session: Session, form_name: str, raw: dict[str, Any], process: str | None = None) -> dict[str, Any]:
    form = session.defs.form(form_name)
    session.require("records.create", f"create {form.name} records", form.name)
    with session.transaction() as conn:
        return create_in(session, conn, form, raw, process)


def create_in(
    session: Session, conn: Any, form: FormDef, raw: dict[str, Any], process: str | None = None
) -> dict[str, Any]:
    """A new record, inside the caller's transaction: checked, written, and in its process's first stage."""
    values = new_values(form, raw, people_of(session))
    _check_refs(session, form, values)
    chosen = choose_process(session, form, process)
    now = session.now
    number = store.last_number(conn, form) + 1
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
    store.insert(conn, form, record)
    filled = {k: v for k, v in values.items() if v is not None}
    store.add_event(conn, now, session.actor, Event.RECORD_CREATED, record=key, form=form.name, data={"values": filled})
    if chosen:
        process = session.defs.processes[chosen]
        record["stage"] = None
        given = frozenset(k for k, v in raw.items() if v not in (None, ""))
        enter(session, conn, form, record, process, process.initial, given=given)
    return record


def update(session: Session, key: str, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    form, row = locate(session, key)
    session.require("records.update", f"change {form.name} records", form.name, row["key"])
    changes = changed_values(form, row, raw, people_of(session))
    _check_refs(session, form, {k: v[1] for k, v in changes.items()})
    if not changes:
        return row, {}
    with session.transaction() as conn:
        store.update(conn, form, row["key"], {**{k: v[1] for k, v in changes.items()}, "updated_at": session.now})
        store.add_event(
            conn,
            session.now,
            session.actor,
            Event.RECORD_UPDATED,
            record=row["key"],
            form=form.name,
            data={"changes": {k: [plain(a), plain(b)] for k, (a, b) in changes.items()}},
        )
    row.update({k: v[1] for k, v in changes.items()}, updated_at=session.now)
    return row, changes


@dataclass
class Card:
    form: FormDef
    record: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # approvers the current stage waits for
    rollups: dict[str, Any] = field(default_factory=dict)
    related: list[dict[str, Any]] = field(default_factory=list)  # records that refer to this one
    tasks: list[dict[str, Any]] = field(default_factory=list)  # its tasks and those of the related records
    hidden: dict[str, int] = field(default_factory=lambda: {"related": 0, "tasks": 0})  # left out: not readable

    def as_dict(self) -> dict[str, Any]:
        meta = (
            "key",
            "process",
            "stage",
            "stage_since",
            "stage_due",
            "responsible",
            "author",
            "created_at",
            "updated_at",
            "def_version",
        )
        return {
            "key": self.record["key"],
            "form": self.form.name,
            **{name: plain(self.record.get(name)) for name in meta[1:]},
            "pending_approvers": self.pending,
            "fields": {name: plain(self.record.get(name)) for name in self.form.fields},
            "rollups": {name: plain(value) for name, value in self.rollups.items()},
            "related": [{k: plain(v) for k, v in r.items()} for r in self.related],
            "tasks": [
                {k: plain(t[k]) for k in ("id", "title", "status", "assignee", "due_at", "record", "overdue")}
                for t in self.tasks
            ],
            "hidden": self.hidden,
            "comments": [{k: plain(v) for k, v in c.items()} for c in self.comments],
            "reminders": [{k: plain(v) for k, v in r.items() if k != "record"} for r in self.reminders],
        }


def show(session: Session, key: str) -> Card:
    form, row = locate(session, key)
    session.require("records.read", f"read {form.name} records", form.name, row["key"])
    card = Card(form, row)
    if row.get("stage") and row.get("stage_since"):
        from crmctl.store.process import approvals

        pending = approvals(session.conn, row["key"], row["stage"], row["stage_since"])
        card.pending = [a["approver"] for a in pending if a["decision"] is None]
    _client_card(session, card)
    card.comments = store.comments(session.conn, row["key"])
    far = session.now + dt.timedelta(days=36500)
    card.reminders = store.open_reminders(session.conn, until=far, person=None, record=row["key"])
    return card


def _client_card(session: Session, card: Card) -> None:
    """Roll-ups, the records that refer to this one with their readiness, and every task of all of them: of
    those, only the records and tasks the actor may read, and how many others there are."""
    from crmctl.store import projects as project_store

    form, key = card.form, card.record["key"]
    card.rollups = {
        r.id: project_store.rollup(session.conn, r.source, r.via, r.aggregate, r.field, key) for r in form.rollups
    }
    sources = [
        (other.name, spec.id)
        for other in session.defs.forms.values()
        for spec in other.fields.values()
        if spec.type == "ref" and spec.form == form.name
    ]
    related = project_store.records_referring_to(session.conn, sources, key) if sources else []
    tasks = project_store.tasks(session.conn, records=[key, *(k for _, k in related)])
    for task in tasks:
        task["overdue"] = (
            task["due_at"] is not None
            and task["due_at"] < session.now
            and task["status"]
            in (
                "todo",
                "in_progress",
            )
        )
    hidden = {k for other, k in related if not session.may("records.read", other)}
    card.tasks = [t for t in tasks if t["record"] not in hidden and session.may_read_task(t)]
    card.hidden = {"related": len(hidden), "tasks": len(tasks) - len(card.tasks)}
    for other, other_key in related:
        if other_key in hidden:
            continue
        other_form = session.defs.forms[other]
        row = store.get(session.conn, other_form, other_key) or {}
        own = [t for t in tasks if t["record"] == other_key and t["status"] != "cancelled"]
        card.related.append(
            {
                "key": other_key,
                "form": other,
                "title": title_of(other_form, row),
                "stage": row.get("stage"),
                "tasks_done": sum(1 for t in own if t["status"] == "done"),
                "tasks": len(own),
            }
        )


def parse_where(form: FormDef, expressions: list[str], defs_people: set[str] | None) -> list[tuple[str, str, Any]]:
    parsed = []
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


def list_records(
    session: Session,
    form_name: str,
    where: list[str],
    *,
    process: str | None,
    stage: str | None,
    sort: list[str],
    limit: int | None,
) -> tuple[FormDef, list[dict[str, Any]]]:
    form = session.defs.form(form_name)
    session.require("records.read", f"read {form.name} records", form.name)
    if process is not None and process not in {p.name for p in session.defs.processes_of(form.name)}:
        raise InputError(f"form {form.name} has no process '{process}'")
    if stage is not None:
        stages = {s for p in session.defs.processes_of(form.name) if process in (None, p.name) for s in p.stages}
        if stage not in stages:
            raise InputError(f"no stage '{stage}' in the processes of form {form.name}")
    if limit is not None and limit < 0:
        raise UsageError("--limit must not be negative")
    rows = store.select(
        session.conn,
        form,
        parse_where(form, where, people_of(session)),
        process=process,
        stage=stage,
        sort=parse_sort(form, sort),
        limit=limit,
    )
    return form, rows


def history(session: Session, key: str) -> list[dict[str, Any]]:
    form, row = locate(session, key)
    session.require("records.read", f"read {form.name} records", form.name, row["key"])
    return store.events(session.conn, row["key"])


def comment(session: Session, key: str, text: str) -> int:
    if not text.strip():
        raise InputError("a comment needs some text")
    form, row = locate(session, key)
    session.require("records.comment", f"comment on {form.name} records", form.name, row["key"])
    with session.transaction() as conn:
        comment_id = store.add_comment(conn, row["key"], session.now, session.actor, text)
        store.add_event(
            conn,
            session.now,
            session.actor,
            Event.COMMENT_ADDED,
            record=row["key"],
            form=form.name,
            data={"comment": comment_id, "text": text},
        )
    return comment_id


def remind(session: Session, key: str, at: str, text: str, person: str | None) -> dict[str, Any]:
    if not text.strip():
        raise InputError("a reminder needs some text")
    form, row = locate(session, key)
    session.require("records.comment", f"comment on {form.name} records", form.name, row["key"])
    due = clock.parse_instant(at, session.defs.timezone, session.now)
    who = person or session.actor
    if who is not None and session.defs.has_team and who not in session.defs.people:
        raise InputError(f"--for '{who}' is not a person of the team")
    with session.transaction() as conn:
        reminder_id = store.add_reminder(conn, row["key"], due, text, who, session.actor, session.now)
        store.add_event(
            conn,
            session.now,
            session.actor,
            Event.REMINDER_ADDED,
            record=row["key"],
            form=form.name,
            data={"reminder": reminder_id, "due_at": due, "for": who, "text": text},
        )
    return {"id": reminder_id, "record": row["key"], "due_at": due, "person": who, "text": text}


def finish_reminder(session: Session, reminder_id: int) -> dict[str, Any]:
    found = store.reminder(session.conn, reminder_id)
    if found is None:
        raise NotFound(f"no reminder {reminder_id}")
    if found["person"] is None or found["person"] != session.actor:  # someone else's, or everyone's
        form = store.form_of(session.conn, found["record"]) if found["record"] else None
        name = form or "these"
        session.require("records.read", f"read {name} records", form, found["record"])
        session.require("records.update", f"change {name} records", form, found["record"])
    if found["done_at"] is not None:
        raise InputError(f"reminder {reminder_id} is done already")
    with session.transaction() as conn:
        store.finish_reminder(conn, reminder_id, session.now)
        store.add_event(
            conn,
            session.now,
            session.actor,
            Event.REMINDER_DONE,
            record=found["record"],
            data={"reminder": reminder_id},
        )
    return found
