"""The event log's hash chain, and consistent copies of the database.

Each event is sealed when the transaction that wrote it commits: its hash is SHA-256 over the previous event's
hash and the event's content (id, time, actor, action, record, form, data), kept in crm.event_hashes beside
crm.events. Changing, removing or slipping in an event afterwards breaks the chain at that event, which
`crmctl audit verify` finds. Someone who can write the file can also rewrite every hash after the one they
changed, so the head hash `audit verify` prints is worth keeping elsewhere (docs/server.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# store.db calls seal() at every commit, so this module imports nothing of the store: a connection is Any here
Connection = Any

# The content an event's hash covers, as one text (DuckDB's own SHA-256 of it is chained in Python).
_CONTENT = (
    "sha256(json_array(e.id, epoch_us(e.occurred_at), e.actor, e.action, e.record, e.form)::VARCHAR"
    " || chr(10) || coalesce(e.data::VARCHAR, ''))"
)
_CHAINED: set[int] = set()  # connections whose database has crm.event_hashes (found once per connection)
# connection id -> the head of the chain (last sealed id, its hash) as its last transaction left it: sealed
# (_SEALING) at the commit, known (_HEADS) once the commit is done
_SEALING: dict[int, tuple[int, str]] = {}
_HEADS: dict[int, tuple[int, str]] = {}


def link(previous: str, content: str) -> str:
    """One link of the chain: the hash of an event whose content hashes to `content`."""
    return hashlib.sha256(f"{previous}{content}".encode()).hexdigest()


def _has_chain(conn: Connection) -> bool:
    if id(conn) not in _CHAINED:
        found = conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'crm' AND table_name = 'event_hashes'"
        ).fetchone()[0]
        if not found:
            return False
        _CHAINED.add(id(conn))
    return True


def forget(conn: Connection) -> None:
    """The connection is closed: its id may be reused by another."""
    _CHAINED.discard(id(conn))
    _SEALING.pop(id(conn), None)
    _HEADS.pop(id(conn), None)


def _head(conn: Connection) -> tuple[int, str]:
    """The last sealed event's id and hash (0 and "" before the first). The head this connection's last commit
    left is taken while the chain still ends there (checked by its largest id, a cheap query: looking up the
    hash costs a scan of the whole chain), as it does while one long-lived connection writes alone (the team
    server's writer)."""
    known = _HEADS.get(id(conn))
    if known is not None:
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM crm.event_hashes").fetchone()
        if int(last) == known[0]:
            return known
    row = conn.execute("SELECT id, hash FROM crm.event_hashes ORDER BY id DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "")


def seal(conn: Connection) -> None:
    """Seal the events this transaction wrote (every event past the last sealed one), in id order."""
    if not _has_chain(conn):
        return
    after, previous = _head(conn)
    rows = conn.execute(f"SELECT e.id, {_CONTENT} FROM crm.events e WHERE e.id > ? ORDER BY e.id", [after]).fetchall()
    sealed = []
    for event_id, content in rows:
        previous = link(previous, content)
        sealed.append((event_id, previous))
    if sealed:
        conn.execute(
            "INSERT INTO crm.event_hashes SELECT unnest(?::BIGINT[]), unnest(?::VARCHAR[])",
            [[event_id for event_id, _ in sealed], [digest for _, digest in sealed]],
        )
    _SEALING[id(conn)] = sealed[-1] if sealed else (after, previous)


def committed(conn: Connection) -> None:
    """The transaction that seal() sealed is committed: the head it left is known."""
    head = _SEALING.pop(id(conn), None)
    if head is not None:
        _HEADS[id(conn)] = head


@dataclass(frozen=True)
class Break:
    event: int
    why: str


@dataclass(frozen=True)
class Chain:
    events: int  # events in the log
    head: str | None  # the hash of the last sealed event
    breaks: list[Break]  # where the chain does not hold, in event order


def check(conn: Connection) -> Chain:
    """Walk the whole chain; an event's stored hash is checked against its content and the previous stored
    hash, so one changed event is named alone and the walk goes on past it."""
    rows = conn.execute(
        f"""SELECT coalesce(e.id, h.id), CASE WHEN e.id IS NULL THEN NULL ELSE {_CONTENT} END, h.hash
        FROM crm.events e FULL JOIN crm.event_hashes h ON h.id = e.id ORDER BY 1"""
    ).fetchall()
    previous, breaks, events = "", [], 0
    for event_id, content, stored in rows:
        if content is not None:
            events += 1
        if content is None:
            breaks.append(Break(int(event_id), "was deleted after it was written (the chain holds its hash)"))
        elif stored is None:
            breaks.append(Break(int(event_id), "is not in the chain (written outside crmctl)"))
            continue
        elif link(previous, content) != stored:
            breaks.append(Break(int(event_id), "was changed after it was written (its hash does not match)"))
        previous = stored
    return Chain(events, previous or None, breaks)


def copy_to(conn: Connection, target: Path, storage_version: str, alias: str) -> None:
    """Write a consistent copy of the open database to a new file (one transaction's view of it)."""
    source = '"' + str(conn.execute("SELECT current_database()").fetchone()[0]).replace('"', '""') + '"'
    path = "'" + str(target).replace("'", "''") + "'"
    conn.execute(f"ATTACH {path} AS {alias} (STORAGE_VERSION '{storage_version}', READ_WRITE)")
    try:
        conn.execute(f"COPY FROM DATABASE {source} TO {alias}")
    finally:
        conn.execute(f"DETACH {alias}")
