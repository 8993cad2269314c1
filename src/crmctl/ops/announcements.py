"""Announcements: a text for everyone, or for some roles and people, shown at the top of their agenda and
inbox until it ends (--until) or is withdrawn. It sits beneath process and agenda, which show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain import permissions
from crmctl.domain.events import Event
from crmctl.domain.shapes import column
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops import clock
from crmctl.ops.session import Session
from crmctl.store import records as record_store
from crmctl.store import series as store

Done = tuple[str, str, str]
MAX_TEXT = 2000  # characters: an announcement is a line or a paragraph, not a document


@dataclass(frozen=True)
class AnnounceRequest:
    """A new announcement (text), or, alone: withdraw, the id of one to withdraw; listing, to list them."""

    text: str | None = None
    until: str | None = None  # when it ends: a date (through that day) or an ISO date-time; none: until withdrawn
    to: list[str] = field(default_factory=list)  # role:ROLE or person ids; none: everyone
    withdraw: int | None = None
    listing: bool = False


@dataclass(frozen=True)
class Announcement:
    """An announcement as listed."""

    id: int = column()
    text: str = column()
    to: list[str] = column()  # roles (role:x) and people; empty for everyone
    until: dt.datetime | None = column()
    created_at: dt.datetime = column("made")
    created_by: str | None = column("by")


@dataclass(frozen=True)
class Announced:
    """What `announce` did (made, withdrawn or list) and the announcements it did it to."""

    action: str
    announcements: list[Announcement]


def _row(found: dict[str, Any]) -> Announcement:
    return Announcement(
        found["id"], found["text"], list(found["audience"]), found["until"], found["created_at"], found["created_by"]
    )


def _until(session: Session, text: str) -> dt.datetime:
    """A date means through that day (it ends at the next midnight); a date-time at that moment."""
    text = text.strip()
    if len(text) == 10:
        day = clock.parse_instant(text, session.defs.timezone)
        return day + dt.timedelta(days=1)
    return clock.parse_instant(text, session.defs.timezone, session.now)


def _audience(session: Session, to: list[str]) -> list[str]:
    """The roles and people named, checked against the Team."""
    for who in to:
        if who.startswith("role:"):
            if session.defs.has_team and who[5:] not in session.defs.roles:
                raise InputError(f"--to: no role '{who[5:]}' in the team")
        elif session.defs.has_team and who not in session.defs.people:
            raise InputError(f"--to: no person '{who}' in the team")
    return list(dict.fromkeys(to))


def announce(session: Session, request: AnnounceRequest) -> Announced:
    """Make an announcement, withdraw one, or list those shown now (all of them with announcements.manage,
    else those for the acting person)."""
    if request.listing or request.withdraw is not None:
        if request.text or request.until or request.to or (request.listing and request.withdraw is not None):
            raise UsageError(f"--{'list' if request.listing else 'withdraw'} takes nothing else")
        if request.listing:
            return Announced("list", [_row(a) for a in _shown(session, session.actor)])
        return Announced("withdrawn", [_withdraw(session, request.withdraw or 0)])
    text = (request.text or "").strip()
    if not text:
        raise UsageError("give the announcement's TEXT (or --list, --withdraw ID)")
    if len(text) > MAX_TEXT:
        raise InputError(f"an announcement is at most {MAX_TEXT} characters, not {len(text)}")
    session.require("announcements.manage", "make announcements")
    until = _until(session, request.until) if request.until else None
    if until is not None and until <= session.now:
        raise InputError(f"--until {request.until} has passed already")
    audience = _audience(session, request.to)
    with session.transaction() as conn:
        aid = store.announce(conn, text, audience, until, session.now, session.actor)
        data = {"announcement": aid, "text": text, "to": audience, "until": until}
        record_store.add_event(conn, session.now, session.actor, Event.ANNOUNCEMENT_MADE, data=data)
        made = store.announcement(conn, aid)
    assert made is not None
    return Announced("made", [_row(made)])


def _withdraw(session: Session, announcement_id: int) -> Announcement:
    session.require("announcements.manage", "withdraw announcements")
    found = store.announcement(session.conn, announcement_id)
    if found is None:
        raise NotFound(f"no announcement {announcement_id}")
    if found["withdrawn_at"] is not None:
        raise InputError(f"announcement {announcement_id} is withdrawn already")
    with session.transaction() as conn:
        store.withdraw(conn, announcement_id, session.now, session.actor)
        data = {"announcement": announcement_id}
        record_store.add_event(conn, session.now, session.actor, Event.ANNOUNCEMENT_WITHDRAWN, data=data)
    return _row(found)


def _for(session: Session, audience: list[str], who: str | None) -> bool:
    """Whether an announcement to this audience is for the person (everyone's is for all; no person: all)."""
    if not audience or who is None:
        return True
    person = session.defs.people.get(who)
    roles = {f"role:{r}" for r in person.roles} if person else set()
    return who in audience or bool(roles & set(audience))


def _shown(session: Session, who: str | None) -> list[dict[str, Any]]:
    """The announcements shown now to a person; all of them to one who manages announcements."""
    found = store.current_announcements(session.conn, session.now)
    if permissions.allowed(session.defs, who, "announcements.manage"):
        return found
    return [a for a in found if _for(session, list(a["audience"]), who)]


def shown_to(session: Session, who: str | None) -> list[Announcement]:
    """What the top of a person's agenda and inbox shows: the announcements for them, newest first."""
    found = store.current_announcements(session.conn, session.now)
    return [_row(a) for a in found if _for(session, list(a["audience"]), who)]


def expire(session: Session) -> list[Done]:
    """Announcements whose end has come, marked expired with an event, once (tick)."""
    with session.transaction() as conn:
        ended = store.expire(conn, session.now)
        for a in ended:
            data = {"announcement": a["id"], "until": a["until"]}
            record_store.add_event(conn, session.now, session.actor, Event.ANNOUNCEMENT_EXPIRED, data=data)
    return [("expired", f"announcement {a['id']}", a["text"]) for a in ended]
