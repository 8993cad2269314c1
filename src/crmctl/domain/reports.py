"""Report arithmetic that is not a query: suggested estimates, the funnel in process order."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from crmctl.domain.model import ProcessDef

PERIODS = ("week", "month", "quarter")
GROUPINGS = ("person", "type", "project", "record", "form")  # a task's assignee, type, project, record, its form


def parse_by(text: str) -> list[str]:
    """'person,type' -> ['person', 'type']: one or more of GROUPINGS, each once; ValueError for anything else."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or any(p not in GROUPINGS for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"--by takes {', '.join(GROUPINGS)} or several of them (person,type), not '{text}'")
    return parts


def suggest(median_minutes: float, step: int = 5) -> int:
    """A new estimate from the observed median: rounded up to whole steps of minutes, at least one step."""
    return max(step, math.ceil(median_minutes / step) * step)


def funnel_rows(process: ProcessDef, data: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per stage in process order: counts, stays, where records went next and where they ended
    (a terminal stage, or 'open' while they are still on their way)."""
    stats = {row["stage"]: row for row in data["stages"]}
    rows = []
    for stage in process.stages.values():
        found = stats.get(stage.id, {})
        nxt = {m["next_stage"]: m["records"] for m in data["moves"] if m["stage"] == stage.id}
        ended: dict[str, int] = {}
        for e in data["endings"]:
            if e["stage"] != stage.id:
                continue
            final = process.stages.get(e["final_stage"])
            name = e["final_stage"] if final is not None and final.terminal else "open"
            ended[name] = ended.get(name, 0) + e["records"]
        entered = found.get("entered", 0)
        rows.append(
            {
                "stage": stage.id,
                "title": stage.title,
                "terminal": stage.terminal,
                "outcome": stage.outcome,
                "entered": entered,
                "here": found.get("here", 0),
                "median_hours": found.get("median_hours"),
                "p90_hours": found.get("p90_hours"),
                "next": nxt,
                "ended": ended,
                "won": sum(n for s, n in ended.items() if s != "open" and process.stages[s].outcome == "won"),
                "lost": sum(n for s, n in ended.items() if s != "open" and process.stages[s].outcome == "lost"),
            }
        )
    return rows
