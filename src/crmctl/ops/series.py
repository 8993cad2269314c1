"""Recurring work, the part every kind shares: starting and stopping a series, the date an occurrence falls
on in a person's working calendar, and recurring reminders (made of the store alone). Recurring tasks and
scheduled launches are made in ops/projects.py, which makes tasks and projects; both sit above this module.

The next occurrence of a series is made when its current one is done, or when the current one's date has
passed (by `crmctl tick`): once, since the new occurrence falls after now and becomes the current one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.recurrence import Every, falls_on, next_after, parse_every
from crmctl.errors import InputError, NotFound
from crmctl.ops.lookups import calendar_for
from crmctl.ops.session import Session
from crmctl.store import process as process_store
from crmctl.store import records as record_store
from crmctl.store import series as series_store

Row = dict[str, Any]
Done = tuple[str, str, str]  # what tick did: (kind, the record, task or id it did it to, in words)


def every_of(text: str, what: str = "--every") -> Every:
    try:
        return parse_every(text)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def falls(session: Session, nominal: dt.datetime, person: str | None) -> dt.datetime:
    """When an occurrence of this nominal date falls for the person: on their next working day if it is not one."""
    return falls_on(nominal, calendar_for(session, person)).astimezone(session.now.tzinfo)


def event(session: Session, conn: Any, action: Event, record: str | None, data: Row) -> None:
    form = record_store.form_of(conn, record) if record else None
    record_store.add_event(conn, session.now, session.actor, action, record=record, form=form, data=data)


def start(session: Session, conn: Any, kind: str, every: Every, values: Row, record: str | None) -> int:
    """A new series (values: person, spec, nominal, current), with its event; its id."""
    sid = series_store.add(
        conn, {**values, "kind": kind, "every": str(every), "created_at": session.now, "created_by": session.actor}
    )
    data = {"series": sid, "kind": kind, "every": str(every), "first": values.get("current")}
    event(session, conn, Event.SERIES_STARTED, record, data)
    return sid


def stop(session: Session, conn: Any, series: Row, reason: str | None = None) -> None:
    series_store.stop(conn, series["id"], session.now, session.actor)
    record = series["spec"].get("record")
    data = {"series": series["id"], "kind": series["kind"], **({"reason": reason} if reason else {})}
    event(session, conn, Event.SERIES_STOPPED, record, data)


def following(series: Row, now: dt.datetime) -> dt.datetime:
    """The nominal date of a series' next occurrence: the first after its current one's and after now."""
    return next_after(parse_every(series["every"]), series["nominal"], now)


# -- recurring reminders -----------------------------------------------------------------------------------------
def start_reminders(session: Session, conn: Any, every: Every, reminder: int, due: dt.datetime, spec: Row) -> int:
    """Make a reminder just set the first of a series (spec: record, text, person, and the stage a stage
    action's series lasts for)."""
    values = {"person": spec.get("person"), "spec": spec, "nominal": due, "current": str(reminder)}
    return start(session, conn, "reminder", every, values, spec.get("record"))


def next_reminder(session: Session, conn: Any, series: Row) -> Done:
    """The next reminder of a series, made now."""
    spec = series["spec"]
    nominal = following(series, session.now)
    due = falls(session, nominal, spec.get("person"))
    rid = record_store.add_reminder(
        conn, spec["record"], due, spec["text"], spec.get("person"), session.actor, session.now
    )
    series_store.move_on(conn, series["id"], str(rid), nominal)
    data = {"reminder": rid, "due_at": due, "for": spec.get("person"), "text": spec["text"], "series": series["id"]}
    event(session, conn, Event.REMINDER_ADDED, spec["record"], data)
    return ("reminder", spec["record"] or "-", f"reminder {rid} {spec['text']!r} due {due:%Y-%m-%d %H:%M}")


def reminder_done(session: Session, conn: Any, reminder: int) -> None:
    """A reminder marked done: the next one of its series, if it is the current one of a series."""
    series = series_store.of_current(conn, "reminder", str(reminder))
    if series is not None:
        next_reminder(session, conn, series)


def renew_reminders(session: Session) -> list[Done]:
    """Each reminder series whose current reminder is done or has come: its next one, in a transaction of its
    own. A series a stage action started stops once its record has left that stage."""
    done: list[Done] = []
    for series in series_store.active(session.conn, "reminder"):
        current = record_store.reminder(session.conn, int(series["current"]))
        due = current is None or current["done_at"] is not None or current["due_at"] <= session.now
        left = _left_stage(session, series["spec"])
        if not due and not left:
            continue
        with session.transaction() as conn:
            if left:
                stop(session, conn, series, left)
                done.append(("stopped", series["spec"]["record"], f"reminder series {series['id']}: {left}"))
            else:
                done.append(next_reminder(session, conn, series))
    return done


def _left_stage(session: Session, spec: Row) -> str | None:
    """Why a series that lasts while its record is in a stage ends now, or None."""
    stage = spec.get("stage")
    if stage is None:
        return None
    form = record_store.form_of(session.conn, spec["record"])
    row = (
        record_store.get(session.conn, session.defs.forms[form], spec["record"]) if form in session.defs.forms else None
    )
    if row is None or row.get("stage") != stage:
        return f"{spec['record']} left stage {stage}"
    return None


def stop_reminders(session: Session, reminder: int) -> Row:
    """Stop the series whose current reminder this is; the series."""
    series = series_store.of_current(session.conn, "reminder", str(reminder))
    if series is None:
        raise NotFound(f"reminder {reminder} is not the current one of a recurring series")
    with session.transaction() as conn:
        stop(session, conn, series)
    return series


def reminder_notices(session: Session) -> list[Done]:
    """Reminders that have come, told to their person's inbox once."""
    done: list[Done] = []
    with session.transaction() as conn:
        notices = []
        # only those whose notice is not in the person's inbox (one query: one of the inbox per reminder took
        # minutes of the team server's writer's turn at 50,000 reminders)
        for r in record_store.untold_reminders(conn, until=session.now):
            person = r["person"] or r["created_by"]
            text = f"reminder {r['id']}: {r['text']} (due {r['due_at']:%Y-%m-%d %H:%M})"
            if text != r["notice"] and process_store.inbox_has(conn, person, text):
                continue  # (the query made the text its own way: it is the text made here that counts)
            notices.append((person, session.now, "reminder", r["record"], text))
            done.append(("notice", r["record"] or "-", f"reminder {r['id']}: {person} told"))
        process_store.add_notices(conn, notices)
    return done
