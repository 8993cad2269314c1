"""The server's scheduler: every interval, a round that runs `tick` (timed transitions, recurring work,
announcements that end, the notices of passed deadlines and of reminders that have come: ops/tick.py, the
operation cron runs for a local workspace), takes in the messages of the intake rules' mailboxes, and mails
the notices that are due.

Messages are fetched outside the writer's turn, taken in within it (as the server itself: the events have no
person), then marked taken in the mailbox. Mail delivery claims the due deliveries in the writer's turn
(committed as sending), sends them outside it so that requests go on meanwhile, and records the outcomes in
the writer's turn again. Errors of a round are logged (never a password or a notice's text) and the next
round runs as usual."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections import Counter
from functools import partial
from typing import Any

from crmctl.errors import CrmError
from crmctl.ops import mailbox, notices
from crmctl.ops.mail import Intake, take_in
from crmctl.ops.session import Session
from crmctl.ops.tick import TickRequest, tick
from crmctl.server.engine import Engine
from crmctl.server.mailer import Smtp, message, send

log = logging.getLogger("crmctl.server")


class Scheduler:
    def __init__(self, engine: Engine, smtp: Smtp | None, interval: float) -> None:
        self.engine, self.smtp, self.interval = engine, smtp, interval
        self.stopping = threading.Event()
        self.rounds = 0  # rounds finished (failed ones too): /healthz shows it, so a watcher knows it turns
        self.thread = threading.Thread(target=self._loop, name="crmctl-scheduler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Finish the round in progress, then stop (before the database is closed)."""
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.round()
            except Exception:  # a round's failure is logged; the scheduler goes on
                log.exception("scheduler round failed")
            self.rounds += 1
            self.stopping.wait(self.interval)

    def round(self) -> tuple[int, int]:
        """One round: tick, take in mail, then deliver notices; (sent, failed)."""
        self._tick()
        self._intake()
        return self._deliver()

    def _tick(self) -> None:
        done = self.engine.write(lambda session: tick(session, TickRequest()))
        if done:
            kinds = Counter(action.kind for action in done)
            log.info("scheduler: tick: %s", ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))

    def _intake(self) -> None:
        rules = self.engine.read(lambda session: [r for r in session.defs.intake_rules.values() if r.get("mailbox")])
        for rule in rules:
            try:
                fetched = mailbox.fetch(rule)
                if not fetched:
                    continue
                result = self.engine.write(partial(_take_in, rule=rule, fetched=fetched))
                mailbox.mark_taken(rule, [uid for uid, _ in fetched])
            except CrmError as exc:  # the mailbox is down, a password missing: said, and tried next round
                log.warning("scheduler: intake rule %s: %s", rule["name"], exc.message)
                continue
            made = sum(t.outcome == "created" for t in result.taken)
            log.info("scheduler: intake rule %s took %d messages, %d new", rule["name"], len(fetched), made)

    def _deliver(self) -> tuple[int, int]:
        if self.smtp is None:
            return 0, 0
        smtp = self.smtp
        due = self.engine.write(notices.claim)
        if not due:
            return 0, 0
        workspace = self.engine.workspace_name()
        outcomes = []
        for notice in due:
            try:
                send(smtp, message(smtp, notice, workspace))
                outcomes.append(notices.Outcome(notice.notice, notice.attempts))
            except (smtplib.SMTPException, OSError, ValueError) as exc:
                outcomes.append(notices.Outcome(notice.notice, notice.attempts, _why(exc)[:500]))
        self.engine.write(lambda session: notices.finish(session, outcomes))
        failed = sum(1 for o in outcomes if o.error)
        log.info("scheduler: mailed %d notices, %d failed", len(outcomes) - failed, failed)
        return len(outcomes) - failed, failed


def _take_in(session: Session, rule: dict[str, Any], fetched: list[tuple[str, bytes]]) -> Intake:
    return take_in(session, rule, [(f"{rule['mailbox']}#{uid}", raw, None) for uid, raw in fetched], dry_run=False)


def _why(exc: Exception) -> str:
    """What went wrong, in the SMTP server's words where it gave some ("550 5.1.1 no such mailbox")."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, refused = next(iter(exc.recipients.values()))
        return f"{code} {refused.decode(errors='replace')}"
    if isinstance(exc, smtplib.SMTPResponseException):
        error: bytes | str = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else error
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"
