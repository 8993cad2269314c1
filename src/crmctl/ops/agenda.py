"""The agenda: a person's reminders, stage deadlines and tasks due in the coming days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crmctl.domain.records import plain
from crmctl.errors import NotFound, UsageError
from crmctl.ops.lookups import title_of_key
from crmctl.ops.schedule import compute
from crmctl.ops.session import Session
from crmctl.store import records as store
from crmctl.store.process import overdue_stages
from crmctl.store.projects import due_tasks


@dataclass
class AgendaItem:
    due: dt.datetime
    kind: str
    record: str | None
    title: str
    text: str
    person: str | None
    overdue: bool
    ref: str  # a stable id of the item: reminder:12

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": plain(self.due),
            "kind": self.kind,
            "record": self.record,
            "title": self.title,
            "text": self.text,
            "person": self.person,
            "overdue": self.overdue,
            "id": self.ref,
        }


def agenda(session: Session, person: str | None, days: int) -> list[AgendaItem]:
    if not 0 <= days <= 3660:
        raise UsageError(f"--days is 0 to 3660 (ten years), not {days}")
    who = person or session.actor
    if who is not None and session.defs.has_team and who not in session.defs.people:
        raise NotFound(f"no person '{who}' in the team")
    if who is None or who != session.actor:  # everyone's, or someone else's
        session.require("tasks.view_others", "read others' agendas")
    today = session.now.date()
    end = dt.datetime.combine(today + dt.timedelta(days=days + 1), dt.time(), tzinfo=session.now.tzinfo)
    items = []
    titles: dict[str, str] = {}
    for r in store.open_reminders(session.conn, until=end, person=who):
        key = r["record"]
        if key and key not in titles:
            titles[key] = title_of_key(session, key)
        items.append(
            AgendaItem(
                r["due_at"],
                "reminder",
                key,
                titles.get(key, ""),
                r["text"],
                r["person"],
                r["due_at"] < session.now,
                f"reminder:{r['id']}",
            )
        )
    for s in overdue_stages(session.conn, list(session.defs.forms.values()), who, end):
        process = session.defs.processes.get(s["process"] or "")
        stage = process.stages.get(s["stage"]) if process else None
        if stage is None or stage.terminal:
            continue
        items.append(
            AgendaItem(
                s["stage_due"],
                "stage",
                s["key"],
                title_of_key(session, s["key"]),
                f"stage '{stage.title}' is due",
                s["responsible"],
                s["stage_due"] < session.now,
                f"stage:{s['key']}",
            )
        )
    items.extend(_task_items(session, who, end))
    return sorted(items, key=lambda i: (i.due, i.ref))


def _task_items(session: Session, who: str | None, end: dt.datetime) -> list[AgendaItem]:
    """Open tasks due before the end of the agenda, and those at risk: due before the schedule finishes them."""
    far = session.now + dt.timedelta(days=session.defs.horizon_days)
    dated = due_tasks(session.conn, who, far)
    if not dated:
        return []
    slots = compute(session)[0].slots
    items = []
    for t in dated:
        slot = slots.get(t["id"])
        risky = slot is not None and slot.at_risk
        if t["due_at"] >= end and not risky:
            continue
        text = f"task {t['id']} is due"
        if risky:
            text += f", at risk: it finishes {slot.finish.astimezone(session.now.tzinfo):%Y-%m-%d %H:%M}"
        items.append(
            AgendaItem(
                t["due_at"],
                "task",
                t["record"],
                t["title"],
                text,
                t["assignee"],
                t["due_at"] < session.now,
                f"task:{t['id']}",
            )
        )
    return items
