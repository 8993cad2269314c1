"""Human wording of a record's history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmctl.domain.events import Event
from crmctl.render.tables import cell


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
    return f"{data.get('task')} {data.get('minutes')} min by {data.get('person') or '-'}{note}"


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
    Event.TIMER_STOPPED: lambda d: f"{d.get('task')} timer of {d.get('person') or '-'} after {d.get('minutes')} min",
    Event.TIME_LOGGED: _time_logged,
    Event.SPRINT_CREATED: _fields,
    Event.SPRINT_TASKS: _fields,
}
