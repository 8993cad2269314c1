"""Reading a whole database back, to compare it before and after a command."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def dump(path: Path, refusals: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, keyed by schema.table. A refused command writes one `permission.refused`
    event and nothing else; those are left out unless refusals=True, so that "nothing changed" can be
    asserted of refusals too (tests/test_permissions.py checks that they are written), and so are their links
    in the event log's hash chain (crm.event_hashes)."""
    import duckdb

    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "ORDER BY 1, 2"
        ).fetchall()
        state = {}
        for schema, table in tables:
            where = ""
            if not refusals and (schema, table) == ("crm", "events"):
                where = " WHERE action <> 'permission.refused'"
            elif not refusals and (schema, table) == ("crm", "event_hashes"):
                where = " WHERE id NOT IN (SELECT id FROM crm.events WHERE action = 'permission.refused')"
            rows = conn.execute(f'SELECT * FROM "{schema}"."{table}"{where}').fetchall()
            state[f"{schema}.{table}"] = sorted(rows, key=repr)
        return state
    finally:
        conn.close()


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    import duckdb

    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql, params or []).fetchall()
    finally:
        conn.close()
