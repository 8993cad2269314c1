"""Working calendars: weekly hours with breaks, holidays."""

from __future__ import annotations

import re

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_day_key(key: str) -> list[int]:
    """'mon-fri' -> [0..4]; 'sat,sun' -> [5, 6]. ValueError for a backwards range."""
    days: list[int] = []
    for part in key.split(","):
        first, _, last = part.partition("-")
        start = DAYS.index(first)
        end = DAYS.index(last) if last else start
        if end < start:
            raise ValueError(f"day range '{part}' runs backwards")
        days.extend(range(start, end + 1))
    return days


def parse_interval(text: str) -> tuple[int, int]:
    """'09:00-13:00' -> (540, 780) minutes after midnight. ValueError if invalid or backwards."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"'{text}' is not an interval HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"'{text}' names a time that does not exist")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise ValueError(f"interval '{text}' runs backwards or is empty")
    return start, end
