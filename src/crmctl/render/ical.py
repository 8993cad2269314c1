"""The agenda as an iCalendar (RFC 5545) file that calendar applications import."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmctl.ops.agenda import Agenda


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > 75:
            out.append(current.decode())
            current = b" "
        current += encoded
    out.append(current.decode())
    return "\r\n".join(out)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(agenda: Agenda) -> str:
    """One VTODO for each item of the agenda, stamped with the time the agenda was made."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//crmctl//agenda//EN", "CALSCALE:GREGORIAN"]
    for item in (i for i in agenda.items if i.kind != "announcement"):  # news, not an appointment
        summary = f"{item.record}: {item.text}" if item.record else item.text
        lines += [
            "BEGIN:VTODO",
            f"UID:{item.id.replace(':', '-')}@crmctl",
            f"DTSTAMP:{_utc(agenda.now)}",
            f"DUE:{_utc(item.due)}",
            f"SUMMARY:{_escape(summary)}",
        ]
        if item.title:
            lines.append(f"DESCRIPTION:{_escape(item.title)}")
        lines.append("END:VTODO")
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
