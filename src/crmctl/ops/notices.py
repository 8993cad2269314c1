"""Notices by mail: which went out, which failed (`crmctl notices`), and the two steps of a delivery round
that the team server's scheduler runs around its SMTP sends (claim in the writer's turn, send outside it,
record the outcomes in the writer's turn again)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from crmctl.domain.shapes import column
from crmctl.errors import NotFound
from crmctl.ops.session import Session
from crmctl.store import deliveries as delivery_store

RECENT = dt.timedelta(days=1)  # older unread notices are not mailed: the inbox has them
ATTEMPTS = 5  # a delivery is tried this many times, then failed for good
_FIRST_RETRY = dt.timedelta(minutes=1)  # doubled after each failed attempt: 1, 2, 4, 8 minutes


@dataclass(frozen=True)
class NoticesRequest:
    person: str | None = None  # whose deliveries (default: your own; anyone else's takes team.manage)
    everyone: bool = False
    failed: bool = False  # only the failed ones: retried later, or failed for good


@dataclass(frozen=True)
class DeliveryRow:
    notice: int
    person: str = column()
    address: str = column(table=False)
    status: str = column()
    attempts: int = column()
    next_at: dt.datetime | None = column("retry at")
    sent_at: dt.datetime | None = column("sent")
    error: str | None = column()
    kind: str = column(table=False)
    record: str | None = column()
    text: str = column(table=False)


def notices(session: Session, request: NoticesRequest) -> list[DeliveryRow]:
    """Notices delivered by mail, or failing to be: yours, a person's, or everyone's (team.manage)."""
    person = None if request.everyone else (request.person or session.actor)
    if person is not None and session.defs.has_team and person not in session.defs.people:
        raise NotFound(f"no person '{person}' in the team")
    if person is None or person != session.actor:
        session.require("team.manage", "see others' mail deliveries")
    return [DeliveryRow(**row) for row in delivery_store.listing(session.conn, person, request.failed)]


@dataclass(frozen=True)
class Outgoing:
    """A notice to mail now: its delivery is marked sending."""

    notice: int
    person: str
    name: str | None
    address: str
    attempts: int
    created_at: dt.datetime
    kind: str
    record: str | None
    text: str


def claim(session: Session, limit: int = 100) -> list[Outgoing]:
    """Queue the new notices of people with an address (who have not opted out: `mail_notices: false` in the
    Team) and claim the deliveries due now, committed as sending before anything is sent."""
    opted_out = [p.id for p in session.defs.people.values() if p.raw.get("mail_notices") is False]
    with session.transaction() as conn:
        delivery_store.queue(conn, opted_out, session.now - RECENT, session.now)
        return [Outgoing(**row) for row in delivery_store.claim(conn, session.now, limit)]


@dataclass(frozen=True)
class Outcome:
    notice: int
    attempts: int
    error: str | None = None  # None: sent


def finish(session: Session, outcomes: list[Outcome]) -> None:
    """Record what the sends did: sent, retried later with back-off, or failed for good after ATTEMPTS."""
    with session.transaction() as conn:
        for outcome in outcomes:
            if outcome.error is None:
                delivery_store.sent(conn, outcome.notice, session.now)
                continue
            retry = None
            if outcome.attempts < ATTEMPTS:
                retry = session.now + _FIRST_RETRY * 2 ** (outcome.attempts - 1)
            delivery_store.failed(conn, outcome.notice, outcome.error, retry)


def interrupted(session: Session) -> int:
    """At a server's start: deliveries it left sending are failed for good (never sent twice)."""
    with session.transaction() as conn:
        return delivery_store.interrupted(conn)
