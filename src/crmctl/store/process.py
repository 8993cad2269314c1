"""Stages, approvals and the inbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmctl.config.model import FormDef
from crmctl.store.db import quote


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
