"""Personal access tokens of the team server (crm.tokens, store/migrations.py): only a salted scrypt hash of
each token's secret is kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

COLUMNS = ("id", "person", "name", "created_at", "created_by", "expires_at", "revoked_at", "last_used_at")


def add(
    conn: Any,
    person: str,
    name: str,
    salt: bytes,
    digest: bytes,
    now: dt.datetime,
    by: str | None,
    expires: dt.datetime | None,
) -> int:
    row = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM crm.tokens").fetchone()
    token_id = int(row[0])
    conn.execute(
        "INSERT INTO crm.tokens (id, person, name, salt, hash, created_at, created_by, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [token_id, person, name, salt, digest, now, by, expires],
    )
    return token_id


def secret_of(conn: Any, token_id: int) -> tuple[str, bytes, bytes, dt.datetime | None, dt.datetime | None] | None:
    """(person, salt, hash, expires_at, revoked_at) of a token."""
    row = conn.execute(
        "SELECT person, salt, hash, expires_at, revoked_at FROM crm.tokens WHERE id = ?", [token_id]
    ).fetchone()
    return None if row is None else (row[0], bytes(row[1]), bytes(row[2]), row[3], row[4])


def used(conn: Any, token_id: int, now: dt.datetime) -> None:
    conn.execute("UPDATE crm.tokens SET last_used_at = ? WHERE id = ?", [now, token_id])


def listing(conn: Any, person: str | None) -> list[dict[str, Any]]:
    where, params = ("WHERE person = ?", [person]) if person is not None else ("", [])
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM crm.tokens {where} ORDER BY id", params)
    return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def get(conn: Any, token_id: int) -> dict[str, Any] | None:
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM crm.tokens WHERE id = ?", [token_id])
    row = cursor.fetchone()
    return None if row is None else dict(zip(COLUMNS, row, strict=True))


def revoke(conn: Any, token_id: int, now: dt.datetime, by: str | None) -> None:
    conn.execute("UPDATE crm.tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?", [now, by, token_id])
