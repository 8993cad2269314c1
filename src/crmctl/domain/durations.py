"""Durations of working time: 90m, 2h, 1d, 1h30m, 1w."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
HOURS_PER_DAY = 8
DAYS_PER_WEEK = 5
MAX_HOURS = 10_000  # five years of working days: no estimate or logged interval is longer


def parse_duration(text: str, hours_per_day: float = HOURS_PER_DAY) -> int:
    """Minutes of working time in text; 1d is hours_per_day hours, 1w is five such days.

    Raises ValueError with a message for anything else, including zero and negative durations.
    """
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"'{text}' is not a duration: write weeks, days, hours and minutes, e.g. 90m, 2h, 1d, 1h30m")
    if any(len(g) > 7 for g in match.groups() if g):
        raise ValueError(f"'{text}' is longer than {MAX_HOURS:,} hours")
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    total = round(((weeks * DAYS_PER_WEEK + days) * hours_per_day + hours) * 60 + minutes)
    if total <= 0:
        raise ValueError(f"'{text}' is not a duration: it must be longer than zero")
    if total > MAX_HOURS * 60:
        raise ValueError(f"'{text}' is longer than {MAX_HOURS:,} hours")
    return total


def format_minutes(minutes: int) -> str:
    """90 -> '1h30m'; 0 -> '0m'. Hours are not folded into days (days depend on the calendar)."""
    sign = "-" if minutes < 0 else ""
    hours, mins = divmod(abs(int(minutes)), 60)
    if hours and mins:
        return f"{sign}{hours}h{mins:02d}m"
    return f"{sign}{hours}h" if hours else f"{sign}{mins}m"
