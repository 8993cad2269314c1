"""The kanban board of a process: as a table for the terminal, JSON, or a standalone HTML page."""

from __future__ import annotations

import json
from typing import Any

from crmctl.domain.records import plain


def age(minutes: int) -> str:
    """Time in stage as people say it: 45m, 3h, 2d 4h."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h"
    return f"{mins}m"


def as_data(process: Any, columns: list[Any]) -> dict[str, Any]:
    return {
        "process": process.name,
        "title": process.title,
        "form": process.form,
        "stages": [
            {
                "stage": c.stage.id,
                "title": c.stage.title,
                "count": len(c.cards),
                "cards": [{k: plain(v) for k, v in card.items()} for card in c.cards],
            }
            for c in columns
        ],
    }


def as_json(process: Any, columns: list[Any]) -> str:
    return json.dumps(as_data(process, columns), ensure_ascii=False, indent=2) + "\n"


def _header(title: str, count: int, room: int) -> str:
    """A stage's title and card count in two lines; a title too long for them is cut, the count kept."""
    from crmctl.render.tables import MORE, cell, fit

    lines = fit(cell(f"{title} ({count})"), room, 2, wrap=True)
    if lines[-1].endswith(MORE):
        lines = [*fit(cell(title), room, 2, wrap=True), f"({count})"]
    return "\n".join(lines)


def table(process: Any, columns: list[Any], *, color: bool = False, width: int | None = None) -> str:
    """Stages side by side, fitted to the terminal: a card's lines are cut with '…' and its text's control
    characters shown as \\x1b."""
    from tabulate import tabulate

    from crmctl.render.tables import MIN_CELL, cell, clip, fit, red, terminal_width

    room = max(MIN_CELL, ((width or terminal_width()) - 1) // max(len(columns), 1) - 3)  # "│ " … " " per column
    headers = [_header(c.stage.title, len(c.cards), room - 2) for c in columns]  # tabulate pads a header by two
    depth = max((len(c.cards) for c in columns), default=0)
    body = []
    for i in range(depth):
        line = []
        for column in columns:
            if i < len(column.cards):
                card = column.cards[i]
                text = f"{card['key']} {cell(card['title'], (room + 1) * 2)}".strip().replace("\n", " ")
                when = age(card["in_stage_minutes"]) + (" OVERDUE" if card["overdue"] else "")
                who = clip(cell(card["responsible"], room) or "-", max(room - len(when) - 2, 1))
                detail = f"{who}, {when}"
                shown = "\n".join([*fit(text, room, 2, wrap=True), clip(detail, room)])
                line.append(red(shown) if color and card["overdue"] else shown)
            else:
                line.append("")
        body.append(line)
    return (
        f"{clip(cell(process.title, room * 8), room * 8)}\n\n"
        + tabulate(body, headers=headers, tablefmt="simple_grid", disable_numparse=True)
        + "\n"
    )


def html(process: Any, columns: list[Any], form_title: str, now: str) -> str:
    from crmctl.render.pages import page

    data = as_data(process, columns)
    for stage in data["stages"]:
        for card in stage["cards"]:
            card["age"] = age(card["in_stage_minutes"])
    return page(
        "board.html.j2",
        process=process,
        columns=data["stages"],
        form_title=form_title,
        now=now,
        total=sum(s["count"] for s in data["stages"]),
    )
