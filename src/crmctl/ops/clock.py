"""The current time, which scripts and tests pin with --now / CRMCTL_NOW."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from crmctl.errors import UsageError

_RELATIVE = re.compile(r"^\+(\d+)([mhdw])$")
FIRST_YEAR, LAST_YEAR = 1900, 2999  # far enough either way, and room for a horizon of years after


def parse_instant(text: str, tz: str, now: dt.datetime | None = None) -> dt.datetime:
    """An aware datetime from ISO text (a date means its midnight; no offset means the workspace's zone).

    With `now`, relative forms are accepted too: +30m, +2h, +1d, +1w (calendar time). The text is always a
    command-line option (--now, --at, --due, --from, --to): one that does not parse is a usage error.
    """
    text = text.strip()
    match = _RELATIVE.match(text)
    if match and now is not None:
        amount, unit = int(match.group(1)[:9]), match.group(2)
        minutes = amount * {"m": 1, "h": 60, "d": 1440, "w": 10080}[unit]
        try:
            value = now + dt.timedelta(minutes=minutes)
        except OverflowError:
            value = dt.datetime.max.replace(tzinfo=now.tzinfo)
    else:
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            hint = " or +30m, +2h, +1d" if now is not None else ""
            raise UsageError(f"'{text}' is not a date-time (use ISO 8601, e.g. 2027-03-01T10:00{hint})") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    if not FIRST_YEAR <= value.year <= LAST_YEAR or not FIRST_YEAR <= value.astimezone(dt.UTC).year <= LAST_YEAR:
        raise UsageError(f"'{text}' is out of range: crmctl works with the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


def current(setting: str | None, tz: str) -> dt.datetime:
    if setting:
        return parse_instant(setting, tz).astimezone(ZoneInfo(tz))
    return dt.datetime.now(ZoneInfo(tz))
