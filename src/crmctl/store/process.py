"""Stages, approvals and the inbox."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

from crmctl.config.model import FormDef
from crmctl.domain.records import plain
from crmctl.store.db import insert_many, quote


def move(
    conn: Any,
    form: FormDef,
    key: str,
    *,
    expected: str | None,
    stage: str | None,
    now: dt.datetime,
    due: dt.datetime | None,
    responsible: str | None,
) -> bool:
    """Put a record in a stage, if it is still in the stage the caller read (False when it is not)."""
    row = conn.execute(
        f"UPDATE {quote(form.name)} SET stage = ?, stage_since = ?, stage_due = ?, responsible = ?, updated_at = ? "
        "WHERE key = ? AND stage IS NOT DISTINCT FROM ? RETURNING key",
        [stage, now, due, responsible, now, key, expected],
    ).fetchall()
    return bool(row)


def set_field(conn: Any, form: FormDef, key: str, field: str, value: Any, now: dt.datetime) -> None:
    conn.execute(f"UPDATE {quote(form.name)} SET {quote(field)} = ?, updated_at = ? WHERE key = ?", [value, now, key])


def responsible_load(conn: Any, form: FormDef, people: list[str]) -> dict[str, int]:
    """How many records of the form each person is responsible for now."""
    if not people:
        return {}
    rows = conn.execute(
        f"SELECT responsible, count(*) FROM {quote(form.name)} WHERE list_contains(?, responsible) GROUP BY 1",
        [people],
    ).fetchall()
    return {p: 0 for p in people} | {p: int(n) for p, n in rows}


def request_approvals(
    conn: Any, key: str, process: str, stage: str, approvers: list[tuple[str, str]], now: dt.datetime
) -> None:
    if approvers:
        conn.executemany(
            "INSERT INTO crm.approvals (record, process, stage, approval_group, approver, requested_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [[key, process, stage, group, who, now] for group, who in approvers],
        )


def cancel_pending(conn: Any, key: str, now: dt.datetime) -> None:
    conn.execute(
        "UPDATE crm.approvals SET decision = 'cancelled', decided_at = ? WHERE record = ? AND decision IS NULL",
        [now, key],
    )


def approvals(conn: Any, key: str, stage: str, since: dt.datetime) -> list[dict[str, Any]]:
    """The approvals of the current visit of a stage (requested at or after it was entered)."""
    cursor = conn.execute(
        "SELECT id, approval_group, approver, decision, decided_by, decided_at, comment FROM crm.approvals "
        "WHERE record = ? AND stage = ? AND requested_at >= ? ORDER BY id",
        [key, stage, since],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def decide(conn: Any, ids: list[int], decision: str, by: str | None, now: dt.datetime, comment: str | None) -> None:
    conn.execute(
        "UPDATE crm.approvals SET decision = ?, decided_by = ?, decided_at = ?, comment = ? "
        "WHERE list_contains(?, id) AND decision IS NULL",
        [decision, by, now, comment, ids],
    )


def notify(conn: Any, people: list[str], kind: str, key: str | None, text: str, now: dt.datetime) -> None:
    if people:
        conn.executemany(
            "INSERT INTO crm.inbox (person, created_at, kind, record, text) VALUES (?, ?, ?, ?, ?)",
            [[p, now, kind, key, text] for p in dict.fromkeys(people)],
        )


def inbox(conn: Any, person: str | None, unread: bool) -> list[dict[str, Any]]:
    clauses, params = [], []
    if person is not None:
        clauses.append("person = ?")
        params.append(person)
    if unread:
        clauses.append("read_at IS NULL")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(
        f"SELECT id, person, created_at, kind, record, text, read_at FROM crm.inbox {where} ORDER BY created_at, id",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def mark_read(conn: Any, person: str | None, now: dt.datetime) -> int:
    if person is None:
        rows = conn.execute("UPDATE crm.inbox SET read_at = ? WHERE read_at IS NULL RETURNING id", [now])
    else:
        rows = conn.execute(
            "UPDATE crm.inbox SET read_at = ? WHERE read_at IS NULL AND person = ? RETURNING id", [now, person]
        )
    return len(rows.fetchall())


def records_in(conn: Any, form: FormDef, process: str) -> list[dict[str, Any]]:
    cursor = conn.execute(f"SELECT * FROM {quote(form.name)} WHERE process = ? ORDER BY stage_since, number", [process])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def overdue_stages(conn: Any, forms: list[FormDef], person: str | None, until: dt.datetime) -> list[dict[str, Any]]:
    """Records whose stage deadline falls before `until`, across forms."""
    found = []
    for form in forms:
        sql = (
            f"SELECT key, process, stage, stage_due, responsible FROM {quote(form.name)} "
            "WHERE stage_due IS NOT NULL AND stage_due <= ?"
        )
        params: list[Any] = [until]
        if person is not None:
            sql += " AND responsible = ?"
            params.append(person)
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        found += [{**dict(zip(names, row, strict=True)), "form": form.name} for row in cursor.fetchall()]
    return found


class Deferred:
    """The writes of putting many new records in their first stage (an import), kept and then made with one
    statement per table by flush(). It answers the calls that entering a stage makes of this module and of
    store.records, with the same arguments, so that entering reads the same either way; reads see the
    records' responsible people as if the moves were made."""

    def __init__(self, form: FormDef, process: str) -> None:
        self.form, self.process = form, process
        self.moves: list[tuple[Any, ...]] = []
        self.fields: dict[str, dict[str, Any]] = {}  # field -> key -> value
        self.events: list[tuple[Any, ...]] = []
        self.approvals: list[tuple[Any, ...]] = []
        self.notices: list[tuple[Any, ...]] = []
        self.loads: dict[tuple[str, ...], dict[str, int]] = {}
        self.assigned: Counter[str] = Counter()

    def cancel_pending(self, conn: Any, key: str, now: dt.datetime) -> None:
        """A new record has no approvals to cancel."""

    def move(self, conn: Any, form: FormDef, key: str, *, expected: str | None, stage: str | None,
             now: dt.datetime, due: dt.datetime | None, responsible: str | None) -> bool:
        self.moves.append((key, self.process, stage, now, due, responsible, now))
        if responsible:
            self.assigned[responsible] += 1
        return True

    def responsible_load(self, conn: Any, form: FormDef, people: list[str]) -> dict[str, int]:
        if tuple(people) not in self.loads:
            self.loads[tuple(people)] = responsible_load(conn, form, people)
        return {p: n + self.assigned[p] for p, n in self.loads[tuple(people)].items()}

    def set_field(self, conn: Any, form: FormDef, key: str, field: str, value: Any, now: dt.datetime) -> None:
        self.fields.setdefault(field, {})[key] = value

    def request_approvals(
        self, conn: Any, key: str, process: str, stage: str, approvers: list[tuple[str, str]], now: dt.datetime
    ) -> None:
        self.approvals += [(key, process, stage, group, who, now) for group, who in approvers]

    def notify(self, conn: Any, people: list[str], kind: str, key: str | None, text: str, now: dt.datetime) -> None:
        self.notices += [(p, now, kind, key, text) for p in dict.fromkeys(people)]

    def add_event(self, conn: Any, at: dt.datetime, actor: str | None, action: str, record: str | None,
                  form: str | None, data: dict[str, Any] | None = None) -> None:
        payload = json.dumps({k: plain(v) for k, v in (data or {}).items()}, ensure_ascii=False, default=plain)
        self.events.append((at, actor, action, record, form, payload))

    def flush(self, conn: Any) -> None:
        """Make the writes kept so far (and keep none); the loads counted stay, as the moves are now made."""
        table = quote(self.form.name)
        staged = ["key", "process", "stage", "stage_since", "stage_due", "responsible", "updated_at"]
        conn.execute(
            'CREATE OR REPLACE TEMP TABLE "crm#moves" (key VARCHAR, process VARCHAR, stage VARCHAR, '
            "stage_since TIMESTAMPTZ, stage_due TIMESTAMPTZ, responsible VARCHAR, updated_at TIMESTAMPTZ)"
        )
        insert_many(conn, '"crm#moves"', staged, self.moves)
        assignments = ", ".join(f"{c} = m.{c}" for c in staged[1:])
        conn.execute(f'UPDATE {table} SET {assignments} FROM "crm#moves" m WHERE {table}.key = m.key')
        conn.execute('DROP TABLE "crm#moves"')
        for name, values in self.fields.items():
            column = quote(name)
            conn.execute(
                f'CREATE OR REPLACE TEMP TABLE "crm#sets" AS SELECT key, {column} AS value FROM {table} LIMIT 0'
            )
            insert_many(conn, '"crm#sets"', ["key", "value"], list(values.items()))
            conn.execute(f'UPDATE {table} SET {column} = s.value FROM "crm#sets" s WHERE {table}.key = s.key')
            conn.execute('DROP TABLE "crm#sets"')
        insert_many(conn, "crm.events", ["occurred_at", "actor", "action", "record", "form", "data"], self.events)
        approval_columns = ["record", "process", "stage", "approval_group", "approver", "requested_at"]
        insert_many(conn, "crm.approvals", approval_columns, self.approvals)
        insert_many(conn, "crm.inbox", ["person", "created_at", "kind", "record", "text"], self.notices)
        self.moves, self.fields, self.events, self.approvals, self.notices = [], {}, [], [], []
