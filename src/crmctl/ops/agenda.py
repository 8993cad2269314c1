"""The agenda: a person's reminders, stage deadlines, contact dates and tasks due in the coming days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from crmctl.domain.schedule import Slot
from crmctl.domain.shapes import column
from crmctl.errors import NotFound, UsageError
from crmctl.ops.announcements import shown_to
from crmctl.ops.lookups import titles_of_keys
from crmctl.ops.schedule import compute, promise_at, promises
from crmctl.ops.session import Session
from crmctl.ops.timekeeping import late_timers
from crmctl.store import records as record_store
from crmctl.store.process import contact_dates, overdue_stages, promised_records
from crmctl.store.projects import due_tasks


@dataclass(frozen=True)
class AgendaRequest:
    person: str | None = None  # whose agenda (default: the actor's; everyone's with no actor)
    days: int = 0  # also what falls due in the next N days


@dataclass(frozen=True)
class AgendaItem:
    """Something due: a reminder, a stage's deadline or a task."""

    # Every field is a column(...): to the type checker, a plain field after one would follow a default.
    due: dt.datetime = column()
    kind: str = column(
        table=False
    )  # announcement, reminder, stage, contact (a record's contact date), task, timer or promise
    id: str = column(table=False)  # a stable id of the item: reminder:12, stage:DL-1, task:T-3
    record: str | None = column()
    title: str = column()  # the record's title; for a task, the task's
    text: str = column("what")
    person: str | None = column("for")
    overdue: bool = column(table=False)


@dataclass(frozen=True)
class Agenda:
    """The items of an agenda, oldest first, and the time it was made (an iCalendar file's stamp)."""

    items: list[AgendaItem]
    now: dt.datetime


RECORD_TITLED = ("reminder", "stage", "contact", "promise")  # items whose title is their record's, given last


def agenda(session: Session, request: AgendaRequest) -> Agenda:
    """What is due for a person today (and in the next days), and what is overdue."""
    days = request.days
    if not 0 <= days <= 3660:
        raise UsageError(f"--days is 0 to 3660 (ten years), not {days}")
    who = request.person or session.actor
    if who is not None and session.defs.has_team and who not in session.defs.people:
        raise NotFound(f"no person '{who}' in the team")
    if who is None or who != session.actor:  # everyone's, or someone else's
        session.require("tasks.view_others", "read others' agendas")
    today = session.now.date()
    end = dt.datetime.combine(today + dt.timedelta(days=days + 1), dt.time(), tzinfo=session.now.tzinfo)
    items = [
        *_reminder_items(session, who, end),
        *_stage_items(session, who, end),
        *_contact_items(session, who, end),
        *_task_items(session, who, end),
        *_timer_items(session, who),
        *_promise_items(session, who),
    ]
    # the records' titles in one query per form, not two queries per item (issue 21)
    titled = [i for i in items if i.kind in RECORD_TITLED]
    titles = titles_of_keys(session, [i.record for i in titled])
    items = [replace(i, title=titles.get(i.record or "", "")) if i.kind in RECORD_TITLED else i for i in items]
    return Agenda([*_announcement_items(session, who), *sorted(items, key=lambda i: (i.due, i.id))], session.now)


def _announcement_items(session: Session, who: str | None) -> list[AgendaItem]:
    """The announcements for the person, at the top, newest first."""
    return [
        AgendaItem(
            due=a.created_at,
            kind="announcement",
            id=f"announcement:{a.id}",
            record=None,
            title="",
            text=a.text + (f" (until {a.until.astimezone(session.now.tzinfo):%Y-%m-%d %H:%M})" if a.until else ""),
            person=None,
            overdue=False,
        )
        for a in shown_to(session, who)
    ]


def _reminder_items(session: Session, who: str | None, end: dt.datetime) -> list[AgendaItem]:
    items = []
    for r in record_store.open_reminders(session.conn, until=end, person=who):
        key = r["record"]
        items.append(
            AgendaItem(
                due=r["due_at"],
                kind="reminder",
                id=f"reminder:{r['id']}",
                record=key,
                title="",
                text=r["text"],
                person=r["person"],
                overdue=r["due_at"] < session.now,
            )
        )
    return items


def _stage_items(session: Session, who: str | None, end: dt.datetime) -> list[AgendaItem]:
    items = []
    for s in overdue_stages(session.conn, list(session.defs.forms.values()), who, end):
        process = session.defs.processes.get(s["process"] or "")
        stage = process.stages.get(s["stage"]) if process else None
        if stage is None or stage.terminal:
            continue
        items.append(
            AgendaItem(
                due=s["stage_due"],
                kind="stage",
                id=f"stage:{s['key']}",
                record=s["key"],
                title="",
                text=f"stage '{stage.title}' is due",
                person=s["responsible"],
                overdue=s["stage_due"] < session.now,
            )
        )
    return items


def _contact_items(session: Session, who: str | None, end: dt.datetime) -> list[AgendaItem]:
    """Records whose contact-date field (`contact_date: true`) falls on a day of the agenda, for the record's
    responsible person (else its author), at the start of that day."""
    items = []
    last = (end - dt.timedelta(days=1)).date()
    for form in session.defs.forms.values():
        for spec in (f for f in form.fields.values() if f.contact_date):
            for c in contact_dates(session.conn, form, spec.id, who, session.now.date(), last):
                items.append(
                    AgendaItem(
                        due=dt.datetime.combine(c["on"], dt.time(), tzinfo=session.now.tzinfo),
                        kind="contact",
                        id=f"contact:{c['key']}:{spec.id}",
                        record=c["key"],
                        title="",
                        text=spec.label or spec.id,
                        person=c["owner"],
                        overdue=False,
                    )
                )
    return items


def _task_items(session: Session, who: str | None, end: dt.datetime) -> list[AgendaItem]:
    """Open tasks due before the end of the agenda, and those at risk: due before the schedule finishes them."""
    far = session.now + dt.timedelta(days=session.defs.horizon_days)
    dated = due_tasks(session.conn, who, far)
    if not dated:
        return []
    slots = compute(session)[0].slots
    items = []
    for t in dated:
        finish = _late_finish(slots.get(t["id"]))
        if t["due_at"] >= end and finish is None:
            continue
        text = f"task {t['id']} is due"
        if finish is not None:
            text += f", at risk: it finishes {finish.astimezone(session.now.tzinfo):%Y-%m-%d %H:%M}"
        items.append(
            AgendaItem(
                due=t["due_at"],
                kind="task",
                id=f"task:{t['id']}",
                record=t["record"],
                title=t["title"],
                text=text,
                person=t["assignee"],
                overdue=t["due_at"] < session.now,
            )
        )
    return items


def _promise_items(session: Session, who: str | None) -> list[AgendaItem]:
    """Records (a person's: those they are responsible for) whose ready date is after their promised date,
    outside terminal stages."""
    items = []
    for form in session.defs.forms.values():
        if form.promised is None:
            continue
        rows = [r for r in promised_records(session.conn, form, form.promised, who) if not _terminal(session, r)]
        for key, promise in promises(session, form, rows).items():
            if not promise.late:
                continue
            row = next(r for r in rows if r["key"] == key)
            _, at = promise_at(session, row[promise.field])
            ready = promise.ready.astimezone(session.now.tzinfo) if promise.ready else None
            items.append(
                AgendaItem(
                    due=at.astimezone(session.now.tzinfo),
                    kind="promise",
                    id=f"promise:{key}",
                    record=key,
                    title="",
                    text=f"ready {ready:%Y-%m-%d %H:%M}, after the promised {promise.promised}",
                    person=row.get("responsible"),
                    overdue=at < session.now,
                )
            )
    return items


def _terminal(session: Session, row: dict[str, Any]) -> bool:
    process = session.defs.processes.get(row.get("process") or "")
    stage = process.stages.get(row.get("stage") or "") if process else None
    return stage is not None and stage.terminal


def _timer_items(session: Session, who: str | None) -> list[AgendaItem]:
    """Timers running past the end of their person's working day."""
    return [
        AgendaItem(
            due=late.day_end.astimezone(session.now.tzinfo),
            kind="timer",
            id=f"timer:{late.interval['id']}",
            record=late.interval["record"],
            title=late.interval["title"],
            text=late.text(session),
            person=late.interval["person"],
            overdue=True,
        )
        for late in late_timers(session, who)
    ]


def _late_finish(slot: Slot | None) -> dt.datetime | None:
    """When the schedule finishes a task at risk (after it is due); None for a task not at risk."""
    return slot.finish if slot is not None and slot.at_risk else None
