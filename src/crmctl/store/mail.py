"""E-mail taken in: the Message-IDs seen, and looking senders up by address."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from crmctl.domain.model import FormDef
from crmctl.store.db import Connection, quote


def seen(conn: Connection, message_id: str) -> dict[str, Any] | None:
    cursor = conn.execute("SELECT * FROM crm.mail_messages WHERE message_id = ?", [message_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def remember(
    conn: Connection,
    message_id: str,
    rule: str,
    sender: str,
    subject: str,
    sent_at: dt.datetime | None,
    now: dt.datetime,
    record: str | None,
    task: str | None,
) -> None:
    conn.execute(
        "INSERT INTO crm.mail_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [message_id, rule, sender, subject, sent_at, now, record, task],
    )


def by_email(conn: Connection, form: FormDef, fields: Sequence[str], address: str) -> dict[str, Any] | None:
    """The first record (lowest number) of the form with this address in one of its e-mail fields."""
    if not fields:
        return None
    match = " OR ".join(f"lower({quote(f)}) = ?" for f in fields)
    cursor = conn.execute(
        f"SELECT * FROM {quote(form.name)} WHERE {match} ORDER BY number LIMIT 1", [address.lower()] * len(fields)
    )
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None
