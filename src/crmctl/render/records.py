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
    if action == "comment.added":
        return str(data.get("text", ""))
    if action == "reminder.added":
        who = f" for {data['for']}" if data.get("for") else ""
        return f"{data.get('text')} at {str(data.get('due_at', ''))[:16].replace('T', ' ')}{who}"
    if action == "reminder.done":
        return f"reminder {data.get('reminder')}"
    return ", ".join(f"{k}={_value(v)}" for k, v in data.items())
