"""Reports: efficiency, estimate revision, stage funnel. They need the reports.view permission."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crmctl.domain import reports as domain
from crmctl.domain.durations import parse_duration
from crmctl.domain.values import parse_date
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.session import Session
from crmctl.ops.sprints import get
from crmctl.store import reports as store
from crmctl.store.definitions import stage_renames


def _allowed(session: Session) -> None:
    session.require("reports.view", "view reports")


def _day(text: str | None, session: Session, what: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        day = parse_date(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(session.defs.timezone))


@dataclass
class Efficiency:
    by: list[str]
    period: str | None
    rows: list[dict[str, Any]]
    since: dt.datetime | None
    until: dt.datetime | None


def efficiency(
    session: Session,
    *,
    by: str,
    period: str | None,
    since: str | None,
    until: str | None,
    person: str | None,
    type_: str | None,
    include_open: bool,
    sprint: str | None = None,
) -> Efficiency:
    """--from is inclusive, --to exclusive: a task finished on the --to date is not counted."""
    _allowed(session)
    try:
        groups = domain.parse_by(by)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if period is not None and period not in domain.PERIODS:
        raise UsageError(f"--period takes {', '.join(domain.PERIODS)}, not '{period}'")
    begin, end = _day(since, session, "--from"), _day(until, session, "--to")
    if begin and end and begin >= end:
        raise InputError(f"--from {since} is not before --to {until}")
    if person is not None and session.defs.has_team and person not in session.defs.people:
        raise NotFound(f"no person '{person}' in the team")
    if type_ is not None:
        known = store.task_types(session.conn)
        if type_ not in known:
            raise NotFound(f"no tasks of type '{type_}' (types: {', '.join(sorted(known)) or 'none'})")
    if sprint is not None:
        sprint = get(session, sprint)["name"]
    rows = store.efficiency(
        session.conn,
        sprint=sprint,
        by=groups,
        period=period,
        since=begin,
        until=end,
        person=person,
        type_=type_,
        include_open=include_open,
        now=session.now,
    )
    return Efficiency(groups, period, rows, begin, end)


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


def estimates(session: Session, min_tasks: int) -> list[dict[str, Any]]:
    """Per task type and subtype: the templates' estimates, the observed median and spread of actual time,
    and a suggested estimate where enough tasks were done."""
    _allowed(session)
    if min_tasks < 1:
        raise UsageError("--min-tasks must be at least 1")
    planned = template_estimates(session)
    observed = {(r["type"], r["subtype"]): r for r in store.actual_by_type(session.conn)}
    rows = []
    for key in sorted(set(planned) | set(observed)):
        seen = observed.get(key)
        enough = seen is not None and seen["tasks"] >= min_tasks
        rows.append(
            {
                "type": key[0],
                "subtype": key[1],
                "template_minutes": sorted(planned.get(key, [])),
                "tasks": seen["tasks"] if seen else 0,
                "median_minutes": round(seen["median_minutes"], 1) if seen else None,
                "p25_minutes": round(seen["p25_minutes"], 1) if seen else None,
                "p75_minutes": round(seen["p75_minutes"], 1) if seen else None,
                "suggested_minutes": domain.suggest(seen["median_minutes"]) if enough else None,
                "enough": enough,
            }
        )
    return rows


def funnel(session: Session, process_name: str) -> tuple[Any, list[dict[str, Any]]]:
    _allowed(session)
    process = session.defs.processes.get(process_name)
    if process is None:
        names = ", ".join(sorted(session.defs.processes)) or "none"
        raise NotFound(f"no process '{process_name}' (processes: {names})")
    renames = stage_renames(session.conn, process.name)
    return process, domain.funnel_rows(process, store.funnel(session.conn, process.name, renames))
