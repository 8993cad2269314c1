"""The event log's integrity and the database's backups: `crmctl audit verify` and `crmctl backup`.

Both read one transaction's view of the database, so they work beside other commands, on a local
workspace and on the team server alike."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from crmctl.errors import InputError
from crmctl.ops.session import Session
from crmctl.store import audit as audit_store
from crmctl.store.db import STORAGE_VERSION

_BACKUP = ("team.manage", "back up the database")


@dataclass(frozen=True)
class AuditVerifyRequest:
    pass


@dataclass(frozen=True)
class AuditReport:
    events: int  # events in the log, every one checked
    head: str | None  # the hash of the last event: keep it elsewhere to compare with a later check


def verify(session: Session, request: AuditVerifyRequest) -> AuditReport:
    """Check the event log's hash chain from the first event to the last; an InputError names the first
    event that breaks it (changed, deleted, or written outside crmctl) and counts the others."""
    chain = audit_store.check(session.conn)
    if chain.breaks:
        first = chain.breaks[0]
        more = len(chain.breaks) - 1
        also = f"; {more} more event{'s' if more != 1 else ''} break it after that" if more else ""
        raise InputError(
            f"the event log's chain is broken: event {first.event} {first.why}{also}",
            details=[f"event {b.event} {b.why}" for b in chain.breaks[1:21]],
        )
    return AuditReport(chain.events, chain.head)


@dataclass(frozen=True)
class BackupRequest:
    pass


@dataclass(frozen=True)
class Backup:
    content: bytes  # the copy: a DuckDB file, written by the command line where the person asked
    events: int
    head: str | None  # the event log's head at the moment of the copy


def backup(session: Session, request: BackupRequest) -> Backup:
    """A consistent copy of the whole database (one transaction's view, taken while others work), in the
    storage version crmctl writes; it needs team.manage."""
    session.require(*_BACKUP)
    chain = audit_store.check(session.conn)
    with tempfile.TemporaryDirectory(prefix="crmctl-backup-") as folder:
        target = Path(folder) / "backup.duckdb"
        audit_store.copy_to(session.conn, target, STORAGE_VERSION, f"crm_backup_{secrets.token_hex(6)}")
        return Backup(target.read_bytes(), chain.events, chain.head)
