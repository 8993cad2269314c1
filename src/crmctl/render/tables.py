"""Rows as a table, JSON or CSV: one registry, chosen by --format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from crmctl.domain.records import plain

Column = tuple[str, str]  # (key in the row, header)
FLAG = "_flag"  # a row key the table renderer uses for emphasis ("overdue" → red); never output


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Control characters shown as \\x1b: a value holding ESC [2J must not drive the reader's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) if _CONTROL.search(text) else text


def cell(value: Any) -> str:
    """A value as a person reads it in a table (control characters made visible)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return visible(str(value))


def red(text: str) -> str:
    return f"\x1b[31m{text}\x1b[0m"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, color: bool = False) -> str:
    from tabulate import tabulate

    if not rows:
        return "(none)\n"
    body = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    text = tabulate(body, headers=[h for _, h in columns], tablefmt="simple", disable_numparse=True)
    lines = text.splitlines()
    if color:
        for i, row in enumerate(rows):
            if row.get(FLAG):
                lines[i + 2] = red(lines[i + 2])
    return "\n".join(lines) + "\n"


def as_json(rows: Sequence[dict[str, Any]], columns: Sequence[Column] | None = None) -> str:
    keys = [k for k, _ in columns] if columns else None
    data = [{k: plain(v) for k, v in row.items() if k != FLAG and (keys is None or k in keys)} for row in rows]
    return json.dumps(data, ensure_ascii=False, indent=2, default=plain) + "\n"


def neutralise(text: str) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula; a leading quote keeps it text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # a carriage return is no line end to the writer, so it would leave such a cell bare: quote that row
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([k for k, _ in columns])
    for row in rows:
        values = []
        for key, _ in columns:
            raw = row.get(key)
            value = plain(raw)
            if isinstance(value, (list, tuple)):
                value = ", ".join(str(plain(v)) for v in value)
            text = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
            if isinstance(raw, (str, list, tuple)):  # numbers and dates are never formulas
                text = neutralise(text)
            values.append(text)
        (quoted if any("\r" in v for v in values) else writer).writerow(values)
    return out.getvalue()


def render(fmt: str, rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, color: bool = False) -> str:
    renderers: dict[str, Callable[[], str]] = {
        "table": lambda: table(rows, columns, color=color),
        "json": lambda: as_json(rows, columns),
        "csv": lambda: as_csv(rows, columns),
    }
    return renderers[fmt]()


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """A vertical table of label: value lines, for one record."""
    if not items:
        return ""
    width = max(len(label) for label, _ in items)
    return "".join(f"{label.ljust(width)}  {cell(value)}\n" for label, value in items)


def hidden_line(counts: dict[str, int]) -> str:
    """What a card left out because the person may not read it: '2 related records, 1 task hidden\n', or ''.
    counts: {"related": n, "tasks": n} (either may be missing)."""
    nouns = {"related": "related record", "tasks": "task"}
    parts = [f"{n} {nouns[k]}{'s' if n != 1 else ''}" for k, n in counts.items() if n]
    return f"{', '.join(parts)} hidden (not yours to read)\n" if parts else ""
