"""Sprints: time boxes of tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def add(
    conn: Any, name: str, starts: dt.date, ends: dt.date, goal: str | None, now: dt.datetime, by: str | None
) -> None:
    conn.execute("INSERT INTO crm.sprints VALUES (?, ?, ?, ?, ?, ?)", [name, starts, ends, goal, now, by])


def get(conn: Any, name: str) -> dict[str, Any] | None:
    rows = _rows(conn.execute("SELECT * FROM crm.sprints WHERE name = ?", [name]))
    return rows[0] if rows else None


def sprints(conn: Any) -> list[dict[str, Any]]:
    """Every sprint with its task counts and hours, latest first."""
    return _rows(
        conn.execute(
            """SELECT s.name, s.starts_on, s.ends_on, s.goal, count(st.task) AS tasks,
                      count(st.task) FILTER (WHERE t.status = 'done') AS done
               FROM crm.sprints s LEFT JOIN crm.sprint_tasks st ON st.sprint = s.name
               LEFT JOIN crm.tasks t ON t.id = st.task
               GROUP BY ALL ORDER BY s.starts_on DESC, s.name"""
        )
    )


def sprint_of(conn: Any, task: str) -> str | None:
    row = conn.execute("SELECT sprint FROM crm.sprint_tasks WHERE task = ?", [task]).fetchone()
    return row[0] if row else None


def put(conn: Any, task: str, sprint: str, now: dt.datetime, by: str | None) -> None:
    """Put a task in a sprint (out of the one it was in)."""
    conn.execute("DELETE FROM crm.sprint_tasks WHERE task = ?", [task])
    conn.execute("INSERT INTO crm.sprint_tasks VALUES (?, ?, ?, ?)", [task, sprint, now, by])


def take_out(conn: Any, task: str) -> bool:
    return bool(conn.execute("DELETE FROM crm.sprint_tasks WHERE task = ? RETURNING task", [task]).fetchall())


def tasks(conn: Any, sprint: str) -> list[dict[str, Any]]:
    """A sprint's tasks with estimate, time spent (closed intervals) and what is left."""
    return _rows(
        conn.execute(
            """SELECT t.id, t.title, t.status, t.assignee, t.type, t.estimate_minutes,
                      coalesce(tt.actual_minutes, 0) AS actual_minutes,
                      CASE WHEN t.status IN ('done', 'cancelled') THEN 0
                           ELSE greatest(coalesce(t.estimate_minutes, 0) - coalesce(tt.actual_minutes, 0), 0)
                      END AS remaining_minutes, t.due_at
               FROM crm.sprint_tasks st JOIN crm.tasks t ON t.id = st.task
               LEFT JOIN crm.task_times tt ON tt.task = t.id
               WHERE st.sprint = ? ORDER BY t.number""",
            [sprint],
        )
    )


def task_ids(conn: Any, sprint: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT task FROM crm.sprint_tasks WHERE sprint = ?", [sprint]).fetchall()}
