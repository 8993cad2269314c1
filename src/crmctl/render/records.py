"""Human wording of a record's history."""

from __future__ import annotations

from typing import Any

from crmctl.render.tables import cell


def _value(value: Any) -> str:
    return "-" if value is None or value == "" else cell(value)


def describe_event(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    action = event["action"]
    if action == "record.created":
        values = data.get("values", {})
        return ", ".join(f"{k}={_value(v)}" for k, v in values.items())
    if action == "record.updated":
        return ", ".join(f"{k}: {_value(a)} -> {_value(b)}" for k, (a, b) in data.get("changes", {}).items())
    if action == "stage.entered":
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
    if action == "approval.moved":
        return f"approval of {data.get('stage')} ({data.get('group')}) {data.get('from')} -> {data.get('to')}"
    if action == "responsible.changed":
        return f"responsible {data.get('from')} -> {data.get('to')}"
    if action == "approvers.changed":
        withdrawn = f"; withdrawn {', '.join(data['withdrawn'])}" if data.get("withdrawn") else ""
        added = f"; asked {', '.join(data['added'])}" if data.get("added") else ""
        return f"approvers of {data.get('stage')} changed{withdrawn}{added}"
    if action == "stage.skipped":
        return f"{data.get('stage')} skipped: {data.get('reason')}"
    if action == "stage.passed":
        return f"{data.get('stage')} passed"
    if action == "approval.given":
        groups = ", ".join(data.get("groups", []))
        note = f": {data['comment']}" if data.get("comment") else ""
        return f"approved {data.get('stage')} ({groups}){note}"
    if action == "approval.rejected":
        return f"rejected {data.get('stage')}: {data.get('comment')}"
    if action == "mail.received":
        task = f" -> {data['task']}" if data.get("task") else ""
        return f"e-mail from {data.get('from')}: {data.get('subject') or '(no subject)'}{task}"
    if action == "record.imported":
        return f"imported from {data.get('source')} (import {data.get('import')})"
    if action == "comment.added":
        return str(data.get("text", ""))
    if action == "reminder.added":
        who = f" for {data['for']}" if data.get("for") else ""
        return f"{data.get('text')} at {str(data.get('due_at', ''))[:16].replace('T', ' ')}{who}"
    if action == "reminder.done":
        return f"reminder {data.get('reminder')}"
    task = _task_event(action, data)
    if task is not None:
        return task
    return ", ".join(f"{k}={_value(v)}" for k, v in data.items())


def _task_event(action: str, data: dict[str, Any]) -> str | None:
    task = data.get("task")
    if action in ("project.created", "project.launched"):
        text = f"{data.get('project')} {data.get('title')}"
        if data.get("template"):
            text += f" from {data['template']}: tasks {', '.join(data.get('tasks', [])) or 'none'}"
        if data.get("left_out"):
            text += f"; left out {', '.join(data['left_out'])}"
        return text
    if action == "task.created":
        waits = f", waits for {', '.join(data['depends_on'])}" if data.get("depends_on") else ""
        return f"{task} {data.get('title')} ({data.get('assignee') or 'unassigned'}{waits})"
    if action == "task.assigned":
        return f"{task} {data.get('from') or 'nobody'} -> {data.get('to') or 'nobody'}"
    if action == "task.status":
        return f"{task} {data.get('from')} -> {data.get('to')}"
    if action == "task.dependencies":
        if data.get("added"):
            return f"{task} waits for {', '.join(data['added'])}"
        return f"{task} no longer waits for {', '.join(data.get('removed', []))}"
    if action == "task.commented":
        return f"{task}: {data.get('text')}"
    if action == "timer.started":
        return f"{task} timer of {data.get('person') or '-'}"
    if action == "timer.stopped":
        return f"{task} timer of {data.get('person') or '-'} after {data.get('minutes')} min"
    if action == "time.logged":
        note = f": {data['note']}" if data.get("note") else ""
        return f"{task} {data.get('minutes')} min by {data.get('person') or '-'}{note}"
    return None
