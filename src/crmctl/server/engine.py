"""The server's hold on the workspace: the one connection to its DuckDB file for the server's whole life,
writes run one at a time, reads beside them, each request as the person its token names."""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from crmctl import uploads
from crmctl.domain.events import Event
from crmctl.domain.model import Definitions
from crmctl.errors import InputError, Unauthorized, UsageError
from crmctl.ops import notices
from crmctl.ops.registry import Operation, local_only
from crmctl.ops.session import Options, Session, database_path, start, workspace_root, workspace_settings
from crmctl.ops.tokens import authenticate
from crmctl.store import db, migrations
from crmctl.store import records as record_store
from crmctl.store import tokens as token_store
from crmctl.store.definitions import latest, latest_version

T = TypeVar("T")
_USED_EVERY = dt.timedelta(minutes=5)  # how often a token's last use is written down, at most


class Engine:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.path, timeout = database_path(options)
        # the server's turn in the lock file lasts as long as the server: local commands wait, then are busy
        self.conn = db.connect(self.path, busy_timeout=timeout, write=True)
        try:
            if not db.is_crmctl_database(self.conn):
                raise InputError(f"{self.path} is a DuckDB file but not a crmctl database (run `crmctl apply`)")
            if not migrations.schema_is_current(self.conn):
                with db.transaction(self.conn):
                    migrations.ensure_system_schema(self.conn)
            start(self.conn, self.path, options.now, None, write=False)  # definitions applied: or say so now
        except BaseException:
            db.close(self.conn)
            raise
        self.writing = threading.Lock()
        self.closed = False
        self._used: dict[int, dt.datetime] = {}
        self._verified: dict[int, bytes] = {}  # token id -> SHA-256 of its secret, once scrypt has accepted it
        self._definitions: tuple[int, Definitions] | None = None
        try:
            self.write(notices.interrupted)  # what a stopped server left sending is never sent twice
        except BaseException:
            db.close(self.conn)
            raise

    def _start(self, cursor: Any, person: str | None, write: bool) -> Session:
        """A session for one request, on the definitions kept while they are the latest."""
        version = latest_version(cursor)
        kept = self._definitions
        if kept is None or kept[0] != version:
            found = latest(cursor)
            kept = self._definitions = found
        return start(cursor, self.path, self.options.now, person, write=write, definitions=kept)

    def settings(self) -> dict[str, Any]:
        """The workspace's crmctl.yaml settings (the server's smtp:), or none where only --db was given."""
        root = workspace_root(self.options)
        return workspace_settings(root) if root is not None else {}

    def write(self, work: Callable[[Session], T]) -> T:
        """Run work of the server's own (its scheduler's) in the writer's turn, as nobody in particular."""
        cursor = self.conn.cursor()
        try:
            with self.writing, db.writer(cursor):
                return work(self._start(cursor, None, write=True))
        finally:
            cursor.close()

    def read(self, work: Callable[[Session], T]) -> T:
        """Run a read of the server's own (its scheduler's) beside the writer, as nobody in particular."""
        cursor = self.conn.cursor()
        try:
            return work(self._start(cursor, None, write=False))
        finally:
            cursor.close()

    def workspace_name(self) -> str:
        """The workspace's name, for the subject of a mail."""
        kept = self._definitions
        return kept[1].name if kept is not None else self.path.stem

    def close(self) -> None:
        """Wait for the running write, then let go of the database (once: a second call does nothing)."""
        with self.writing:
            if not self.closed:
                self.closed = True
                db.close(self.conn)

    def person(self, token: str) -> str:
        """The person a token names, or Unauthorized."""
        cursor = self.conn.cursor()
        try:
            session = self._start(cursor, None, write=False)
            token_id, person = authenticate(cursor, token, session.now, self._verified)
            if session.defs.has_team and person not in session.defs.people:
                raise Unauthorized(f"{person} is no longer a person of the team")
        finally:
            cursor.close()
        last = self._used.get(token_id)
        if last is None or session.now - last >= _USED_EVERY:
            self._used[token_id] = session.now
            with self.writing:
                token_store.used(self.conn, token_id, session.now)
        return person

    def run(self, op: Operation, person: str, request: Any, files: dict[str, Any] | None = None) -> Any:
        """Run an operation as the person: a write in the writer's turn, a read beside it; one that reads
        files, on the copies of those the client sent (crmctl.uploads)."""
        refused = local_only(op)
        if refused:
            raise UsageError(refused)
        if op.reads_files:
            with tempfile.TemporaryDirectory(prefix="crmctl-upload-") as folder:
                return self._run(op, person, uploads.place(request, files or {}, Path(folder)))
        return self._run(op, person, request)

    def _run(self, op: Operation, person: str, request: Any) -> Any:
        if op.served is not None:
            return self._definitions_op(op, person, request)
        function = op.load()
        cursor = self.conn.cursor()
        try:
            if op.access == "write":
                with self.writing, db.writer(cursor):
                    return function(self._start(cursor, person, write=True), request)
            session = self._start(cursor, person, write=False)
            try:
                return function(session, request)
            finally:
                self._write_refusals(session.now, person, session.refusals)
        finally:
            cursor.close()

    def _definitions_op(self, op: Operation, person: str, request: Any) -> Any:
        """plan or apply of the workspace files the client sent, in the writer's turn (apply writes; a plan
        is brief and sees no apply half done)."""
        from crmctl.ops.definitions import Served  # only plan and apply need the definitions' machinery

        cursor = self.conn.cursor()
        served = Served(cursor, self.path, self.options.now, person)
        try:
            with self.writing, db.writer(cursor):
                return op.load_served()(served, request)
        finally:
            cursor.close()
            if served.refused:
                now = self._start(self.conn, None, write=False).now
                self._write_refusals(now, person, [(None, None, data) for data in served.refused])

    def _write_refusals(
        self, now: dt.datetime, person: str, refusals: list[tuple[str | None, str | None, Any]]
    ) -> None:
        """Refusals of a read, or of plan and apply (permission.refused events), written in the writer's turn."""
        if not refusals:
            return
        with self.writing, db.transaction(self.conn) as conn:
            for record, form, data in refusals:
                record_store.add_event(conn, now, person, Event.PERMISSION_REFUSED, record=record, form=form, data=data)
