"""A session: one command's view of the workspace: settings, database, definitions, actor and clock."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmctl.config.model import Definitions
from crmctl.core import clock
from crmctl.errors import InputError, NotFound

DEFAULT_DATABASE = "crmctl.duckdb"


@dataclass
class Options:
    """What the command line says about where and who and when."""

    workspace: Path | None = None
    db: Path | None = None
    actor: str | None = None
    now: str | None = None


def workspace_root(options: Options) -> Path | None:
    from crmctl.config.workspace import find_root

    return find_root(options.workspace or Path.cwd())


def _workspace_settings(root: Path) -> dict[str, Any]:
    try:
        text = (root / "crmctl.yaml").read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None and "database" not in text and "busy_timeout" not in text:
        return {}  # neither setting can be there: no need for a YAML parser
    from crmctl.config.yamlload import load_file

    for doc in load_file(root / "crmctl.yaml").documents:
        if doc.data.get("kind") == "Workspace":
            return doc.data
    return {}


def database_path(options: Options) -> tuple[Path, float]:
    """The database file and the busy timeout, from --db or the workspace's crmctl.yaml."""
    env_timeout = os.environ.get("CRMCTL_BUSY_TIMEOUT")
    timeout = 10.0
    path: Path | None = options.db
    if path is None:
        root = workspace_root(options)
        if root is None:
            start = options.workspace or Path.cwd()
            raise NotFound(f"no workspace: {start} has no crmctl.yaml, nor any folder above it (or give --db)")
        data = _workspace_settings(root)
        path = root / str(data.get("database") or DEFAULT_DATABASE)
        if isinstance(data.get("busy_timeout"), (int, float)):
            timeout = float(data["busy_timeout"])
    if env_timeout:
        try:
            timeout = float(env_timeout)
        except ValueError:
            raise InputError(f"CRMCTL_BUSY_TIMEOUT must be a number of seconds, not '{env_timeout}'") from None
    return path, timeout


@dataclass
class Session:
    conn: Any
    defs: Definitions
    version: int
    now: dt.datetime
    actor: str | None
    path: Path
    in_transaction: bool = False
    refused: dict[str, Any] | None = None  # a refusal inside a transaction, written after its rollback

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        from crmctl.store.db import transaction

        try:
            with transaction(self.conn) as conn:
                self.in_transaction = True
                try:
                    yield conn
                finally:
                    self.in_transaction = False
        finally:
            if self.refused is not None:
                self._write_refusal()

    def may(self, permission: str, form: str | None = None) -> bool:
        from crmctl.domain.permissions import allowed

        return allowed(self.defs, self.actor, permission, form)

    def may_read_task(self, task: dict[str, Any]) -> bool:
        """Whether the actor may read this task (see domain.permissions.task_refusal)."""
        from crmctl.domain.permissions import task_refusal

        return task_refusal(self.defs, self.actor, task["assignee"]) is None

    def require(self, permission: str, doing: str, form: str | None = None, record: str | None = None) -> None:
        """InputError unless the actor holds the permission (single-user mode allows everything). A refusal
        is written to the event log (`permission.refused`) before the error; inside a transaction, which the
        error rolls back, it is written just after the rollback."""
        from crmctl.domain import permissions

        try:
            permissions.require(self.defs, self.actor, permission, doing, form)
        except Exception:
            self.refused = {"record": record, "form": form, "data": {"permission": permission, "doing": doing}}
            if not self.in_transaction:
                self._write_refusal()
            raise

    def _write_refusal(self) -> None:
        from crmctl.store.records import add_event

        refused, self.refused = self.refused or {}, None
        add_event(
            self.conn, self.now, self.actor, "permission.refused", refused["record"], refused["form"], refused["data"]
        )


def check_actor(defs: Definitions, actor: str | None) -> str | None:
    if actor is not None and defs.has_team and actor not in defs.people:
        raise InputError(f"--as '{actor}' is not a person of the team")
    return actor


@contextmanager
def open_session(options: Options) -> Iterator[Session]:
    """Open the database and its latest definitions for one command."""
    from crmctl.store import db
    from crmctl.store.definitions import latest

    path, timeout = database_path(options)
    conn = db.connect(path, busy_timeout=timeout)
    try:
        if not db.is_crmctl_database(conn):
            raise InputError(f"{path} is a DuckDB file but not a crmctl database (run `crmctl apply` to set it up)")
        if not db.schema_is_current(conn):
            with db.transaction(conn):
                db.ensure_system_schema(conn)
        found = latest(conn)
        if found is None:
            raise InputError(f"{path} has no definitions yet (run `crmctl apply`)")
        version, defs = found
        conn.execute("SET TimeZone = ?", [defs.timezone])
        now = clock.current(options.now, defs.timezone)
        yield Session(conn, defs, version, now, check_actor(defs, options.actor), path)
    finally:
        db.close(conn)
