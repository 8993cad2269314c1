"""crmctl intake mail: e-mail messages become records (or tasks) by an intake rule.

Each message is taken in its own transaction, so that one bad message leaves the others alone: it is
parsed, skipped when its Message-ID was taken before or it is not addressed to the rule's address, its
sender is looked up in the rule's forms (and created when the rule says so), and the record or task is
made with the message in its history.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmctl.domain import mail as domain
from crmctl.domain.events import Event
from crmctl.domain.model import FormDef
from crmctl.domain.permissions import members
from crmctl.domain.templating import TemplateProblem, render
from crmctl.errors import InputError, NotFound
from crmctl.ops import mailbox as imap
from crmctl.ops import projects
from crmctl.ops.attachments import NewFile, Owner, attach_in
from crmctl.ops.process import create_in
from crmctl.ops.records import holder_of
from crmctl.ops.session import Session
from crmctl.store import mail as mail_store
from crmctl.store import projects as project_store
from crmctl.store import records as record_store


@dataclass(frozen=True)
class IntakeRequest:
    paths: list[Path]  # .eml files, .mbox mailboxes, folders of them; none: fetch from the rule's mailbox
    rule: str  # the IntakeRule that says what messages become
    dry_run: bool = False  # say what each message would become; write nothing


@dataclass
class Taken:
    """What became of one message: a row of the JSON and CSV."""

    source: str  # file, or file#n for the n-th message of a mailbox
    outcome: str  # created, joined (a reply: a comment on its thread's record or task), attached (to the record
    # it would duplicate), duplicate, skipped, rejected
    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    key: str | None = None  # the record or task made
    initiator: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Intake:
    """What became of each message, and the same as one line per message for a person."""

    taken: list[Taken]
    lines: list[str]
    dry_run: bool  # nothing was written


class _DryRun(Exception):
    """The end of a dry run: what became of each message, the writes rolled back."""

    def __init__(self, results: list[Taken]) -> None:
        self.results = results


class _Rejected(Exception):
    """A message of a dry run rejected (the n-th): the run starts again without its writes."""

    def __init__(self, index: int, taken: Taken) -> None:
        self.index, self.taken = index, taken


def messages(paths: list[Path]) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(source, bytes, problem) of every message in files, mailboxes and folders of them."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".eml", ".mbox"))
            yield from messages(found)
        elif not path.exists():
            raise NotFound(f"no such file: {path}")
        elif path.suffix.lower() == ".mbox":
            box = mailbox.mbox(str(path), create=False)
            try:
                for n, key in enumerate(box.iterkeys(), start=1):
                    yield f"{path.name}#{n}", box.get_bytes(key), None
            finally:
                box.close()
        else:
            try:
                yield path.name, path.read_bytes(), None
            except OSError as exc:
                yield path.name, None, f"cannot read: {exc.strerror}"


def rule_of(session: Session, name: str) -> dict[str, Any]:
    rules = session.defs.intake_rules
    if name not in rules:
        raise NotFound(f"no intake rule '{name}' (rules: {', '.join(sorted(rules)) or 'none'})")
    return rules[name]


def intake(session: Session, request: IntakeRequest) -> Intake:
    """Turn e-mail messages into records (or tasks) by an intake rule, each message in its own transaction;
    a bad message is rejected and the others are taken. A dry run says the same as the real run would."""
    session.require("mail.evaluate", "take in e-mail")
    rule = rule_of(session, request.rule)
    if request.paths:
        return take_in(session, rule, messages(request.paths), request.dry_run)
    if not rule.get("mailbox"):
        raise InputError(f"intake rule {rule['name']} names no mailbox: give the message files to take in")
    fetched = imap.fetch(rule)
    result = take_in(session, rule, ((f"{rule['mailbox']}#{uid}", raw, None) for uid, raw in fetched), request.dry_run)
    if not request.dry_run:
        imap.mark_taken(rule, [uid for uid, _ in fetched])
    return result


def take_in(
    session: Session, rule: dict[str, Any], found: Iterable[tuple[str, bytes | None, str | None]], dry_run: bool
) -> Intake:
    """Take in messages, (source, bytes or None, why not) each, by the rule: the files of a command, or what
    was fetched from the rule's mailbox (by the command, or the team server's scheduler). A dry run takes
    them all in one transaction it rolls back, so that it says what the real run would."""
    if dry_run:
        results = _dry_run(session, rule, list(found))
    else:
        results = [
            Taken(source, "rejected", reason=problem) if raw is None else _one(session, rule, source, raw)
            for source, raw, problem in found
        ]
    return Intake(results, [describe(t) for t in results], dry_run)


def _screen(
    session: Session, conn: Any, rule: dict[str, Any], source: str, raw: bytes
) -> tuple[Taken, domain.Mail | None]:
    """What becomes of a message before anything is written: the message to take (else None) and its Taken,
    rejected when unusable, a duplicate when its Message-ID was taken before, skipped when not addressed to
    the rule's address."""
    try:
        message = domain.parse(raw)
    except domain.Unusable as exc:
        return Taken(source, "rejected", reason=str(exc)), None
    taken = Taken(source, "created", message.message_id, message.sender, message.subject)
    before = mail_store.seen(conn, message.message_id)
    if before is not None:
        taken.outcome, taken.key = "duplicate", before["record"] or before["task"]
        taken.reason = f"taken already on {before['received_at']:%Y-%m-%d %H:%M}"
        return taken, None
    address = rule.get("address")
    if address and address.lower() not in message.to:
        taken.outcome, taken.reason = "skipped", f"not addressed to {address}"
        return taken, None
    return taken, message


def _reject(taken: Taken, exc: Exception) -> None:
    taken.outcome, taken.key, taken.initiator = "rejected", None, None
    taken.reason = getattr(exc, "message", str(exc))


def _one(session: Session, rule: dict[str, Any], source: str, raw: bytes) -> Taken:
    taken, message = _screen(session, session.conn, rule, source, raw)
    if message is None:
        return taken
    thread = _thread(session, message)
    try:
        with session.transaction() as conn:
            _take(session, conn, rule, message, taken, thread)
    except (InputError, TemplateProblem) as exc:
        _reject(taken, exc)
    return taken


Item = tuple[str, bytes | None, str | None]  # a message as `messages` gives it


def _dry_run(session: Session, rule: dict[str, Any], items: list[Item]) -> list[Taken]:
    """Every message taken in one transaction, rolled back at the end: each sees what the ones before it would
    have written (the next task number, a Message-ID met earlier in the file). A message the real run would
    reject writes nothing there, so the run starts again without it (once per rejected message)."""
    failed: dict[int, Taken] = {}
    while True:
        try:
            with session.transaction() as conn:
                raise _DryRun([failed.get(i) or _try(session, conn, rule, i, item) for i, item in enumerate(items)])
        except _DryRun as done:
            return done.results
        except _Rejected as rejected:
            failed[rejected.index] = rejected.taken


def _try(session: Session, conn: Any, rule: dict[str, Any], index: int, item: Item) -> Taken:
    """A message of a dry run taken inside its transaction; _Rejected if the real run would reject it."""
    source, raw, problem = item
    if raw is None:
        return Taken(source, "rejected", reason=problem)
    taken, message = _screen(session, conn, rule, source, raw)
    if message is not None:
        try:
            _take(session, conn, rule, message, taken, _thread(session, message))
        except (InputError, TemplateProblem) as exc:
            _reject(taken, exc)
            raise _Rejected(index, taken) from None
    return taken


def _take(
    session: Session, conn: Any, rule: dict[str, Any], message: domain.Mail, taken: Taken, thread: dict[str, Any] | None
) -> None:
    """A message into the database: a reply joins its thread's record or task, any other makes one."""
    if thread is not None:
        _join(session, conn, rule, message, thread, taken)
    else:
        _write(session, conn, rule, message, taken)


def _thread(session: Session, message: domain.Mail) -> dict[str, Any] | None:
    """The message taken in before that this one answers (In-Reply-To, then References, the nearest first),
    whose record or task is still there; None for a message that starts a thread."""
    for reply_to in message.replies_to:
        before = mail_store.seen(session.conn, reply_to)
        if before is None:
            continue
        if before["task"] and project_store.task(session.conn, before["task"]) is not None:
            return before
        if before["record"] and record_store.form_of(session.conn, before["record"]) is not None:
            return before
    return None


def _event(message: domain.Mail, rule: dict[str, Any]) -> dict[str, Any]:
    """What a mail.received event keeps of the message."""
    return {
        "message_id": message.message_id,
        "from": message.sender,
        "subject": message.subject,
        "date": message.date,
        "rule": rule["name"],
        "body": message.body,
    }


def _join(
    session: Session, conn: Any, rule: dict[str, Any], message: domain.Mail, thread: dict[str, Any], taken: Taken
) -> None:
    """A reply joins its thread: a comment on the record (or the task) with the message's attachments."""
    initiator = _initiator(session, conn, rule, message, create=False)
    text = f"{message.sender}: {message.subject}\n\n{message.body}".strip()
    data = {**_event(message, rule), "reply_to": thread["message_id"]}
    if thread["task"]:
        task = project_store.task(conn, thread["task"]) or {}
        owner = Owner(thread["task"], "task", task.get("record"), record_store.form_of(conn, task.get("record") or ""))
        record_store.add_event(
            conn,
            session.now,
            session.actor,
            Event.TASK_COMMENTED,
            record=owner.record,
            form=owner.form,
            data={"task": owner.key, "text": text},
        )
        data["task"] = owner.key
    else:
        owner = Owner(thread["record"], "record", thread["record"], record_store.form_of(conn, thread["record"]))
        comment = record_store.add_comment(conn, owner.key, session.now, session.actor, text)
        data["comment"] = comment
    record_store.add_event(
        conn, session.now, session.actor, Event.MAIL_RECEIVED, record=owner.record, form=owner.form, data=data
    )
    _keep_files(session, conn, owner, message)
    mail_store.remember(
        conn,
        message.message_id,
        rule["name"],
        message.sender,
        message.subject,
        message.date,
        session.now,
        thread["record"],
        thread["task"],
    )
    taken.outcome, taken.key, taken.initiator = "joined", owner.key, initiator["key"]


def _keep_files(session: Session, conn: Any, owner: Owner, message: domain.Mail) -> None:
    if message.attachments:
        attach_in(session, conn, owner, [NewFile(name, content) for name, content in message.attachments], "mail")


def _initiator(
    session: Session, conn: Any, rule: dict[str, Any], message: domain.Mail, create: bool = True
) -> dict[str, Any]:
    """form -> key of the records that stand for the sender: the first form of the search that knows the
    address, and what that record refers to among the searched forms (a contact's client); made by the
    rule's create: when nobody is found and `create`."""
    spec = rule.get("initiator")
    found: dict[str, Any] = {"key": None, "form": None, "new": False}
    if not spec:
        return found
    found.update(dict.fromkeys([*spec["search"], *([spec["create"]["form"]] if spec.get("create") else [])]))
    forms = session.defs.forms
    for name in spec["search"]:
        form = forms[name]
        row = mail_store.by_email(conn, form, [f.id for f in form.fields.values() if f.type == "email"], message.sender)
        if row is None:
            continue
        found.update({"key": row["key"], "form": name, name: row["key"]})
        for field in form.fields.values():
            if field.type == "ref" and field.form in found and found[field.form] is None and row.get(field.id):
                found[field.form] = row[field.id]
        return found
    made = spec.get("create") if create else None
    if made:
        values = {k: render(v, message.context(found)) for k, v in made.get("fields", {}).items()}
        record = create_in(session, conn, forms[made["form"]], values)
        found.update({"key": record["key"], "form": made["form"], made["form"]: record["key"], "new": True})
    return found


def _write(session: Session, conn: Any, rule: dict[str, Any], message: domain.Mail, taken: Taken) -> None:
    initiator = _initiator(session, conn, rule, message)
    context = message.context(initiator)
    event = _event(message, rule)
    record = task = None
    if rule["creates"] == "record":
        form = session.defs.forms[rule["form"]]
        values = {k: render(v, context) for k, v in rule.get("fields", {}).items()}
        record = _record_for(session, conn, form, values, rule, taken)
        record_store.add_event(
            conn, session.now, session.actor, Event.MAIL_RECEIVED, record=record, form=form.name, data=event
        )
        _keep_files(session, conn, Owner(record, "record", record, form.name), message)
    else:
        task = _task(session, conn, rule["task"], context, initiator)
        record_store.add_event(
            conn, session.now, session.actor, Event.MAIL_RECEIVED, record=initiator["key"], data={**event, "task": task}
        )
        _keep_files(session, conn, Owner(task, "task", initiator["key"], initiator["form"]), message)
    if initiator.get("new") and record is not None:  # a task's event is on the initiator already
        kind = session.defs.forms[initiator["form"]].name
        record_store.add_event(
            conn, session.now, session.actor, Event.MAIL_RECEIVED, record=initiator["key"], form=kind, data=event
        )
    mail_store.remember(
        conn, message.message_id, rule["name"], message.sender, message.subject, message.date, session.now, record, task
    )
    taken.key, taken.initiator = record or task, initiator["key"]


def _record_for(
    session: Session, conn: Any, form: FormDef, values: dict[str, Any], rule: dict[str, Any], taken: Taken
) -> str:
    """A new record for the message, or the record of the form it would duplicate (a unique field), which the
    message is attached to instead."""
    found = holder_of(session, conn, form, values)
    if found is not None:
        taken.outcome, taken.reason = "attached", found[1]
        return found[0]
    key: str = create_in(session, conn, form, values, rule.get("process"))["key"]
    return key


def _task(session: Session, conn: Any, spec: dict[str, Any], context: dict[str, Any], initiator: dict[str, Any]) -> str:

    values: dict[str, Any] = {
        "record": initiator["key"],
        "description": render(spec["description"], context) if spec.get("description") else None,
        "type": spec.get("type"),
        "estimate": spec.get("estimate"),
        "priority": spec.get("priority"),
    }
    if spec.get("project"):
        title = render(spec["project"], context)
        pid = project_store.root_project_by_title(conn, title, None)
        if pid is None:
            pid = project_store.add_project(
                conn, {"title": title, "created_at": session.now, "created_by": session.actor}
            )
        values["project"] = pid
    who = spec.get("assignee")
    if who:
        people = members(session.defs, who[5:]) if who.startswith("role:") else [who]
        queued = project_store.queued_minutes(conn, people, session.now)
        values["assignee"] = projects.choose_assignee(session, who, queued, session.actor)
    task = projects.add_task_in(session, conn, render(spec["title"], context), values)
    tid: str = task["id"]
    return tid


def describe(taken: Taken) -> str:
    """One line for a person."""
    what = {
        "created": f"-> {taken.key}",
        "joined": f"joins {taken.key}",
        "attached": f"attached to {taken.key}",
        "duplicate": f"duplicate of {taken.key}",
    }.get(taken.outcome, taken.outcome)
    who = f" from {taken.sender}" if taken.sender else ""
    why = f": {taken.reason}" if taken.reason and taken.outcome != "duplicate" else ""
    return f"{taken.source}{who} {what}{why}"
