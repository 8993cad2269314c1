"""Records as people and scripts read them: the wording of a record's history, the card, a form's listing,
the changes of an update."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crmctl.domain.events import Event
from crmctl.domain.files import human_size
from crmctl.domain.records import plain
from crmctl.render.tables import Column, cell, clip, hidden_line, pairs, red, render, terminal_width, whole

if TYPE_CHECKING:
    from crmctl.ops.projects import FieldChange, LaunchNote
    from crmctl.ops.records import (
        Card,
        CardTask,
        FieldLine,
        HistoryEvent,
        RecordList,
        Related,
        RollupLine,
        Updated,
    )
    from crmctl.ops.schedule import Promise
    from crmctl.ops.session import Rehearsal


def promise_text(promise: Promise) -> str:
    """'2027-04-10: LATE, ready 2027-04-22 18:00', '2027-04-10: in time' or '2027-04-10: no ready date yet'."""
    if promise.late:
        return f"{promise.promised}: LATE, ready {cell(promise.ready)}"
    return f"{promise.promised}: " + ("in time" if promise.ready else "no ready date yet")


def _value(value: Any) -> str:
    """A value of an event's data in words: a mapping as its pairs, never as a Python dict."""
    if isinstance(value, dict):
        return "(" + _fields(value) + ")" if value else "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "-"
    return "-" if value is None or value == "" else cell(value)


Data = dict[str, Any]


def describe_event(event: dict[str, Any]) -> str:
    """One line saying what an event of a record's history did; an action this crmctl does not know (from an
    older database) lists its data."""
    describe = DESCRIBERS.get(event["action"], _fields)
    return describe(event.get("data") or {})


def _fields(data: Data) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in data.items())


def _created(data: Data) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in data.get("values", {}).items())


_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?")


def _moment(value: Any) -> str:
    """A value of a change; a date-time (stored in the event's JSON as ISO text) as tables show one."""
    if isinstance(value, str) and _INSTANT.fullmatch(value):
        return cell(dt.datetime.fromisoformat(value))
    return _value(value)


def _changes(changes: dict[str, Any]) -> str:
    """{field: [before, after]} as `field: before -> after`, comma-separated."""
    return ", ".join(
        f"{k}: {_moment(v[0])} -> {_moment(v[1])}" if isinstance(v, list) and len(v) == 2 else f"{k}: {_value(v)}"
        for k, v in changes.items()
    )


def _updated(data: Data) -> str:
    return _changes(data.get("changes", {}))


def _task_updated(data: Data) -> str:
    """A task or project changed: `T-3 priority: 3 -> 1`, with where the change came from when not a command."""
    text = f"{data.get('task') or data.get('project')} {_changes(data.get('changes', {}))}"
    if data.get("source"):
        text += f" (from {data['source']})"
    if data.get("reason"):
        text += f" ({data['reason']})"
    return text


def _stage_entered(data: Data) -> str:
    text = f"{data.get('process')}: {data.get('stage')}"
    if data.get("from"):
        text += f" from {data['from']}"
    if data.get("reason"):
        text += f" ({data['reason']})"
    if data.get("responsible"):
        text += f"; responsible {data['responsible']}"
        if data.get("responsible_for"):
            text += f" for {data['responsible_for']}"
    if data.get("approvers"):
        text += "; approvers " + ", ".join(data["approvers"])
    return text


def _approvers_changed(data: Data) -> str:
    withdrawn = f"; withdrawn {', '.join(data['withdrawn'])}" if data.get("withdrawn") else ""
    added = f"; asked {', '.join(data['added'])}" if data.get("added") else ""
    return f"approvers of {data.get('stage')} changed{withdrawn}{added}"


def _approval_given(data: Data) -> str:
    groups = ", ".join(data.get("groups", []))
    note = f": {data['comment']}" if data.get("comment") else ""
    acting = f" for {', '.join(data['for'])}" if data.get("for") else ""
    return f"approved {data.get('stage')} ({groups}){acting}{note}"


def _mail_received(data: Data) -> str:
    task = f" -> {data['task']}" if data.get("task") else ""
    return f"e-mail from {data.get('from')}: {data.get('subject') or '(no subject)'}{task}"


def _reminder_added(data: Data) -> str:
    who = f" for {data['for']}" if data.get("for") else ""
    return f"{data.get('text')} at {str(data.get('due_at', ''))[:16].replace('T', ' ')}{who}"


def _reminders_closed(data: Data) -> str:
    ids = ", ".join(str(i) for i in data.get("reminders", []))
    return f"reminders {ids} closed: the record left {data.get('stage')}"


def _on(data: Data) -> str:
    """' on T-3' for a file of a task or project; nothing for a record's own."""
    other = data.get("task") or data.get("project")
    return f" on {other}" if other else ""


def _file_attached(data: Data) -> str:
    return f"file {data.get('file')} «{data.get('name')}» ({human_size(int(data.get('size') or 0))})" + _on(data)


def _project(data: Data) -> str:
    text = f"{data.get('project')} {data.get('title')}"
    if data.get("template"):
        text += f" from {data['template']}: tasks {', '.join(data.get('tasks', [])) or 'none'}"
    if data.get("left_out"):
        text += f"; left out {', '.join(data['left_out'])}"
    return text


def _task_created(data: Data) -> str:
    waits = f", waits for {', '.join(data['depends_on'])}" if data.get("depends_on") else ""
    return f"{data.get('task')} {data.get('title')} ({data.get('assignee') or 'unassigned'}{waits})"


def _task_dependencies(data: Data) -> str:
    if data.get("added"):
        return f"{data.get('task')} waits for {', '.join(data['added'])}"
    return f"{data.get('task')} no longer waits for {', '.join(data.get('removed', []))}"


def _time_logged(data: Data) -> str:
    note = f": {data['note']}" if data.get("note") else ""
    return f"{data.get('task')} {whole(data.get('minutes'))} min by {data.get('person') or '-'}{note}"


def _series_started(data: Data) -> str:
    return f"series {data.get('series')} of {data.get('kind')}s every {data.get('every')}: {data.get('first')}"


def _series_next(data: Data) -> str:
    due = f" due {str(data['due'])[:16].replace('T', ' ')}" if data.get("due") else ""
    return f"series {data.get('series')}: {data.get('item')}{due}"


def _series_stopped(data: Data) -> str:
    reason = f" ({data['reason']})" if data.get("reason") else ""
    return f"series {data.get('series')} stopped{reason}"


def _span(started: Any, ended: Any) -> str:
    """'2027-02-28 14:00 to 15:30' from an event's stored ISO texts; an end of None is 'running'."""
    start = str(started or "")[:16].replace("T", " ")
    end = str(ended or "")[:16].replace("T", " ")
    if end[:10] == start[:10]:
        end = end[11:]
    return f"{start} to {end or 'running'}"


def _time_edited(data: Data) -> str:
    before, after = data.get("from") or {}, data.get("to") or {}
    text = f"{data.get('task')} interval {data.get('interval')} of {data.get('person') or '-'}: "
    text += f"{_span(before.get('started_at'), before.get('ended_at'))} -> "
    text += _span(after.get("started_at"), after.get("ended_at"))
    if before.get("note") != after.get("note"):
        text += f"; note {before.get('note') or '-'} -> {after.get('note') or '-'}"
    return text


def _time_deleted(data: Data) -> str:
    note = f": {data['note']}" if data.get("note") else ""
    span = _span(data.get("started_at"), data.get("ended_at"))
    who = data.get("person") or "-"
    return (
        f"{data.get('task')} interval {data.get('interval')} of {who} deleted ({span}, {data.get('minutes')} min){note}"
    )


# Every kind of event and its one line; an event whose data speaks for itself lists its fields.
def _team_changed(d: Data) -> str:
    done = {"add": "added", "remove": "removed"}.get(str(d.get("action")), "changed")
    return f"{d.get('target')} {d.get('name')} {done}: {_value(d.get('before'))} -> {_value(d.get('after'))}"


DESCRIBERS: dict[str, Callable[[Data], str]] = {
    Event.RECORD_CREATED: _created,
    Event.RECORD_UPDATED: _updated,
    Event.RECORD_IMPORTED: lambda d: f"imported from {d.get('source')} (import {d.get('import')})",
    Event.COMMENT_ADDED: lambda d: str(d.get("text", "")),
    Event.REMINDER_ADDED: _reminder_added,
    Event.REMINDER_DONE: lambda d: f"reminder {d.get('reminder')}",
    Event.REMINDER_CLOSED: _reminders_closed,
    Event.MAIL_RECEIVED: _mail_received,
    Event.RECORD_DELETED: lambda d: "deleted" + (f" with {d['with']}" if d.get("with") else " (to the archive)"),
    Event.RECORD_RESTORED: lambda d: "restored from the archive",
    Event.PERMISSION_REFUSED: _fields,
    Event.TEAM_CHANGED: _team_changed,
    Event.FILE_ATTACHED: _file_attached,
    Event.FILE_DELETED: lambda d: f"file {d.get('file')} «{d.get('name')}» deleted" + _on(d),
    Event.RECORD_LINKED: lambda d: f"{d.get('from')} -> {d.get('to')} ({d.get('action')})",
    Event.NOTICE_SENT: lambda d: f"notice to {', '.join(d.get('to', []))}: {d.get('text')}",
    Event.STAGE_ENTERED: _stage_entered,
    Event.STAGE_SKIPPED: lambda d: f"{d.get('stage')} skipped: {d.get('reason')}",
    Event.STAGE_PASSED: lambda d: f"{d.get('stage')} passed",
    Event.APPROVAL_GIVEN: _approval_given,
    Event.APPROVAL_REJECTED: lambda d: f"rejected {d.get('stage')}: {d.get('comment')}",
    Event.APPROVAL_MOVED: lambda d: f"approval of {d.get('stage')} ({d.get('group')}) {d.get('from')} -> {d.get('to')}",
    Event.APPROVERS_CHANGED: _approvers_changed,
    Event.RESPONSIBLE_CHANGED: lambda d: f"responsible {d.get('from')} -> {d.get('to')}",
    Event.PROJECT_CREATED: _project,
    Event.PROJECT_LAUNCHED: _project,
    Event.PROJECT_UPDATED: _task_updated,
    Event.TASK_CREATED: _task_created,
    Event.TASK_UPDATED: _task_updated,
    Event.TASK_ASSIGNED: lambda d: f"{d.get('task')} {d.get('from') or 'nobody'} -> {d.get('to') or 'nobody'}",
    Event.TASK_STATUS: lambda d: f"{d.get('task')} {d.get('from')} -> {d.get('to')}",
    Event.TASK_DEPENDENCIES: _task_dependencies,
    Event.TASK_COMMENTED: lambda d: f"{d.get('task')}: {d.get('text')}",
    Event.TIMER_STARTED: lambda d: f"{d.get('task')} timer of {d.get('person') or '-'}",
    Event.TIMER_STOPPED: lambda d: (
        f"{d.get('task')} timer of {d.get('person') or '-'} after {whole(d.get('minutes'))} min"
    ),
    Event.TIME_LOGGED: _time_logged,
    Event.TRANSITION_TIMED: lambda d: f"{d.get('from')} -> {d.get('to')} on time: {d.get('rule')}",
    Event.TIME_EDITED: _time_edited,
    Event.TIME_DELETED: _time_deleted,
    Event.SPRINT_CREATED: _fields,
    Event.SPRINT_TASKS: _fields,
    Event.SERIES_STARTED: _series_started,
    Event.SERIES_NEXT: _series_next,
    Event.SERIES_STOPPED: _series_stopped,
    Event.ANNOUNCEMENT_MADE: lambda d: f"announcement {d.get('announcement')}: {d.get('text')}",
    Event.ANNOUNCEMENT_WITHDRAWN: lambda d: f"announcement {d.get('announcement')} withdrawn",
    Event.ANNOUNCEMENT_EXPIRED: lambda d: f"announcement {d.get('announcement')} expired",
}


def history(fmt: str, events: Sequence[HistoryEvent], related: bool = False) -> str:
    """A record's history: in JSON each event's data as stored; in the table and CSV described in words. With
    related (events of other records among them), each event's record too."""
    whose: list[Column] = [("record", "record")] if related else []
    if fmt == "json":
        data = [
            {
                "id": e.id,
                "at": cell(e.at) and e.at.isoformat(),
                **({"record": e.record} if related else {}),
                "actor": e.actor,
                "action": e.action,
                "data": e.data,
            }
            for e in events
        ]
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    rows = [
        {
            "at": e.at,
            "record": e.record or "-",
            "actor": e.actor or "-",
            "action": e.action,
            "details": describe_event({"action": e.action, "data": e.data}),
        }
        for e in events
    ]
    columns: list[Column] = [("at", "at"), *whose, ("actor", "actor"), ("action", "action"), ("details", "details")]
    return render(fmt, rows, columns)


def rehearsal(fmt: str, done: Rehearsal) -> str:
    """What a --dry-run would have done: in the table each event on its record, described in words, under a
    line saying that nothing was written; in JSON the command and each event's data as it would be stored."""
    if fmt == "json":
        events = [{"record": e.record, "action": e.action, "data": e.data} for e in done.events]
        return json.dumps({"dry_run": done.command, "events": events}, ensure_ascii=False, indent=2) + "\n"
    rows = [
        {"record": e.record or "-", "action": e.action, "details": describe_event({"action": e.action, "data": e.data})}
        for e in done.events
    ]
    head = f"dry run of crmctl {done.command}: nothing was written; it would write:\n"
    if not rows:
        return head.replace("it would write:", "it would write nothing")
    return head + render("table", rows, [("record", "record"), ("action", "action"), ("details", "details")])


def record_list(fmt: str, listing: RecordList) -> str:
    """The table shows the key, the stage (of a form with a process) and the fields under their labels; JSON and
    CSV the key, the system columns and the fields by their ids."""
    columns: list[Column] = [("key", "key")]
    rows = listing.rows
    if fmt == "table":
        if listing.in_process:
            columns.append(("stage", "stage"))
        columns += list(listing.labels.items())
        rows = [_as_read(row, listing.options) for row in rows]
    else:
        system = ("process", "stage", "author", "created_at", "updated_at")
        columns += [(name, name) for name in (*system, *listing.labels)]
    return render(fmt, rows, columns)


def _as_read(row: dict[str, Any], options: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A listed record's values as its card shows them: a list field's option by its label, a count as 8."""
    shown = {}
    for name, value in row.items():
        labels = options.get(name)
        shown[name] = labels.get(value, value) if labels is not None and isinstance(value, str) else whole(value)
    return shown


def updated(result: Updated) -> str:
    """One line per changed field, or that nothing changed."""
    return changed(result.key, result.changes) + "".join(changed(p.project, p.changes) for p in result.projects)


def changed(name: str, changes: Sequence[FieldChange]) -> str:
    """One line per change of a record, task or project, `T-3 priority: 3 -> 1`, or that nothing changed."""
    if not changes:
        return f"{name}: no changes\n"
    return "".join(
        f"{name} {c.field}: {cell(whole(c.before)) or '-'} -> {cell(whole(c.after)) or '-'}\n" for c in changes
    )


def _json_value(value: Any) -> Any:
    """A card's value as JSON holds it: row types as objects of their fields, values made plain (one level deep:
    a field's value is kept whole)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _json_value(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.metadata.get("json", True)
        }
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return plain(value)


def launches(notes: Sequence[LaunchNote]) -> str:
    """The projects a move launched, as the end of its line: `; launched P-1 with 7 tasks (copywriting left out:
    when does not hold: needs_copywriting = true)`."""
    text = ""
    for note in notes:
        text += f"; launched {note.project} with {note.tasks} task{'s' if note.tasks != 1 else ''}"
        if note.left_out:
            text += " (" + "; ".join(f"{task} left out: {why}" for task, why in note.left_out) + ")"
    return text


def launches_json(notes: Sequence[LaunchNote]) -> list[dict[str, Any]]:
    """The projects a move launched, as JSON holds them."""
    return [
        {
            "project": n.project,
            "title": n.title,
            "tasks": n.tasks,
            "left_out": [{"task": task, "why": why} for task, why in n.left_out],
        }
        for n in notes
    ]


def card_json(card: Card, launched: list[dict[str, Any]] | None = None) -> str:
    """The card as JSON: every field of the Card but its view, in order; and `launched`, the projects a new
    record's first stage launched, when there are any."""
    data = _json_value(card)
    if launched:
        data["launched"] = launched
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def card_text(card: Card, *, color: bool = False) -> str:
    """The card as a person reads it, fitted to the terminal: a head line, the record's place and times, its
    fields and roll-ups, then related records, tasks, reminders and comments, each where there are any."""
    width = terminal_width()
    head = clip(cell(f"{card.key}  {card.view.title}".rstrip(), width), width)
    text = head + "\n\n" + pairs(_meta(card)) + "\n" + pairs(_field_pairs(card))
    if card.related:
        text += "\nrelated\n" + "".join(_related_line(card, r, width) + "\n" for r in card.related)
    if card.tasks:
        text += "\ntasks\n" + _task_lines(card.tasks, width, color)
    if any(card.hidden.values()):
        text += "\n" + hidden_line(card.hidden)
    if card.reminders:
        text += "\nreminders\n" + "".join(
            f"  {cell(r.due_at)}  {cell(r.text)}" + (f" ({r.person})" if r.person else "") + "\n"
            for r in card.reminders
        )
    if card.files:
        text += "\nfiles\n" + "".join(f"  {f.id}  {cell(f.name, width)}  {human_size(f.size)}\n" for f in card.files)
    if card.comments:
        text += "\ncomments\n" + "".join(f"  {cell(c.at)}  {c.author or '-'}: {cell(c.text)}\n" for c in card.comments)
    return text


def card_html(card: Card) -> str:
    """The card as a standalone page: the fields beside thumbnails of the attached images (data: URIs, so
    the page needs nothing else), the other files with their sizes, then tasks, reminders and comments."""
    import base64

    from crmctl.render.pages import page

    images = [
        {
            "name": f.name,
            "size": human_size(f.size),
            "uri": f"data:{f.media_type};base64," + base64.b64encode(f.preview).decode("ascii"),
        }
        for f in card.files
        if f.preview is not None
    ]
    others = [{"id": f.id, "name": f.name, "size": human_size(f.size)} for f in card.files if f.preview is None]
    return page(
        "card.html.j2",
        card=card,
        meta=[(k, cell(v)) for k, v in _meta(card)],
        fields=_field_pairs(card),
        images=images,
        others=others,
    )


def _meta(card: Card) -> list[tuple[str, Any]]:
    view = card.view
    meta: list[tuple[str, Any]] = [("form", view.form_title)]
    if card.process:
        meta += [("process", view.process_title), ("stage", view.stage_title)]
        if card.responsible:
            meta.append(("responsible", card.responsible))
        if card.stage_due:
            meta.append(("stage due", cell(card.stage_due) + (" (overdue)" if view.stage_overdue else "")))
        if card.pending_approvers:
            meta.append(("waiting for", ", ".join(card.pending_approvers)))
        if view.duty:
            meta.append(("who acts", view.duty))
    if card.promise:
        meta.append(("promised", promise_text(card.promise)))
    return [*meta, ("author", card.author), ("created", card.created_at), ("updated", card.updated_at)]


def _field_pairs(card: Card) -> list[tuple[str, Any]]:
    """The form's fields under their labels, then its roll-ups (a count shows 0 rather than nothing)."""
    fields = [(line.name, _shown(line, card.fields.get(line.id))) for line in card.view.fields]
    return fields + [(r.label, _rollup_shown(r, card.rollups.get(r.id))) for r in card.view.rollups]


def _rollup_shown(line: RollupLine, value: Any) -> str:
    """A roll-up's value on the card: a count shows 0 rather than nothing, and one with a condition "1 of 2"."""
    shown = cell(whole(value)) or ("0" if line.count else "")
    return shown if line.of is None else f"{shown} of {line.of}"


def _shown(line: FieldLine, value: Any) -> str:
    if value is None:
        return ""
    if line.option is not None:
        return line.option
    if line.currency:
        return f"{cell(value)} {line.currency}"
    return cell(whole(value))


def _related_line(card: Card, r: Related, width: int) -> str:
    return clip(
        f"  {r.key}  {card.view.form_titles[r.form]}"
        + (f": {cell(r.title, width)}" if r.title else "")
        + (f"  [{r.stage}]" if r.stage else "")
        + (f"  tasks {r.tasks_done}/{r.tasks} done" if r.tasks else ""),
        width,
    )


def _task_lines(tasks: Sequence[CardTask], width: int, color: bool) -> str:
    lines = []
    for t in tasks:
        due = f"  due {cell(t.due_at)}" + (" overdue" if t.overdue else "") if t.due_at else ""
        title = cell(t.title, width).replace("\n", " ")
        who = f"({t.assignee or 'unassigned'}{f', {t.record}' if t.record else ''})"  # a subproject's: no record
        line = clip(f"  {t.id}  {t.status:<11}  {title}  {who}{due}", width)
        lines.append(red(line) if t.overdue and color else line)
    return "\n".join(lines) + "\n"
