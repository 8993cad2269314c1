"""The server's hold on the workspace: the one connection to its DuckDB file for the server's whole life,
writes run one at a time, reads beside them, each request as the person its token names."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from crmctl import uploads
from crmctl.domain.events import Event
from crmctl.domain.model import Definitions
from crmctl.errors import InputError, Unauthorized, UsageError
from crmctl.ops import clock, notices
from crmctl.ops.registry import Operation, local_only, refuse_dry_run
from crmctl.ops.session import (
    Options,
    Rehearsal,
    Session,
    database_path,
    rehearse,
    start,
    workspace_root,
    workspace_settings,
)
from crmctl.ops.tokens import authenticate, unexpired
from crmctl.store import db, migrations
from crmctl.store import records as record_store
from crmctl.store import tokens as token_store
from crmctl.store.definitions import latest

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
        # SHA-256 of a whole token -> (token id, person, expiry), once it was accepted; forgotten whenever a
        # token changes (token create and revoke run here) or the definitions do
        self._tokens: dict[bytes, tuple[int, str, dt.datetime | None]] = {}
        self._definitions: tuple[int, Definitions] | None = None
        self._applies = 0  # plan and apply runs finished: definitions read while one ran are not kept
        self._writer = self._new_writer()  # the one cursor that writes, kept: see _turn
        try:
            self.write(notices.interrupted)  # what a stopped server left sending is never sent twice
        except BaseException:
            self._end_writer()
            db.close(self.conn)
            raise

    def _new_writer(self) -> Any:
        cursor = self.conn.cursor()
        db.enter_writer(cursor)
        return cursor

    def _end_writer(self) -> None:
        db.leave_writer(self._writer)
        self._writer.close()  # a transaction left open on it is rolled back

    @contextlib.contextmanager
    def _turn(self) -> Iterator[Any]:
        """The writer's turn, on the writer's cursor: kept from one write to the next, so that what it learnt
        of the event log's chain (store/audit.py) stays known. A write that failed may have left a
        transaction open on it: that cursor is closed (rolling it back) and a new one made."""
        with self.writing:
            try:
                yield self._writer
            except BaseException:
                self._end_writer()
                self._writer = self._new_writer()
                raise

    def _start(self, cursor: Any, person: str | None, write: bool) -> Session:
        """A session for one request, on the definitions kept while they are the latest."""
        return start(cursor, self.path, self.options.now, person, write=write, definitions=self._kept(cursor))

    def _kept(self, cursor: Any) -> tuple[int, Definitions] | None:
        """The latest definitions, read once and kept: the server's own plan and apply are the only writes
        that change them (local commands cannot write while it holds the database), and each forgets them.
        Ones read while an apply ran are not kept (they may be the older ones)."""
        kept = self._definitions
        if kept is None:
            applies = self._applies
            kept = latest(cursor)
            if applies == self._applies:
                self._definitions = kept
        return kept

    def settings(self) -> dict[str, Any]:
        """The workspace's crmctl.yaml settings (the server's smtp:), or none where only --db was given."""
        root = workspace_root(self.options)
        return workspace_settings(root) if root is not None else {}

    def write(self, work: Callable[[Session], T]) -> T:
        """Run work of the server's own (its scheduler's) in the writer's turn, as nobody in particular."""
        with self._turn() as cursor:
            return work(self._start(cursor, None, write=True))

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
                self._end_writer()
                db.close(self.conn)

    def person(self, token: str) -> str:
        """The person a token names, or Unauthorized. scrypt and the token's row are paid for once per token:
        then it is known by its SHA-256 until a token or the definitions change."""
        key = hashlib.sha256(token.encode()).digest()
        known, kept, tokens = self._tokens.get(key), self._definitions, self._tokens
        if known is not None and kept is not None:
            now, defs = clock.current(self.options.now, kept[1].timezone), kept[1]
        else:
            cursor = self.conn.cursor()
            try:
                session = self._start(cursor, None, write=False)
                now, defs = session.now, session.defs
                known = authenticate(cursor, token, now, self._verified)
            finally:
                cursor.close()
            tokens[key] = known  # (into the dict of when this began: one made anew since is left alone)
        token_id, person, expires_at = known
        unexpired(expires_at, now)
        if defs.has_team and person not in defs.people:
            raise Unauthorized(f"{person} is no longer a person of the team")
        last = self._used.get(token_id)
        if last is None or now - last >= _USED_EVERY:
            self._used[token_id] = now
            with self._turn() as writer:
                token_store.used(writer, token_id, now)
        return person

    def run(
        self, op: Operation, person: str, request: Any, files: dict[str, Any] | None = None, dry_run: bool = False
    ) -> Any:
        """Run an operation as the person: a write in the writer's turn, a read beside it; one that reads
        files, on the copies of those the client sent (crmctl.uploads). A dry run of a write runs it in the
        writer's turn and rolls it back: its result is a Rehearsal, as locally (ops.registry.run)."""
        refused = local_only(op)
        if refused:
            raise UsageError(refused)
        if dry_run:
            refuse_dry_run(op)
        if op.reads_files:
            with tempfile.TemporaryDirectory(prefix="crmctl-upload-") as folder:
                return self._run(op, person, uploads.place(request, files or {}, Path(folder)), dry_run)
        return self._run(op, person, request, dry_run)

    def _rehearse(self, op: Operation, person: str, request: Any) -> Rehearsal:
        session = None
        try:
            with self._turn() as cursor:
                session = self._start(cursor, person, write=True)
                return rehearse(session, op.command, op.load(), request)
        finally:
            if session is not None:  # its refusals, once it is rolled back, as a local dry run's are
                self._write_refusals(session.now, person, session.refusals)

    def _run(self, op: Operation, person: str, request: Any, dry_run: bool = False) -> Any:
        if dry_run:
            return self._rehearse(op, person, request)
        if op.served is not None:
            return self._definitions_op(op, person, request)
        if op.read_first is not None:
            found = self._read(op.load_read_first(), person, request)
            if found is not None:
                return found
        if op.access == "write":
            try:
                with self._turn() as cursor:
                    return op.load()(self._start(cursor, person, write=True), request)
            finally:
                if op.module == "tokens":
                    self._tokens = {}  # a token made or revoked: each is checked anew
        return self._read(op.load(), person, request)

    def _read(self, function: Callable[..., T], person: str, request: Any) -> T:
        """A read beside the writer, on a cursor of its own; its refusals written in the writer's turn."""
        cursor = self.conn.cursor()
        try:
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

        refused: list[Any] = []
        try:
            with self._turn() as cursor:
                served = Served(cursor, self.path, self.options.now, person)
                try:
                    return op.load_served()(served, request)
                finally:
                    refused = served.refused
        finally:
            self._applies += 1  # first: a read that began before this ends keeps nothing (see _kept)
            self._definitions, self._tokens = None, {}
            if refused:
                now = self._start(self.conn, None, write=False).now
                self._write_refusals(now, person, [(None, None, data) for data in refused])

    def _write_refusals(
        self, now: dt.datetime, person: str, refusals: list[tuple[str | None, str | None, Any]]
    ) -> None:
        """Refusals of a read, or of plan and apply (permission.refused events), written in the writer's turn."""
        if not refusals:
            return
        with self._turn() as writer, db.transaction(writer) as conn:
            for record, form, data in refusals:
                record_store.add_event(conn, now, person, Event.PERMISSION_REFUSED, record=record, form=form, data=data)
