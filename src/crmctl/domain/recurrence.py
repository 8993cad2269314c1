"""Recurring work: how often a series repeats (`1d`, `2w`, `1mo`), its nominal dates, and the date an
occurrence falls on in a person's working calendar.

A series has nominal dates: the first one, then one period after another (every Monday 09:00). An
occurrence whose nominal day is not a working day of the person's calendar (a holiday, a weekend, an
absence) falls on the next working day at the same local time; the series goes on from its nominal date,
so a Monday holiday moves that one occurrence to Tuesday and the next is on Monday again.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from crmctl.domain.worktime import WorkCalendar

_EVERY = re.compile(r"^([1-9][0-9]{0,2})(d|w|mo)$")
UNITS = {"d": "day", "w": "week", "mo": "month"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SEARCH_DAYS = 366  # how far an occurrence may move to find a working day


@dataclass(frozen=True)
class Every:
    """A period: count days, weeks or months."""

    count: int
    unit: str  # d, w or mo

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def after(self, moment: dt.datetime) -> dt.datetime:
        """The nominal date one period after moment (a month keeps the day, or the month's last one)."""
        if self.unit == "d":
            return _same_time(moment, moment.date() + dt.timedelta(days=self.count))
        if self.unit == "w":
            return _same_time(moment, moment.date() + dt.timedelta(weeks=self.count))
        months = moment.month - 1 + self.count
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return _same_time(moment, dt.date(year, month, day))


def _same_time(moment: dt.datetime, day: dt.date) -> dt.datetime:
    """The same local wall-clock time on another day (a daylight-saving change keeps 09:00 at 09:00)."""
    return dt.datetime.combine(day, moment.timetz().replace(tzinfo=None), tzinfo=moment.tzinfo)


def parse_every(text: str) -> Every:
    """'2w' -> Every(2, 'w'); ValueError with a message otherwise."""
    match = _EVERY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"'{text}' is not a period: write a number of days, weeks or months, e.g. 1d, 2w, 1mo (up to 999)"
        )
    return Every(int(match.group(1)), match.group(2))


def next_after(every: Every, nominal: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The first nominal date of the series after both nominal and now (occurrences missed while nobody ran
    tick are not made up for: the series goes on from the present)."""
    moment = every.after(nominal)
    while moment <= now:
        moment = every.after(moment)
    return moment


def falls_on(nominal: dt.datetime, work: WorkCalendar) -> dt.datetime:
    """When an occurrence falls: its nominal date, or the next working day of the calendar at the same local
    time where that day is not one (a calendar with no working day in a year keeps the nominal date)."""
    local = nominal.astimezone(work.tz)
    for shift in range(SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=shift)
        if work.reason_off(day) is None:
            return _same_time(local, day).astimezone(nominal.tzinfo)
    return nominal


def first_on(now: dt.datetime, weekday: str | None, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """A schedule's first nominal date: the first moment at `at` (local time), on the weekday if one is named,
    not before now."""
    local = now.astimezone(tz)
    for shift in range(8):
        day = local.date() + dt.timedelta(days=shift)
        moment = dt.datetime.combine(day, at, tzinfo=tz)
        if moment >= local and (weekday is None or WEEKDAYS[day.weekday()] == weekday):
            return moment
    raise ValueError("no such day")  # a week always holds the weekday: not reached
