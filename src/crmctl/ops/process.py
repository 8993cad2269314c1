"""Processes in motion: entering stages, advance, approve, reject, the board, simulation and the inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from crmctl.domain import permissions
from crmctl.domain.durations import parse_duration
from crmctl.domain.events import Event
from crmctl.domain.model import Definitions, FormDef, ProcessDef, StageDef
from crmctl.domain.process import (
    Approver,
    Step,
    TimedRule,
    entry_refusal,
    follow,
    holds,
    passing,
    route,
    timed_rules,
    unmet,
    walk,
    with_responsible,
)
from crmctl.domain.records import duplicate_message, new_values, simulation_values, unique_checks
from crmctl.domain.shapes import column
from crmctl.domain.values import convert
from crmctl.domain.worktime import NoWorkingTime
from crmctl.errors import InputError, NotFound
from crmctl.ops import projects, series
from crmctl.ops.announcements import shown_to
from crmctl.ops.lookups import (
    calendar_for,
    earliest_member,
    locate,
    normalise_key,
    people_of,
    referring,
    stage_duty,
    stand_in,
    team_person,
)
from crmctl.ops.projects import LaunchNote
from crmctl.ops.schedule import Promise, promises
from crmctl.ops.session import Options, Session, check_actor, workspace_definitions
from crmctl.ops.timekeeping import late_timers
from crmctl.store import process as process_store
from crmctl.store import projects as project_store
from crmctl.store import records as record_store
from crmctl.store.process import EventWrites, StageWrites


def _title(form: FormDef, row: dict[str, Any]) -> str:
    name = form.display_field
    title = str(row.get(name) or "") if name else ""
    return f"{row['key']} {title}".strip()


def _approver_people(session: Session, who: str) -> list[str]:
    if who.startswith("role:"):
        return permissions.members(session.defs, who[5:])
    return [who]


def _reminded(session: Session, who: str, stage: StageDef, row: dict[str, Any]) -> list[str | None]:
    """Whom a stage's reminder is for: author -> the record's author; role:x -> the stage's responsible person
    where x is the stage's responsible role, else every member of the role; a person id -> that person."""
    if who == "author":
        return [row.get("author")]
    if who.startswith("role:"):
        if stage.raw.get("responsible") == who and row.get("responsible"):
            return [row["responsible"]]
        return list(permissions.members(session.defs, who[5:])) or [None]
    return [who]


def _responsible(
    session: Session,
    conn: Any,
    form: FormDef,
    stage: StageDef,
    row: dict[str, Any],
    writes: StageWrites = process_store,
) -> str | None:
    """The person in the stage's responsible_field when it is filled; else by `responsible`:
    author -> the record's author; a person id -> that person; role:x -> the member who can start first by
    their calendar (someone absent cannot start before they are back), ties by the fewest records of the form
    they are responsible for now, then by id."""
    named = row.get(stage.raw.get("responsible_field") or "")
    if named:
        return str(named)
    who = stage.raw.get("responsible")
    if who is None:
        return None
    if who == "author":
        return row.get("author")
    if who.startswith("role:"):
        people = permissions.members(session.defs, who[5:])
        if not people:
            return None
        load = writes.responsible_load(conn, form, people)
        return earliest_member(session, who, people, dict.fromkeys(people, 0), load).person
    return str(who)


def _stage_due(session: Session, stage: StageDef, responsible: str | None) -> dt.datetime | None:
    """The deadline of a stage entered now: its due_in on the responsible person's calendar."""
    if "due_in" not in stage.raw:
        return None
    minutes = parse_duration(stage.raw["due_in"], session.defs.hours_per_day)
    try:
        return calendar_for(session, responsible).add(session.now, minutes)
    except NoWorkingTime as exc:
        raise InputError(f"cannot set the deadline of stage {stage.id}: {exc}") from None


def _entered_data(
    process: ProcessDef,
    final: Step,
    previous: str | None,
    reason: str | None,
    responsible: str | None,
    due: dt.datetime | None,
    approvers: list[Approver],
) -> dict[str, Any]:
    """The stage_entered event's data."""
    data: dict[str, Any] = {"process": process.name, "stage": final.stage.id, "from": previous}
    if reason:
        data["reason"] = reason
    if responsible:
        data["responsible"] = responsible
    if due:
        data["due"] = due
    if approvers:
        data["approvers"] = [a.who for a in approvers]
    if final.skipped:
        data["note"] = f"skipped stage stays: {final.skipped}"
    return data


def enter(
    session: Session,
    conn: Any,
    form: FormDef,
    row: dict[str, Any],
    process: ProcessDef,
    target: str,
    *,
    reason: str | None = None,
    given: frozenset[str] = frozenset(),
    deferred: process_store.Deferred | None = None,
    launched: list[LaunchNote] | None = None,
) -> list[str]:
    """Move a record into target (passing through skipped stages) and do everything entering means.

    The caller holds the transaction. Returns the stages entered, in order. Fields in `given` were set by
    the same command (a record being created): a `set` action leaves them as they are. With `deferred`
    (new records, many at once), the writes wait in it for its flush(). The projects its `launch` actions
    make are added to `launched`. InputError if the stage's entry conditions refuse the record.
    """
    writes: StageWrites = process_store if deferred is None else deferred
    events: EventWrites = record_store if deferred is None else deferred
    key = row["key"]
    now, actor = session.now, session.actor
    values = {name: row.get(name) for name in form.fields}
    steps = walk(process, target, values, form.fields, row.get("author"), key, follow=False)
    refused = refusal(session, conn, form, row, steps[-1].stage)
    if refused:
        raise InputError(refused)
    previous = row.get("stage")
    _close_reminders(session, conn, form, key, previous)
    for step in steps[:-1]:
        data = {"process": process.name, "stage": step.stage.id, "reason": step.skipped}
        events.add_event(conn, now, actor, Event.STAGE_SKIPPED, record=key, form=form.name, data=data)
    final = steps[-1]
    stage = final.stage
    writes.cancel_pending(conn, key, now)
    responsible, standing_for = stand_in(session, _responsible(session, conn, form, stage, row, writes))
    due = _stage_due(session, stage, responsible)
    if not writes.move(conn, form, key, expected=previous, stage=stage.id, now=now, due=due, responsible=responsible):
        raise InputError(f"{key} was moved by someone else meanwhile; nothing changed (run the command again)")
    row.update(stage=stage.id, stage_since=now, stage_due=due, responsible=responsible)
    approvers = [] if final.skipped else with_responsible(final.approvers, responsible)
    data = _entered_data(process, final, previous, reason, responsible, due, approvers)
    if standing_for:
        data["responsible_for"] = standing_for
    events.add_event(conn, now, actor, Event.STAGE_ENTERED, record=key, form=form.name, data=data)
    if responsible:
        due_text = f", due {due.astimezone(now.tzinfo):%Y-%m-%d %H:%M}" if due else ""
        what = stage_duty(session, responsible, [(a.group, a.who) for a in approvers], you=True)
        text = f"{_title(form, row)} entered stage '{stage.title}': you are responsible{due_text}; {what}"
        writes.notify(conn, [responsible], "stage", key, text, now)
    _ask(session, conn, form, row, process, stage, approvers, writes)
    _on_enter(session, conn, form, row, stage, given, writes, events, launched)
    return [s.stage.id for s in steps]


def _ask(
    session: Session,
    conn: Any,
    form: FormDef,
    row: dict[str, Any],
    process: ProcessDef,
    stage: StageDef,
    approvers: list[Approver],
    writes: StageWrites = process_store,
) -> None:
    """Request approval of a record in a stage from these approvers, each with a notice in their inbox. A person
    absent today whose absence names a deputy is asked through the deputy, who acts for them."""
    key, now = row["key"], session.now
    asked = [(a.group, *stand_in(session, a.who)) for a in approvers]
    writes.request_approvals(conn, key, process.name, stage.id, [(g, str(who), whom) for g, who, whom in asked], now)
    for group, who, whom in asked:
        instead = f" for {whom} (absent)" if whom else ""
        writes.notify(
            conn,
            _approver_people(session, str(who)),
            "approval",
            key,
            f"{_title(form, row)} waits for your approval at stage '{stage.title}' ({group}){instead}",
            now,
        )


def follow_approvers(session: Session, conn: Any, process: ProcessDef, stage: StageDef) -> int:
    """After a stage's approvers changed in the definitions: the records waiting for approval there follow the
    new definition. Requests of approvers it no longer names are withdrawn; approvers it now names are asked as
    entering the stage asks them; approvals already given stay. The caller holds the transaction. Returns how
    many records changed."""
    form = session.defs.forms[process.form]
    changed = 0
    for row in process_store.waiting_at(conn, form, process.name, stage.id):
        withdrawn, added = follow(stage, row, form.fields, row["approvals"])
        if not withdrawn and not added:
            continue
        process_store.decide(conn, [a["id"] for a in withdrawn], "withdrawn", None, session.now, "approvers changed")
        _ask(session, conn, form, row, process, stage, added)
        data = {
            "process": process.name,
            "stage": stage.id,
            "withdrawn": [a["approver"] for a in withdrawn],
            "added": [a.who for a in added],
        }
        record_store.add_event(
            conn, session.now, session.actor, Event.APPROVERS_CHANGED, record=row["key"], form=form.name, data=data
        )
        changed += 1
    return changed


def _on_enter(
    session: Session,
    conn: Any,
    form: FormDef,
    row: dict[str, Any],
    stage: StageDef,
    given: frozenset[str],
    writes: StageWrites = process_store,
    events: EventWrites = record_store,
    launched: list[LaunchNote] | None = None,
) -> None:
    now, actor, key = session.now, session.actor, row["key"]
    for action in stage.raw.get("on_enter", []):
        if "set" in action:
            name = action["set"]["field"]
            if name in given:
                continue
            value = convert(form.fields[name], action["set"]["value"], people=set(session.defs.people) or None)
            old = row.get(name)
            if old == value:
                continue
            writes.set_field(conn, form, key, name, value, now)
            row[name] = value
            events.add_event(
                conn,
                now,
                actor,
                Event.RECORD_UPDATED,
                record=key,
                form=form.name,
                data={"changes": {name: [old, value]}, "reason": f"entering stage {stage.id}"},
            )
            if not isinstance(writes, process_store.Deferred):  # a record being imported has no projects yet
                projects.follow_record(session, conn, form, row, {name})
        elif "remind" in action:
            _remind(session, conn, form, row, stage, action["remind"], events)
        elif "launch" in action or "create" in action:
            if isinstance(
                writes, process_store.Deferred
            ):  # what entering wrote so far goes first, as it would one by one
                writes.flush(conn)
            if "launch" in action:
                note = projects.launch_for_stage(session, conn, form, row, action["launch"])
                if launched is not None and note is not None:
                    launched.append(note)
            else:
                _create_from(session, conn, form, row, action["create"])
        elif "notify" in action:
            _notify(session, conn, form, row, stage, action["notify"], writes, events)


def _remind(
    session: Session,
    conn: Any,
    form: FormDef,
    row: dict[str, Any],
    stage: StageDef,
    spec: dict[str, Any],
    events: EventWrites = record_store,
) -> None:
    """The `remind` action of a stage's on_enter: one reminder for each person it is for (several are one party:
    done by any), closed when the record leaves the stage unless it says `keep`."""
    now, key = session.now, row["key"]
    minutes = parse_duration(spec["in"], session.defs.hours_per_day)
    party: int | None = None
    people = _reminded(session, spec.get("for", "author"), stage, row)
    for named in people:
        person, standing_for = stand_in(session, named)
        due = calendar_for(session, person).add(now, minutes)
        kept = None if spec.get("keep") else stage.id
        reminder = record_store.add_reminder(
            conn, key, due, spec["text"], person, session.actor, now, party=party, stage=kept
        )
        party = party or (reminder if len(people) > 1 else None)
        data = {"reminder": reminder, "due_at": due, "for": person, "text": spec["text"]}
        if standing_for:
            data["instead_of"] = standing_for
        events.add_event(conn, now, session.actor, Event.REMINDER_ADDED, record=key, form=form.name, data=data)
        if "every" in spec:  # a recurring reminder, for as long as the record stays in the stage
            every = series.every_of(spec["every"], f"stage {stage.id}")
            made = {"record": key, "text": spec["text"], "person": person, "stage": stage.id}
            series.start_reminders(session, conn, every, reminder, due, made)


def _close_reminders(session: Session, conn: Any, form: FormDef, key: str, stage: str | None) -> None:
    """The record leaves `stage`: the reminders its on_enter made (not kept) are closed, with an event."""
    if stage is None:
        return
    closed = record_store.close_stage_reminders(conn, key, stage, session.now)
    if closed:
        data = {"reminders": closed, "stage": stage}
        record_store.add_event(
            conn, session.now, session.actor, Event.REMINDER_CLOSED, record=key, form=form.name, data=data
        )


def _notice_text(session: Session, form: FormDef, row: dict[str, Any], text: str) -> str:
    """A notice's text: a template that shows the record's fields as `{{ record.contract_number }}` (checked
    by validate, as a template's), rendered with the record as it is on entering the stage."""
    if "{" not in text:
        return text  # plain words: no template engine to start
    from crmctl.domain import templating  # jinja2: imported when a notice has something to fill in

    try:
        return templating.render(text, {"record": projects.record_context(session, form, row)}).strip()
    except templating.TemplateProblem as exc:
        raise InputError(f"the notice of {row['key']}: {exc}") from None


def _notify(
    session: Session,
    conn: Any,
    form: FormDef,
    row: dict[str, Any],
    stage: StageDef,
    spec: dict[str, Any],
    writes: StageWrites,
    events: EventWrites,
) -> None:
    """A notice to the author, a role's members or a person: for their information, nobody is asked anything."""
    who = spec["to"]
    people = [row["author"]] if who == "author" and row.get("author") else []
    if who != "author":
        people = _approver_people(session, who)
    told = _notice_text(session, form, row, spec["text"])
    text = f"{_title(form, row)} entered stage '{stage.title}': {told}"
    writes.notify(conn, people, "notice", row["key"], text, session.now)
    data = {"stage": stage.id, "to": people, "text": told}
    events.add_event(conn, session.now, session.actor, Event.NOTICE_SENT, record=row["key"], form=form.name, data=data)


def _create_from(session: Session, conn: Any, form: FormDef, row: dict[str, Any], spec: dict[str, Any]) -> None:
    """A record of another form made from this one (its fields mapped), linked both ways: once per record,
    however often it enters the stage again."""
    action = f"create:{spec['form']}"
    if process_store.linked(conn, row["key"], action) is not None:
        return
    target = session.defs.form(spec["form"])
    values = {
        name: (row["key"] if source == "key" else row.get(source)) for name, source in spec.get("fields", {}).items()
    }
    made = create_in(session, conn, target, {k: v for k, v in values.items() if v not in (None, "")})
    process_store.link(conn, row["key"], made["key"], action, session.now)
    for key, kind, data in (
        (row["key"], form.name, {"from": row["key"], "to": made["key"], "action": action}),
        (made["key"], target.name, {"from": row["key"], "to": made["key"], "action": action}),
    ):
        record_store.add_event(conn, session.now, session.actor, Event.RECORD_LINKED, record=key, form=kind, data=data)


# -- records made: by `record create`, the e-mail intake and a stage's create: action --------------------
def check_refs(session: Session, form: FormDef, values: dict[str, Any]) -> None:
    """Each ref value normalised and checked to name a record of its form: InputError naming every problem."""
    problems = []
    for name, value in values.items():
        spec = form.fields.get(name)
        if spec is None or spec.type != "ref" or value is None or spec.form is None:
            continue
        key = normalise_key(value)
        values[name] = key
        if not record_store.existing_keys(session.conn, spec.form, [key]):
            problems.append(f"field '{name}': no {spec.form} record {key}")
    if problems:
        raise InputError("; ".join(problems))


def check_unique(
    conn: Any, form: FormDef, values: dict[str, Any], key: str | None = None, changed: Iterable[str] | None = None
) -> None:
    """InputError, naming the record, if another record of the form has the values of a unique set already
    (of an update, the key of the record changed and the fields it changes)."""
    for shared in unique_checks(form, values, changed):
        existing = record_store.holder(conn, form, shared, other_than=key)
        if existing is not None:
            raise InputError(duplicate_message(form, existing, shared))


def choose_process(session: Session, form: FormDef, process: str | None) -> str | None:
    candidates = session.defs.processes_of(form.name)
    if process is not None:
        if process not in {p.name for p in candidates}:
            names = ", ".join(p.name for p in candidates) or "none"
            raise InputError(f"form {form.name} has no process '{process}' (processes: {names})")
        return process
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise InputError(f"form {form.name} has several processes ({names}): choose one with --process")
    return candidates[0].name if candidates else None


def create_in(
    session: Session,
    conn: Any,
    form: FormDef,
    raw: dict[str, Any],
    process: str | None = None,
    launched: list[LaunchNote] | None = None,
) -> dict[str, Any]:
    """A new record, inside the caller's transaction: checked, written, and in its process's first stage (the
    projects entering it launched added to `launched`)."""
    values = new_values(form, raw, people_of(session))
    check_refs(session, form, values)
    check_unique(conn, form, values)
    chosen = choose_process(session, form, process)
    now = session.now
    number = record_store.last_number(conn, form) + 1
    key = f"{form.key_prefix}-{number}"
    record = {
        "key": key,
        "number": number,
        "author": session.actor,
        "created_at": now,
        "updated_at": now,
        "def_version": session.version,
        "process": chosen,
        **values,
    }
    record_store.insert(conn, form, record)
    filled = {k: v for k, v in values.items() if v is not None}
    record_store.add_event(
        conn, now, session.actor, Event.RECORD_CREATED, record=key, form=form.name, data={"values": filled}
    )
    if chosen:
        entered = session.defs.processes[chosen]
        record["stage"] = None
        given = frozenset(k for k, v in raw.items() if v not in (None, ""))
        enter(session, conn, form, record, entered, entered.initial, given=given, launched=launched)
    return record


@dataclass
class Position:
    """Where a record stands in its process."""

    form: FormDef
    row: dict[str, Any]
    process: ProcessDef
    stage: StageDef
    approvals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pending(self) -> list[dict[str, Any]]:
        return [a for a in self.approvals if a["decision"] is None]


def position(session: Session, key: str) -> Position:
    form, row = locate(session, key)
    name = row.get("process")
    if not name:
        raise InputError(f"{row['key']} is not in any process")
    process = session.defs.processes.get(name)
    if process is None or row.get("stage") not in process.stages:
        raise InputError(f"{row['key']} is in {name}/{row.get('stage')}, which the definitions no longer have")
    stage = process.stages[row["stage"]]
    approvals = process_store.approvals(session.conn, row["key"], stage.id, row["stage_since"])
    return Position(form, row, process, stage, approvals)


def _unmet(pos: Position) -> str | None:
    return unmet(pos.stage, pos.row, pos.form.fields)


def refusal(session: Session, conn: Any, form: FormDef, row: dict[str, Any], stage: StageDef) -> str | None:
    """Why the record may not enter the stage, or None: its `enter_when` fails, or with `tasks_done` a task of
    the record or of a record that refers to it (the orders of a deal) is neither done nor cancelled."""
    values = {name: row.get(name) for name in form.fields}
    found = entry_refusal(stage, values, form.fields, row["key"])
    if found or not stage.raw.get("tasks_done"):
        return found
    keys = [row["key"], *(k for _, k in referring(session, conn, form.name, row["key"]))]
    open_tasks = [t["id"] for t in project_store.tasks(conn, records=keys, status=list(project_store.OPEN))]
    if not open_tasks:
        return None
    shown = ", ".join(open_tasks[:10]) + (f" and {len(open_tasks) - 10} more" if len(open_tasks) > 10 else "")
    return f"{row['key']} cannot enter '{stage.id}' while its tasks are open: {shown}"


@dataclass(frozen=True)
class AdvanceRequest:
    key: str  # the record's key
    to: str | None = None  # the stage to go to (needed when there are several)
    comment: str | None = None  # a comment for the history
    reason: str | None = None  # why, where the stage's entry asks for a reason (kept as a comment)


@dataclass(frozen=True)
class Moved:
    """Where a record went: the stage it entered and those it passed through after it."""

    key: str
    stages: list[str]
    launched: list[LaunchNote] = field(default_factory=list)  # the projects entering the stages launched


def advance(session: Session, request: AdvanceRequest) -> Moved:
    """Move a record along an allowed transition of its process."""
    pos = position(session, request.key)
    to, comment = request.to, request.comment
    rkey, stage = pos.row["key"], pos.stage
    form_name = pos.form.name
    session.require("records.advance", f"advance {form_name} records", form_name)
    if stage.terminal:
        raise InputError(f"{rkey} is in '{stage.id}', a terminal stage: it goes nowhere")
    allowed_targets = list(stage.transitions)
    if to is None:
        if len(allowed_targets) != 1:
            raise InputError(f"{rkey} can go from '{stage.id}' to {', '.join(allowed_targets)}: choose one with --to")
        to = allowed_targets[0]
    if to not in pos.process.stages:
        raise InputError(f"process {pos.process.name} has no stage '{to}'")
    if to not in allowed_targets:
        raise InputError(
            f"{rkey} cannot go from '{stage.id}' to '{to}': allowed are {', '.join(allowed_targets) or 'none'}"
        )
    blocked = _blocked(pos, to)
    if blocked:
        raise InputError(blocked)
    _check_entry(pos, pos.process.stages[to], request.reason)
    launched: list[LaunchNote] = []
    with session.transaction() as conn:
        if comment:
            _comment(session, conn, pos, comment)
        if request.reason:
            _comment(session, conn, pos, f"{pos.process.stages[to].title}: {request.reason}")
        reason = f"advanced by {session.actor or '-'}"
        stages = enter(session, conn, pos.form, pos.row, pos.process, to, reason=reason, launched=launched)
    return Moved(rkey, stages, launched)


def _blocked(pos: Position, to: str) -> str | None:
    """Why the record cannot leave its stage for `to` now (required fields empty, approvals pending), or None."""
    rkey, stage = pos.row["key"], pos.stage
    missing = None if pos.process.stages[to].outcome == "lost" else _unmet(pos)
    if missing:
        return f"{rkey} cannot leave '{stage.id}' before {missing}"
    if pos.pending:
        waiting = ", ".join(f"{a['approver']} ({a['approval_group']})" for a in pos.pending)
        return f"{rkey} waits for approval by {waiting}"
    return None


def _check_entry(pos: Position, target: StageDef, reason: str | None) -> None:
    """InputError unless the record brings what entering the target demands (its `entry`): the fields filled,
    a reason given."""
    entry = target.raw.get("entry", {})
    fields = pos.form.fields
    missing = [name for name in entry.get("require", []) if pos.row.get(name) in (None, "")]
    if missing:
        named = ", ".join(f"{fields[n].label or n} ({n})" if n in fields else n for n in missing)
        first = missing[0]
        raise InputError(
            f"{pos.row['key']} cannot enter '{target.id}' without {named}: fill it first "
            f"(crmctl record update {pos.row['key']} --set {first}=...)"
        )
    if entry.get("reason") and not (reason or "").strip():
        raise InputError(f"{pos.row['key']} cannot enter '{target.id}' without a reason: give --reason TEXT")
    if reason is not None and not entry.get("reason"):
        raise InputError(f"stage '{target.id}' asks for no reason: leave out --reason (a comment goes with -m)")


def _comment(session: Session, conn: Any, pos: Position, text: str) -> None:
    comment_id = record_store.add_comment(conn, pos.row["key"], session.now, session.actor, text)
    _record_event(session, conn, pos, Event.COMMENT_ADDED, {"comment": comment_id, "text": text})


def _mine(session: Session, pos: Position) -> list[dict[str, Any]]:
    actor = session.actor
    if actor is None:
        raise InputError("who is deciding? give --as PERSON or set CRMCTL_USER")
    roles = set(session.defs.people[actor].roles) if actor in session.defs.people else set()
    mine = [
        a
        for a in pos.pending
        if a["approver"] == actor or (a["approver"].startswith("role:") and a["approver"][5:] in roles)
    ]
    if mine:
        return mine
    decided = [a for a in pos.approvals if a["decided_by"] == actor and a["decision"] in ("approved", "rejected")]
    if decided:
        raise InputError(f"{actor} has {decided[0]['decision']} {pos.row['key']} at '{pos.stage.id}' already")
    waiting = ", ".join(a["approver"] for a in pos.pending) or "nobody"
    raise InputError(f"{actor} is not a pending approver of {pos.row['key']} (waiting for: {waiting})")


@dataclass(frozen=True)
class ApproveRequest:
    key: str  # the record's key
    comment: str | None = None  # a comment for the history
    delegate: str | None = None  # hand the actor's pending approval of this record to this person instead


@dataclass(frozen=True)
class RejectRequest:
    key: str  # the record's key
    comment: str  # why (required)


@dataclass(frozen=True)
class Decision:
    """An approval or rejection: the stage decided, who still has to approve it, and where the record went."""

    key: str
    stage: str
    remaining: list[str]
    moved_to: list[str]
    launched: list[LaunchNote] = field(default_factory=list)  # the projects entering the stages launched
    delegated_to: str | None = None  # who the actor handed their approval to (nothing decided then)


def approve(session: Session, request: ApproveRequest) -> Decision:
    """Approve the record's current stage as one of its pending approvers; the last approval passes it."""
    pos = position(session, request.key)
    comment = request.comment
    mine = _mine(session, pos)
    if request.delegate is not None:
        return _delegate(session, pos, mine, request.delegate, comment)
    now = session.now
    remaining = [a for a in pos.pending if a not in mine]
    with session.transaction() as conn:
        process_store.decide(conn, [a["id"] for a in mine], "approved", session.actor, now, comment)
        acting_for = sorted({a["acting_for"] for a in mine if a.get("acting_for")})
        data = {
            "stage": pos.stage.id,
            "groups": sorted({a["approval_group"] for a in mine}),
            **({"for": acting_for} if acting_for else {}),
            **({"comment": comment} if comment else {}),
        }
        _record_event(session, conn, pos, Event.APPROVAL_GIVEN, data)
        launched: list[LaunchNote] = []
        moved = [] if remaining else _passed(session, conn, pos, launched)
    return Decision(pos.row["key"], pos.stage.id, [a["approver"] for a in remaining], moved, launched)


def _delegate(
    session: Session, pos: Position, mine: list[dict[str, Any]], person: str, comment: str | None
) -> Decision:
    """The actor's pending approval of this record handed to another person, who approves it for them."""
    delegate = team_person(session, person, "--delegate") or ""
    actor = str(session.actor)
    if delegate == actor:
        raise InputError(f"{actor} cannot delegate an approval to themselves")
    key = pos.row["key"]
    with session.transaction() as conn:
        for a in mine:
            for_whom = a.get("acting_for") or actor
            process_store.move_approvals(conn, [a["id"]], delegate, for_whom)
            data = {"process": pos.process.name, "stage": pos.stage.id, "group": a["approval_group"]}
            data |= {"from": a["approver"], "to": delegate, "reason": f"delegated by {actor}"}
            _record_event(session, conn, pos, Event.APPROVAL_MOVED, data | ({"comment": comment} if comment else {}))
        groups = ", ".join(sorted({a["approval_group"] for a in mine}))
        text = (
            f"{_title(pos.form, pos.row)} waits for your approval at stage '{pos.stage.title}' ({groups}), for {actor}"
        )
        process_store.notify(conn, [delegate], "approval", key, text, session.now)
    remaining = [delegate if a in mine else a["approver"] for a in pos.pending]
    return Decision(key, pos.stage.id, list(dict.fromkeys(remaining)), [], delegated_to=delegate)


def _record_event(session: Session, conn: Any, pos: Position, event: Event, data: dict[str, Any]) -> None:
    record_store.add_event(
        conn, session.now, session.actor, event, record=pos.row["key"], form=pos.form.name, data=data
    )


def _passed(session: Session, conn: Any, pos: Position, launched: list[LaunchNote]) -> list[str]:
    """A stage all its approvers approved: the record goes on to its first transition when its required fields
    are filled and the stage it goes to lets it in (the stages entered), else its responsible person is told to
    advance it."""
    _record_event(session, conn, pos, Event.STAGE_PASSED, {"stage": pos.stage.id})
    targets = pos.stage.transitions
    held = _unmet(pos) is not None or not targets
    if not held:
        values = {name: pos.row.get(name) for name in pos.form.fields}
        steps = walk(
            pos.process, targets[0], values, pos.form.fields, pos.row.get("author"), pos.row["key"], follow=False
        )
        held = refusal(session, conn, pos.form, pos.row, steps[-1].stage) is not None
    if not held:
        return enter(session, conn, pos.form, pos.row, pos.process, targets[0], reason="approved", launched=launched)
    if pos.row.get("responsible"):
        text = f"{_title(pos.form, pos.row)} is approved at '{pos.stage.title}': advance it"
        process_store.notify(conn, [pos.row["responsible"]], "stage", pos.row["key"], text, session.now)
    return []


def reject(session: Session, request: RejectRequest) -> Decision:
    """Reject the record's current stage as one of its pending approvers; it goes where on_reject says."""
    comment = request.comment
    if not comment.strip():
        raise InputError("a rejection needs a --comment saying why")
    pos = position(session, request.key)
    mine = _mine(session, pos)
    target = pos.stage.raw.get("on_reject")
    if target is None:
        raise InputError(f"stage '{pos.stage.id}' of {pos.process.name} has no on_reject: it cannot be rejected")
    with session.transaction() as conn:
        process_store.decide(conn, [a["id"] for a in mine], "rejected", session.actor, session.now, comment)
        _record_event(session, conn, pos, Event.APPROVAL_REJECTED, {"stage": pos.stage.id, "comment": comment})
        _comment(session, conn, pos, comment)
        launched: list[LaunchNote] = []
        reason = f"rejected by {session.actor}"
        moved = enter(session, conn, pos.form, pos.row, pos.process, target, reason=reason, launched=launched)
    return Decision(pos.row["key"], pos.stage.id, [], moved, launched)


# -- handing work on ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AssignRequest:
    key: str  # the record's key
    person: str  # who becomes responsible for its current stage


@dataclass(frozen=True)
class Reassigned:
    """A record's stage handed to another person, and the approval requests that went with it."""

    key: str
    stage: str
    previous: str | None  # who was responsible
    person: str
    approvals: list[str]  # the approval groups whose pending request moved to the new person


def _responsible_approvals(pos: Position, person: str | None) -> list[dict[str, Any]]:
    """The pending requests of the stage's visit that stand for its responsible person (their group names
    `responsible` among its approvers) and are theirs."""
    groups = {
        g.get("name", f"group {i + 1}")
        for i, g in enumerate(pos.stage.raw.get("approvals", []))
        if "responsible" in g["approvers"]
    }
    return [a for a in pos.pending if a["approval_group"] in groups and a["approver"] == person]


def assign(session: Session, request: AssignRequest) -> Reassigned:
    """Make a person responsible for the record's current stage; pending approvals the stage asks of its
    responsible person go with it. Both are told."""
    pos = position(session, request.key)
    form, key, stage = pos.form, pos.row["key"], pos.stage
    session.require("records.assign", f"assign {form.name} records", form.name, key)
    person = team_person(session, request.person, "record assign") or ""
    previous = pos.row.get("responsible")
    if stage.terminal:
        raise InputError(f"{key} is in '{stage.id}', a terminal stage: nobody is responsible there")
    if person == previous:
        raise InputError(f"{person} is responsible for {key} at '{stage.id}' already")
    moved = _responsible_approvals(pos, previous)
    by = session.actor or "-"
    with session.transaction() as conn:
        process_store.set_responsible(conn, form, key, person, session.now)
        data = {"process": pos.process.name, "stage": stage.id, "from": previous, "to": person}
        _record_event(session, conn, pos, Event.RESPONSIBLE_CHANGED, data)
        process_store.move_approvals(conn, [a["id"] for a in moved], person)
        for a in moved:
            data = {"process": pos.process.name, "stage": stage.id, "group": a["approval_group"]}
            _record_event(session, conn, pos, Event.APPROVAL_MOVED, {**data, "from": previous, "to": person})
        title = _title(form, pos.row)
        text = f"{title} at stage '{stage.title}': you are responsible now (assigned by {by})"
        process_store.notify(conn, [person], "stage", key, text, session.now)
        if previous:
            text = f"{title} at stage '{stage.title}': {person} is responsible now, not you (assigned by {by})"
            process_store.notify(conn, [previous], "stage", key, text, session.now)
    return Reassigned(key, stage.id, previous, person, [a["approval_group"] for a in moved])


def _process(session: Session, name: str) -> ProcessDef:
    return _process_of(session.defs, name)


def _process_of(defs: Definitions, name: str) -> ProcessDef:
    process = defs.processes.get(name)
    if process is None:
        raise NotFound(f"no process '{name}' (processes: {', '.join(sorted(defs.processes))})")
    return process


# -- board -------------------------------------------------------------------------------------------------
BOARD_LIMIT = 50  # cards a column shows unless asked for more


@dataclass(frozen=True)
class BoardRequest:
    process: str  # the process whose board to show
    limit: int | None = BOARD_LIMIT  # cards per column, those longest in their stage; None: every record


@dataclass(frozen=True)
class Card:
    """A record on the board."""

    key: str
    title: str  # the record's display field
    stage: str  # its stage (a column may hold several)
    responsible: str | None
    since: dt.datetime | None  # when it entered its stage
    in_stage_minutes: int
    due: dt.datetime | None  # the stage's deadline
    overdue: bool
    promised: str | None = None  # the date promised to the client, where the form names a promised field
    late: bool = False  # its ready date is after the promise


@dataclass(frozen=True)
class BoardColumn:
    """A column of the board: a stage, or a group of stages, with its records (those longest in their stage
    first)."""

    stage: str  # the stage's id, or the group's
    title: str
    cards: list[Card]  # those shown: at most the board's limit
    stages: list[str]  # the stages it shows
    count: int = 0  # how many records the column holds, shown or not


@dataclass(frozen=True)
class Board:
    """A process's kanban board: a column per stage shown, and what the page's heading says."""

    process: str
    title: str
    form: str
    form_title: str
    columns: list[BoardColumn]
    made_at: dt.datetime  # the time the board shows (the session's clock)
    limit: int | None = BOARD_LIMIT  # cards per column at most; None: all


def board(session: Session, request: BoardRequest) -> Board:
    """The kanban board of a process: a column per stage (those not hidden from it), or per group of stages the
    process's `board_columns` name, with how many records it holds and the `limit` longest in their stage."""
    limit = request.limit
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit} (--all shows every card)")
    process = _process(session, request.process)
    form = session.defs.forms[process.form]
    session.require("records.read", f"read {form.name} records", form.name)
    layout = process.board()
    column_of = {stage.id: (ident, stage.terminal) for ident, _, stages in layout for stage in stages}
    # longest in their stage first: the first `limit` of each stage, of which a column of several stages
    # shows the first `limit`
    rows, counts = process_store.board_rows(session.conn, form, process.name, list(column_of), limit)
    shown: dict[str, list[dict[str, Any]]] = {ident: [] for ident, _, _ in layout}
    for row in rows:
        column = shown[column_of[row["stage"]][0]]
        if limit is None or len(column) < limit:
            column.append(row)
    open_rows = [row for column in shown.values() for row in column if not column_of[row["stage"]][1]]
    promised = promises(session, form, open_rows)
    columns = []
    for ident, title, stages in layout:
        cards = [_card(session, form, row, column_of[row["stage"]][1]) for row in shown[ident]]
        cards = [_promised(card, promised.get(card.key)) for card in cards]
        count = sum(counts.get(stage.id, 0) for stage in stages)
        columns.append(BoardColumn(ident, title, cards, [s.id for s in stages], count))
    return Board(process.name, process.title, process.form, form.title, columns, session.now, limit)


def _promised(card: Card, promise: Promise | None) -> Card:
    return card if promise is None else replace(card, promised=promise.promised, late=promise.late)


def _card(session: Session, form: FormDef, row: dict[str, Any], terminal: bool) -> Card:
    due = row.get("stage_due")
    minutes = int((session.now - row["stage_since"]).total_seconds() // 60) if row.get("stage_since") else 0
    return Card(
        key=row["key"],
        title=_title(form, row)[len(row["key"]) + 1 :],
        stage=row["stage"],
        responsible=row.get("responsible"),
        since=row.get("stage_since"),
        in_stage_minutes=max(minutes, 0),
        due=due,
        overdue=bool(due and due < session.now and not terminal),
    )


# -- simulate ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulateRequest:
    process: str  # the process to walk
    values: dict[str, Any] = field(default_factory=dict)  # field -> value of the imagined record, as given
    path: list[str] = field(default_factory=list)  # stages to go through in order (then first transitions)


@dataclass(frozen=True)
class SimulatedStage:
    """A stage the imagined record would meet."""

    stage: str = column()
    title: str = column()
    skipped: str | None = column()  # why it is skipped, or None
    approvers: list[str] = column()  # "who (group)"
    responsible: str | None = column()
    terminal: bool = column()


def simulate(options: Options, request: SimulateRequest) -> list[SimulatedStage]:
    """The stages and approvers a record with these values would meet on its whole way from the initial stage
    to an end stage (through the stages of the path, then along first transitions to stages not met yet),
    from the workspace's files alone: no database is opened, nothing is written."""
    defs = workspace_definitions(options)
    process = _process_of(defs, request.process)
    form = defs.forms[process.form]
    values = simulation_values(form, request.values, set(defs.people) if defs.has_team else None)
    # without --as, the author stands in as such, so their stages are not skipped
    author = check_actor(defs, options.actor) or "author"
    steps = route(process, values, form.fields, author, tuple(request.path))
    return [
        SimulatedStage(
            stage=step.stage.id,
            title=step.stage.title,
            skipped=step.skipped,
            approvers=[f"{a.who} ({a.group})" for a in step.approvers],
            responsible=step.stage.raw.get("responsible"),
            terminal=step.stage.terminal,
        )
        for step in steps
    ]


# -- inbox -------------------------------------------------------------------------------------------------
def _deadline_notices(session: Session, conn: Any) -> list[tuple[str, str]]:
    """Stage deadlines that have passed land in the responsible person's inbox, once. Returns the (record,
    person) of each notice given now."""
    notices = []
    forms = list(session.defs.forms.values())
    # only the stages not told yet: a query per form, however many deadlines passed before (issue 21)
    for item in process_store.overdue_stages(conn, forms, None, session.now, untold=True):
        process = session.defs.processes.get(item["process"] or "")
        stage = process.stages.get(item["stage"]) if process else None
        title = stage.title if stage else item["stage"]
        text = f"{item['key']}: the deadline of stage '{title}' passed at {item['stage_due']:%Y-%m-%d %H:%M}"
        notices.append((item["responsible"], session.now, "deadline", item["key"], text))
    process_store.add_notices(conn, notices)
    return [(key, person) for person, _, _, key, _ in notices]


def _untold_timers(session: Session, conn: Any) -> list[tuple[str, str | None, str]]:
    """(person, record, text) of each timer that runs past the end of its person's working day and is not
    told to them yet."""
    untold = []
    for late in late_timers(session, None):
        person, text = late.interval["person"], late.text(session)
        if person and not any(n["text"] == text for n in process_store.inbox(conn, person, unread=False)):
            untold.append((person, late.interval["record"], text))
    return untold


def _timer_notices(session: Session, conn: Any) -> None:
    """A notice, once, to each person whose timer runs past the end of their working day."""
    for person, record, text in _untold_timers(session, conn):
        process_store.notify(conn, [person], "timer", record, text, session.now)


@dataclass(frozen=True)
class InboxRequest:
    person: str | None = None  # whose inbox (default: the actor's; everyone's with no actor)
    unread: bool = False  # only what is not read yet
    mark_read: bool = False  # mark everything shown as read


@dataclass(frozen=True)
class InboxItem:
    """A notice in a person's inbox."""

    id: int = column(table=False)
    created_at: dt.datetime = column("when")
    person: str | None = column("for")
    kind: str = column()
    record: str | None = column()
    text: str = column()
    read_at: dt.datetime | None = column(table=False)


def inbox(session: Session, request: InboxRequest) -> list[InboxItem]:
    """A person's notices (everyone's with no person: in a workspace with a Team that takes tasks.view_others,
    as anyone else's does). --mark-read marks the actor's own notices only: in a Team workspace it is refused on
    another person's inbox, or everyone's."""
    who = _inbox_of(session, request)
    with session.transaction() as conn:
        _deadline_notices(session, conn)
        _timer_notices(session, conn)
        rows = process_store.inbox(conn, who, request.unread)
        if request.mark_read:
            process_store.mark_read(conn, who, session.now)
    return _inbox_items(session, who, rows)


def inbox_read(session: Session, request: InboxRequest) -> list[InboxItem] | None:
    """What `inbox` gives, read only, where it would write nothing (no stage deadline nor late timer still to
    tell, nothing to mark read); else None. The team server asks this first, beside the writes (see
    Operation.read_first)."""
    who = _inbox_of(session, request)
    forms = list(session.defs.forms.values())
    if process_store.overdue_stages(session.conn, forms, None, session.now, untold=True):
        return None
    if _untold_timers(session, session.conn):
        return None
    rows = process_store.inbox(session.conn, who, request.unread)
    if request.mark_read and any(row["read_at"] is None for row in rows):
        return None
    return _inbox_items(session, who, rows)


def _inbox_of(session: Session, request: InboxRequest) -> str | None:
    """Whose inbox the request reads (None: everyone's), once the actor may."""
    who = request.person or session.actor
    if who is not None and session.defs.has_team and who not in session.defs.people:
        raise NotFound(f"no person '{who}' in the team")
    if who is None or who != session.actor:
        session.require("tasks.view_others", "read others' inboxes")
    if request.mark_read and who != session.actor and session.defs.has_team:
        raise InputError(f"--mark-read marks your own notices only, not {who or 'everyone'}'s: leave it out")
    return who


def _inbox_items(session: Session, who: str | None, rows: list[dict[str, Any]]) -> list[InboxItem]:
    """The announcements shown to the person, then their notices."""
    shown = [InboxItem(a.id, a.created_at, who, "announcement", None, a.text, None) for a in shown_to(session, who)]
    return [*shown, *(InboxItem(**row) for row in rows)]


# -- transitions on time (tick) --------------------------------------------------------------------------------
Done = tuple[str, str, str]  # what tick did: (kind, the record, task or id it did it to, in words)


def _fires_at(session: Session, form: FormDef, rule: TimedRule, row: dict[str, Any]) -> dt.datetime | None:
    """When a timed rule moves this record: `after` working time in the stage on the responsible person's
    calendar, or once its `when` date field has passed; None if it never will as things stand."""
    if rule.after is not None:
        if row.get("stage_since") is None:
            return None
        minutes = parse_duration(rule.after, session.defs.hours_per_day)
        try:
            return calendar_for(session, row.get("responsible")).add(row["stage_since"], minutes)
        except NoWorkingTime:
            return None
    return passing(row.get(rule.when or ""), session.now.tzinfo or dt.UTC)


def _due_rule(session: Session, form: FormDef, stage: StageDef, row: dict[str, Any]) -> TimedRule | None:
    """The first timed rule of the stage that is due for the record now (its time come, its condition true)."""
    values = {name: row.get(name) for name in form.fields}
    for rule in timed_rules(stage):
        moment = _fires_at(session, form, rule, row)
        if moment is None or moment > session.now:
            continue
        if rule.condition is None or holds(rule.condition, values, form.fields, row["key"]):
            return rule
    return None


def timed_moves(session: Session) -> list[Done]:
    """Move every record whose stage has a timed rule that is due, each in a transaction of its own, as a
    manual move would (required fields, pending approvals, entering the stage with its actions); one that
    cannot move now stays where it is and is reported."""
    done: list[Done] = []
    for process in session.defs.processes.values():
        timed = {s.id for s in process.stages.values() if s.raw.get("timed") and not s.terminal}
        if not timed:
            continue
        form = session.defs.forms[process.form]
        for row in process_store.records_in(session.conn, form, process.name):
            if row["stage"] in timed:
                done += _timed_move(session, form, process, row)
    return done


def _timed_move(session: Session, form: FormDef, process: ProcessDef, row: dict[str, Any]) -> list[Done]:
    stage = process.stages[row["stage"]]
    try:
        rule = _due_rule(session, form, stage, row)
        if rule is None:
            return []
        pos = position(session, row["key"])
        blocked = _blocked(pos, rule.to)
        if blocked:
            return [("waiting", row["key"], f"{rule.name}: {blocked}")]
        with session.transaction() as conn:
            data = {"process": process.name, "from": stage.id, "to": rule.to, "rule": rule.name}
            _record_event(session, conn, pos, Event.TRANSITION_TIMED, data)
            stages = enter(session, conn, form, pos.row, process, rule.to, reason=f"timed: {rule.name}")
    except InputError as exc:
        return [("failed", row["key"], exc.message)]
    return [("moved", row["key"], f"{stage.id} -> {' -> '.join(stages)} ({rule.name})")]


def deadline_notices(session: Session) -> list[Done]:
    """Stage deadlines that passed, told to the responsible person's inbox once (what inbox does on opening)."""
    with session.transaction() as conn:
        told = _deadline_notices(session, conn)
    return [("notice", key, f"the deadline of its stage passed: {person} told") for key, person in told]
