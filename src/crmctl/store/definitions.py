"""Applied definitions: versions in the database, and the DDL that follows a plan without losing data."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crmctl.config.model import Definitions, FormDef
from crmctl.domain.plan import Change
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError
from crmctl.store.db import define_records_view, quote

SQL_TYPES = {
    "text": "VARCHAR",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "list": "VARCHAR",
    "person": "VARCHAR",
    "ref": "VARCHAR",
    "number": "DOUBLE",
    "money": "DECIMAL(18,2)",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "bool": "BOOLEAN",
}
SHOW_AT_MOST = 10


@dataclass
class Plan:
    changes: list[Change]
    refusals: list[str] = field(default_factory=list)
    version: int = 0  # the version applying would create
    unchanged: bool = False


def latest(conn: Any) -> tuple[int, Definitions] | None:
    row = conn.execute("SELECT version, documents FROM crm.definitions ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return int(row[0]), Definitions.from_json(row[1])


def latest_hash(conn: Any) -> str | None:
    row = conn.execute("SELECT hash FROM crm.definitions ORDER BY version DESC LIMIT 1").fetchone()
    return row[0] if row else None


def versions(conn: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT version, hash, applied_at, actor, json_array_length(changes) FROM crm.definitions ORDER BY version"
    )
    return [
        {"version": v, "hash": h[:12], "applied_at": at, "actor": actor, "changes": n}
        for v, h, at, actor, n in cursor.fetchall()
    ]


def as_input(value: Any) -> Any:
    """A stored value as a command line would give it, so that it can be converted to another type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Decimal, int, float)):
        return format(value, "f") if isinstance(value, Decimal) else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _keys(rows: list[tuple[Any, ...]]) -> str:
    shown = ", ".join(f"{key} ({value!r})" if value is not None else str(key) for key, value in rows[:SHOW_AT_MOST])
    more = f" and {len(rows) - SHOW_AT_MOST} more" if len(rows) > SHOW_AT_MOST else ""
    return shown + more


def _count_keys(conn: Any, sql: str, params: list[Any]) -> list[tuple[Any, Any]]:
    return [(row[0], row[1] if len(row) > 1 else None) for row in conn.execute(sql, params).fetchall()]


def _leave_process(conn: Any, table: str, where: str, params: list[Any], now: Any) -> None:
    """Records whose stage or process is archived leave their process: no stage, deadline, responsible or
    pending approval is left behind."""
    conn.execute(
        f"""UPDATE crm.approvals SET decision = 'cancelled', decided_at = ?
            WHERE decision IS NULL AND record IN (SELECT key FROM {table} WHERE {where})""",
        [now, *params],
    )
    conn.execute(
        f"UPDATE {table} SET process = NULL, stage = NULL, stage_since = NULL, stage_due = NULL, responsible = NULL "
        f"WHERE {where}",
        params,
    )


def check_plan(conn: Any, old: Definitions | None, new: Definitions, changes: list[Change], archive: bool) -> Plan:
    """Refusals: changes that would lose or corrupt data that the YAML does not say how to keep."""
    plan = Plan(changes)
    people = set(new.people)
    for change in changes:
        table = quote(change.form) if change.form else ""
        if change.target == "form" and change.action == "remove" and not archive:
            rows = _count_keys(conn, f"SELECT key FROM {table} ORDER BY number", [])
            if rows:
                plan.refusals.append(
                    f"form {change.name} is removed but holds {len(rows)} records: {_keys(rows)} "
                    "(keep it, or apply with --archive to set the records aside)"
                )
        elif change.target == "field" and change.action == "remove" and not archive:
            column = quote(change.field or "")
            rows = _count_keys(
                conn, f"SELECT key, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY number", []
            )
            if rows:
                plan.refusals.append(
                    f"field {change.name} is removed but {len(rows)} records hold a value: {_keys(rows)} "
                    "(add renamed_from: to the field that replaces it, or apply with --archive)"
                )
        elif change.target == "field" and change.action in ("change", "rename"):
            column = quote((change.old.id if change.action == "rename" else change.field) or "")
            spec: FieldSpec = change.new
            bad = []
            for key, value in conn.execute(
                f"SELECT key, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY number"
            ).fetchall():
                try:
                    convert(spec, as_input(value), people=people)
                except ValueError:
                    bad.append((key, as_input(value)))
            if bad:
                plan.refusals.append(
                    f"field {change.name} ({change.detail}): {len(bad)} records hold values that "
                    f"do not fit: {_keys(bad)}"
                )
            if spec.required and spec.default is None:
                empty = _count_keys(conn, f"SELECT key FROM {table} WHERE {column} IS NULL ORDER BY number", [])
                if empty:
                    plan.refusals.append(
                        f"field {change.name} is now required but {len(empty)} records have no "
                        f"value: {_keys(empty)} (give it a default)"
                    )
        elif change.target == "field" and change.action == "add":
            spec = change.new
            if spec.required and spec.default is None:
                empty = _count_keys(conn, f"SELECT key FROM {table} ORDER BY number", [])
                if empty:
                    plan.refusals.append(
                        f"new field {change.name} is required but {len(empty)} records exist: "
                        f"{_keys(empty)} (give it a default)"
                    )
        elif change.target == "stage" and change.action == "remove" and change.new is None and not archive:
            process = change.name.split(".")[0]
            rows = _count_keys(
                conn, f"SELECT key FROM {table} WHERE process = ? AND stage = ? ORDER BY number", [process, change.old]
            )
            if rows:
                plan.refusals.append(
                    f"stage {change.name} is removed but {len(rows)} records are in it: {_keys(rows)} "
                    "(add migrate: {" + str(change.old) + ": <stage>} to the process, or apply with --archive)"
                )
        elif change.target == "process" and change.action == "remove" and not archive and change.form in new.forms:
            rows = _count_keys(conn, f"SELECT key FROM {table} WHERE process = ? ORDER BY number", [change.name])
            if rows:
                plan.refusals.append(
                    f"process {change.name} is removed but {len(rows)} records are in it: {_keys(rows)} "
                    "(keep it, or apply with --archive)"
                )
    return plan


def execute(
    conn: Any,
    old: Definitions | None,
    new: Definitions,
    plan: Plan,
    *,
    actor: str | None,
    now: dt.datetime,
    archive: bool,
) -> int:
    """Run the plan (the caller holds the transaction) and record the new version. Returns the version."""
    if plan.refusals:
        raise InputError("plan refused")
    row = conn.execute("SELECT coalesce(max(version), 0) FROM crm.definitions").fetchone()
    version = int(row[0]) + 1
    people = set(new.people)
    for change in plan.changes:
        form = change.form
        table = quote(form) if form else ""
        if change.target == "form" and change.action == "add":
            _create_form_table(conn, new.forms[change.name])
        elif change.target == "form" and change.action == "remove":
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if rows:
                conn.execute(f"CREATE TABLE crm.{quote(f'archived_{change.name}_v{version}')} AS SELECT * FROM {table}")
            conn.execute(f"DROP TABLE {table}")
        elif change.target == "field" and change.action == "add":
            spec = change.new
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(spec.id)} {SQL_TYPES[spec.type]}")
            if spec.default is not None:
                value = convert(spec, spec.default, people=people)
                conn.execute(f"UPDATE {table} SET {quote(spec.id)} = ?", [value])
        elif change.target == "field" and change.action == "rename":
            conn.execute(f"ALTER TABLE {table} RENAME COLUMN {quote(change.old.id)} TO {quote(change.new.id)}")
            _retype(conn, table, change.old, change.new, people)
        elif change.target == "field" and change.action == "change":
            _retype(conn, table, change.old, change.new, people)
            spec = change.new
            if spec.required and spec.default is not None:
                value = convert(spec, spec.default, people=people)
                conn.execute(f"UPDATE {table} SET {quote(spec.id)} = ? WHERE {quote(spec.id)} IS NULL", [value])
        elif change.target == "field" and change.action == "remove":
            column = quote(change.field or "")
            conn.execute(
                f"""INSERT INTO crm.archive SELECT ?, ?, ?, key, 'field', ?, CAST({column} AS VARCHAR)
                    FROM {table} WHERE {column} IS NOT NULL""",
                [version, now, form, change.field],
            )
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        elif change.target == "stage" and change.action in ("rename", "remove"):
            process = change.name.split(".")[0]
            target = change.new
            if target is None:
                conn.execute(
                    f"""INSERT INTO crm.archive SELECT ?, ?, ?, key, 'stage', ?, stage FROM {table}
                        WHERE process = ? AND stage = ?""",
                    [version, now, form, process, process, change.old],
                )
                _leave_process(conn, table, "process = ? AND stage = ?", [process, change.old], now)
            else:  # the new stage's deadline is unknown: it was counted for the old one
                conn.execute(
                    f"UPDATE {table} SET stage = ?, stage_since = ?, stage_due = NULL WHERE process = ? AND stage = ?",
                    [target, now, process, change.old],
                )
        elif change.target == "process" and change.action == "remove" and form in new.forms:
            conn.execute(
                f"""INSERT INTO crm.archive SELECT ?, ?, ?, key, 'process', ?, stage FROM {table}
                    WHERE process = ?""",
                [version, now, form, change.name, change.name],
            )
            _leave_process(conn, table, "process = ?", [change.name], now)
    define_records_view(conn, new.forms)
    conn.execute("DELETE FROM crm.people")
    for person in new.people.values():
        conn.execute(
            "INSERT INTO crm.people VALUES (?, ?, ?, ?, ?)",
            [person.id, person.name, person.email, list(person.roles), person.calendar or new.calendar],
        )
    conn.execute(
        "INSERT INTO crm.definitions VALUES (?, ?, ?, ?, ?, ?)",
        [
            version,
            new.digest,
            now,
            actor,
            new.to_json(),
            json.dumps([c.as_dict() for c in plan.changes], ensure_ascii=False),
        ],
    )
    return version


def _create_form_table(conn: Any, form: FormDef) -> None:
    columns = [
        "key VARCHAR NOT NULL",
        "number BIGINT NOT NULL",
        "author VARCHAR",
        "created_at TIMESTAMPTZ NOT NULL",
        "updated_at TIMESTAMPTZ NOT NULL",
        "def_version INTEGER NOT NULL",
        "process VARCHAR",
        "stage VARCHAR",
        "stage_since TIMESTAMPTZ",
        "stage_due TIMESTAMPTZ",
        "responsible VARCHAR",
    ]
    columns += [f"{quote(spec.id)} {SQL_TYPES[spec.type]}" for spec in form.fields.values()]
    conn.execute(f"CREATE TABLE {quote(form.name)} ({', '.join(columns)})")


def _retype(conn: Any, table: str, old: FieldSpec, new: FieldSpec, people: set[str]) -> None:
    """Convert a column to the new field's type with the same rules as record input."""
    if SQL_TYPES[old.type] == SQL_TYPES[new.type]:
        return
    column = quote(new.id)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS crm_retype (old VARCHAR, new VARCHAR)")
    conn.execute("DELETE FROM crm_retype")
    values = [
        row[0] for row in conn.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
    ]
    mapping = [(str(as_input(v)), str(as_input(convert(new, as_input(v), people=people)))) for v in values]
    if mapping:
        conn.executemany("INSERT INTO crm_retype VALUES (?, ?)", mapping)
    conn.execute(f"ALTER TABLE {table} ADD COLUMN crm_new {SQL_TYPES[new.type]}")
    conn.execute(
        f"UPDATE {table} SET crm_new = CAST(m.new AS {SQL_TYPES[new.type]}) FROM crm_retype m "
        f"WHERE CAST({table}.{column} AS VARCHAR) = m.old"
    )
    conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute(f"ALTER TABLE {table} RENAME COLUMN crm_new TO {column}")
