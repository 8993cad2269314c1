"""crmctl import tasks|time: work from another tool, checked row by row, written all at once or not at all.

A task file names its tasks by its own ids (column `id`, or `external_id`); crmctl keeps them, so dependencies
can name them and a second import of the same file finds the tasks it made. A row whose id is a crmctl task
id (T-12, as `crmctl export tasks` writes) updates that task. Time intervals are found again by task, person
and start.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from typing import Any

from crmctl.domain.durations import parse_duration
from crmctl.domain.events import Event
from crmctl.domain.graph import find_cycle
from crmctl.domain.imports import Outcome, Problem
from crmctl.domain.projects import STATUSES
from crmctl.domain.values import parse_datetime
from crmctl.errors import InputError
from crmctl.ops.imports import ImportOptions, Progress, stage
from crmctl.ops.projects import project_path
from crmctl.ops.session import Session
from crmctl.store import imports as import_store
from crmctl.store import projects as store
from crmctl.store import records as record_store

TASK_COLUMNS = {
    "id": "id",
    "external_id": "external_id",
    "title": "title",
    "project": "project",
    "record": "record",
    "assignee": "assignee",
    "estimate": "estimate",
    "estimate_minutes": "estimate_minutes",
    "priority": "priority",
    "due": "due",
    "due_at": "due",
    "type": "type",
    "subtype": "subtype",
    "description": "description",
    "depends_on": "depends_on",
    "watchers": "watchers",
    "status": "status",
}
TIME_COLUMNS = {
    "task": "task",
    "person": "person",
    "started_at": "started_at",
    "ended_at": "ended_at",
    "minutes": "minutes",
    "note": "note",
}
IGNORED = {"created_at", "started_at", "finished_at", "id", "source"}  # written by crmctl itself
_TASK_ID = re.compile(r"^T-[1-9][0-9]*$")
_PROJECT_ID = re.compile(r"^P-[1-9][0-9]*$")
_COMPARED = (
    "title",
    "project",
    "record",
    "assignee",
    "estimate_minutes",
    "priority",
    "due_at",
    "type",
    "subtype",
    "description",
    "watchers",
    "status",
)


class _Rollback(Exception):
    pass


def _columns(headers: list[str], known: dict[str, str], ignored: set[str], what: str) -> dict[str, int]:
    found: dict[str, int] = {}
    unknown = []
    for index, header in enumerate(headers):
        name = header.strip().casefold()
        if name in known:
            found.setdefault(known[name], index)
        elif name not in ignored:
            unknown.append(header)
    if unknown:
        listed = ", ".join(sorted(set(known)))
        raise InputError(f"{what} files have no column {', '.join(repr(u) for u in unknown)} (columns: {listed})")
    return found


def _rows(
    session: Session,
    opts: ImportOptions,
    tmp: str,
    progress: Progress | None,
    known: dict[str, str],
    ignored: set[str],
    what: str,
) -> list[tuple[int, dict[str, str | None]]]:
    headers, row_number = stage(session, opts, tmp, progress)
    columns = _columns(headers, known, ignored, what)
    staged = import_store.staged_rows(session.conn, row_number, len(headers))
    return [(row, {name: cells[i] for name, i in columns.items()}) for row, cells in staged]


def _when(text: str, tz: str) -> dt.datetime:
    value = parse_datetime(text)
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo(tz))
    return value


def _finish(session: Session, opts: ImportOptions, outcome: Outcome, kind: str, write: Any) -> Outcome:
    """Write (unless a dry run or, with abort, any problem) in one transaction, with the crm.imports row."""
    outcome.rejected = len({p.row for p in outcome.problems})
    if outcome.problems and opts.on_error == "abort":
        return outcome
    try:
        with session.transaction() as conn:
            write(conn)
            if not (outcome.created or outcome.updated):
                raise _Rollback  # an import that changes nothing leaves no trace either
            outcome.import_id = import_store.record_batch(
                conn,
                {
                    "kind": kind,
                    "source": opts.path.name,
                    "actor": session.actor,
                    "imported_at": session.now,
                    "created": outcome.created,
                    "updated": outcome.updated,
                    "unchanged": outcome.unchanged,
                    "rejected": outcome.rejected,
                },
                None,
            )
            if opts.dry_run:
                raise _Rollback
    except _Rollback:
        outcome.import_id = None
    return outcome


def import_tasks(session: Session, opts: ImportOptions, progress: Progress | None = None) -> Outcome:
    session.require("tasks.add", "add tasks")
    outcome = Outcome(source=opts.path.name, dry_run=opts.dry_run)
    conn, defs = session.conn, session.defs
    with tempfile.TemporaryDirectory(prefix="crmctl-import-") as tmp:
        rows = _rows(session, opts, tmp, progress, TASK_COLUMNS, IGNORED - {"id"}, "task")
    outcome.rows = len(rows)
    existing_ids, by_external = store.task_ids(conn), store.external_ids(conn)
    projects = store.project_ids(conn)
    seen: dict[str, int] = {}
    next_number = int(conn.execute("SELECT coalesce(max(number), 0) FROM crm.tasks").fetchone()[0])
    planned: list[dict[str, Any]] = []  # one per good row: the task's id, whether new, its values, deps
    problems = outcome.problems

    def bad(row: int, column: str, value: Any, message: str) -> None:
        problems.append(Problem(row, column, value, message))

    ids_of_rows: dict[str, str] = {}  # the file's ids -> task ids (existing or to be created)
    for row, cells in rows:
        ext = cells.get("external_id") or cells.get("id")
        if ext is not None and ext in seen:
            bad(row, "id", ext, f"appears twice in the file (rows {seen[ext]} and {row})")
            continue
        if ext is not None:
            seen[ext] = row
        if ext is not None and ext.upper() in existing_ids and _TASK_ID.match(ext.upper()):
            tid, new = ext.upper(), False
        elif ext is not None and ext in by_external:
            tid, new = by_external[ext], False
        else:
            next_number += 1
            tid, new = f"T-{next_number}", True
        if ext is not None:
            ids_of_rows[ext] = tid
        planned.append({"row": row, "id": tid, "new": new, "external_id": ext if new else None, "cells": cells})
    graph = store.dependency_graph(conn)
    named = {(c.get("record") or "").strip().upper() for _, c in rows} - {""}
    records = record_store.existing_keys(conn, None, sorted(named))  # one lookup for the whole file
    writes: list[dict[str, Any]] = []
    for item in planned:
        row, cells = item["row"], item["cells"]
        count = len(problems)
        values: dict[str, Any] = {}
        title = (cells.get("title") or "").strip()
        if item["new"] and not title:
            bad(row, "title", None, "a task needs a title")
        if title:
            values["title"] = title
        for column in ("description", "type", "subtype"):
            if column in cells:
                values[column] = cells[column]
        if "project" in cells:
            project = cells["project"]
            if project is None or (_PROJECT_ID.match(project.upper()) and project.upper() in projects):
                values["project"] = project.upper() if project else None
            else:
                values["project_title"] = project
        if "record" in cells:
            key = cells["record"].strip().upper() if cells["record"] else None
            if key is not None and key not in records:
                bad(row, "record", cells["record"], f"no record {key}")
            values["record"] = key
        for column in ("assignee",):
            if column in cells:
                who = cells[column]
                if who and defs.has_team and who not in defs.people:
                    bad(row, column, who, f"no person '{who}' in the team")
                values[column] = who
        if "watchers" in cells:
            names = re.split(r"[\s,]+", cells["watchers"] or "")
            names = [n for n in names if n]
            for who in names:
                if defs.has_team and who not in defs.people:
                    bad(row, "watchers", who, f"no person '{who}' in the team")
            values["watchers"] = names
        if cells.get("estimate_minutes") is not None:
            try:
                minutes = float(cells["estimate_minutes"])
                if minutes <= 0 or minutes != int(minutes):
                    raise ValueError
                values["estimate_minutes"] = int(minutes)
            except ValueError:
                bad(row, "estimate_minutes", cells["estimate_minutes"], "is not a whole number of minutes above 0")
        elif cells.get("estimate") is not None:
            try:
                values["estimate_minutes"] = parse_duration(cells["estimate"], defs.hours_per_day)
            except ValueError as exc:
                bad(row, "estimate", cells["estimate"], str(exc))
        elif "estimate" in cells or "estimate_minutes" in cells:
            values["estimate_minutes"] = None
        if "priority" in cells:
            text = cells["priority"] or "3"
            if text.strip() not in ("1", "2", "3", "4", "5"):
                bad(row, "priority", text, "priority is 1 (highest) to 5")
            else:
                values["priority"] = int(text)
        if "due" in cells:
            text = cells["due"]
            try:
                if text is None:
                    values["due_at"] = None
                elif len(text.strip()) == 10:
                    values["due_at"] = _when(text.strip() + "T23:59", defs.timezone)
                else:
                    values["due_at"] = _when(text, defs.timezone)
            except ValueError as exc:
                bad(row, "due", text, str(exc))
        if "status" in cells:
            status = (cells["status"] or "todo").strip()
            if status not in STATUSES:
                bad(row, "status", status, f"status is one of {', '.join(STATUSES)}")
            values["status"] = status
        deps: list[str] | None = None
        if "depends_on" in cells:
            deps = []
            for token in re.split(r"[\s,]+", cells["depends_on"] or ""):
                if not token:
                    continue
                target = ids_of_rows.get(token) or by_external.get(token)
                if target is None and token.upper() in existing_ids:
                    target = token.upper()
                if target is None:
                    bad(row, "depends_on", token, "no task with this id in the file or the database")
                else:
                    deps.append(target)
            graph[item["id"]] = sorted(set(deps))
        if len(problems) == count:
            writes.append({**item, "values": values, "deps": deps})
    cycle = find_cycle(graph)
    if cycle:
        rows_of = {w["id"]: w["row"] for w in writes}
        row = next((rows_of[t] for t in cycle if t in rows_of), None)
        bad(row or 0, "depends_on", None, "dependency cycle: " + " -> ".join(cycle))
        writes = [w for w in writes if w["id"] not in cycle]
    problems.sort(key=lambda p: p.row or 0)

    def write(conn: Any) -> None:

        for item in writes:
            values = dict(item["values"])
            if "project_title" in values:
                parent, title = project_path(session, conn, values.pop("project_title"), None)
                pid = store.root_project_by_title(conn, title, parent)
                if pid is None:
                    pid = store.add_project(
                        conn, {"title": title, "parent": parent, "created_at": session.now, "created_by": session.actor}
                    )
                values["project"] = pid
            if item["new"]:
                row = {
                    "priority": 3,
                    "status": "todo",
                    "watchers": [],
                    **values,
                    "external_id": item["external_id"],
                    "created_at": session.now,
                    "created_by": session.actor,
                }
                tid = store.add_task(conn, row)
                for dep in item["deps"] or []:
                    store.add_dependency(conn, tid, dep)
                record_store.add_event(
                    conn,
                    session.now,
                    session.actor,
                    Event.TASK_CREATED,
                    record=row.get("record"),
                    data={
                        "task": tid,
                        "title": row["title"],
                        "assignee": row.get("assignee"),
                        "depends_on": item["deps"] or [],
                        "source": opts.path.name,
                    },
                )
                outcome.created += 1
                continue
            current = store.task(conn, item["id"])
            changes = {k: [current.get(k), v] for k, v in values.items() if k in _COMPARED and current.get(k) != v}
            old_deps = store.dependencies_of(conn, item["id"])
            dep_change = item["deps"] is not None and sorted(item["deps"]) != old_deps
            if not changes and not dep_change:
                outcome.unchanged += 1
                continue
            if changes:
                store.update_task(conn, item["id"], {k: v for k, (_, v) in changes.items()})
            if dep_change:
                for dep in set(old_deps) - set(item["deps"]):
                    store.remove_dependency(conn, item["id"], dep)
                for dep in set(item["deps"]) - set(old_deps):
                    store.add_dependency(conn, item["id"], dep)
                changes["depends_on"] = [old_deps, sorted(item["deps"])]
            record_store.add_event(
                conn,
                session.now,
                session.actor,
                Event.TASK_UPDATED,
                record=current.get("record"),
                data={"task": item["id"], "changes": changes, "source": opts.path.name},
            )
            outcome.updated += 1

    return _finish(session, opts, outcome, "tasks", write)


def import_time(session: Session, opts: ImportOptions, progress: Progress | None = None) -> Outcome:
    session.require("tasks.execute", "log time")
    outcome = Outcome(source=opts.path.name, dry_run=opts.dry_run)
    conn, defs = session.conn, session.defs
    with tempfile.TemporaryDirectory(prefix="crmctl-import-") as tmp:
        rows = _rows(session, opts, tmp, progress, TIME_COLUMNS, {"id", "source"}, "time")
    outcome.rows = len(rows)
    assignees, by_external = store.task_assignees(conn), store.external_ids(conn)
    problems = outcome.problems
    writes = []
    seen: dict[tuple[Any, ...], int] = {}
    for row, cells in rows:
        count = len(problems)
        token = cells.get("task")
        tid = None
        if token is None:
            problems.append(Problem(row, "task", None, "an interval needs a task"))
        else:
            tid = token.upper() if token.upper() in assignees else by_external.get(token)
            if tid is None:
                problems.append(Problem(row, "task", token, "no task with this id"))
        person = cells.get("person") or (assignees.get(tid) if tid else None) or session.actor
        if person and defs.has_team and person not in defs.people:
            problems.append(Problem(row, "person", person, f"no person '{person}' in the team"))
        start = end = None
        try:
            start = _when(cells.get("started_at") or "", defs.timezone)
        except ValueError as exc:
            problems.append(Problem(row, "started_at", cells.get("started_at"), str(exc)))
        if start is not None:
            try:
                if cells.get("ended_at"):
                    end = _when(cells["ended_at"], defs.timezone)
                elif cells.get("minutes"):
                    end = start + dt.timedelta(minutes=float(cells["minutes"]))
                else:
                    problems.append(Problem(row, "ended_at", None, "an interval needs ended_at or minutes"))
            except ValueError as exc:
                problems.append(Problem(row, "ended_at", cells.get("ended_at") or cells.get("minutes"), str(exc)))
        if start is not None and end is not None and end <= start:
            problems.append(Problem(row, "ended_at", cells.get("ended_at"), "ends before it starts"))
        if end is not None and end > session.now:
            problems.append(Problem(row, "ended_at", cells.get("ended_at"), "time cannot be logged in the future"))
        identity = (tid, person, start)
        if len(problems) == count and identity in seen:
            problems.append(
                Problem(
                    row,
                    "started_at",
                    cells.get("started_at"),
                    f"the same task, person and start as row {seen[identity]}",
                )
            )
        if len(problems) == count:
            seen[identity] = row
            writes.append((tid, person, start, end, cells.get("note")))
    if any(p not in (None, session.actor) for tid, person, *_ in writes for p in (person, assignees[tid])):
        session.require("tasks.manage_others", "log time on others' tasks or for others")

    def write(conn: Any) -> None:
        for tid, person, start, end, note in writes:
            found = store.find_interval(conn, tid, person, start)
            if found is None:
                store.log_interval(conn, tid, person, start, end, note, source="import")
                outcome.created += 1
            elif found["ended_at"] != end or found["note"] != note:
                store.update_interval(conn, found["id"], end, note)
                outcome.updated += 1
            else:
                outcome.unchanged += 1

    return _finish(session, opts, outcome, "time", write)
