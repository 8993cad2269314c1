"""Processes in motion: entering stages, advance, approve, reject, the board, simulation and the inbox."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain import permissions
from crmctl.domain.durations import parse_duration
from crmctl.domain.events import Event
from crmctl.domain.model import FormDef, ProcessDef, StageDef
from crmctl.domain.process import Approver, Step, follow, walk
from crmctl.domain.records import simulation_values
from crmctl.domain.shapes import column
from crmctl.domain.values import convert
from crmctl.domain.worktime import NoWorkingTime
from crmctl.errors import InputError, NotFound
from crmctl.ops import projects
from crmctl.ops.lookups import calendar_for, locate
from crmctl.ops.session import Session
from crmctl.store import process as process_store
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


def _one_person(session: Session, who: str, row: dict[str, Any]) -> str | None:
    """author -> the record's author; role:x -> its first member; a person id -> that person."""
    if who == "author":
        return row.get("author")
    if who.startswith("role:"):
        people = permissions.members(session.defs, who[5:])
        return people[0] if people else None
    return who


def _responsible(
    session: Session,
    conn: Any,
    form: FormDef,
    stage: StageDef,
    row: dict[str, Any],
    writes: StageWrites = process_store,
) -> str | None:
    """author -> the record's author; a person id -> that person; role:x -> the member responsible for the fewest
    records of the form now (ties by id)."""
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
        return min(people, key=lambda p: (load.get(p, 0), p))
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
) -> list[str]:
    """Move a record into target (passing through skipped stages) and do everything entering means.

    The caller holds the transaction. Returns the stages entered, in order. Fields in `given` were set by
    the same command (a record being created): a `set` action leaves them as they are. With `deferred`
    (new records, many at once), the writes wait in it for its flush().
    """
    writes: StageWrites = process_store if deferred is None else deferred
    events: EventWrites = record_store if deferred is None else deferred
    key = row["key"]
    now, actor = session.now, session.actor
    values = {name: row.get(name) for name in form.fields}
    steps = walk(process, target, values, form.fields, row.get("author"), key, follow=False)
    previous = row.get("stage")
    for step in steps[:-1]:
        data = {"process": process.name, "stage": step.stage.id, "reason": step.skipped}
        events.add_event(conn, now, actor, Event.STAGE_SKIPPED, record=key, form=form.name, data=data)
    final = steps[-1]
    stage = final.stage
    writes.cancel_pending(conn, key, now)
    responsible = _responsible(session, conn, form, stage, row, writes)
    due = _stage_due(session, stage, responsible)
    if not writes.move(conn, form, key, expected=previous, stage=stage.id, now=now, due=due, responsible=responsible):
        raise InputError(f"{key} was moved by someone else meanwhile; nothing changed (run the command again)")
    row.update(stage=stage.id, stage_since=now, stage_due=due, responsible=responsible)
    approvers = [] if final.skipped else final.approvers
    data = _entered_data(process, final, previous, reason, responsible, due, approvers)
    events.add_event(conn, now, actor, Event.STAGE_ENTERED, record=key, form=form.name, data=data)
    if responsible:
        due_text = f", due {due.astimezone(now.tzinfo):%Y-%m-%d %H:%M}" if due else ""
        text = f"{_title(form, row)} entered stage '{stage.title}': you are responsible{due_text}"
        writes.notify(conn, [responsible], "stage", key, text, now)
    _ask(session, conn, form, row, process, stage, approvers, writes)
    _on_enter(session, conn, form, row, stage, given, writes, events)
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
    """Request approval of a record in a stage from these approvers, each with a notice in their inbox."""
    key, now = row["key"], session.now
    writes.request_approvals(conn, key, process.name, stage.id, [(a.group, a.who) for a in approvers], now)
    for approver in approvers:
        writes.notify(
            conn,
            _approver_people(session, approver.who),
            "approval",
            key,
            f"{_title(form, row)} waits for your approval at stage '{stage.title}' ({approver.group})",
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
        elif "remind" in action:
            spec = action["remind"]
            person = _one_person(session, spec.get("for", "author"), row)
            minutes = parse_duration(spec["in"], session.defs.hours_per_day)
            due = calendar_for(session, person).add(now, minutes)
            reminder = record_store.add_reminder(conn, key, due, spec["text"], person, actor, now)
            events.add_event(
                conn,
                now,
                actor,
                Event.REMINDER_ADDED,
                record=key,
                form=form.name,
                data={"reminder": reminder, "due_at": due, "for": person, "text": spec["text"]},
            )
        elif "launch" in action:
            if isinstance(
                writes, process_store.Deferred
            ):  # what entering wrote so far goes first, as it would one by one
                writes.flush(conn)

            projects.launch_for_stage(session, conn, form, row, action["launch"])


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


def _missing_required(pos: Position) -> list[str]:
    return [name for name in pos.stage.raw.get("require", []) if pos.row.get(name) in (None, "")]


@dataclass(frozen=True)
class AdvanceRequest:
    key: str  # the record's key
    to: str | None = None  # the stage to go to (needed when there are several)
    comment: str | None = None  # a comment for the history


@dataclass(frozen=True)
class Moved:
    """Where a record went: the stage it entered and those it passed through after it."""

    key: str
    stages: list[str]


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
    missing = [] if pos.process.stages[to].outcome == "lost" else _missing_required(pos)
    if missing:
        raise InputError(f"{rkey} cannot leave '{stage.id}' before these fields are filled: {', '.join(missing)}")
    if pos.pending:
        waiting = ", ".join(f"{a['approver']} ({a['approval_group']})" for a in pos.pending)
        raise InputError(f"{rkey} waits for approval by {waiting}")
    with session.transaction() as conn:
        if comment:
            _comment(session, conn, pos, comment)
        stages = enter(session, conn, pos.form, pos.row, pos.process, to, reason=f"advanced by {session.actor or '-'}")
    return Moved(rkey, stages)


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


def approve(session: Session, request: ApproveRequest) -> Decision:
    """Approve the record's current stage as one of its pending approvers; the last approval passes it."""
    pos = position(session, request.key)
    comment = request.comment
    mine = _mine(session, pos)
    now = session.now
    remaining = [a for a in pos.pending if a not in mine]
    with session.transaction() as conn:
        process_store.decide(conn, [a["id"] for a in mine], "approved", session.actor, now, comment)
        data = {
            "stage": pos.stage.id,
            "groups": sorted({a["approval_group"] for a in mine}),
            **({"comment": comment} if comment else {}),
        }
        _record_event(session, conn, pos, Event.APPROVAL_GIVEN, data)
        moved = [] if remaining else _passed(session, conn, pos)
    return Decision(pos.row["key"], pos.stage.id, [a["approver"] for a in remaining], moved)


def _record_event(session: Session, conn: Any, pos: Position, event: Event, data: dict[str, Any]) -> None:
    record_store.add_event(
        conn, session.now, session.actor, event, record=pos.row["key"], form=pos.form.name, data=data
    )


def _passed(session: Session, conn: Any, pos: Position) -> list[str]:
    """A stage all its approvers approved: the record goes on to its first transition when its required fields
    are filled (the stages entered), else its responsible person is told to advance it."""
    _record_event(session, conn, pos, Event.STAGE_PASSED, {"stage": pos.stage.id})
    targets = pos.stage.transitions
    if targets and not _missing_required(pos):
        return enter(session, conn, pos.form, pos.row, pos.process, targets[0], reason="approved")
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
        moved = enter(session, conn, pos.form, pos.row, pos.process, target, reason=f"rejected by {session.actor}")
    return Decision(pos.row["key"], pos.stage.id, [], moved)


def _process(session: Session, name: str) -> ProcessDef:
    process = session.defs.processes.get(name)
    if process is None:
        raise NotFound(f"no process '{name}' (processes: {', '.join(sorted(session.defs.processes))})")
    return process


# -- board -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoardRequest:
    process: str  # the process whose board to show


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


@dataclass(frozen=True)
class BoardColumn:
    """A column of the board: a stage, or a group of stages, with its records (those longest in their stage
    first)."""

    stage: str  # the stage's id, or the group's
    title: str
    cards: list[Card]
    stages: list[str]  # the stages it shows


@dataclass(frozen=True)
class Board:
    """A process's kanban board: a column per stage shown, and what the page's heading says."""

    process: str
    title: str
    form: str
    form_title: str
    columns: list[BoardColumn]
    made_at: dt.datetime  # the time the board shows (the session's clock)


def board(session: Session, request: BoardRequest) -> Board:
    """The kanban board of a process: a column per stage (those not hidden from it), or per group of stages the
    process's `board_columns` name, with its records."""
    process = _process(session, request.process)
    form = session.defs.forms[process.form]
    session.require("records.read", f"read {form.name} records", form.name)
    layout = process.board()
    cards: dict[str, list[Card]] = {ident: [] for ident, _, _ in layout}
    column_of = {stage.id: (ident, stage.terminal) for ident, _, stages in layout for stage in stages}
    for row in process_store.records_in(session.conn, form, process.name):  # longest in their stage first
        if row["stage"] in column_of:
            ident, terminal = column_of[row["stage"]]
            cards[ident].append(_card(session, form, row, terminal))
    columns = [BoardColumn(ident, title, cards[ident], [s.id for s in stages]) for ident, title, stages in layout]
    return Board(process.name, process.title, process.form, form.title, columns, session.now)


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


@dataclass(frozen=True)
class SimulatedStage:
    """A stage the imagined record would meet."""

    stage: str = column()
    title: str = column()
    skipped: str | None = column()  # why it is skipped, or None
    approvers: list[str] = column()  # "who (group)"
    responsible: str | None = column()
    terminal: bool = column()


def simulate(session: Session, request: SimulateRequest) -> list[SimulatedStage]:
    """The stages and approvers a record with these values would meet from the initial stage, following each
    stage's first transition, without writing anything."""

    process = _process(session, request.process)
    form = session.defs.forms[process.form]
    values = simulation_values(form, request.values, set(session.defs.people) if session.defs.has_team else None)
    author = session.actor or "author"  # without --as, the author stands in as such, so their stages are not skipped
    steps = walk(process, process.initial, values, form.fields, author, "the simulated record", follow=True)
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
def _deadline_notices(session: Session, conn: Any) -> None:
    """Stage deadlines that have passed land in the responsible person's inbox, once."""
    forms = list(session.defs.forms.values())
    for item in process_store.overdue_stages(conn, forms, None, session.now):
        if not item["responsible"]:
            continue
        process = session.defs.processes.get(item["process"] or "")
        stage = process.stages.get(item["stage"]) if process else None
        title = stage.title if stage else item["stage"]
        text = f"{item['key']}: the deadline of stage '{title}' passed at {item['stage_due']:%Y-%m-%d %H:%M}"
        if not any(n["text"] == text for n in process_store.inbox(conn, item["responsible"], unread=False)):
            process_store.notify(conn, [item["responsible"]], "deadline", item["key"], text, session.now)


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
    person, unread, mark_read = request.person, request.unread, request.mark_read
    who = person or session.actor
    if who is not None and session.defs.has_team and who not in session.defs.people:
        raise NotFound(f"no person '{who}' in the team")
    if who is None or who != session.actor:
        session.require("tasks.view_others", "read others' inboxes")
    if mark_read and who != session.actor and session.defs.has_team:
        raise InputError(f"--mark-read marks your own notices only, not {who or 'everyone'}'s: leave it out")
    with session.transaction() as conn:
        _deadline_notices(session, conn)
        items = [InboxItem(**row) for row in process_store.inbox(conn, who, unread)]
        if mark_read:
            process_store.mark_read(conn, who, session.now)
    return items
