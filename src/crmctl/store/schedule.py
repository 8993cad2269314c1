"""The stored schedule: every person's queue as the last computation left it, and what it was computed from.

Computing the schedule means simulating everyone's open work; on a large database that takes seconds. The
result is kept in crm.schedule_queues with a stamp in crm.meta, and reused while the stamp still matches:
the same definitions, the same state of tasks, dependencies and time (the newest event, the intervals), and
a clock in the same minute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crmctl.domain.records import plain
from crmctl.store.db import Connection

STAMP = "schedule_stamp"


def inputs(conn: Connection) -> str:
    """What the schedule depends on in the data, in one line: task changes all write events; time intervals
    may come by import without one, so they are counted and summed too."""
    (row,) = conn.execute(
        """SELECT (SELECT coalesce(max(id), 0) FROM crm.events),
                  (SELECT count(*) FROM crm.tasks),
                  (SELECT concat_ws('/', count(*), coalesce(max(id), 0),
                                    coalesce(sum(epoch(ended_at)), 0)) FROM crm.time_intervals)"""
    ).fetchall()
    return "/".join(str(v) for v in row)


def stamp(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM crm.meta WHERE key = ?", [STAMP]).fetchone()
    return json.loads(row[0]) if row else None


def queue(conn: Connection, person: str) -> list[dict[str, Any]]:
    row = conn.execute("SELECT rows FROM crm.schedule_queues WHERE person = ?", [person]).fetchone()
    return json.loads(row[0]) if row else []


def keep(conn: Connection, new_stamp: Mapping[str, Any], queues: Mapping[str, list[dict[str, Any]]]) -> None:
    """Replace the stored schedule (the caller holds the transaction)."""
    conn.execute("DELETE FROM crm.schedule_queues")
    if queues:  # executemany refuses an empty list
        conn.executemany(
            "INSERT INTO crm.schedule_queues VALUES (?, ?)",
            [[person, json.dumps(rows, ensure_ascii=False, default=plain)] for person, rows in queues.items()],
        )
    conn.execute(
        "INSERT OR REPLACE INTO crm.meta VALUES (?, ?)", [STAMP, json.dumps(dict(new_stamp), ensure_ascii=False)]
    )
