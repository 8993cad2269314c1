"""Processes as state machines: which approvers a stage needs, whether it is skipped, where records go.

Rules (docs/processes.md):
- Entering a stage computes its approvers: the approvers of every approval group whose `when` holds.
- A stage is skipped when its `skip_when` holds, or when it has approval groups and none of them
  applies. A skipped stage passes the record on along its first transition.
- A stage with pending approvers is passed when every one of them has approved. A role approver
  (role:x) is satisfied by any one person with that role; `author` is the record's author.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.conditions import comparisons, evaluate
from crmctl.domain.model import ProcessDef, StageDef
from crmctl.domain.values import FieldSpec
from crmctl.errors import InputError


@dataclass(frozen=True)
class Approver:
    group: str
    who: str  # a person id, or role:<id>


@dataclass
class Entry:
    """What entering a stage means for one record."""

    stage: StageDef
    skipped: str | None = None  # why, when the stage is skipped
    approvers: list[Approver] = field(default_factory=list)


def _check_fields(cond: Mapping[str, Any], values: Mapping[str, Any], specs: Mapping[str, FieldSpec], key: str) -> None:
    for comparison, _ in comparisons(cond):
        name = comparison["field"]
        if name not in specs or name not in values:
            raise InputError(f"a condition refers to field '{name}', which record {key} does not have")


def holds(cond: Mapping[str, Any], values: Mapping[str, Any], specs: Mapping[str, FieldSpec], key: str) -> bool:
    _check_fields(cond, values, specs, key)
    return evaluate(cond, values, specs)


def describe(cond: Mapping[str, Any]) -> str:
    """A condition as compact text for history lines: amount > 1000000."""
    symbols = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    if "all" in cond:
        return " and ".join(f"({describe(c)})" for c in cond["all"])
    if "any" in cond:
        return " or ".join(f"({describe(c)})" for c in cond["any"])
    if "not" in cond:
        return f"not ({describe(cond['not'])})"
    op = next(k for k in cond if k != "field")
    value = cond[op]
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    shown = str(value) if numeric else json.dumps(value, ensure_ascii=False)
    if op in symbols:
        return f"{cond['field']} {symbols[op]} {shown}"
    if op == "filled":
        return f"{cond['field']} is {'filled' if value else 'empty'}"
    return f"{cond['field']} {op} {shown}"


def entry(
    stage: StageDef, values: Mapping[str, Any], specs: Mapping[str, FieldSpec], author: str | None, key: str
) -> Entry:
    raw = stage.raw
    if "skip_when" in raw and holds(raw["skip_when"], values, specs, key):
        return Entry(stage, skipped=f"skip_when holds: {describe(raw['skip_when'])}")
    groups = raw.get("approvals", [])
    approvers: list[Approver] = []
    for i, group in enumerate(groups):
        if "when" in group and not holds(group["when"], values, specs, key):
            continue
        name = group.get("name", f"group {i + 1}")
        for who in group["approvers"]:
            person = author if who == "author" else who
            if person and Approver(name, person) not in approvers:
                approvers.append(Approver(name, person))
    if groups and not approvers:
        return Entry(stage, skipped="no approval group applies")
    return Entry(stage, approvers=approvers)


def skip_target(stage: StageDef) -> str | None:
    return stage.transitions[0] if stage.transitions else None


@dataclass
class Step:
    stage: StageDef
    skipped: str | None
    approvers: list[Approver]


def walk(
    process: ProcessDef,
    start: str,
    values: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    author: str | None,
    key: str,
    *,
    follow: bool,
) -> list[Step]:
    """Enter `start` and pass through skipped stages. With follow, keep going along first transitions
    (the path a simulation shows) until a terminal stage or a stage seen before."""
    steps: list[Step] = []
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen:
        seen.add(current)
        stage = process.stages[current]
        found = entry(stage, values, specs, author, key)
        steps.append(Step(stage, found.skipped, found.approvers))
        if found.skipped is None and not follow:
            break
        if stage.terminal:
            break
        current = skip_target(stage)
    return steps


MAX_STEPS = 1000  # a route longer than this goes round in circles (skipped stages that lead back)


def route(
    process: ProcessDef,
    values: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    author: str | None,
    path: tuple[str, ...] = (),
) -> list[Step]:
    """The whole way a record with these values would go from the initial stage to an end stage: through the
    stages `path` names, in order, then along each stage's first transition to a stage not met yet. A skipped
    stage passes the record on along its first transition, as it does in a real move. It ends at a terminal
    stage, or where no transition leads anywhere new."""
    unknown = [s for s in path if s not in process.stages]
    if unknown:
        raise InputError(
            f"process {process.name} has no stage {', '.join(unknown)} (stages: {', '.join(process.stages)})"
        )
    wanted, steps, seen = list(path), list[Step](), set[str]()
    current: str | None = process.initial
    while current is not None and len(steps) < MAX_STEPS:
        stage = process.stages[current]
        found = entry(stage, values, specs, author, "the simulated record")
        steps.append(Step(stage, found.skipped, found.approvers))
        seen.add(current)
        if wanted and wanted[0] == current:
            wanted.pop(0)
        current = None if stage.terminal else _next_stage(stage, found.skipped, wanted, seen)
    if wanted:
        raise InputError(f"the path goes on to {', '.join(wanted)} after stage {steps[-1].stage.id}, where it ends")
    return steps


def _next_stage(stage: StageDef, skipped: str | None, wanted: list[str], seen: set[str]) -> str | None:
    """Where a route goes from a stage: along the first transition of a skipped one, to the next stage the path
    names (InputError if the stage cannot go there), or to the first stage not met yet."""
    if skipped is not None:
        return skip_target(stage)
    if wanted:
        if wanted[0] not in stage.transitions:
            goes = ", ".join(stage.transitions) or "nowhere"
            raise InputError(f"stage {stage.id} cannot go to {wanted[0]} (it goes to {goes})")
        return wanted[0]
    return next((t for t in stage.transitions if t not in seen), None)


def follow(
    stage: StageDef, row: Mapping[str, Any], specs: Mapping[str, FieldSpec], approvals: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Approver]]:
    """A record waiting for approval at a stage whose approvers changed, and the requests of its visit there
    (rows of crm.approvals): the pending requests the stage no longer names (to withdraw), and the approvers it
    names now who have neither a pending request nor given their approval (to ask)."""
    values = {name: row.get(name) for name in specs}
    found = entry(stage, values, specs, row.get("author"), row["key"])
    wanted = [] if found.skipped else found.approvers
    named = {(a.group, a.who) for a in wanted}
    withdrawn = [a for a in approvals if a["decision"] is None and (a["approval_group"], a["approver"]) not in named]
    asked = {(a["approval_group"], a["approver"]) for a in approvals if a["decision"] in (None, "approved")}
    return withdrawn, [a for a in wanted if (a.group, a.who) not in asked]
