"""Processes as state machines: which approvers a stage needs, whether it is skipped, where records go.

Rules (docs/processes.md):
- Entering a stage computes its approvers: the approvers of every approval group whose `when` holds.
- A stage is skipped when its `skip_when` holds, or when it has approval groups and none of them
  applies. A skipped stage passes the record on along its first transition.
- A stage with pending approvers is passed when every one of them has approved. A role approver
  (role:x) is satisfied by any one person with that role; `author` is the record's author; `responsible`
  the stage's responsible person (resolved by the caller, who chooses them: see `with_responsible`).
"""

from __future__ import annotations

import datetime as dt
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


def unmet(stage: StageDef, row: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> str | None:
    """What keeps a record from leaving the stage by its `require`, in words, or None: a required field that
    is empty, a required yes/no field that is not yes."""
    required = stage.raw.get("require", [])
    empty = [name for name in required if row.get(name) in (None, "")]
    not_yes = [n for n in required if n not in empty and n in specs and specs[n].type == "bool" and row[n] is not True]
    parts = [
        f"{label}: {', '.join(names)}"
        for label, names in (("these fields are filled", empty), ("these yes/no fields are yes", not_yes))
        if names
    ]
    return " and ".join(parts) or None


def entry_refusal(stage: StageDef, values: Mapping[str, Any], specs: Mapping[str, FieldSpec], key: str) -> str | None:
    """Why a record may not enter the stage by its `enter_when` condition, or None (`tasks_done`, which needs
    the record's tasks, is the caller's)."""
    cond = stage.raw.get("enter_when")
    if cond is not None and not holds(cond, values, specs, key):
        return f"{key} cannot enter '{stage.id}': {describe(cond)} does not hold"
    return None


def with_responsible(approvers: list[Approver], responsible: str | None) -> list[Approver]:
    """The approvers with `responsible` made the stage's responsible person (left out when there is none)."""
    found: list[Approver] = []
    for a in approvers:
        person = responsible if a.who == "responsible" else a.who
        if person and Approver(a.group, person) not in found:
            found.append(Approver(a.group, person))
    return found


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
    wanted = [] if found.skipped else with_responsible(found.approvers, row.get("responsible"))
    named = {(a.group, a.who) for a in wanted}

    def named_as(a: dict[str, Any]) -> tuple[str, str]:  # a deputy's or a delegate's request stands for whom
        return a["approval_group"], a.get("acting_for") or a["approver"]

    withdrawn = [a for a in approvals if a["decision"] is None and named_as(a) not in named]
    asked = {named_as(a) for a in approvals if a["decision"] in (None, "approved")}
    return withdrawn, [a for a in wanted if (a.group, a.who) not in asked]


# -- transitions on time -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimedRule:
    """A transition a stage makes on time (its `timed:` list): to a stage, `after` a working-time duration in
    the stage, or `when` a date field of the record passes, and only `if` a condition holds."""

    name: str
    to: str
    after: str | None
    when: str | None
    condition: Mapping[str, Any] | None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> TimedRule:
        return cls(rule_name(raw), raw["to"], raw.get("after"), raw.get("when"), raw.get("if"))


def rule_name(raw: Mapping[str, Any]) -> str:
    """A timed rule's name: its own, else what it says ("after 5d -> closed", "contract_until passed -> invoicing")."""
    if raw.get("name"):
        return str(raw["name"])
    trigger = f"after {raw['after']}" if raw.get("after") else f"{raw.get('when')} passed"
    return f"{trigger} -> {raw['to']}"


def timed_rules(stage: StageDef) -> list[TimedRule]:
    return [TimedRule.of(raw) for raw in stage.raw.get("timed", ())]


def passing(value: Any, tz: dt.tzinfo) -> dt.datetime | None:
    """When a date field's value has passed: a date at the end of that day (the next midnight, local time), a
    date-time at that instant; None for an empty value."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return None


def duty(responsible: str | None, approvers: list[tuple[str, str]], *, you: bool = False) -> str | None:
    """Who does what at a stage, in words (the card and the responsible person's notice): the responsible
    person does the stage's work; the approvals pass it, or, with none, the responsible person advances it.
    `approvers`: (group, who) pending. With `you`, addressed to the responsible person."""
    if responsible is None:
        return None
    who = "you" if you else responsible
    others = [f"{a} ({g})" for g, a in approvers if a != responsible]
    if not approvers:
        return f"{who} {'do' if you else 'does'} the work and {'advance' if you else 'advances'} it"
    if len(others) < len(approvers):
        passes = f"{'your' if you else 'their'} approval passes it"
        return f"{who} {'do' if you else 'does'} the work; {passes}" + (f", with {', '.join(others)}" if others else "")
    verb = "approve" if len(others) > 1 else "approves"
    return f"{who} {'prepare' if you else 'prepares'} it; {', '.join(others)} {verb} it"
