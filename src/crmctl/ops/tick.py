"""tick: everything that falls due with time, done at once. Run from cron (or by the team server's
scheduler, which calls this same operation): timed transitions of records, the next occurrences of
recurring tasks, reminders and scheduled launches, announcements that end, notices of passed stage
deadlines and of reminders that have come.

Each piece is written in a transaction of its own, so that one record that cannot move stops nothing else.
Running it twice at the same instant changes nothing the second time: what it made falls after now, and
what it told or marked is not told or marked again.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmctl.domain.shapes import column
from crmctl.ops import announcements, process, projects, series
from crmctl.ops.session import Session


@dataclass(frozen=True)
class TickRequest:
    """Nothing to choose: tick does what is due at the session's time (--now pins it)."""


@dataclass(frozen=True)
class TickAction:
    """One thing tick did (or could not do)."""

    kind: str = column()  # moved, waiting, failed, task, reminder, launch, stopped, expired, notice
    subject: str = column()  # the record, task, project or announcement it concerns
    text: str = column("what")


def tick(session: Session, request: TickRequest) -> list[TickAction]:
    """Do everything that is due now, in this order: timed transitions (their on_enter actions may set
    reminders and launch projects), recurring tasks, scheduled launches, recurring reminders, announcements
    that end, then the notices of passed stage deadlines and of reminders that have come."""
    done = [
        *process.timed_moves(session),
        *projects.renew_tasks(session),
        *projects.renew_launches(session),
        *series.renew_reminders(session),
        *announcements.expire(session),
        *process.deadline_notices(session),
        *series.reminder_notices(session),
    ]
    return [TickAction(kind, subject, text) for kind, subject, text in done]
