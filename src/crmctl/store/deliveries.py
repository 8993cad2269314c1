"""Notices delivered by mail: one row per notice of crm.inbox that goes out to its person's address.

A row moves pending -> sending -> sent, or to failed with the next attempt's time (retried), or failed for
good (`next_at` NULL). A row is marked sending, and that committed, before its message goes out, so a
notice is never sent twice: a server stopped in the middle leaves it sending, and the next start marks it
failed for good, as it may have reached the person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmctl.store.db import Connection

COLUMNS = ("notice", "person", "address", "status", "attempts", "next_at", "sent_at", "error")


def queue(conn: Connection, opted_out: list[str], since: dt.datetime, now: dt.datetime) -> int:
    """Queue the unread notices made since `since` for people with an e-mail address who have not opted
    out; each notice once. The number queued."""
    rows = conn.execute(
        """INSERT INTO crm.deliveries (notice, person, address, status, attempts, next_at)
        SELECT i.id, i.person, p.email, 'pending', 0, ? FROM crm.inbox i JOIN crm.people p ON p.id = i.person
        WHERE i.read_at IS NULL AND i.created_at >= ? AND p.email IS NOT NULL AND NOT list_contains(?, i.person)
          AND i.id NOT IN (SELECT notice FROM crm.deliveries)
        ORDER BY i.id RETURNING notice""",
        [now, since, opted_out],
    )
    return len(rows.fetchall())


def claim(conn: Connection, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """The deliveries due now (pending, or failed with a retry due), marked sending, with their notices."""
    cursor = conn.execute(
        """UPDATE crm.deliveries SET status = 'sending', attempts = attempts + 1
        WHERE notice IN (SELECT notice FROM crm.deliveries WHERE status IN ('pending', 'failed')
                         AND next_at IS NOT NULL AND next_at <= ? ORDER BY notice LIMIT ?)
        RETURNING notice""",
        [now, limit],
    )
    claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return []
    cursor = conn.execute(
        """SELECT d.notice, d.person, d.address, d.attempts, i.created_at, i.kind, i.record, i.text, p.name
        FROM crm.deliveries d JOIN crm.inbox i ON i.id = d.notice LEFT JOIN crm.people p ON p.id = d.person
        WHERE list_contains(?, d.notice) ORDER BY d.notice""",
        [claimed],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def sent(conn: Connection, notice: int, now: dt.datetime) -> None:
    conn.execute(
        "UPDATE crm.deliveries SET status = 'sent', sent_at = ?, next_at = NULL, error = NULL WHERE notice = ?",
        [now, notice],
    )


def failed(conn: Connection, notice: int, error: str, retry_at: dt.datetime | None) -> None:
    """A failed attempt: retried at retry_at, or (None) failed for good."""
    conn.execute(
        "UPDATE crm.deliveries SET status = 'failed', next_at = ?, error = ? WHERE notice = ?",
        [retry_at, error, notice],
    )


def interrupted(conn: Connection) -> int:
    """Deliveries a stopped server left sending: failed for good, never sent twice."""
    rows = conn.execute(
        "UPDATE crm.deliveries SET status = 'failed', next_at = NULL, "
        "error = 'the server stopped while sending: not sent again, as it may have arrived' "
        "WHERE status = 'sending' RETURNING notice"
    )
    return len(rows.fetchall())


def listing(conn: Connection, person: str | None, failed_only: bool) -> list[dict[str, Any]]:
    clauses, params = [], []
    if person is not None:
        clauses.append("d.person = ?")
        params.append(person)
    if failed_only:
        clauses.append("d.status = 'failed'")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(
        f"""SELECT d.notice, d.person, d.address, d.status, d.attempts, d.next_at, d.sent_at, d.error, i.kind,
        i.record, i.text FROM crm.deliveries d JOIN crm.inbox i ON i.id = d.notice {where} ORDER BY d.notice""",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
