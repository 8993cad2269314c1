"""The kanban board of a process: as a table for the terminal, JSON, or a standalone HTML page."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from crmctl.domain.records import plain

CARD_CELL = 16  # a stage's column is at least this wide, unless the terminal is narrower

if TYPE_CHECKING:
    from crmctl.ops.process import Board, BoardColumn, Card


def age(minutes: int) -> str:
    """Time in stage as people say it: 45m, 3h, 2d 4h."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h"
    return f"{mins}m"


def as_data(board: Board) -> dict[str, Any]:
    return {
        "process": board.process,
        "title": board.title,
        "form": board.form,
        "limit": board.limit,
        "stages": [
            {
                "stage": c.stage,
                "title": c.title,
                "count": c.count,
                "more": c.count - len(c.cards),
                "stages": c.stages,
                "cards": [{k: plain(v) for k, v in dataclasses.asdict(card).items()} for card in c.cards],
            }
            for c in board.columns
        ],
    }


def as_json(board: Board) -> str:
    return json.dumps(as_data(board), ensure_ascii=False, indent=2) + "\n"


def _header(title: str, count: int, room: int) -> str:
    """A stage's title and card count in two lines; a title too long for them is cut, the count kept."""
    from crmctl.render.tables import MORE, cell, fit

    lines = fit(cell(f"{title} ({count})"), room, 2, wrap=True)
    if lines[-1].endswith(MORE):
        lines = [*fit(cell(title), room, 2, wrap=True), f"({count})"]
    return "\n".join(lines)


def _card(card: Card, room: int, color: bool) -> str:
    """A card's cell: its key and title in up to two lines, then who and how long."""
    from crmctl.render.tables import cell, clip, fit, red

    text = f"{card.key} {cell(card.title, (room + 1) * 2)}".strip().replace("\n", " ")
    when = age(card.in_stage_minutes) + (" OVERDUE" if card.overdue else "") + (" LATE" if card.late else "")
    who = clip(cell(card.responsible, room) or "-", max(room - len(when) - 2, 1))
    detail = f"{who}, {when}"
    shown = "\n".join([*fit(text, room, 2, wrap=True), clip(detail, room)])
    return red(shown) if color and (card.overdue or card.late) else shown


def table(board: Board, *, color: bool = False, width: int | None = None) -> str:
    """Stages side by side, fitted to the terminal: a card's lines are cut with '…' and its text's control
    characters shown as \\x1b; stages that do not fit beside each other at CARD_CELL go on in a band below."""
    from crmctl.render.tables import MIN_CELL, cell, clip, terminal_width

    width = width or terminal_width()
    columns = board.columns
    per_band = max(1, min(len(columns), (width - 1) // (CARD_CELL + 3)))  # "│ " … " " per column
    room = max(MIN_CELL, (width - 1) // max(per_band, 1) - 3)
    bands = [_band(columns[i : i + per_band], room, color) for i in range(0, len(columns), per_band)]
    return f"{clip(cell(board.title, room * 8), room * 8)}\n\n" + "\n".join(bands)


def _band(columns: list[BoardColumn], room: int, color: bool) -> str:
    """Stages side by side, each `room` characters wide."""
    from tabulate import tabulate

    headers = [_header(c.title, c.count, room - 2) for c in columns]  # tabulate pads a header by two
    cells = [[_card(card, room, color) for card in c.cards] + _more(c, room) for c in columns]
    depth = max((len(c) for c in cells), default=0)
    body = [[column[i] if i < len(column) else "" for column in cells] for i in range(depth)]
    return tabulate(body, headers=headers, tablefmt="simple_grid", disable_numparse=True) + "\n"


def _more(column: BoardColumn, room: int) -> list[str]:
    """Below a column's cards, how many of its records are not shown (`--all` shows them)."""
    from crmctl.render.tables import clip

    more = column.count - len(column.cards)
    return [clip(f"+{more} more", room)] if more > 0 else []


def html(board: Board) -> str:
    from crmctl.render.pages import page

    data = as_data(board)
    for stage in data["stages"]:
        for card in stage["cards"]:
            card["age"] = age(card["in_stage_minutes"])
    return page(
        "board.html.j2",
        process=board,
        columns=data["stages"],
        form_title=board.form_title,
        now=f"{board.made_at:%Y-%m-%d %H:%M}",
        total=sum(s["count"] for s in data["stages"]),
        limit=board.limit,
    )
