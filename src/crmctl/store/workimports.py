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
_SPANS = """WITH f AS (SELECT unnest(?::VARCHAR[]) AS task, unnest(?::VARCHAR[]) AS person,
                          unnest(?::TIMESTAMPTZ[]) AS s, unnest(?::TIMESTAMPTZ[]) AS e, unnest(?::BIGINT[]) AS besides,
                          unnest(range(?)) AS n)"""


def _span_lists(spans: Sequence[tuple[str, str | None, dt.datetime, dt.datetime]], besides: list[int]) -> list[Any]:
    return [*(list(column) for column in zip(*spans, strict=True)), besides, len(spans)]


def _by_row(cursor: Any) -> dict[int, dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return {int(row[0]): dict(zip(names[1:], row[1:], strict=True)) for row in cursor.fetchall()}


def intervals_found_again(
    conn: Any, spans: Sequence[tuple[str, str | None, dt.datetime, dt.datetime]]
) -> dict[int, dict[str, Any]]:
    """For each span (by its place in the list) that has one: the stored interval of the same task, person and
    start (the first by id), as its row; one statement."""
    if not spans:
        return {}
    return _by_row(
        conn.execute(
            f"""{_SPANS}
                SELECT f.n, i.* FROM f JOIN crm.time_intervals i
                  ON i.task = f.task AND i.person IS NOT DISTINCT FROM f.person AND i.started_at = f.s
                QUALIFY row_number() OVER (PARTITION BY f.n ORDER BY i.id) = 1""",
            _span_lists(spans, [-1] * len(spans)),
        )
    )


def first_overlaps(
    conn: Any, spans: Sequence[tuple[str, str | None, dt.datetime, dt.datetime]], besides: list[int]
) -> dict[int, dict[str, Any]]:
    """For each span (by its place in the list) that shares time with a stored interval of its person other
    than the one of id besides[place]: the first such interval by start and id, as its row (a running one is
    open-ended), as store.projects.overlapping finds it for one; one statement."""
    if not spans:
        return {}
    return _by_row(
        conn.execute(
            f"""{_SPANS}
                SELECT f.n, i.* FROM f JOIN crm.time_intervals i
                  ON i.person IS NOT DISTINCT FROM f.person AND i.id <> f.besides
                 AND (i.ended_at IS NULL OR i.ended_at > f.s) AND i.started_at < f.e
                QUALIFY row_number() OVER (PARTITION BY f.n ORDER BY i.started_at, i.id) = 1""",
            _span_lists(spans, besides),
        )
    )


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
