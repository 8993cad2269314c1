"""Reports: efficiency, estimate revision, stage funnel. They need the reports.view permission."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from crmctl.domain import reports as domain
from crmctl.domain.durations import parse_duration
from crmctl.domain.shapes import column
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.lookups import day_start
from crmctl.ops.session import Session
from crmctl.ops.sprints import get
from crmctl.store import reports as report_store
from crmctl.store.definitions import stage_renames


def _allowed(session: Session) -> None:
    session.require("reports.view", "view reports")


@dataclass(frozen=True)
class EfficiencyRequest:
    by: str = "person"  # person, type, project, record, form, or several: person,type
    period: str | None = None  # week, month or quarter
    since: str | None = None  # --from: the first day (YYYY-MM-DD), included
    until: str | None = None  # --to: the last day (YYYY-MM-DD), excluded
    person: str | None = None  # only this person's tasks
    type_: str | None = None  # only tasks of this type
    include_open: bool = False  # count open tasks' time so far
    sprint: str | None = None  # only the tasks of this sprint
    page: bool = False  # the page's tables instead: by person, then by type, per period (default: week)


@dataclass(frozen=True)
class EfficiencyRow:
    """Estimated against actual time of a group of tasks (a person, a task type, a project, a record or a
    form, or several of them, in a period)."""

    period: str | None = column()
    person: str | None = column(default=None)  # with --by person
    type: str | None = column(default=None)  # with --by type
    project: str | None = column(default=None)  # with --by project: the task's project id ('-': none)
    record: str | None = column(default=None)  # with --by record: the task's record key ('-': none)
    form: str | None = column(default=None)  # with --by form: the form of the task's record ('-': none)
    tasks: int = column(default=0)
    unestimated: int = column("no estimate", default=0)
    estimated_hours: float | None = column("estimated h", default=None)
    actual_hours: float | None = column("actual h", default=None)
    ratio: float | None = column(default=None)
    mean_hours: float | None = column("mean h", default=None)
    median_hours: float | None = column("median h", default=None)
    p90_hours: float | None = column("p90 h", default=None)


@dataclass(frozen=True)
class EfficiencyTable:
    by: list[str]  # the groups, in order
    period: str | None
    rows: list[EfficiencyRow]


@dataclass(frozen=True)
class Efficiency:
    """The report: one table, or the page's two; the span it covers, the workspace and the time it was made."""

    tables: list[EfficiencyTable]
    since: str | None  # the first day, as given
    until: str | None  # the day after the last, as given
    workspace: str
    made_at: dt.datetime


def efficiency(session: Session, request: EfficiencyRequest) -> Efficiency:
    """Estimated against actual time of finished tasks, per person and/or task type, per period. --from is
    inclusive, --to exclusive: a task finished on the --to date is not counted."""
    _allowed(session)
    if request.page:
        period = request.period or "week"
        first = request.by if request.by in ("project", "record", "form") else "person"
        chosen = [replace(request, by=first, period=period), replace(request, by="type", period=period)]
    else:
        chosen = [request]
    tables = [_efficiency_table(session, one) for one in chosen]
    return Efficiency(tables, request.since, request.until, session.defs.name, session.now)


def _efficiency_table(session: Session, request: EfficiencyRequest) -> EfficiencyTable:
    try:
        groups = domain.parse_by(request.by)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    period, person, type_, sprint = request.period, request.person, request.type_, request.sprint
    if period is not None and period not in domain.PERIODS:
        raise UsageError(f"--period takes {', '.join(domain.PERIODS)}, not '{period}'")
    begin, end = day_start(session, request.since, "--from"), day_start(session, request.until, "--to")
    if begin and end and begin >= end:
        raise InputError(f"--from {request.since} is not before --to {request.until}")
    if person is not None and session.defs.has_team and person not in session.defs.people:
        raise NotFound(f"no person '{person}' in the team")
    if type_ is not None:
        known = report_store.task_types(session.conn)
        if type_ not in known:
            raise NotFound(f"no tasks of type '{type_}' (types: {', '.join(sorted(known)) or 'none'})")
    if sprint is not None:
        sprint = get(session, sprint)["name"]
    rows = report_store.efficiency(
        session.conn,
        sprint=sprint,
        by=groups,
        period=period,
        since=begin,
        until=end,
        person=person,
        type_=type_,
        include_open=request.include_open,
        now=session.now,
    )
    return EfficiencyTable(groups, period, [EfficiencyRow(**row) for row in rows])


def template_estimates(session: Session) -> dict[tuple[str, str], list[int]]:
    """(type, subtype) -> the estimates templates give such tasks, in minutes."""
    found: dict[tuple[str, str], list[int]] = {}
    for template in session.defs.templates.values():
        for task in template["tasks"]:
            if task.get("estimate") and task.get("type"):
                key = (task["type"], task.get("subtype", "-"))
                minutes = parse_duration(task["estimate"], session.defs.hours_per_day)
                found.setdefault(key, [])
                if minutes not in found[key]:
                    found[key].append(minutes)
    return found


@dataclass(frozen=True)
class EstimatesRequest:
    min_tasks: int = 5  # suggest an estimate only from at least this many done tasks


@dataclass(frozen=True)
class EstimateRow:
    """A task type and subtype: the templates' estimates beside the actual time of done tasks."""

    type: str = column(table=False)
    subtype: str = column(table=False)
    template_minutes: list[int] = column(table=False)
    tasks: int = column(table=False)  # done tasks
    median_minutes: float | None = column(table=False)
    p25_minutes: float | None = column(table=False)
    p75_minutes: float | None = column(table=False)
    suggested_minutes: int | None = column(table=False)
    enough: bool = column(table=False)  # whether there were min_tasks done tasks to suggest from
    default_minutes: int | None = column(table=False, default=None)  # the Workspace's estimate for the type
    update_default: bool = column(table=False, default=False)  # the suggestion differs from that default


def estimates(session: Session, request: EstimatesRequest) -> list[EstimateRow]:
    """Per task type and subtype: the templates' estimates, the observed median and spread of actual time,
    and a suggested estimate where enough tasks were done."""
    _allowed(session)
    if request.min_tasks < 1:
        raise UsageError("--min-tasks must be at least 1")
    planned = template_estimates(session)
    observed = {(r["type"], r["subtype"]): r for r in report_store.actual_by_type(session.conn)}
    defaults = {kind: parse_duration(text, session.defs.hours_per_day) for kind, text in session.defs.estimates.items()}
    keys = set(planned) | set(observed) | {(kind, "-") for kind in defaults}
    rows = [_estimate(key, planned.get(key, []), observed.get(key), request.min_tasks) for key in sorted(keys)]
    return [_against_default(row, defaults.get(row.type)) for row in rows]


def _against_default(row: EstimateRow, default: int | None) -> EstimateRow:
    """The row with the type's default estimate, and whether the suggestion says to change it."""
    if default is None:
        return row
    update = row.subtype == "-" and row.suggested_minutes is not None and row.suggested_minutes != default
    return replace(row, default_minutes=default, update_default=update)


def _estimate(key: tuple[str, str], planned: list[int], seen: dict[str, Any] | None, min_tasks: int) -> EstimateRow:
    if seen is None:
        return EstimateRow(key[0], key[1], sorted(planned), 0, None, None, None, None, False)
    enough = seen["tasks"] >= min_tasks
    return EstimateRow(
        type=key[0],
        subtype=key[1],
        template_minutes=sorted(planned),
        tasks=seen["tasks"],
        median_minutes=round(seen["median_minutes"], 1),
        p25_minutes=round(seen["p25_minutes"], 1),
        p75_minutes=round(seen["p75_minutes"], 1),
        suggested_minutes=domain.suggest(seen["median_minutes"]) if enough else None,
        enough=enough,
    )


@dataclass(frozen=True)
class FunnelRequest:
    process: str  # the process to analyse


@dataclass(frozen=True)
class FunnelStage:
    """A stage of the funnel: how many records entered it, how long they stayed, where they went and ended."""

    stage: str
    title: str
    terminal: bool
    outcome: str | None
    entered: int
    here: int  # records in it now
    median_hours: float | None
    p90_hours: float | None
    next: dict[str, int]  # stage -> records that went there from this one
    ended: dict[str, int]  # terminal stage (or "open") -> records that passed here and ended there
    won: int
    lost: int


@dataclass(frozen=True)
class Funnel:
    process: str
    title: str  # the process's title
    stages: list[FunnelStage]


def funnel(session: Session, request: FunnelRequest) -> Funnel:
    """Stage analytics of a process: time spent in each stage, where records went next and where they ended."""
    _allowed(session)
    process = session.defs.processes.get(request.process)
    if process is None:
        names = ", ".join(sorted(session.defs.processes)) or "none"
        raise NotFound(f"no process '{request.process}' (processes: {names})")
    renames = stage_renames(session.conn, process.name)
    rows = domain.funnel_rows(process, report_store.funnel(session.conn, process.name, renames))
    return Funnel(process.name, process.title, [FunnelStage(**row) for row in rows])
