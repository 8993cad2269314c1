"""Rows as a table, JSON or CSV: one registry, chosen by --format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from crmctl.domain.records import plain

Column = tuple[str, str]  # (key in the row, header)
FLAG = "_flag"  # a row key the table renderer uses for emphasis ("overdue" → red); never output


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MIN_CELL = 8  # a column is never shortened below this many characters
CELL_LINES = 8  # lines of one table cell at most
CARD_LINES = 6  # lines of one value on a card at most (record show --format json shows it whole)
MORE = "…"


def visible(text: str) -> str:
    """Control characters shown as \\x1b: a value holding ESC [2J must not drive the reader's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) if _CONTROL.search(text) else text


def one_line(text: str) -> str:
    """Text as one line that cannot drive the terminal: control characters as \\x1b, a line break as \\n."""
    return visible(text).replace("\n", "\\n")


UNLIMITED = 10**9  # the width of output that is not fitted: every column and character shown
_wide: ContextVar[bool] = ContextVar("crmctl_wide", default=False)


def show_everything(wide: bool) -> None:
    """--wide: tables keep every column and cell whole, whatever the terminal's width."""
    _wide.set(wide)


def terminal_width() -> int:
    """The width human output is fitted to: COLUMNS, else the terminal's; in a pipe (no COLUMNS) or with
    --wide, no limit, so that what a program reads holds whole rows."""
    columns = os.environ.get("COLUMNS", "")
    if _wide.get():
        return UNLIMITED
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), 2 * MIN_CELL)
    if not sys.stdout.isatty():
        return UNLIMITED
    return max(shutil.get_terminal_size((100, 24)).columns, 2 * MIN_CELL)


def clip(text: str, width: int) -> str:
    """One line cut to `width` characters, the last of them '…' when something was left out."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + MORE


def fit(text: str, width: int, lines: int, *, wrap: bool = False) -> list[str]:
    """Text as at most `lines` lines of at most `width` characters, each line cut (or, with wrap, wrapped);
    the last line ends in '…' when something was left out. Costs what is shown, however long the text."""
    import textwrap

    limit = (width + 1) * lines  # more than the most that `lines` lines can show
    out: list[str] = []
    for piece in text[:limit].split("\n", lines):
        if len(piece) <= width:
            out.append(piece)  # kept as it is: wrapping would also drop its leading and trailing spaces
        else:
            out.extend((textwrap.wrap(piece, width) or [""]) if wrap else [clip(piece, width)])
    if len(out) > lines or len(text) > limit:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + MORE
    return out


def cell(value: Any, limit: int | None = None) -> str:
    """A value as a person reads it in a table (control characters made visible). With a limit, a long
    text is cut before it is made visible: what is shown of it costs what is shown, not its length."""
    if limit is not None and isinstance(value, str) and len(value) > limit:
        value = value[: limit + 1]
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


def whole(value: Any) -> Any:
    """A number as people count: 8, not 8.0 (a number field is stored as a double); anything else as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def red(text: str) -> str:
    return f"\x1b[31m{text}\x1b[0m"


def _widths(natural: list[int], floors: list[int], room: int) -> list[int]:
    """Column widths that fit `room` if they can: the widest columns give up characters first, none below
    its floor (its header, at least MIN_CELL)."""
    cap = max(natural, default=0)
    while cap > 0 and sum(max(f, min(w, cap)) for w, f in zip(natural, floors, strict=True)) > room:
        cap -= 1
    return [max(f, min(w, cap)) for w, f in zip(natural, floors, strict=True)]


def fitted(body: list[list[str]], headers: list[str], width: int, gap: int) -> tuple[list[list[str]], int]:
    """Cells shortened so that a table of `gap` characters between columns fits `width`, and how many of
    the columns fit. Headers are the program's own words and are kept whole (tabulate pads each by two): a
    column never gets narrower than its header; when even so the columns do not fit, the last ones, the
    least important, are left out (the first is always shown)."""
    lines = [[c.split("\n") for c in row] for row in body]
    natural = [max([len(h) + 2] + [len(line) for row in lines for line in row[i]]) for i, h in enumerate(headers)]
    floors = [min(w, max(MIN_CELL, len(h) + 2)) for w, h in zip(natural, headers, strict=True)]
    shown = len(headers)
    while shown > 1 and sum(floors[:shown]) + gap * (shown - 1) > width:
        shown -= 1
    caps = _widths(natural[:shown], floors[:shown], width - gap * (shown - 1))
    return [["\n".join(fit(c, caps[i], CELL_LINES)) for i, c in enumerate(row[:shown])] for row in body], shown


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, color: bool = False, width: int | None = None
) -> str:
    """A table fitted to the terminal: a long cell is cut with '…' (JSON and CSV keep every character)."""
    from tabulate import tabulate

    if not rows:
        return "(none)\n"
    width = width or terminal_width()
    body = [[cell(row.get(key), (width + 1) * CELL_LINES) for key, _ in columns] for row in rows]
    headers = [h for _, h in columns]
    cells, shown = fitted(body, headers, width, 2)
    text = tabulate(cells, headers=headers[:shown], tablefmt="simple", disable_numparse=True)
    lines = text.splitlines()
    if color:
        for i, row in enumerate(rows):
            if row.get(FLAG):
                lines[i + 2] = red(lines[i + 2])
    left_out = len(headers) - shown
    if left_out:
        lines.append(f"({left_out} more column{'s' if left_out > 1 else ''}: --wide shows every column)")
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


def pairs(items: Sequence[tuple[str, Any]], width: int | None = None) -> str:
    """A vertical table of label: value lines, for one record. A long value is wrapped under itself to at
    most CARD_LINES lines, the last ending in '…' when more was left out."""
    if not items:
        return ""
    label_width = max(len(label) for label, _ in items)
    room = max((width or terminal_width()) - label_width - 2, MIN_CELL)
    out = []
    for label, value in items:
        first, *rest = fit(cell(value, (room + 1) * CARD_LINES), room, CARD_LINES, wrap=True)
        out.append(f"{label.ljust(label_width)}  {first}\n" + "".join(f"{'':{label_width}}  {line}\n" for line in rest))
    return "".join(out)


def hidden_line(counts: dict[str, int]) -> str:
    """What a card left out because the person may not read it: '2 related records, 1 task hidden\n', or ''.
    counts: {"related": n, "tasks": n} (either may be missing)."""
    nouns = {"related": "related record", "tasks": "task"}
    parts = [f"{n} {nouns[k]}{'s' if n != 1 else ''}" for k, n in counts.items() if n]
    return f"{', '.join(parts)} hidden (not yours to read)\n" if parts else ""
