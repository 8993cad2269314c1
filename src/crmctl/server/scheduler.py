"""The server's scheduler: every interval, a round of mail delivery for the notices that are due.

A round claims the due deliveries in the writer's turn (committed as sending), sends them outside it so
that requests go on meanwhile, and records the outcomes in the writer's turn again. Errors of a round are
logged (never a password or a notice's text) and the next round runs as usual."""

from __future__ import annotations

import logging
import smtplib
import threading

from crmctl.ops import notices
from crmctl.server.engine import Engine
from crmctl.server.mailer import Smtp, message, send

log = logging.getLogger("crmctl.server")


class Scheduler:
    def __init__(self, engine: Engine, smtp: Smtp | None, interval: float) -> None:
        self.engine, self.smtp, self.interval = engine, smtp, interval
        self.stopping = threading.Event()
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
            self.stopping.wait(self.interval)

    def round(self) -> tuple[int, int]:
        """One round: (sent, failed)."""
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
