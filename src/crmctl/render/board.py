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


def table(process: Any, columns: list[Any], *, color: bool = False) -> str:
    from tabulate import tabulate

    from crmctl.render.tables import red

    headers = [f"{c.stage.title} ({len(c.cards)})" for c in columns]
    depth = max((len(c.cards) for c in columns), default=0)
    body = []
    for i in range(depth):
        line = []
        for column in columns:
            if i < len(column.cards):
                card = column.cards[i]
                text = f"{card['key']} {card['title']}".strip()
                detail = f"{card['responsible'] or '-'}, {age(card['in_stage_minutes'])}"
                if card["overdue"]:
                    detail += " OVERDUE"
                cell = f"{text}\n{detail}"
                line.append(red(cell) if color and card["overdue"] else cell)
            else:
                line.append("")
        body.append(line)
    return (
        f"{process.title}\n\n" + tabulate(body, headers=headers, tablefmt="simple_grid", disable_numparse=True) + "\n"
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
