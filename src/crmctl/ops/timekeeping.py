"""Time intervals kept honest: one person's intervals never overlap, a forgotten timer stops at the
workspace's cap, and an interval can be corrected (`time edit`) or deleted (`time delete`, its content kept
in the task's history as the `time.deleted` event).

It sits beneath ops/projects.py (the timer and `time log`, which check overlaps and the cap here) and
ops/workimports.py (`import time`, which checks overlaps)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from crmctl.domain.durations import parse_duration
from crmctl.domain.events import Event
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock
from crmctl.ops.lookups import calendar_for, get_task
from crmctl.ops.session import Session
from crmctl.store import projects as project_store
from crmctl.store import records as record_store

Row = dict[str, Any]


@dataclass(frozen=True)
class TimeRow:
    """A time interval; the table's columns (in their own order) are the command line's."""

    id: int
    task: str
    title: str  # the task's
    person: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None  # None while the timer runs
    minutes: float  # its length (a running one's up to now), to a tenth
    running: bool
    note: str | None
    source: str  # timer, log or import

    @classmethod
    def of(cls, interval: Row, title: str, now: dt.datetime) -> TimeRow:
        """An interval as stored (crm.time_intervals' columns), its task's title, measured at now."""
        stop_at = interval["ended_at"] or now
        minutes = round(max(0.0, (stop_at - interval["started_at"]).total_seconds() / 60), 1)
        fields = ("id", "task", "person", "started_at", "ended_at", "note", "source")
        return cls(
            **{name: interval[name] for name in fields},
            title=title,
            minutes=minutes,
            running=interval["ended_at"] is None,
        )


def event(session: Session, conn: Any, kind: Event, task: Row, data: dict[str, Any]) -> None:
    """An event of a task's time, on the task's record."""
    record = task["record"]
    form = record_store.form_of(conn, record) if record else None
    record_store.add_event(conn, session.now, session.actor, kind, record=record, form=form, data=data)


def moment(session: Session, when: dt.datetime) -> str:
    """An instant as messages write it, in the workspace's time zone."""
    return f"{when.astimezone(ZoneInfo(session.defs.timezone)):%Y-%m-%d %H:%M}"


def described(session: Session, interval: Row) -> str:
    """'interval 3 (T-1, 2027-02-28 14:00 to 2027-02-28 15:30)'; a running one's end is 'running'."""
    end = moment(session, interval["ended_at"]) if interval["ended_at"] else "running"
    return f"interval {interval['id']} ({interval['task']}, {moment(session, interval['started_at'])} to {end})"


def check_free(
    session: Session,
    conn: Any,
    person: str | None,
    start: dt.datetime,
    end: dt.datetime | None,
    besides: Iterable[int] = (),
) -> None:
    """Refused when the person has another interval (besides those named) at some moment of [start, end)
    (end None: open-ended, as a timer that starts)."""
    found = project_store.overlapping(conn, person, start, end, besides)
    if found is not None:
        who = person or "nobody"
        raise InputError(
            f"it would overlap {described(session, found)} of {who}: one person's intervals cannot overlap"
        )


@dataclass(frozen=True)
class LateTimer:
    """A timer still running after the end of its person's working day (forgotten, most likely)."""

    interval: Row  # running_intervals()' row: the interval, its task's title and record
    day_end: dt.datetime  # the end of the working day it started in

    def text(self, session: Session) -> str:
        started = moment(session, self.interval["started_at"])
        return (
            f"timer on {self.interval['task']} still running since {started}, past the end of "
            f"{self.interval['person'] or 'nobody'}'s working day ({moment(session, self.day_end)}): "
            "task stop --at the real end"
        )


def late_timers(session: Session, person: str | None) -> list[LateTimer]:
    """Running timers (a person's, or everyone's) that have run past the end of their person's working day."""
    late = []
    for interval in project_store.running_intervals(session.conn, person):
        end = calendar_for(session, interval["person"]).day_end(interval["started_at"])
        if session.now > end:
            late.append(LateTimer(interval, end))
    return late


def cap_minutes(session: Session) -> int:
    """The workspace's timer_cap in minutes (clock time)."""
    return parse_duration(session.defs.timer_cap, session.defs.hours_per_day)


def cap_end(session: Session, interval: Row) -> dt.datetime | None:
    """Where a running interval that has run past the cap stops at it, else None."""
    end: dt.datetime = interval["started_at"] + dt.timedelta(minutes=cap_minutes(session))
    return end if session.now > end else None


def _own_or_managed(session: Session, interval_id: int, doing: str) -> tuple[Row, Row]:
    """The interval and its task, when the actor may change it: their own with tasks.execute, someone
    else's with tasks.manage_others too."""
    session.require("tasks.execute", doing)
    interval = project_store.interval(session.conn, interval_id)
    if interval is None:
        raise NotFound(f"no time interval {interval_id}")
    task = get_task(session, interval["task"])
    if interval["person"] is not None and interval["person"] != session.actor:
        session.require("tasks.manage_others", "correct others' time", record=task["record"])
    return interval, task


@dataclass(frozen=True)
class TimeEditRequest:
    interval: int  # the interval's id (time list shows it)
    start: str | None = None  # its new start, ISO
    end: str | None = None  # its new end, ISO
    minutes: int | None = None  # its new length in minutes from its start (instead of --end)
    note: str | None = None  # its new note ("" removes it)


def _instant(session: Session, text: str | None, what: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return clock.parse_instant(text, session.defs.timezone)
    except UsageError as exc:
        raise UsageError(f"{what}: {exc.message}") from None


def _new_span(session: Session, interval: Row, request: TimeEditRequest) -> tuple[dt.datetime, dt.datetime | None]:
    """The corrected start and end (None: it keeps running), checked against each other and the clock."""
    if request.minutes is not None and request.end is not None:
        raise UsageError("--minutes and --end exclude each other")
    if request.minutes is not None and request.minutes <= 0:
        raise InputError(f"--minutes must be more than 0, not {request.minutes}")
    start = _instant(session, request.start, "--start") or interval["started_at"]
    end = _instant(session, request.end, "--end") or interval["ended_at"]
    if request.minutes is not None:
        end = start + dt.timedelta(minutes=request.minutes)
    if end is not None and end <= start:
        raise InputError(f"the interval would end ({moment(session, end)}) before it starts ({moment(session, start)})")
    if (end or start) > session.now:
        raise InputError(f"time cannot be logged in the future: {moment(session, end or start)} is after now")
    return start, end


def edit_time(session: Session, request: TimeEditRequest) -> TimeRow:
    """Correct a time interval: its start, its end (or its length) and its note. One's own with
    tasks.execute, someone else's with tasks.manage_others too; it must not overlap the person's others."""
    if request.start is None and request.end is None and request.minutes is None and request.note is None:
        raise UsageError("say what to change: --start, --end, --minutes or --note")
    interval, task = _own_or_managed(session, request.interval, "correct time")
    start, end = _new_span(session, interval, request)
    note = interval["note"] if request.note is None else (request.note.strip() or None)
    with session.transaction() as conn:
        check_free(session, conn, interval["person"], start, end, besides=[interval["id"]])
        project_store.set_interval(conn, interval["id"], start, end, note)
        before = {name: interval[name] for name in ("started_at", "ended_at", "note")}
        data = {
            "interval": interval["id"],
            "task": task["id"],
            "person": interval["person"],
            "from": before,
            "to": {"started_at": start, "ended_at": end, "note": note},
        }
        event(session, conn, Event.TIME_EDITED, task, data)
        changed = {**interval, "started_at": start, "ended_at": end, "note": note}
    return TimeRow.of(changed, task["title"], session.now)


@dataclass(frozen=True)
class TimeDeleteRequest:
    interval: int  # the interval's id (time list shows it)


def delete_time(session: Session, request: TimeDeleteRequest) -> TimeRow:
    """Delete a time interval logged by mistake. Its whole content stays in the task's history (the
    time.deleted event), so nothing is lost; the result is the interval as it was."""
    interval, task = _own_or_managed(session, request.interval, "delete time")
    row = TimeRow.of(interval, task["title"], session.now)
    with session.transaction() as conn:
        project_store.delete_interval(conn, interval["id"])
        data = {
            "interval": interval["id"],
            "task": task["id"],
            "person": interval["person"],
            "started_at": interval["started_at"],
            "ended_at": interval["ended_at"],
            "minutes": row.minutes,
            "note": interval["note"],
            "source": interval["source"],
        }
        event(session, conn, Event.TIME_DELETED, task, data)
    return row
