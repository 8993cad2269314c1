"""Records, their events, comments and reminders."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.model import SYSTEM_COLUMNS, FormDef
from crmctl.domain.records import plain
from crmctl.domain.values import TEXTUAL
from crmctl.store.db import insert_many, quote

OPERATORS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def form_of(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT form FROM crm.records WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def display_values(conn: Any, forms: Sequence[tuple[str, str]], keys: Sequence[str]) -> dict[str, Any]:
    """key -> the value of its form's display column, for those of these keys that are records of these forms
    ((form, column) pairs): one query per form, however many keys."""
    found: dict[str, Any] = {}
    if not keys:
        return found
    for form, column in forms:
        rows = conn.execute(
            f"SELECT key, {quote(column)} FROM {quote(form)} WHERE key IN (SELECT unnest(?))", [list(keys)]
        ).fetchall()
        found.update(rows)
    return found


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
        "SELECT greatest((SELECT coalesce(max(number), 0) FROM crm.records WHERE form = ? OR starts_with(key, ?)), "
        "(SELECT coalesce(max(number), 0) FROM crm.deleted_records WHERE form = ? OR starts_with(key, ?)))",
        [form.name, f"{form.key_prefix}-"] * 2,
    ).fetchone()
    return int(row[0])


def insert(conn: Any, form: FormDef, record: Mapping[str, Any]) -> None:
    columns = [c for c in record if c in SYSTEM_COLUMNS or c in form.fields]
    conn.execute(
        f"INSERT INTO {quote(form.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [record[c] for c in columns],
    )


def _same_value(form: FormDef, name: str, left: str, right: str) -> str:
    """SQL: the field's two values are the same for uniqueness; text without regard to case or edge spaces."""
    if form.fields[name].type in TEXTUAL:
        return f"lower(trim({left})) = lower(trim({right}))"
    return f"{left} = {right}"


def holder(conn: Any, form: FormDef, values: Mapping[str, Any], other_than: str | None = None) -> str | None:
    """The key of a record of the form (but other_than) that has these values already, or None."""
    same = " AND ".join(_same_value(form, name, quote(name), "?") for name in values)
    row = conn.execute(
        f"SELECT min(key) FROM {quote(form.name)} WHERE {same} AND key IS DISTINCT FROM ?",
        [*values.values(), other_than],
    ).fetchone()
    return row[0] if row else None


def duplicates(conn: Any, form: FormDef, fields: tuple[str, ...]) -> list[list[str]]:
    """The records of the form that share the values of these fields, a list of keys per shared value."""
    columns = ", ".join(f"lower(trim({quote(n)}))" if form.fields[n].type in TEXTUAL else quote(n) for n in fields)
    filled = " AND ".join(f"{quote(n)} IS NOT NULL" for n in fields)
    rows = conn.execute(
        f"SELECT list(key ORDER BY number) FROM {quote(form.name)} WHERE {filled} GROUP BY {columns} "
        "HAVING count(*) > 1 ORDER BY min(number)"
    ).fetchall()
    return [list(r[0]) for r in rows]


def move_to_archive(conn: Any, form: FormDef, key: str, at: dt.datetime, by: str | None) -> None:
    """The record's row, as JSON, into crm.deleted_records; out of its form's table."""
    conn.execute(
        'INSERT INTO crm.deleted_records (key, form, number, "row", deleted_at, deleted_by) '
        f"SELECT key, ?, number, to_json(t), ?, ? FROM {quote(form.name)} t WHERE key = ?",
        [form.name, at, by, key],
    )
    conn.execute(f"DELETE FROM {quote(form.name)} WHERE key = ?", [key])


def _from_json(conn: Any, form: FormDef) -> tuple[list[str], str]:
    """The columns of the form's table, and SQL reading each from the `row` JSON of crm.deleted_records as
    its column's type (a column the form did not have then is NULL)."""
    found = conn.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ? ORDER BY column_index",
        [form.name],
    ).fetchall()
    names = [name for name, _ in found]
    path = 'json_extract_string("row", {})'
    return names, ", ".join(f"CAST({path.format(_literal('$.' + n))} AS {t}) AS {quote(n)}" for n, t in found)


def archived(conn: Any, form: FormDef, key: str | None = None) -> list[dict[str, Any]]:
    """The deleted records of the form not restored (or the one of this key), in the columns of its table,
    with `deletion` (the id in crm.deleted_records), `deleted_at` and `deleted_by`."""
    _, columns = _from_json(conn, form)
    cursor = conn.execute(
        f"SELECT {columns}, id AS deletion, deleted_at, deleted_by FROM crm.deleted_records "
        "WHERE restored_at IS NULL AND form = ? AND (? IS NULL OR key = ?) ORDER BY number",
        [form.name, key, key],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def deleted_form(conn: Any, key: str) -> str | None:
    """The form of a deleted record not restored, or None."""
    row = conn.execute("SELECT form FROM crm.deleted_records WHERE key = ? AND restored_at IS NULL", [key]).fetchone()
    return row[0] if row else None


def restore_from_archive(conn: Any, form: FormDef, deletion: int, at: dt.datetime, by: str | None) -> None:
    """A deleted record's row back into its form's table: the columns the form has now, as their types."""
    names, columns = _from_json(conn, form)
    conn.execute(
        f"INSERT INTO {quote(form.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT {columns} FROM crm.deleted_records WHERE id = ?",
        [deletion],
    )
    conn.execute("UPDATE crm.deleted_records SET restored_at = ?, restored_by = ? WHERE id = ?", [at, by, deletion])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
# an event's data as JSON: money, dates and times as crmctl.domain.records.plain writes them, at any depth (one
# encoder for all: json.dumps makes one per call when given options)
_EVENT_JSON = json.JSONEncoder(ensure_ascii=False, default=plain)


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
    return (at, actor, event.value, record, form, _EVENT_JSON.encode(dict(data or {})))


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


def add_events(conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert events made with event_row, in their order, in one statement."""
    insert_many(conn, "crm.events", EVENT_COLUMNS, rows)


def events(conn: Any, keys: list[str], work: list[str] | None = None) -> list[dict[str, Any]]:
    """The events of these records and of this work (the ids of tasks and projects), in order; a record created
    by `crmctl import` starts with a record.imported line, found through the runs of record numbers each import
    created."""
    cursor = conn.execute(
        """SELECT id, occurred_at, actor, action, data, record FROM crm.events
        WHERE list_contains(?, record) OR ((contains(data, '"task"') OR contains(data, '"project"'))  -- cheap first
            AND list_contains(?, coalesce(json_extract_string(data, '$.task'), json_extract_string(data, '$.project'))))
        UNION ALL
        SELECT 0, i.imported_at, i.actor, 'record.imported', json_object('import', i.id, 'source', i.source), r.key
        FROM crm.records r
        JOIN crm.import_runs u ON u.form = r.form AND r.number BETWEEN u.first_number AND u.last_number
        JOIN crm.imports i ON i.id = u.import WHERE list_contains(?, r.key)
        ORDER BY 2, 1, 6""",
        [keys, work or [], keys],
    )
    return [
        {"id": i, "at": at, "actor": actor, "action": action, "data": json.loads(data) if data else {}, "record": r}
        for i, at, actor, action, data, r in cursor.fetchall()
    ]


def last_event(conn: Any) -> int:
    """The id of the latest event, 0 if none."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM crm.events").fetchone()[0])


def events_after(conn: Any, event_id: int) -> list[dict[str, Any]]:
    """The events written after this one, in order (record, action, data), permission refusals left out."""
    cursor = conn.execute(
        "SELECT record, action, data FROM crm.events WHERE id > ? AND action <> ? ORDER BY id",
        [event_id, Event.PERMISSION_REFUSED.value],
    )
    return [{"record": r, "action": a, "data": json.loads(d) if d else {}} for r, a, d in cursor.fetchall()]


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
    conn: Any,
    key: str,
    due: dt.datetime,
    text: str,
    person: str | None,
    by: str | None,
    now: dt.datetime,
    *,
    party: int | None = None,
    stage: str | None = None,
) -> int:
    """A reminder; `party`: the id of the first of a set done by any, `stage`: closed when the record leaves it."""
    row = conn.execute(
        "INSERT INTO crm.reminders (record, due_at, text, person, created_by, created_at, party, stage) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [key, due, text, person, by, now, party, stage],
    ).fetchone()
    return int(row[0])


def reminder(conn: Any, reminder_id: int) -> dict[str, Any] | None:
    cursor = conn.execute("SELECT * FROM crm.reminders WHERE id = ?", [reminder_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def finish_reminder(conn: Any, reminder_id: int, at: dt.datetime) -> None:
    """The reminder done, and the open ones of its party with it."""
    conn.execute(
        "UPDATE crm.reminders SET done_at = ? WHERE done_at IS NULL AND coalesce(party, id) = "
        "(SELECT coalesce(party, id) FROM crm.reminders WHERE id = ?)",
        [at, reminder_id],
    )


def close_stage_reminders(conn: Any, key: str, stage: str, at: dt.datetime) -> list[int]:
    """The open reminders of a record made on entering this stage, closed: their ids."""
    rows = conn.execute(
        "UPDATE crm.reminders SET done_at = ? WHERE record = ? AND stage = ? AND done_at IS NULL RETURNING id",
        [at, key, stage],
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


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


def untold_reminders(conn: Any, *, until: dt.datetime) -> list[dict[str, Any]]:
    """Open reminders due by `until` that have a person (theirs, else who made it) whose inbox holds no notice
    of them: as open_reminders' rows, with `notice`, the text of that notice as this query makes it ("reminder
    ID: TEXT (due YYYY-MM-DD HH:MM)", in the session's time zone), in due order."""
    notice = "'reminder ' || r.id || ': ' || r.text || ' (due ' || strftime(r.due_at, '%Y-%m-%d %H:%M') || ')'"
    cursor = conn.execute(
        f"""SELECT r.id, r.record, r.due_at, r.text, r.person, r.created_by, {notice} AS notice
            FROM crm.reminders r
            WHERE r.done_at IS NULL AND r.due_at <= ? AND coalesce(r.person, r.created_by) IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM crm.inbox n
                              WHERE n.person = coalesce(r.person, r.created_by) AND n.text = {notice})
            ORDER BY r.due_at, r.id""",
        [until],
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
