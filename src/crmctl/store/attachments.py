"""Attached files: their contents, each stored once under its SHA-256 (crm.file_contents), and the files
that name them on a record, a task or a project (crm.files). A deleted file keeps its row, marked deleted,
and its content: the archive, as for records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

FILE_COLUMNS = ("id", "owner", "name", "size", "media_type", "sha256", "added_at", "added_by", "source", "deleted_at")


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def stored_size(conn: Any) -> int:
    """The bytes of every content stored, each once."""
    row = conn.execute("SELECT coalesce(sum(size), 0) FROM crm.file_contents").fetchone()
    return int(row[0])


def content_sizes(conn: Any, hashes: Iterable[str]) -> dict[str, int]:
    """sha256 -> size of the contents stored among these."""
    wanted = list(hashes)
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT sha256, size FROM crm.file_contents WHERE list_contains(?, sha256)", [wanted]
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def add_contents(conn: Any, contents: Mapping[str, bytes]) -> None:
    """Store the contents not stored yet (the caller knows which are new)."""
    rows = [[sha, len(content), content] for sha, content in contents.items()]
    if rows:
        conn.executemany("INSERT INTO crm.file_contents VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows)


def add_file(conn: Any, file: Mapping[str, Any]) -> int:
    columns = [c for c in FILE_COLUMNS if c in file and c != "id"]
    row = conn.execute(
        f"INSERT INTO crm.files ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) RETURNING id",
        [file[c] for c in columns],
    ).fetchone()
    return int(row[0])


def files(conn: Any, owners: Iterable[str], *, deleted: bool = False) -> list[dict[str, Any]]:
    """The files of these owners (record keys, task and project ids), in the order they were added; the deleted
    ones too when asked."""
    cursor = conn.execute(
        f"SELECT {', '.join(FILE_COLUMNS)} FROM crm.files WHERE list_contains(?, owner) "
        "AND (? OR deleted_at IS NULL) ORDER BY id",
        [list(owners), deleted],
    )
    return _rows(cursor)


def file(conn: Any, file_id: int) -> dict[str, Any] | None:
    found = _rows(conn.execute(f"SELECT {', '.join(FILE_COLUMNS)} FROM crm.files WHERE id = ?", [file_id]))
    return found[0] if found else None


def content(conn: Any, sha: str) -> bytes:
    row = conn.execute("SELECT content FROM crm.file_contents WHERE sha256 = ?", [sha]).fetchone()
    return bytes(row[0]) if row else b""


def contents(conn: Any, hashes: Iterable[str]) -> dict[str, bytes]:
    wanted = list(hashes)
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT sha256, content FROM crm.file_contents WHERE list_contains(?, sha256)", [wanted]
    ).fetchall()
    return {r[0]: bytes(r[1]) for r in rows}


def delete_file(conn: Any, file_id: int, at: dt.datetime, actor: str | None) -> None:
    conn.execute("UPDATE crm.files SET deleted_at = ?, deleted_by = ? WHERE id = ?", [at, actor, file_id])
