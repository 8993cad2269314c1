"""Records as people and scripts read them: the wording of a record's history, the card, a form's listing,
the changes of an update."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crmctl.domain.events import Event
from crmctl.domain.records import plain
from crmctl.render.tables import Column, cell, clip, hidden_line, pairs, red, render, terminal_width, whole

if TYPE_CHECKING:
    from crmctl.ops.records import Card, CardTask, FieldLine, HistoryEvent, RecordList, Related, RollupLine, Updated


def _value(value: Any) -> str:
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


def _updated(data: Data) -> str:
    return ", ".join(f"{k}: {_value(a)} -> {_value(b)}" for k, (a, b) in data.get("changes", {}).items())


def _stage_entered(data: Data) -> str:
    text = f"{data.get('process')}: {data.get('stage')}"
    if data.get("from"):
        text += f" from {data['from']}"
    if data.get("reason"):
        text += f" ({data['reason']})"
    if data.get("responsible"):
        text += f"; responsible {data['responsible']}"
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
    return f"approved {data.get('stage')} ({groups}){note}"


def _mail_received(data: Data) -> str:
    task = f" -> {data['task']}" if data.get("task") else ""
    return f"e-mail from {data.get('from')}: {data.get('subject') or '(no subject)'}{task}"


def _reminder_added(data: Data) -> str:
    who = f" for {data['for']}" if data.get("for") else ""
    return f"{data.get('text')} at {str(data.get('due_at', ''))[:16].replace('T', ' ')}{who}"


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


# Every kind of event and its one line; an event whose data speaks for itself lists its fields.
DESCRIBERS: dict[str, Callable[[Data], str]] = {
    Event.RECORD_CREATED: _created,
    Event.RECORD_UPDATED: _updated,
    Event.RECORD_IMPORTED: lambda d: f"imported from {d.get('source')} (import {d.get('import')})",
    Event.COMMENT_ADDED: lambda d: str(d.get("text", "")),
    Event.REMINDER_ADDED: _reminder_added,
    Event.REMINDER_DONE: lambda d: f"reminder {d.get('reminder')}",
    Event.MAIL_RECEIVED: _mail_received,
    Event.PERMISSION_REFUSED: _fields,
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
    Event.TASK_CREATED: _task_created,
    Event.TASK_UPDATED: _fields,
    Event.TASK_ASSIGNED: lambda d: f"{d.get('task')} {d.get('from') or 'nobody'} -> {d.get('to') or 'nobody'}",
    Event.TASK_STATUS: lambda d: f"{d.get('task')} {d.get('from')} -> {d.get('to')}",
    Event.TASK_DEPENDENCIES: _task_dependencies,
    Event.TASK_COMMENTED: lambda d: f"{d.get('task')}: {d.get('text')}",
    Event.TIMER_STARTED: lambda d: f"{d.get('task')} timer of {d.get('person') or '-'}",
    Event.TIMER_STOPPED: lambda d: (
        f"{d.get('task')} timer of {d.get('person') or '-'} after {whole(d.get('minutes'))} min"
    ),
    Event.TIME_LOGGED: _time_logged,
    Event.SPRINT_CREATED: _fields,
    Event.SPRINT_TASKS: _fields,
}


def history(fmt: str, events: Sequence[HistoryEvent]) -> str:
    """A record's history: in JSON each event's data as stored; in the table and CSV described in words."""
    if fmt == "json":
        data = [
            {"id": e.id, "at": cell(e.at) and e.at.isoformat(), "actor": e.actor, "action": e.action, "data": e.data}
            for e in events
        ]
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    rows = [
        {
            "at": e.at,
            "actor": e.actor or "-",
            "action": e.action,
            "details": describe_event({"action": e.action, "data": e.data}),
        }
        for e in events
    ]
    return render(fmt, rows, [("at", "at"), ("actor", "actor"), ("action", "action"), ("details", "details")])


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
    if not result.changes:
        return f"{result.key}: no changes\n"
    return "".join(
        f"{result.key} {c.field}: {cell(whole(c.before)) or '-'} -> {cell(whole(c.after)) or '-'}\n"
        for c in result.changes
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


def card_json(card: Card) -> str:
    """The card as JSON: every field of the Card but its view, in order."""
    return json.dumps(_json_value(card), ensure_ascii=False, indent=2) + "\n"


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
    if card.comments:
        text += "\ncomments\n" + "".join(f"  {cell(c.at)}  {c.author or '-'}: {cell(c.text)}\n" for c in card.comments)
    return text


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
        who = f"({t.assignee or 'unassigned'}, {t.record})"
        line = clip(f"  {t.id}  {t.status:<11}  {title}  {who}{due}", width)
        lines.append(red(line) if t.overdue and color else line)
    return "\n".join(lines) + "\n"
