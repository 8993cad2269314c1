"""crmctl import tasks|time: work from another tool, checked row by row, written all at once or not at all.

A task file names its tasks by its own ids (column `id`, or `external_id`); crmctl keeps them, so dependencies
can name them and a second import of the same file finds the tasks it made. A row whose id is a crmctl task
id (T-12, as `crmctl export tasks` writes) updates that task. Time intervals are found again by task, person
and start.

A task import goes in phases: the file's rows read (_read), each given its task id (_identify), each checked
and its values converted (_TaskCheck), dependency cycles found (_without_cycles), then the good rows written
(_write_tasks). A time import reads, checks each row alone (_TimeCheck), then all of them against the stored
intervals with one statement and against each other in the file's order (_TimeCheck.against), and writes the
new and the corrected intervals with one statement each.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from crmctl.domain.durations import parse_duration
from crmctl.domain.events import Event
from crmctl.domain.graph import find_cycle
from crmctl.domain.imports import FILES_COLUMN, Outcome, Problem
from crmctl.domain.model import Definitions
from crmctl.domain.projects import STATUSES
from crmctl.domain.values import parse_datetime
from crmctl.errors import InputError
from crmctl.ops import importfiles
from crmctl.ops.attachments import Owner
from crmctl.ops.projects import due_change, project_path, tell_watchers
from crmctl.ops.session import Session
from crmctl.ops.staging import Source, stage
from crmctl.ops.timekeeping import described
from crmctl.store import imports as import_store
from crmctl.store import projects as project_store
from crmctl.store import records as record_store
from crmctl.store import workimports as work_store

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
    "start_after": "start_after",
    "start_after_why": "start_after_why",
    "type": "type",
    "subtype": "subtype",
    "description": "description",
    "depends_on": "depends_on",
    "watchers": "watchers",
    "status": "status",
    FILES_COLUMN: "files",  # an export's list of the task's files: attached again (crmctl.ops.importfiles)
}
TIME_COLUMNS = {
    "task": "task",
    "person": "person",
    "started_at": "started_at",
    "ended_at": "ended_at",
    "minutes": "minutes",
    "note": "note",
}
IGNORED = {"created_at", "started_at", "finished_at", "id", "source", FILES_COLUMN}  # written by crmctl itself
IMPORTED_WHY = "set by an import"  # where a start bound came from when the file does not say
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
    "start_after",
    "start_after_why",
    "type",
    "subtype",
    "description",
    "watchers",
    "status",
)

Cells = dict[str, str | None]  # a row of the file: column (as crmctl names it) -> its text, None when empty
Bad = Callable[[str, Any, str], None]  # a problem of the row at hand: (column, value, message)


class _Rollback(Exception):
    pass


# -- reading and writing, both kinds ---------------------------------------------------------------------------


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


def _read(
    session: Session, source: Source, known: dict[str, str], ignored: set[str], what: str
) -> list[tuple[int, Cells]]:
    """The file's rows: (row in the file, its cells by crmctl's column names)."""
    with tempfile.TemporaryDirectory(prefix="crmctl-import-") as tmp:
        headers, row_number = stage(session, source, tmp)
        columns = _columns(headers, known, ignored, what)
        assert row_number is not None  # a row's number comes as SQL when no fused conversion is offered
        staged = import_store.staged_rows(session.conn, row_number, len(headers))
    return [(row, {name: cells[i] for name, i in columns.items()}) for row, cells in staged]


def _when(text: str, tz: str) -> dt.datetime:
    value = parse_datetime(text)
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo  # here: only a time without its zone needs it

        value = value.replace(tzinfo=ZoneInfo(tz))
    return value


def _finish(
    session: Session, outcome: Outcome, kind: str, write: Callable[[Any], None], *, dry_run: bool, on_error: str
) -> Outcome:
    """Write (unless a dry run or, with abort, any problem) in one transaction, with the crm.imports row."""
    outcome.rejected = len({p.row for p in outcome.problems})
    if outcome.problems and on_error == "abort":
        return outcome
    try:
        with session.transaction() as conn:
            write(conn)
            if not (outcome.created or outcome.updated or outcome.files):
                raise _Rollback  # an import that changes nothing leaves no trace either
            outcome.import_id = import_store.record_batch(
                conn, kind, outcome, actor=session.actor, now=session.now, form=None
            )
            if dry_run:
                raise _Rollback
    except _Rollback:
        outcome.import_id = None
    return outcome


# -- tasks: which task each row is -----------------------------------------------------------------------------


@dataclass
class _Task:
    """A row of a task file: the task it creates or updates, and (once checked) its values and dependencies."""

    row: int
    id: str  # the task's id in crmctl, existing or to be created
    new: bool
    external_id: str | None  # the file's id, kept on a new task
    cells: Cells
    values: dict[str, Any] = field(default_factory=dict)
    deps: list[str] | None = None  # None: the file has no depends_on column


@dataclass
class _Known:
    """What the database holds that a task file's rows are checked against."""

    ids: set[str]  # every task id
    by_external: dict[str, str]  # a file's id -> the task made from it
    projects: set[str]
    graph: dict[str, list[str]]  # task -> the tasks it depends on
    records: set[str] = field(default_factory=set)  # the record keys the file names that exist
    of_rows: dict[str, str] = field(default_factory=dict)  # the file's ids -> task ids (existing or to be made)


def _identify(rows: list[tuple[int, Cells]], known: _Known, last: int, problems: list[Problem]) -> list[_Task]:
    """Each row's task: the crmctl task its id names, or the one made from it before, or a new one (numbered on
    from `last`); an id twice in the file is a problem of the second row."""
    seen: dict[str, int] = {}
    planned = []
    for row, cells in rows:
        ext = cells.get("external_id") or cells.get("id")
        if ext is not None and ext in seen:
            problems.append(Problem(row, "id", ext, f"appears twice in the file (rows {seen[ext]} and {row})"))
            continue
        if ext is not None:
            seen[ext] = row
        if ext is not None and ext.upper() in known.ids and _TASK_ID.match(ext.upper()):
            tid, new = ext.upper(), False
        elif ext is not None and ext in known.by_external:
            tid, new = known.by_external[ext], False
        else:
            last += 1
            tid, new = f"T-{last}", True
        if ext is not None:
            known.of_rows[ext] = tid
        planned.append(_Task(row, tid, new, ext if new else None, cells))
    return planned


# -- tasks: checking each row ----------------------------------------------------------------------------------


class _TaskCheck:
    """The checks of a task row, column by column, in the order its problems are listed; each puts the
    column's value, converted, in the task's values."""

    def __init__(self, defs: Definitions, known: _Known, problems: list[Problem]) -> None:
        self.defs, self.known, self.problems = defs, known, problems
        self.durations: dict[str, int | str] = {}  # an estimate's text -> its minutes, or why it is none

    def __call__(self, task: _Task) -> bool:
        """Whether the row is good (its problems are added to the list)."""
        count, bad = len(self.problems), _bad(task.row, self.problems)
        cells, values = task.cells, task.values
        self.text(task, bad)
        self.links(cells, values, bad)
        self.people(cells, values, bad)
        self.estimate(cells, values, bad)
        self.priority(cells, values, bad)
        self.due(cells, values, bad)
        self.start_bound(cells, values, bad)
        self.status(cells, values, bad)
        self.dependencies(task, bad)
        return len(self.problems) == count

    def text(self, task: _Task, bad: Bad) -> None:
        title = (task.cells.get("title") or "").strip()
        if task.new and not title:
            bad("title", None, "a task needs a title")
        if title:
            task.values["title"] = title
        for column in ("description", "type", "subtype"):
            if column in task.cells:
                task.values[column] = task.cells[column]

    def links(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        """The project (an id, or a title path made if missing) and the record (a key)."""
        if "project" in cells:
            project = cells["project"]
            if project is None or (_PROJECT_ID.match(project.upper()) and project.upper() in self.known.projects):
                values["project"] = project.upper() if project else None
            else:
                values["project_title"] = project
        if "record" in cells:
            given = cells["record"]
            key = given.strip().upper() if given else None
            if key is not None and key not in self.known.records:
                bad("record", given, f"no record {key}")
            values["record"] = key

    def _person(self, who: str, column: str, bad: Bad) -> None:
        if self.defs.has_team and who not in self.defs.people:
            bad(column, who, f"no person '{who}' in the team")

    def people(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        if "assignee" in cells:
            who = cells["assignee"]
            if who:
                self._person(who, "assignee", bad)
            values["assignee"] = who
        if "watchers" in cells:
            names = [n for n in re.split(r"[\s,]+", cells["watchers"] or "") if n]
            for name in names:
                self._person(name, "watchers", bad)
            values["watchers"] = names

    def estimate(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        minutes, estimate = cells.get("estimate_minutes"), cells.get("estimate")
        if minutes is not None:
            try:
                number = float(minutes)
                if number <= 0 or number != int(number):
                    raise ValueError
                values["estimate_minutes"] = int(number)
            except ValueError:
                bad("estimate_minutes", minutes, "is not a whole number of minutes above 0")
        elif estimate is not None:
            if estimate not in self.durations:  # a file repeats its few estimates: each parsed once
                try:
                    self.durations[estimate] = parse_duration(estimate, self.defs.hours_per_day)
                except ValueError as exc:
                    self.durations[estimate] = str(exc)
            minutes_or_why = self.durations[estimate]
            if isinstance(minutes_or_why, str):
                bad("estimate", estimate, minutes_or_why)
            else:
                values["estimate_minutes"] = minutes_or_why
        elif "estimate" in cells or "estimate_minutes" in cells:
            values["estimate_minutes"] = None

    def priority(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        if "priority" in cells:
            text = cells["priority"] or "3"
            if text.strip() not in ("1", "2", "3", "4", "5"):
                bad("priority", text, "priority is 1 (highest) to 5")
            else:
                values["priority"] = int(text)

    def due(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        """A date is due at its end (23:59); a time without its zone is in the workspace's."""
        if "due" not in cells:
            return
        text, tz = cells["due"], self.defs.timezone
        try:
            if text is None:
                values["due_at"] = None
            elif len(text.strip()) == 10:
                values["due_at"] = _when(text.strip() + "T23:59", tz)
            else:
                values["due_at"] = _when(text, tz)
        except ValueError as exc:
            bad("due", text, str(exc))

    def start_bound(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        """The moment the schedule may start the task (a date alone: its start), and where the bound came from
        (an export's start_after_why, else the import)."""
        if "start_after" not in cells:
            return
        text = cells["start_after"]
        try:
            when = (
                None
                if text is None
                else _when(text if len(text.strip()) > 10 else text.strip() + "T00:00", self.defs.timezone)
            )
        except ValueError as exc:
            bad("start_after", text, str(exc))
            return
        values["start_after"] = when
        values["start_after_why"] = (cells.get("start_after_why") or IMPORTED_WHY) if when else None

    def status(self, cells: Cells, values: dict[str, Any], bad: Bad) -> None:
        if "status" in cells:
            status = (cells["status"] or "todo").strip()
            if status not in STATUSES:
                bad("status", status, f"status is one of {', '.join(STATUSES)}")
            values["status"] = status

    def dependencies(self, task: _Task, bad: Bad) -> None:
        """Dependencies by the file's ids or crmctl's; the graph takes the row's edges (for the cycle check)."""
        if "depends_on" not in task.cells:
            return
        known, deps = self.known, []
        for token in re.split(r"[\s,]+", task.cells["depends_on"] or ""):
            if not token:
                continue
            target = known.of_rows.get(token) or known.by_external.get(token)
            if target is None and token.upper() in known.ids:
                target = token.upper()
            if target is None:
                bad("depends_on", token, "no task with this id in the file or the database")
            else:
                deps.append(target)
        known.graph[task.id] = sorted(set(deps))
        task.deps = deps


def _without_cycles(tasks: list[_Task], graph: dict[str, list[str]], problems: list[Problem]) -> list[_Task]:
    """The tasks less those on a dependency cycle (one cycle is found and reported, on its first row)."""
    cycle = find_cycle(graph)
    if not cycle:
        return tasks
    rows_of = {t.id: t.row for t in tasks}
    row = next((rows_of[t] for t in cycle if t in rows_of), None)
    problems.append(Problem(row or 0, "depends_on", None, "dependency cycle: " + " -> ".join(cycle)))
    return [t for t in tasks if t.id not in cycle]


def import_tasks(
    session: Session, source: Source, *, dry_run: bool, on_error: str, files: Path | None = None
) -> Outcome:
    """Import a file of tasks: new ones created, those found again updated, with their dependencies and the
    files their crm.files column lists (contents from the workspace or the folder `files`)."""
    session.require("tasks.add", "add tasks")
    outcome = Outcome(source=source.path.name, dry_run=dry_run)
    conn = session.conn
    rows = _read(session, source, TASK_COLUMNS, IGNORED - {"id"}, "task")
    outcome.rows = len(rows)
    known = _Known(project_store.task_ids(conn), project_store.external_ids(conn), project_store.project_ids(conn), {})
    planned = _identify(rows, known, work_store.last_task_number(conn), outcome.problems)
    known.graph = project_store.dependency_graph(conn)
    named = {(c.get("record") or "").strip().upper() for _, c in rows} - {""}
    known.records = record_store.existing_keys(conn, None, sorted(named))  # one lookup for the whole file
    check = _TaskCheck(session.defs, known, outcome.problems)
    writes = _without_cycles([task for task in planned if check(task)], known.graph, outcome.problems)
    attaching = _check_files(session, source, rows, writes, files, outcome)
    writes = [t for t in writes if attaching is None or t.row not in attaching.bad_rids]
    outcome.problems.sort(key=lambda p: p.row or 0)

    def write(conn: Any) -> None:
        _write_tasks(session, conn, writes, outcome)
        if attaching is not None:
            outcome.files = importfiles.attach(session, conn, attaching, _task_owners(session, conn, writes))

    return _finish(session, outcome, "tasks", write, dry_run=dry_run, on_error=on_error)


def _check_files(
    session: Session,
    source: Source,
    rows: list[tuple[int, Cells]],
    tasks: list[_Task],
    folder: Path | None,
    outcome: Outcome,
) -> importfiles.Planned | None:
    """The files the good rows list in a crm.files column (None: the file has none), their problems added."""
    if not any("files" in cells for _, cells in rows):
        if folder is not None:
            raise importfiles.no_column(source.path)
        return None
    listed = [(t.row, t.row, text) for t in tasks if (text := t.cells.get("files")) is not None]
    planned = importfiles.check(session, listed, folder, FILES_COLUMN)
    outcome.problems += planned.problems
    return planned


def _task_owners(session: Session, conn: Any, tasks: list[_Task]) -> dict[int, Owner]:
    """row -> the task it was written to, with its record."""
    stored = work_store.tasks_as_stored(conn, [t.id for t in tasks])
    forms = {r: record_store.form_of(conn, r) for r in {s["record"] for s in stored.values()} if r}
    return {
        t.row: Owner(t.id, "task", stored[t.id]["record"], forms.get(stored[t.id]["record"] or ""))
        for t in tasks
        if t.id in stored
    }


# -- tasks: writing --------------------------------------------------------------------------------------------


@dataclass
class _Writes:
    """What writing a task file's rows keeps: the projects found by title path, and the new tasks, numbered on
    from the last one as they come (T-n, as one by one), inserted together with their dependencies at the end
    (nothing in between reads them)."""

    last: int  # the highest task number before the first new task
    projects: dict[str, str] = field(default_factory=dict)  # a project's title path -> its id
    tasks: list[dict[str, Any]] = field(default_factory=list)
    dependencies: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)  # rows of crm.events, inserted at the end

    def new_task(self, row: dict[str, Any]) -> str:
        number = self.last + len(self.tasks) + 1
        self.tasks.append({**row, "id": f"T-{number}", "number": number})
        return f"T-{number}"


def _write_tasks(session: Session, conn: Any, tasks: list[_Task], outcome: Outcome) -> None:
    """Create or update each task, in the order of the file, each with its event."""
    current = work_store.tasks_as_stored(conn, [t.id for t in tasks if not t.new])
    writes = _Writes(work_store.last_task_number(conn))
    for task in tasks:
        values = _with_project(session, conn, task.values, writes.projects)
        if task.new:
            _create_task(session, conn, task, values, writes, outcome.source)
            outcome.created += 1
        elif _update_task(session, conn, task, values, current.pop(task.id, None), outcome.source, writes):
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    project_store.add_tasks(conn, writes.tasks)
    project_store.add_dependencies(conn, writes.dependencies)
    record_store.add_events(conn, writes.events)


def _with_project(session: Session, conn: Any, values: dict[str, Any], found: dict[str, str]) -> dict[str, Any]:
    """The values with a project given by its title path turned into its id (the project made if missing;
    `found` keeps the paths already turned, which stand as they are)."""
    values = dict(values)
    if "project_title" in values:
        path = values.pop("project_title")
        if path not in found:
            parent, title = project_path(session, conn, path, None)
            pid = project_store.root_project_by_title(conn, title, parent)
            if pid is None:
                made = {"title": title, "parent": parent, "created_at": session.now, "created_by": session.actor}
                pid = project_store.add_project(conn, made)
            found[path] = pid
        values["project"] = found[path]
    return values


def _create_task(
    session: Session, conn: Any, task: _Task, values: dict[str, Any], writes: _Writes, source: str
) -> None:
    row = {
        "priority": 3,
        "status": "todo",
        "watchers": [],
        **values,
        "external_id": task.external_id,
        "created_at": session.now,
        "created_by": session.actor,
    }
    tid = writes.new_task(row)
    writes.dependencies += [(tid, dep) for dep in task.deps or []]
    data = {
        "task": tid,
        "title": row["title"],
        "assignee": row.get("assignee"),
        "depends_on": task.deps or [],
        "source": source,
    }
    writes.events.append(
        record_store.event_row(session.now, session.actor, Event.TASK_CREATED, record=row.get("record"), data=data)
    )


def _update_task(
    session: Session,
    conn: Any,
    task: _Task,
    values: dict[str, Any],
    stored: dict[str, Any] | None,
    source: str,
    writes: _Writes,
) -> bool:
    """Write what the row changes of an existing task (as stored: read before the writes began, or now when an
    earlier row changed it); whether it changed anything."""
    if stored is None:
        stored = work_store.tasks_as_stored(conn, [task.id])[task.id]
    changes = {k: [stored.get(k), v] for k, v in values.items() if k in _COMPARED and stored.get(k) != v}
    old_deps: list[str] = stored["depends_on"]
    dep_change = task.deps is not None and sorted(task.deps) != old_deps
    if not changes and not dep_change:
        return False
    if changes:
        project_store.update_task(conn, task.id, {k: v for k, (_, v) in changes.items()})
    if task.deps is not None and dep_change:
        for dep in set(old_deps) - set(task.deps):
            project_store.remove_dependency(conn, task.id, dep)
        for dep in set(task.deps) - set(old_deps):
            project_store.add_dependency(conn, task.id, dep)
        changes["depends_on"] = [old_deps, sorted(task.deps)]
    data = {"task": task.id, "changes": changes, "source": source}
    event = record_store.event_row(
        session.now, session.actor, Event.TASK_UPDATED, record=stored.get("record"), data=data
    )
    writes.events.append(event)
    if "due_at" in changes:
        now_stored = {**stored, **values, "id": task.id}
        tell_watchers(session, conn, now_stored, due_change(session, *changes["due_at"]))
    return True


# -- time ------------------------------------------------------------------------------------------------------


class _Interval(NamedTuple):
    task: str
    person: str | None
    start: dt.datetime
    end: dt.datetime
    note: str | None


class _TimeCheck:
    """The checks of a time row: its task, its person, its start and end (each row alone, `__call__`); then,
    in the file's order, against the rows before it and the stored intervals (`against`)."""

    def __init__(self, session: Session, assignees: dict[str, str | None], by_external: dict[str, str]) -> None:
        self.session, self.assignees, self.by_external = session, assignees, by_external
        self.crowded: set[str | None] = set()  # the people some of whose rows overlap (see _crowded)
        self.seen: dict[tuple[Any, ...], int] = {}  # (task, person, start) -> its row
        # person -> the file's good intervals so far, by start (they never overlap, so their ends are in order)
        self.spans: dict[str | None, tuple[list[dt.datetime], list[dt.datetime], list[int]]] = {}

    def __call__(self, row: int, cells: Cells, problems: list[Problem]) -> _Interval | None:
        """The row's interval, or None when it has problems (added to the list)."""
        count, bad = len(problems), _bad(row, problems)
        defs = self.session.defs
        tid = self.task(cells.get("task"), bad)
        person = cells.get("person") or (self.assignees.get(tid) if tid else None) or self.session.actor
        if person and defs.has_team and person not in defs.people:
            bad("person", person, f"no person '{person}' in the team")
        start, end = self.span(cells, bad)
        if len(problems) > count or tid is None or start is None or end is None:
            return None
        return _Interval(tid, person, start, end, cells.get("note"))

    def against(self, row: int, cells: Cells, span: _Interval, stored: dict[str, Any] | None, bad: Bad) -> bool:
        """Whether the row, good alone, is good in the file: not a second row of the same task, person and start,
        and overlapping neither the stored interval given (its person's first other than the one it updates)
        nor the file's good rows before it (the first of them is named). A good row counts for those after it.
        The rows of a person none of whose rows overlap need only the stored interval's check."""
        if span.person not in self.crowded:
            if stored is not None:
                bad("started_at", span.start.isoformat(), f"overlaps {described(self.session, stored)}")
            return stored is None
        identity = (span.task, span.person, span.start)
        if identity in self.seen:
            bad("started_at", cells.get("started_at"), f"the same task, person and start as row {self.seen[identity]}")
            return False
        if stored is not None:
            bad("started_at", span.start.isoformat(), f"overlaps {described(self.session, stored)}")
            return False
        starts, ends, rows = self.spans.setdefault(span.person, ([], [], []))
        first, last = bisect.bisect_right(ends, span.start), bisect.bisect_left(starts, span.end)
        if first < last:
            bad("started_at", span.start.isoformat(), f"overlaps row {min(rows[first:last])} of the file")
            return False
        self.seen[identity] = row
        place = bisect.bisect_left(starts, span.start)
        starts.insert(place, span.start)
        ends.insert(place, span.end)
        rows.insert(place, row)
        return True

    def task(self, token: str | None, bad: Bad) -> str | None:
        """The task a row names by crmctl's id or the file's."""
        if token is None:
            bad("task", None, "an interval needs a task")
            return None
        tid = token.upper() if token.upper() in self.assignees else self.by_external.get(token)
        if tid is None:
            bad("task", token, "no task with this id")
        return tid

    def span(self, cells: Cells, bad: Bad) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The start and end: ended_at, else started_at plus minutes; not backwards, nor in the future."""
        tz, start, end = self.session.defs.timezone, None, None
        try:
            start = _when(cells.get("started_at") or "", tz)
        except ValueError as exc:
            bad("started_at", cells.get("started_at"), str(exc))
        if start is not None:
            ended, minutes = cells.get("ended_at"), cells.get("minutes")
            try:
                if ended:
                    end = _when(ended, tz)
                elif minutes:
                    end = start + dt.timedelta(minutes=float(minutes))
                else:
                    bad("ended_at", None, "an interval needs ended_at or minutes")
            except ValueError as exc:
                bad("ended_at", ended or minutes, str(exc))
        if start is not None and end is not None and end <= start:
            bad("ended_at", cells.get("ended_at"), "ends before it starts")
        if end is not None and end > self.session.now:
            bad("ended_at", cells.get("ended_at"), "time cannot be logged in the future")
        return start, end


def import_time(session: Session, source: Source, *, dry_run: bool, on_error: str) -> Outcome:
    """Import a file of time intervals: new ones logged, those found again (task, person, start) updated. Each
    row is checked alone, then all of them against the database with one statement, then in the file's order
    against each other; the good ones are written with one statement each for the new and the corrected."""
    session.require("tasks.execute", "log time")
    outcome = Outcome(source=source.path.name, dry_run=dry_run)
    conn = session.conn
    rows = _read(session, source, TIME_COLUMNS, {"id", "source"}, "time")
    outcome.rows = len(rows)
    assignees = project_store.task_assignees(conn)
    check = _TimeCheck(session, assignees, project_store.external_ids(conn))
    alone = [(row, cells, span) for row, cells in rows if (span := check(row, cells, outcome.problems)) is not None]
    again, overlaps = work_store.stored_against(conn, [(s.task, s.person, s.start, s.end) for _, _, s in alone])
    check.crowded = _crowded([span for _, _, span in alone])
    writes = []
    for n, (row, cells, span) in enumerate(alone):
        if check.against(row, cells, span, overlaps.get(n), _bad(row, outcome.problems)):
            writes.append((span, again.get(n)))
    outcome.problems.sort(key=lambda p: p.row or 0)
    if any(p not in (None, session.actor) for w, _ in writes for p in (w.person, assignees[w.task])):
        session.require("tasks.manage_others", "log time on others' tasks or for others")

    def write(conn: Any) -> None:
        new = [span for span, found in writes if found is None]
        changed = [(found["id"], span.end, span.note) for span, found in writes
                   if found is not None and (found["ended_at"] != span.end or found["note"] != span.note)]  # fmt: skip
        work_store.add_intervals(conn, new)
        work_store.correct_intervals(conn, changed)
        outcome.created, outcome.updated = len(new), len(changed)
        outcome.unchanged = len(writes) - len(new) - len(changed)

    return _finish(session, outcome, "time", write, dry_run=dry_run, on_error=on_error)


def _crowded(spans: list[_Interval]) -> set[str | None]:
    """The people some of whose intervals in the list overlap (two rows of the same task, person and start
    overlap too): only their rows need checking against each other, in the file's order. Sorting each
    person's intervals by start, any overlap shows between neighbours."""
    by_person: dict[str | None, list[tuple[dt.datetime, dt.datetime]]] = {}
    for span in spans:
        by_person.setdefault(span.person, []).append((span.start, span.end))
    crowded = set()
    for person, pairs in by_person.items():
        pairs.sort()
        if any(pairs[i][1] > pairs[i + 1][0] for i in range(len(pairs) - 1)):
            crowded.add(person)
    return crowded


def _bad(row: int, problems: list[Problem]) -> Bad:
    """What adds a problem of the row to the list."""
    return lambda column, value, message: problems.append(Problem(row, column, value, message))
