"""Records, their events, comments and reminders."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.model import SYSTEM_COLUMNS, FormDef
from crmctl.domain.records import plain
from crmctl.store.db import quote

OPERATORS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def form_of(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT form FROM crm.records WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def existing_keys(conn: Any, form: str | None, keys: list[str]) -> set[str]:
    """Which of these keys are keys of the form's records (form None: of any form's), in one query."""
    if not keys:
        return set()
    rows = conn.execute(
        "SELECT key FROM crm.records WHERE (? IS NULL OR form = ?) AND list_contains(?, key)", [form, form, keys]
    )
    return {row[0] for row in rows.fetchall()}


def last_number(conn: Any, form: FormDef) -> int:
    """The highest number the form has given, or any record whose key starts with its prefix (a removed form's
    archived records may have used it), so that a new key is never one that crm.records already knows."""
    row = conn.execute(
        "SELECT coalesce(max(number), 0) FROM crm.records WHERE form = ? OR starts_with(key, ?)",
        [form.name, f"{form.key_prefix}-"],
    ).fetchone()
    return int(row[0])


def insert(conn: Any, form: FormDef, record: Mapping[str, Any]) -> None:
    columns = [c for c in record if c in SYSTEM_COLUMNS or c in form.fields]
    conn.execute(
        f"INSERT INTO {quote(form.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [record[c] for c in columns],
    )


def update(conn: Any, form: FormDef, key: str, values: Mapping[str, Any]) -> None:
    assignments = ", ".join(f"{quote(c)} = ?" for c in values)
    conn.execute(f"UPDATE {quote(form.name)} SET {assignments} WHERE key = ?", [*values.values(), key])


def get(conn: Any, form: FormDef, key: str) -> dict[str, Any] | None:
    cursor = conn.execute(f"SELECT * FROM {quote(form.name)} WHERE key = ?", [key])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def select(
    conn: Any,
    form: FormDef,
    where: list[tuple[str, str, Any]],
    *,
    process: str | None = None,
    stage: str | None = None,
    sort: list[tuple[str, bool]] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Records of a form; where holds (column, operator, value) with validated columns and operators."""
    clauses, params = [], []
    for column, op, value in where:
        if value is None:
            clauses.append(f"{quote(column)} IS {'NOT ' if op == '!=' else ''}NULL")
        elif op == "~":
            clauses.append(f"contains(lower(CAST({quote(column)} AS VARCHAR)), lower(?))")  # % and _ literally
            params.append(value)
        else:
            clauses.append(f"{quote(column)} {OPERATORS[op]} ?")
            params.append(value)
    if process is not None:
        clauses.append("process = ?")
        params.append(process)
    if stage is not None:
        clauses.append("stage = ?")
        params.append(stage)
    sql = f"SELECT * FROM {quote(form.name)}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    order = [f"{quote(c)} {'DESC' if desc else 'ASC'} NULLS LAST" for c, desc in (sort or [])]
    sql += " ORDER BY " + ", ".join([*order, "number"])
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


EVENT_COLUMNS = ("occurred_at", "actor", "action", "record", "form", "data")


def event_row(
    at: dt.datetime,
    actor: str | None,
    event: Event,
    *,
    record: str | None = None,
    form: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> tuple[Any, ...]:
    """An event as a row of crm.events (EVENT_COLUMNS), its data as JSON."""
    payload = json.dumps({k: plain(v) for k, v in (data or {}).items()}, ensure_ascii=False, default=plain)
    return (at, actor, event.value, record, form, payload)


def add_event(
    conn: Any,
    at: dt.datetime,
    actor: str | None,
    event: Event,
    *,
    record: str | None = None,
    form: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        f"INSERT INTO crm.events ({', '.join(EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
        list(event_row(at, actor, event, record=record, form=form, data=data)),
    )


def events(conn: Any, key: str) -> list[dict[str, Any]]:
    """A record's events; a record created by `crmctl import` starts with a record.imported line, found through
    the runs of record numbers each import created."""
    cursor = conn.execute(
        """SELECT id, occurred_at, actor, action, data FROM crm.events WHERE record = ?
        UNION ALL
        SELECT 0, i.imported_at, i.actor, 'record.imported', json_object('import', i.id, 'source', i.source)
        FROM crm.records r
        JOIN crm.import_runs u ON u.form = r.form AND r.number BETWEEN u.first_number AND u.last_number
        JOIN crm.imports i ON i.id = u.import WHERE r.key = ?
        ORDER BY 2, 1""",
        [key, key],
    )
    return [
        {"id": i, "at": at, "actor": actor, "action": action, "data": json.loads(data) if data else {}}
        for i, at, actor, action, data in cursor.fetchall()
    ]


def add_comment(conn: Any, key: str, at: dt.datetime, author: str | None, text: str) -> int:
    row = conn.execute(
        "INSERT INTO crm.comments (record, created_at, author, text) VALUES (?, ?, ?, ?) RETURNING id",
        [key, at, author, text],
    ).fetchone()
    return int(row[0])


def comments(conn: Any, key: str) -> list[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT id, created_at, author, text FROM crm.comments WHERE record = ? ORDER BY created_at, id", [key]
    )
    return [{"id": i, "at": at, "author": a, "text": t} for i, at, a, t in cursor.fetchall()]


def add_reminder(
    conn: Any, key: str, due: dt.datetime, text: str, person: str | None, by: str | None, now: dt.datetime
) -> int:
    row = conn.execute(
        "INSERT INTO crm.reminders (record, due_at, text, person, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [key, due, text, person, by, now],
    ).fetchone()
    return int(row[0])


def reminder(conn: Any, reminder_id: int) -> dict[str, Any] | None:
    cursor = conn.execute("SELECT * FROM crm.reminders WHERE id = ?", [reminder_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def finish_reminder(conn: Any, reminder_id: int, at: dt.datetime) -> None:
    conn.execute("UPDATE crm.reminders SET done_at = ? WHERE id = ?", [at, reminder_id])


def open_reminders(
    conn: Any, *, until: dt.datetime, person: str | None, record: str | None = None
) -> list[dict[str, Any]]:
    clauses = ["done_at IS NULL", "due_at <= ?"]
    params: list[Any] = [until]
    if person is not None:
        clauses.append("(person = ? OR (person IS NULL AND created_by = ?))")
        params += [person, person]
    if record is not None:
        clauses.append("record = ?")
        params.append(record)
    cursor = conn.execute(
        f"SELECT id, record, due_at, text, person, created_by FROM crm.reminders WHERE {' AND '.join(clauses)} "
        "ORDER BY due_at, id",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def keys_starting(conn: Any, prefix: str, forms: list[str], limit: int) -> list[str]:
    """The keys of the forms' records that start with prefix, in key order, at most limit."""
    rows = conn.execute(
        "SELECT key FROM crm.records WHERE list_contains(?, form) AND starts_with(key, ?) "
        "ORDER BY form, number LIMIT ?",
        [forms, prefix, limit],
    )
    return [row[0] for row in rows.fetchall()]
