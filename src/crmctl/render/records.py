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
        via = f" from {data['from']}" if data.get("from") else ""
        return f"{data.get('process')}: {data.get('stage')}{via}" + (
            f" ({data['reason']})" if data.get("reason") else ""
        )
    if action == "comment.added":
        return str(data.get("text", ""))
    if action == "reminder.added":
        who = f" for {data['for']}" if data.get("for") else ""
        return f"{data.get('text')} at {str(data.get('due_at', ''))[:16].replace('T', ' ')}{who}"
    if action == "reminder.done":
        return f"reminder {data.get('reminder')}"
    return ", ".join(f"{k}={_value(v)}" for k, v in data.items())
