"""Projects, tasks, their dependencies and time intervals."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crmctl.store.db import insert_many

OPEN = ("todo", "in_progress")
# The columns of crm.tasks that add_task and update_task write. What a task shows is another thing:
# crmctl.ops.projects.TaskRow, whose fields are read by name from the rows of tasks() below.
TASK_COLUMNS = (
    "id",
    "number",
    "project",
    "record",
    "template_task",
    "title",
    "description",
    "type",
    "subtype",
    "assignee",
    "watchers",
    "priority",
    "estimate_minutes",
    "due_at",
    "start_after",
    "start_after_why",
    "status",
    "created_at",
    "created_by",
    "started_at",
    "finished_at",
    "external_id",
)


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# The seconds an interval counts (alias i): a running one up to the instant bound in its place (the command's
# now), or not at all where that is NULL.
_SPENT = "date_diff('second', i.started_at, coalesce(i.ended_at, greatest(CAST(? AS TIMESTAMPTZ), i.started_at)))"


def _next(conn: Any, table: str) -> int:
    row = conn.execute(f"SELECT coalesce(max(number), 0) + 1 FROM crm.{table}").fetchone()
    return int(row[0])


# Projects


def add_project(conn: Any, project: Mapping[str, Any]) -> str:
    number = _next(conn, "projects")
    pid = f"P-{number}"
    conn.execute(
        "INSERT INTO crm.projects (id, number, title, parent, record, template, params, priority, created_at, "
        "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pid,
            number,
            project["title"],
            project.get("parent"),
            project.get("record"),
            project.get("template"),
            json.dumps(project["params"], ensure_ascii=False) if project.get("params") is not None else None,
            project.get("priority"),
            project["created_at"],
            project.get("created_by"),
        ],
    )
    return pid


def project(conn: Any, pid: str) -> dict[str, Any] | None:
    found = _rows(conn.execute("SELECT * FROM crm.projects WHERE id = ?", [pid]))
    return found[0] if found else None


# The columns of crm.projects that update_project writes.
PROJECT_COLUMNS = ("title", "priority", "due_at")


def update_project(conn: Any, pid: str, values: Mapping[str, Any]) -> None:
    names = [c for c in values if c in PROJECT_COLUMNS]
    assignments = ", ".join(f"{c} = ?" for c in names)
    conn.execute(f"UPDATE crm.projects SET {assignments} WHERE id = ?", [*(values[c] for c in names), pid])


def root_project_by_title(conn: Any, title: str, parent: str | None) -> str | None:
    row = conn.execute(
        "SELECT id FROM crm.projects WHERE title = ? AND parent IS NOT DISTINCT FROM ? ORDER BY number LIMIT 1",
        [title, parent],
    ).fetchone()
    return row[0] if row else None


def projects(conn: Any, *, parent: str | None = None, record: str | None = None) -> list[dict[str, Any]]:
    """Projects with their task counts; parent/record filter when given."""
    clauses, params = [], []
    if parent is not None:
        clauses.append("p.parent = ?")
        params.append(parent)
    if record is not None:
        clauses.append("p.record = ?")
        params.append(record)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return _rows(
        conn.execute(
            "SELECT p.number, p.id, p.title, p.parent, p.record, p.template, p.priority, p.created_at, p.created_by, "
            "count(t.id) AS tasks, count(t.id) FILTER (WHERE t.status = 'done') AS done, "
            "count(t.id) FILTER (WHERE t.status IN ('todo', 'in_progress')) AS open "
            f"FROM crm.projects p LEFT JOIN crm.tasks t ON t.project = p.id {where} GROUP BY ALL ORDER BY p.number",
            params,
        )
    )


def project_tree(conn: Any, pid: str) -> list[str]:
    """A project and all its subprojects, at any depth."""
    cursor = conn.execute(
        "WITH RECURSIVE tree(id) AS (SELECT ?::VARCHAR UNION ALL "
        "SELECT p.id FROM crm.projects p JOIN tree ON p.parent = tree.id) SELECT id FROM tree",
        [pid],
    )
    return [row[0] for row in cursor.fetchall()]


# Tasks


def add_task(conn: Any, task: Mapping[str, Any]) -> str:
    number = _next(conn, "tasks")
    tid = f"T-{number}"
    values = {**task, "id": tid, "number": number}
    columns = [c for c in TASK_COLUMNS if c in values]
    conn.execute(
        f"INSERT INTO crm.tasks ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [values[c] for c in columns],
    )
    return tid


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


def task(conn: Any, tid: str, now: dt.datetime | None = None) -> dict[str, Any] | None:
    found = tasks(conn, ids=[tid], now=now)
    return found[0] if found else None


def tasks(
    conn: Any,
    *,
    ids: list[str] | None = None,
    assignee: str | None = None,
    projects: list[str] | None = None,
    records: list[str] | None = None,
    status: list[str] | None = None,
    type_: str | None = None,
    now: dt.datetime | None = None,
    process: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Tasks with their dependencies, open blockers and actual minutes (closed intervals, and a running timer
    up to now when now is given); process: (form, process) keeps the tasks of that form's records in that
    process."""
    clauses: list[str] = []
    params: list[Any] = [now]
    for column, values in (("t.id", ids), ("t.project", projects), ("t.record", records), ("t.status", status)):
        if values is not None and not values:
            return []  # none of no ids: the query's planning alone costs some 10 ms
        if values is not None:
            clauses.append(f"list_contains(?, {column})")
            params.append(list(values))
    if assignee is not None:
        clauses.append("t.assignee = ?")
        params.append(assignee)
    if type_ is not None:
        clauses.append("t.type = ?")
        params.append(type_)
    if process is not None:
        from crmctl.store.db import quote

        clauses.append(f"t.record IN (SELECT key FROM {quote(process[0])} WHERE process = ?)")
        params.append(process[1])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return _rows(
        conn.execute(
            f"""SELECT t.*,
                  coalesce((SELECT list(d.depends_on ORDER BY d.depends_on) FROM crm.task_dependencies d
                            WHERE d.task = t.id), []) AS depends_on,
                  coalesce((SELECT list(d.depends_on ORDER BY d.depends_on) FROM crm.task_dependencies d
                            JOIN crm.tasks b ON b.id = d.depends_on
                            WHERE d.task = t.id AND b.status NOT IN ('done', 'cancelled')), []) AS blocked_by,
                  coalesce((SELECT sum({_SPENT}) FROM crm.time_intervals i
                            WHERE i.task = t.id), 0) / 60.0 AS actual_minutes
                FROM crm.tasks t {where} ORDER BY t.number""",
            params,
        )
    )


def due_tasks(conn: Any, person: str | None, until: dt.datetime) -> list[dict[str, Any]]:
    """Open tasks with a due date before until (a person's, or everyone's)."""
    clauses = ["status IN ('todo', 'in_progress')", "due_at IS NOT NULL", "due_at < ?"]
    params: list[Any] = [until]
    if person is not None:
        clauses.append("assignee = ?")
        params.append(person)
    return _rows(
        conn.execute(
            f"SELECT id, title, record, assignee, due_at FROM crm.tasks WHERE {' AND '.join(clauses)} ORDER BY due_at",
            params,
        )
    )


# The queue's order (crmctl.domain.schedule.queue_key) in SQL, near enough: the schedule sorts the rows itself.
_QUEUE_ORDER = {
    "project_priority": "coalesce(p.priority, 3)",
    "priority": "coalesce(t.priority, 3)",
    "due": "t.due_at NULLS LAST",
    "created": "t.created_at",
}


def open_work(conn: Any, order: Iterable[str] = (), now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every open task with what the schedule needs: its project's priority, its open dependencies and the
    minutes already spent on it (a running timer's up to now). created_at comes as epoch microseconds: the
    schedule only orders by it.
    The rows come in queue order, tasks in progress first, then `order` (names of the workspace's
    queue_order), then the number: the schedule sorts them again, which costs little when they come sorted,
    and then meets them in memory in about the order it works on them."""
    keys = ["t.status <> 'in_progress'", *(_QUEUE_ORDER[name] for name in order if name in _QUEUE_ORDER), "t.number"]
    return _rows(
        conn.execute(
            f"""WITH spent AS (  -- the intervals of open tasks only: those of done ones are most of them
                   SELECT i.task, sum({_SPENT}) / 60.0 AS minutes FROM crm.time_intervals i
                   WHERE i.task IN (SELECT id FROM crm.tasks WHERE status IN ('todo', 'in_progress'))
                   GROUP BY i.task),
               deps AS (
                   SELECT d.task, list(d.depends_on ORDER BY d.depends_on) AS depends_on
                   FROM crm.task_dependencies d JOIN crm.tasks b ON b.id = d.depends_on
                   WHERE b.status IN ('todo', 'in_progress') GROUP BY d.task)
               SELECT t.id, t.number, t.title, t.status, t.assignee, t.estimate_minutes, t.priority, t.due_at,
                      t.start_after, t.start_after_why, epoch_us(t.created_at) AS created_at, t.project, t.record,
                      p.priority AS project_priority,
                      coalesce(s.minutes, 0) AS actual_minutes, coalesce(deps.depends_on, []) AS depends_on
               FROM crm.tasks t LEFT JOIN crm.projects p ON p.id = t.project
               LEFT JOIN spent s ON s.task = t.id LEFT JOIN deps ON deps.task = t.id
               WHERE t.status IN ('todo', 'in_progress')
               ORDER BY {", ".join(keys)}""",
            [now],
        )
    )


def update_task(conn: Any, tid: str, values: Mapping[str, Any]) -> None:
    assignments = ", ".join(f"{c} = ?" for c in values if c in TASK_COLUMNS)
    conn.execute(f"UPDATE crm.tasks SET {assignments} WHERE id = ?", [*(values[c] for c in values), tid])


def add_dependency(conn: Any, tid: str, depends_on: str) -> None:
    conn.execute("INSERT OR IGNORE INTO crm.task_dependencies VALUES (?, ?)", [tid, depends_on])


def remove_dependency(conn: Any, tid: str, depends_on: str) -> bool:
    rows = conn.execute(
        "DELETE FROM crm.task_dependencies WHERE task = ? AND depends_on = ? RETURNING task", [tid, depends_on]
    ).fetchall()
    return bool(rows)


def dependency_graph(conn: Any) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for task_id, dep in conn.execute("SELECT task, depends_on FROM crm.task_dependencies ORDER BY 1, 2").fetchall():
        graph.setdefault(task_id, []).append(dep)
    return graph


def dependents(conn: Any, tid: str) -> list[str]:
    rows = conn.execute("SELECT task FROM crm.task_dependencies WHERE depends_on = ? ORDER BY task", [tid])
    return [row[0] for row in rows.fetchall()]


def queued_minutes(conn: Any, people: Iterable[str], now: dt.datetime | None = None) -> dict[str, float]:
    """Work each person still has queued: estimates of open tasks less the time already spent on them (a
    running timer's up to now)."""
    rows = conn.execute(
        f"""SELECT t.assignee, sum(greatest(coalesce(t.estimate_minutes, 0) - coalesce(
                (SELECT sum({_SPENT}) / 60.0 FROM crm.time_intervals i WHERE i.task = t.id), 0), 0))
           FROM crm.tasks t WHERE t.status IN ('todo', 'in_progress') AND list_contains(?, t.assignee)
           GROUP BY t.assignee""",
        [now, list(people)],
    ).fetchall()
    return {person: float(minutes or 0) for person, minutes in rows}


# Time intervals


def open_interval(conn: Any, person: str | None) -> dict[str, Any] | None:
    found = _rows(
        conn.execute(
            "SELECT * FROM crm.time_intervals WHERE ended_at IS NULL AND person IS NOT DISTINCT FROM ? "
            "ORDER BY started_at DESC LIMIT 1",
            [person],
        )
    )
    return found[0] if found else None


def running_intervals(conn: Any, person: str | None = None) -> list[dict[str, Any]]:
    """Running timers (a person's, or everyone's) with their task's title and record, oldest first."""
    where = "AND i.person = ?" if person is not None else ""
    return _rows(
        conn.execute(
            "SELECT i.*, t.title, t.record FROM crm.time_intervals i JOIN crm.tasks t ON t.id = i.task "
            f"WHERE i.ended_at IS NULL {where} ORDER BY i.started_at, i.id",
            [person] if person is not None else [],
        )
    )


def open_intervals_of_task(conn: Any, tid: str) -> list[dict[str, Any]]:
    return _rows(conn.execute("SELECT * FROM crm.time_intervals WHERE ended_at IS NULL AND task = ?", [tid]))


def start_interval(conn: Any, tid: str, person: str | None, at: dt.datetime, source: str = "timer") -> int:
    row = conn.execute(
        "INSERT INTO crm.time_intervals (task, person, started_at, source) VALUES (?, ?, ?, ?) RETURNING id",
        [tid, person, at, source],
    ).fetchone()
    return int(row[0])


def close_interval(conn: Any, interval_id: int, at: dt.datetime) -> None:
    conn.execute("UPDATE crm.time_intervals SET ended_at = ? WHERE id = ?", [at, interval_id])


def log_interval(
    conn: Any,
    tid: str,
    person: str | None,
    start: dt.datetime,
    end: dt.datetime,
    note: str | None,
    source: str = "log",
) -> int:
    row = conn.execute(
        "INSERT INTO crm.time_intervals (task, person, started_at, ended_at, note, source) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [tid, person, start, end, note, source],
    ).fetchone()
    return int(row[0])


def intervals(
    conn: Any,
    *,
    person: str | None = None,
    task: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Intervals that overlap [since, until), oldest first, with the task's title."""
    clauses: list[str] = []
    params: list[Any] = []
    if person is not None:
        clauses.append("i.person = ?")
        params.append(person)
    if task is not None:
        clauses.append("i.task = ?")
        params.append(task)
    if since is not None:
        clauses.append("(i.ended_at IS NULL OR i.ended_at > ?)")
        params.append(since)
    if until is not None:
        clauses.append("i.started_at < ?")
        params.append(until)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return _rows(
        conn.execute(
            "SELECT i.id, i.task, t.title, i.person, i.started_at, i.ended_at, i.note, i.source "
            f"FROM crm.time_intervals i JOIN crm.tasks t ON t.id = i.task {where} ORDER BY i.started_at, i.id",
            params,
        )
    )


def task_events(conn: Any, tid: str) -> list[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT id, occurred_at, actor, action, data FROM crm.events "  # the text search first: it is cheap
        "WHERE contains(data, '\"' || ? || '\"') AND json_extract_string(data, '$.task') = ? ORDER BY occurred_at, id",
        [tid, tid],
    )
    return [
        {"id": i, "at": at, "actor": actor, "action": action, "data": json.loads(data) if data else {}}
        for i, at, actor, action, data in cursor.fetchall()
    ]


def records_referring_to(conn: Any, sources: list[tuple[str, str]], key: str) -> list[tuple[str, str]]:
    """(form, key) of records whose ref column points at key; sources are (form table, column) pairs."""
    from crmctl.store.db import quote

    found: list[tuple[str, str]] = []
    for form, column in sources:
        rows = conn.execute(f"SELECT key FROM {quote(form)} WHERE {quote(column)} = ? ORDER BY number", [key])
        found.extend((form, row[0]) for row in rows.fetchall())
    return found


def launched_for(conn: Any, record: str, template: str) -> str | None:
    """The first project launched from the template for the record, or None."""
    row = conn.execute(
        "SELECT arg_min(id, number) FROM crm.projects WHERE record = ? AND template = ?", [record, template]
    ).fetchone()
    return row[0] if row else None


def projects_under(conn: Any, records: list[str]) -> list[str]:
    """The ids of the projects of these records and of all their subprojects, at every level."""
    rows = conn.execute(
        """WITH RECURSIVE tree(id) AS (
            SELECT id FROM crm.projects WHERE list_contains(?, record)
            UNION SELECT p.id FROM crm.projects p JOIN tree ON p.parent = tree.id)
        SELECT id FROM tree ORDER BY id""",
        [records],
    ).fetchall()
    return [r[0] for r in rows]


def rollup(
    conn: Any, source: str, via: str, aggregate: str, column: str | None, key: str, keys: list[str] | None = None
) -> Any:
    """The aggregate over the records of `source` whose `via` is key (only those of `keys`, when given)."""
    from crmctl.store.db import quote

    func = {"sum": "sum", "count": "count", "min": "min", "max": "max", "avg": "avg"}[aggregate]
    target = quote(column) if column else "*"
    if aggregate == "count" and column:
        target = quote(column)
    sql = f"SELECT {func}({target}) FROM {quote(source)} WHERE {quote(via)} = ?"
    params: list[Any] = [key]
    if keys is not None:
        sql += " AND key IN (SELECT unnest(?::VARCHAR[]))"
        params.append(keys)
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def external_ids(conn: Any) -> dict[str, str]:
    """external id -> task id, for the tasks that came from a file."""
    rows = conn.execute("SELECT external_id, id FROM crm.tasks WHERE external_id IS NOT NULL").fetchall()
    return dict(rows)


def task_ids(conn: Any) -> set[str]:
    return {row[0] for row in conn.execute("SELECT id FROM crm.tasks").fetchall()}


def task_assignees(conn: Any) -> dict[str, str | None]:
    """task id -> its assignee (None for a task given to nobody), for every task."""
    return dict(conn.execute("SELECT id, assignee FROM crm.tasks").fetchall())


def project_ids(conn: Any) -> set[str]:
    return {row[0] for row in conn.execute("SELECT id FROM crm.projects").fetchall()}


def dependencies_of(conn: Any, tid: str) -> list[str]:
    rows = conn.execute("SELECT depends_on FROM crm.task_dependencies WHERE task = ? ORDER BY 1", [tid]).fetchall()
    return [row[0] for row in rows]


def find_interval(conn: Any, tid: str, person: str | None, start: dt.datetime) -> dict[str, Any] | None:
    rows = _rows(
        conn.execute(
            "SELECT * FROM crm.time_intervals WHERE task = ? AND person IS NOT DISTINCT FROM ? AND started_at = ?",
            [tid, person, start],
        )
    )
    return rows[0] if rows else None


def update_interval(conn: Any, interval_id: int, ended_at: dt.datetime, note: str | None) -> None:
    conn.execute("UPDATE crm.time_intervals SET ended_at = ?, note = ? WHERE id = ?", [ended_at, note, interval_id])


def interval(conn: Any, interval_id: int) -> dict[str, Any] | None:
    rows = _rows(conn.execute("SELECT * FROM crm.time_intervals WHERE id = ?", [interval_id]))
    return rows[0] if rows else None


def set_interval(
    conn: Any, interval_id: int, started_at: dt.datetime, ended_at: dt.datetime | None, note: str | None
) -> None:
    conn.execute(
        "UPDATE crm.time_intervals SET started_at = ?, ended_at = ?, note = ? WHERE id = ?",
        [started_at, ended_at, note, interval_id],
    )


def delete_interval(conn: Any, interval_id: int) -> None:
    conn.execute("DELETE FROM crm.time_intervals WHERE id = ?", [interval_id])


def overlapping(
    conn: Any, person: str | None, start: dt.datetime, end: dt.datetime | None, besides: Iterable[int] = ()
) -> dict[str, Any] | None:
    """The person's first interval, other than those of ids `besides`, that shares time with [start, end)
    (end None: open, as a running timer's; so is a running interval's end)."""
    rows = _rows(
        conn.execute(
            """SELECT * FROM crm.time_intervals
               WHERE person IS NOT DISTINCT FROM ? AND NOT list_contains(?, id)
                 AND (ended_at IS NULL OR ended_at > ?) AND (CAST(? AS TIMESTAMPTZ) IS NULL OR started_at < ?)
               ORDER BY started_at, id LIMIT 1""",
            [person, list(besides), start, end, end],
        )
    )
    return rows[0] if rows else None
