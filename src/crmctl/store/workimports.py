"""What an import of tasks reads beyond the task store's look-ups (crmctl.store.projects): the last task number,
and the tasks a file updates, as stored, in one query."""

from __future__ import annotations

from typing import Any


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
