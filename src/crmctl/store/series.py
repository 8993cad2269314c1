"""Recurring work (crm.series) and announcements (crm.announcements).

A series is of a kind: "task" (its current occurrence a task id), "reminder" (a reminder id as text) or
"launch" (a template's schedule: the project its last launch made). `nominal` is the nominal date of its
current occurrence (for a launch: of the next one); `spec` holds what each occurrence is made of.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

Row = dict[str, Any]


def _rows(cursor: Any) -> list[Row]:
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        if isinstance(row.get("spec"), str):
            row["spec"] = json.loads(row["spec"])
    return rows


def add(conn: Any, values: Row) -> int:
    """A new series; its id."""
    row = conn.execute(
        "INSERT INTO crm.series (kind, every, person, spec, nominal, current, created_at, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            values["kind"],
            values["every"],
            values.get("person"),
            json.dumps(values["spec"], ensure_ascii=False, default=str),
            values["nominal"],
            values.get("current"),
            values["created_at"],
            values.get("created_by"),
        ],
    ).fetchone()
    return int(row[0])


def get(conn: Any, series: int) -> Row | None:
    found = _rows(conn.execute("SELECT * FROM crm.series WHERE id = ?", [series]))
    return found[0] if found else None


def active(conn: Any, kind: str) -> list[Row]:
    """The series of a kind not stopped, oldest first."""
    return _rows(conn.execute("SELECT * FROM crm.series WHERE kind = ? AND stopped_at IS NULL ORDER BY id", [kind]))


def of_current(conn: Any, kind: str, item: str) -> Row | None:
    """The active series whose current occurrence is this item (a task id, a reminder id as text)."""
    found = _rows(
        conn.execute(
            "SELECT * FROM crm.series WHERE kind = ? AND current = ? AND stopped_at IS NULL ORDER BY id", [kind, item]
        )
    )
    return found[0] if found else None


def currents(conn: Any, kind: str) -> dict[str, Row]:
    """The current occurrence of each active series of a kind -> its series."""
    return {str(row["current"]): row for row in active(conn, kind) if row["current"] is not None}


def move_on(conn: Any, series: int, current: str | None, nominal: dt.datetime, spec: Row | None = None) -> None:
    """The series' current occurrence is now this one, of this nominal date."""
    if spec is None:
        conn.execute("UPDATE crm.series SET current = ?, nominal = ? WHERE id = ?", [current, nominal, series])
    else:
        conn.execute(
            "UPDATE crm.series SET current = ?, nominal = ?, spec = ? WHERE id = ?",
            [current, nominal, json.dumps(spec, ensure_ascii=False, default=str), series],
        )


def stop(conn: Any, series: int, at: dt.datetime, by: str | None) -> None:
    conn.execute("UPDATE crm.series SET stopped_at = ?, stopped_by = ? WHERE id = ?", [at, by, series])


# -- announcements -----------------------------------------------------------------------------------------------
def announce(
    conn: Any, text: str, audience: list[str], until: dt.datetime | None, at: dt.datetime, by: str | None
) -> int:
    row = conn.execute(
        "INSERT INTO crm.announcements (text, audience, until, created_at, created_by) VALUES (?, ?, ?, ?, ?) "
        "RETURNING id",
        [text, audience, until, at, by],
    ).fetchone()
    return int(row[0])


def announcement(conn: Any, announcement_id: int) -> Row | None:
    found = _rows(conn.execute("SELECT * FROM crm.announcements WHERE id = ?", [announcement_id]))
    return found[0] if found else None


def current_announcements(conn: Any, now: dt.datetime) -> list[Row]:
    """The announcements shown now: not withdrawn, and without an end or ending after now; newest first."""
    return _rows(
        conn.execute(
            "SELECT * FROM crm.announcements WHERE withdrawn_at IS NULL AND (until IS NULL OR until > ?) "
            "ORDER BY created_at DESC, id DESC",
            [now],
        )
    )


def withdraw(conn: Any, announcement_id: int, at: dt.datetime, by: str | None) -> None:
    conn.execute(
        "UPDATE crm.announcements SET withdrawn_at = ?, withdrawn_by = ? WHERE id = ?", [at, by, announcement_id]
    )


def expire(conn: Any, now: dt.datetime) -> list[Row]:
    """The announcements whose end has come and that are not marked expired yet, marked now."""
    found = _rows(
        conn.execute(
            "UPDATE crm.announcements SET expired_at = ? WHERE expired_at IS NULL AND withdrawn_at IS NULL "
            "AND until IS NOT NULL AND until <= ? RETURNING *",
            [now, now],
        )
    )
    return sorted(found, key=lambda row: row["id"])
