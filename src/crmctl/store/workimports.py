"""What an import of tasks reads beyond the task store's look-ups (crmctl.store.projects): the last task number,
and the tasks a file updates, as stored, in one query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmctl.store.db import insert_many
from crmctl.store.projects import TASK_COLUMNS


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


def add_tasks(conn: Any, tasks: Sequence[Mapping[str, Any]]) -> None:
    """Insert tasks, each with its id and number: one statement for each set of columns the tasks give (a
    column a task does not give takes the table's default), the rows passed as columns (db.insert_many)."""
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for task in tasks:
        columns = tuple(c for c in TASK_COLUMNS if c in task)
        groups.setdefault(columns, []).append([task[c] for c in columns])
    for columns, rows in groups.items():
        insert_many(conn, "crm.tasks", columns, rows)


def add_dependencies(conn: Any, pairs: Sequence[tuple[str, str]]) -> None:
    """Insert (task, depends_on) pairs, in one statement; a pair already there is left as it is."""
    unique = list(dict.fromkeys(pairs))
    if not unique:
        return
    conn.execute(
        "INSERT OR IGNORE INTO crm.task_dependencies SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
        [[task for task, _ in unique], [dep for _, dep in unique]],
    )
