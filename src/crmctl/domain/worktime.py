"""Working-time arithmetic on calendars: weekly hours with breaks, holidays, absences, time zones.

Exact to the minute. Intervals are laid out in local time day by day and measured in real elapsed
minutes, so a daylight-saving change inside working hours shortens or lengthens that day as it does
for the people working it.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from crmctl.domain.calendars import parse_day_key, parse_interval

MINUTE = dt.timedelta(minutes=1)
DEFAULT_HORIZON_DAYS = 3 * 366
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
MINUTE_US = 60_000_000


class NoWorkingTime(ValueError):
    """The calendar has no working minute before the horizon."""


@dataclass(frozen=True)
class WorkCalendar:
    name: str
    tz: ZoneInfo
    week: Mapping[int, tuple[tuple[int, int], ...]]  # weekday (0 = Monday) -> (start, end) minutes after midnight
    days_off: frozenset[dt.date] = frozenset()  # holidays and absences
    reasons: Mapping[dt.date, str] = field(default_factory=dict)  # why a day is off
    _days: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )  # each day's working intervals in UTC, laid out once

    @classmethod
    def from_definition(
        cls, doc: Mapping[str, Any] | None, default_tz: str, absences: Iterable[Mapping[str, Any]] = ()
    ) -> WorkCalendar:
        """A calendar from its YAML document (None: every minute is working time) plus a person's absences."""
        reasons: dict[dt.date, str] = {}
        week: dict[int, tuple[tuple[int, int], ...]]
        if doc is None:
            week = {d: ((0, 1440),) for d in range(7)}
            name, tz = "always", default_tz
        else:
            week_lists: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
            for key, intervals in doc.get("hours", {}).items():
                for weekday in parse_day_key(key):
                    week_lists[weekday].extend(parse_interval(i) for i in intervals)
            week = {d: tuple(sorted(v)) for d, v in week_lists.items()}
            name, tz = doc["name"], doc.get("timezone", default_tz)
            for item in doc.get("holidays", ()):
                title = "holiday"
                if isinstance(item, str):
                    start = end = dt.date.fromisoformat(item)
                elif "date" in item:
                    start = end = dt.date.fromisoformat(item["date"])
                    title = item.get("title", title)
                else:
                    start, end = dt.date.fromisoformat(item["from"]), dt.date.fromisoformat(item["to"])
                    title = item.get("title", title)
                for day in _days(start, end):
                    reasons.setdefault(day, f"holiday: {title}" if title != "holiday" else "holiday")
        for absence in absences:
            start, end = dt.date.fromisoformat(absence["from"]), dt.date.fromisoformat(absence["to"])
            for day in _days(start, end):
                reasons.setdefault(day, "absence" + (f": {absence['reason']}" if absence.get("reason") else ""))
        return cls(name, ZoneInfo(tz), week, frozenset(reasons), reasons)

    def intervals(
        self, start: dt.datetime, horizon_days: int = DEFAULT_HORIZON_DAYS
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals (aware, UTC) that end after start, in order, up to the horizon."""
        utc_start = start.astimezone(dt.UTC)
        day = start.astimezone(self.tz).date()
        for _ in range(horizon_days + 1):
            for a, b in self._day(day):
                if b > utc_start:
                    yield max(a, utc_start), b
            day += dt.timedelta(days=1)

    def _day(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        found = self._days.get(day)
        if found is None:
            if day in self.days_off:
                found = ()
            else:
                found = tuple(
                    (_local(day, a, self.tz), _local(day, b, self.tz)) for a, b in self.week.get(day.weekday(), ())
                )
            self._days[day] = found
        return found

    def add(self, start: dt.datetime, minutes: int, horizon_days: int = DEFAULT_HORIZON_DAYS) -> dt.datetime:
        """The instant when `minutes` of working time after start have passed (the next working moment for 0)."""
        if minutes < 0:
            return start
        timeline = Timeline(self, start)
        try:
            if minutes == 0:
                moment = timeline.next_working(to_us(start), horizon_days)
            else:
                moment = timeline.add(to_us(start), minutes, horizon_days)
        except NoWorkingTime:
            what = f"for {minutes} minutes " if minutes else ""
            raise NoWorkingTime(
                f"calendar {self.name} has no working time {what}within {horizon_days} days of {start:%Y-%m-%d}"
            ) from None
        return from_us(moment, start.tzinfo or self.tz)

    def next_working(self, start: dt.datetime, horizon_days: int = DEFAULT_HORIZON_DAYS) -> dt.datetime:
        return self.add(start, 0, horizon_days)

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Working minutes from start to end (0 when end is not after start)."""
        if end <= start:
            return 0
        total = 0
        days = (end.astimezone(self.tz).date() - start.astimezone(self.tz).date()).days + 1
        for a, b in self.intervals(start, days):
            if a >= end:
                break
            total += int((min(b, end) - a) / MINUTE)
        return total

    def working_spans(self, start: dt.datetime, minutes: int) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working stretches (aware, UTC) that hold `minutes` of working time from start, breaks, days off
        and weekends left out; one clock-time span where start is outside working time (work done then, as
        overtime, is not moved to the next working day)."""
        utc = start.astimezone(dt.UTC)
        spans: list[tuple[dt.datetime, dt.datetime]] = []
        left = dt.timedelta(minutes=minutes)
        for a, b in self.intervals(start):
            if not spans and a > utc:
                break
            if left <= dt.timedelta(0):
                break
            end = min(b, a + left)
            if spans and spans[-1][1] == a:  # working intervals that touch are one stretch
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((a, end))
            left -= end - a
        if not spans or left > dt.timedelta(0):
            return [(utc, utc + dt.timedelta(minutes=minutes))]
        return spans

    def day_end(self, moment: dt.datetime) -> dt.datetime:
        """The end (aware, UTC) of the working day a moment falls in: its day's last working interval's end,
        or where that is not after the moment (overtime, a day off), the day's midnight."""
        day = moment.astimezone(self.tz).date()
        stretches = self._day(day)
        if stretches and stretches[-1][1] > moment:
            return stretches[-1][1]
        return _local(day + dt.timedelta(days=1), 0, self.tz)

    def off_reason(self, moment: dt.datetime) -> str:
        """Why a moment is not working time: the day's reason (a holiday, an absence, a day off), else
        before or after the day's working hours, or a break between them (lunch)."""
        day = moment.astimezone(self.tz).date()
        reason = self.reason_off(day)
        stretches = self._day(day)
        if reason or not stretches:
            return reason or "day off"
        utc = moment.astimezone(dt.UTC)
        if utc < stretches[0][0]:
            return "before working hours"
        if utc >= stretches[-1][1]:
            return "after working hours"
        return "a break"

    def time_off(self, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.date, dt.date, str]]:
        """The holidays and absences from start's day to end's day: (first day, last day, reason), days in a
        row with the same reason as one."""
        found: list[tuple[dt.date, dt.date, str]] = []
        for day in _days(start.astimezone(self.tz).date(), end.astimezone(self.tz).date()):
            reason = self.reasons.get(day)
            if reason is None:
                continue
            if found and found[-1][2] == reason and found[-1][1] + dt.timedelta(days=1) == day:
                found[-1] = (found[-1][0], day, reason)
            else:
                found.append((day, day, reason))
        return found

    def reason_off(self, day: dt.date) -> str | None:
        if day in self.reasons:
            return self.reasons[day]
        if not self.week.get(day.weekday()):
            return "day off"
        return None


def to_us(moment: dt.datetime) -> int:
    """An aware instant as microseconds since the epoch."""
    return (moment - EPOCH) // MICROSECOND


def from_us(us: int, tz: dt.tzinfo) -> dt.datetime:
    """The instant `us` microseconds after the epoch, in the time zone tz."""
    seconds, micro = divmod(us, 1_000_000)
    moment = dt.datetime.fromtimestamp(seconds, tz)
    return moment.replace(microsecond=micro) if micro else moment


class Timeline:
    """A calendar's working time from a day on, in integer microseconds since the epoch, for a simulation that
    places many tasks: `next_working` and `add` answer as WorkCalendar's do, for instants from `since` on,
    without making a datetime. The intervals (which do not overlap: the configuration checks see to that) are
    laid out day by day as far as they are asked for, in one sorted list, so that finding where an instant
    falls is a binary search, whatever its distance from `since`; the day of an instant is the last laid-out
    local midnight at or before it, as `astimezone(tz).date()` has it.
    """

    def __init__(self, calendar: WorkCalendar, since: dt.datetime) -> None:
        self.calendar = calendar
        self.first = since.astimezone(calendar.tz).date()
        self.midnights: list[int] = []  # where each laid-out day begins
        self.starts: list[int] = []  # the working intervals of the laid-out days, in order
        self.ends: list[int] = []
        self.days: list[int] = []  # the day of each interval (0: the first)
        self.after = to_us(_local(self.first, 0, calendar.tz))  # where the next day to lay out begins

    def _lay_out(self) -> None:
        """One more day."""
        day = self.first + dt.timedelta(days=len(self.midnights))
        for a, b in self.calendar._day(day):
            self.starts.append(to_us(a))
            self.ends.append(to_us(b))
            self.days.append(len(self.midnights))
        self.midnights.append(self.after)
        self.after = to_us(_local(day + dt.timedelta(days=1), 0, self.calendar.tz))

    def _day_of(self, moment: int) -> int:
        while self.after <= moment:
            self._lay_out()
        day = bisect_right(self.midnights, moment) - 1
        if day < 0:
            raise ValueError(f"{from_us(moment, self.calendar.tz)} is before the timeline's first day")
        return day

    def _interval(self, moment: int, last_day: int) -> int | None:
        """The first working interval that ends after moment, if it is on last_day or before."""
        i = bisect_right(self.ends, moment)
        while i == len(self.ends) and len(self.midnights) <= last_day:
            self._lay_out()
        return i if i < len(self.ends) and self.days[i] <= last_day else None

    def next_working(self, start: int, horizon_days: int = DEFAULT_HORIZON_DAYS) -> int:
        i = self._interval(start, self._day_of(start) + horizon_days)
        if i is None:
            raise NoWorkingTime(f"calendar {self.calendar.name} has no working time within {horizon_days} days")
        return max(self.starts[i], start)

    def add(self, start: int, minutes: int, horizon_days: int = DEFAULT_HORIZON_DAYS) -> int:
        """The instant when `minutes` (more than 0) of working time after start have passed."""
        last_day = self._day_of(start) + horizon_days
        left = minutes
        i = self._interval(start, last_day)
        while i is not None:
            a = max(self.starts[i], start)
            length = (self.ends[i] - a) // MINUTE_US  # whole minutes, as WorkCalendar.add counts them
            if left <= length:
                return a + left * MINUTE_US
            left -= length
            i = self._interval(self.ends[i], last_day)
        raise NoWorkingTime(
            f"calendar {self.calendar.name} has no working time for {minutes} minutes within {horizon_days} days"
        )


def _local(day: dt.date, minutes: int, tz: ZoneInfo) -> dt.datetime:
    if minutes >= 1440:
        moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    else:
        moment = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=tz)
    return moment.astimezone(dt.UTC)


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)
