"""What an import of tasks reads beyond the task store's look-ups (crmctl.store.projects): the last task number,
and the tasks a file updates, as stored, in one query; and what an import of time intervals reads and writes,
each a statement for the whole file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from crmctl.store.db import insert_many


def last_task_number(conn: Any) -> int:
    """The highest number a task has (0 when there is none): new tasks are numbered on from it."""
    return int(conn.execute("SELECT coalesce(max(number), 0) FROM crm.tasks").fetchone()[0])


def tasks_as_stored(conn: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """id -> the task's row as stored, with `depends_on`: the ids it depends on, in order."""
    if not ids:
        return {}
    cursor = conn.execute(
        """SELECT t.*, coalesce((SELECT list(d.depends_on ORDER BY d.depends_on) FROM crm.task_dependencies d
                                 WHERE d.task = t.id), []) AS depends_on
           FROM crm.tasks t WHERE t.id IN (SELECT unnest(?::VARCHAR[]))""",
        [ids],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {row["id"]: row for row in rows}


# Time intervals: a file's rows, as (task, person, start, end), looked up against crm.time_intervals in bulk.
Span = tuple[str, str | None, dt.datetime, dt.datetime]


def stored_against(conn: Any, spans: Sequence[Span]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """For the spans (by their place in the list), in one statement: the stored interval of the same task, person
    and start (the first by id), where there is one; and the first stored interval by start and id, other than
    that one, that shares time with the span and is its person's (a running one is open-ended), as
    store.projects.find_interval and overlapping find them for one span. Each interval as its row."""
    if not spans:
        return {}, {}
    tasks, people, starts, ends = (list(column) for column in zip(*spans, strict=True))
    cursor = conn.execute(
        """WITH f AS (SELECT unnest(?::VARCHAR[]) AS task, unnest(?::VARCHAR[]) AS person,
                             unnest(?::TIMESTAMPTZ[]) AS s, unnest(?::TIMESTAMPTZ[]) AS e, unnest(range(?)) AS n),
           same AS (SELECT f.n, i.* FROM f JOIN crm.time_intervals i
                      ON i.task = f.task AND i.person IS NOT DISTINCT FROM f.person AND i.started_at = f.s
                    QUALIFY row_number() OVER (PARTITION BY f.n ORDER BY i.id) = 1),
           hit AS (SELECT f.n, i.* FROM f LEFT JOIN same ON same.n = f.n JOIN crm.time_intervals i
                     ON i.person IS NOT DISTINCT FROM f.person AND i.id IS DISTINCT FROM same.id
                    AND (i.ended_at IS NULL OR i.ended_at > f.s) AND i.started_at < f.e
                   QUALIFY row_number() OVER (PARTITION BY f.n ORDER BY i.started_at, i.id) = 1)
           SELECT true AS same, * FROM same UNION ALL SELECT false, * FROM hit""",
        [tasks, people, starts, ends, len(spans)],
    )
    names = [d[0] for d in cursor.description][2:]
    found: tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]] = ({}, {})
    for same, n, *row in cursor.fetchall():
        found[0 if same else 1][int(n)] = dict(zip(names, row, strict=True))
    return found


def add_intervals(conn: Any, rows: Sequence[tuple[str, str | None, dt.datetime, dt.datetime, str | None]]) -> None:
    """Log closed intervals (task, person, start, end, note) from an import, numbered in their order; one
    statement."""
    insert_many(conn, "crm.time_intervals", ("task", "person", "started_at", "ended_at", "note", "source"),
                [(*row, "import") for row in rows])  # fmt: skip


def correct_intervals(conn: Any, changes: Sequence[tuple[int, dt.datetime, str | None]]) -> None:
    """Set the end and note of intervals by id: (id, end, note); one statement."""
    if not changes:
        return
    ids, ends, notes = (list(column) for column in zip(*changes, strict=True))
    conn.execute(
        """UPDATE crm.time_intervals SET ended_at = u.e, note = u.note
           FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::TIMESTAMPTZ[]) AS e, unnest(?::VARCHAR[]) AS note) u
           WHERE crm.time_intervals.id = u.id""",
        [ids, ends, notes],
    )
