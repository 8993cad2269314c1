"""A session: one command's view of the workspace: settings, database, definitions, actor and clock."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.domain import permissions
from crmctl.domain.events import Event
from crmctl.domain.model import Definitions
from crmctl.errors import CrmError, InputError, NotFound, ProblemsFound
from crmctl.ops import clock

DEFAULT_DATABASE = "crmctl.duckdb"

if TYPE_CHECKING:
    from crmctl.config.workspace import Unit


@dataclass
class Options:
    """What the command line says about where and who and when."""

    workspace: Path | None = None
    db: Path | None = None
    actor: str | None = None
    now: str | None = None


def workspace_root(options: Options) -> Path | None:
    from crmctl.config.workspace import find_root  # the loader's modules only where a workspace is looked for

    return find_root(options.workspace or Path.cwd())


def workspace_settings(root: Path) -> dict[str, Any]:
    try:
        text = (root / "crmctl.yaml").read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None and not any(name in text for name in ("database", "busy_timeout", "server", "smtp")):
        return {}  # no such setting can be there: no need for a YAML parser
    from crmctl.config.yamlload import load_file

    for doc in load_file(root / "crmctl.yaml").documents:
        if doc.data.get("kind") == "Workspace":
            return dict(doc.data)
    return {}


def load_definitions(source: Path | Unit, outcome: str = "nothing was applied") -> Definitions:
    """Validate the workspace's files (a workspace's root, or a unit of files: those a client sent a server);
    its definitions, or ProblemsFound with every diagnostic."""
    # the loader (ruamel.yaml, jsonschema) only where the workspace's files are read
    from crmctl.config.workspace import Unit, load_unit, workspace_files
    from crmctl.render.diagnostics import text  # (the same: the words of the diagnostics)

    loaded = load_unit(source if isinstance(source, Unit) else Unit(source, workspace_files(source)))
    if not loaded.ok:
        errors = [d for d in loaded.diagnostics if d.severity == "error"]
        raise ProblemsFound(
            f"the workspace has {len(errors)} problem{'s' if len(errors) != 1 else ''}; {outcome}",
            text(loaded.diagnostics).splitlines(),
        )
    return Definitions.build([doc.data for doc in loaded.documents])


def workspace_definitions(options: Options) -> Definitions:
    """The definitions of the workspace's files as they are now, with no database: what validate checks."""
    root = workspace_root(options)
    if root is None:
        raise NotFound(f"no workspace: {options.workspace or Path.cwd()} has no crmctl.yaml, nor any folder above it")
    return load_definitions(root, "fix them first (crmctl validate shows them)")


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
        data = workspace_settings(root)
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
    writable: bool = True
    # refusals not yet written: inside a transaction, written just after its rollback; in a read-only
    # session, after the database is closed (see open_session)
    refusals: list[tuple[str | None, str | None, dict[str, str]]] = field(default_factory=list)
    dry_run: bool = False  # inside rehearse(): every transaction is part of one that is rolled back

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        # the store (and duckdb) only where a database is opened: a command sent to a server never loads it
        from crmctl.store.db import transaction

        if self.dry_run:  # the rehearsal's one transaction holds it, and rolls it back
            self.in_transaction = True
            try:
                yield self.conn
            finally:
                self.in_transaction = False
            return

        try:
            with transaction(self.conn) as conn:
                self.in_transaction = True
                try:
                    yield conn
                finally:
                    self.in_transaction = False
        finally:
            self._write_refusals()

    def may(self, permission: str, form: str | None = None) -> bool:
        return permissions.allowed(self.defs, self.actor, permission, form)

    def may_read_task(self, task: dict[str, Any]) -> bool:
        """Whether the actor may read this task (see domain.permissions.task_refusal)."""
        return permissions.task_refusal(self.defs, self.actor, task["assignee"]) is None

    def require(self, permission: str, doing: str, form: str | None = None, record: str | None = None) -> None:
        """InputError unless the actor holds the permission (single-user mode allows everything). A refusal
        is written to the event log (`permission.refused`) before the error; inside a transaction, which the
        error rolls back, it is written just after the rollback; a read-only session writes it after it has
        closed the database (see open_session)."""
        try:
            permissions.require(self.defs, self.actor, permission, doing, form)
        except Exception:
            self.refusals.append((record, form, {"permission": permission, "doing": doing}))
            if not self.in_transaction:
                self._write_refusals()
            raise

    def _write_refusals(self) -> None:
        """The refusals still to be written, where this session may write (a dry run's: after it, see
        open_session)."""
        if not self.writable or self.dry_run:
            return
        # the store (and duckdb) only where a database is opened: a command sent to a server never loads it
        from crmctl.store.records import add_event

        refusals, self.refusals = self.refusals, []
        for record, form, data in refusals:
            add_event(self.conn, self.now, self.actor, Event.PERMISSION_REFUSED, record=record, form=form, data=data)


def check_actor(defs: Definitions, actor: str | None) -> str | None:
    if actor is not None and defs.has_team and actor not in defs.people:
        raise NotFound(f"--as '{actor}' is not a person of the team")
    return actor


@contextmanager
def open_session(options: Options, write: bool = True) -> Iterator[Session]:
    """Open the database and its latest definitions for one command; read-only for a command that only
    reads (write=False): it then shares its turn with other readers, and works on a read-only file system."""
    # the store (and duckdb) only where a database is opened: a command sent to a server never loads it
    from crmctl.store import db, migrations

    path, timeout = database_path(options)
    conn = db.connect(path, busy_timeout=timeout, write=write)
    session = None
    try:
        if not db.is_crmctl_database(conn):
            raise InputError(f"{path} is a DuckDB file but not a crmctl database (run `crmctl apply` to set it up)")
        if not migrations.schema_is_current(conn):
            if not write:
                migrations.check_schema_version(conn)  # a newer crmctl's database: upgrade crmctl
                raise InputError(
                    f"{path} was written by an older crmctl and needs updating, which a command that only reads "
                    "cannot do: run a command that writes (or `crmctl apply`) once"
                )
            with db.transaction(conn):
                migrations.ensure_system_schema(conn)
        session = start(conn, path, options.now, options.actor, write=write)
        yield session
    except Exception as exc:
        db.raise_environment(path, exc)  # a damaged block found by a query that only reads
        raise
    finally:
        db.close(conn)
        if session is not None and session.refusals:
            _write_refusals(options, session.now, session.actor, session.refusals)


def start(
    conn: Any,
    path: Path,
    now: str | None,
    actor: str | None,
    *,
    write: bool,
    definitions: tuple[int, Definitions] | None = None,
) -> Session:
    """A session on an open connection: the latest definitions (or those given, which the team server keeps
    while their version is the latest), the workspace's time zone, the clock (pinned by `now`, ISO text) and
    the acting person, who must be of the Team. The server starts one on its own connection per request."""
    # the store (and duckdb) only where a database is opened: a command sent to a server never loads it
    from crmctl.store.definitions import latest

    found = definitions or latest(conn)
    if found is None:
        raise InputError(f"{path} has no definitions yet (run `crmctl apply`)")
    version, defs = found
    conn.execute("SET TimeZone = ?", [defs.timezone])
    return Session(
        conn, defs, version, clock.current(now, defs.timezone), check_actor(defs, actor), path, writable=write
    )


def write_refusals(options: Options, now: dt.datetime, actor: str | None, refusals: list[dict[str, str]]) -> None:
    """Refusals (the data of `permission.refused` events, with no record) written in a turn of their own."""
    _write_refusals(options, now, actor, [(None, None, data) for data in refusals])


def _write_refusals(
    options: Options, now: dt.datetime, actor: str | None, refusals: list[tuple[str | None, str | None, dict[str, str]]]
) -> None:
    """The refusals of a read-only session, written in a turn of its own once its connection is closed.
    Where they cannot be written (a read-only file system, a turn not had in time) the refusal stands as
    the command's error all the same."""
    # the store (and duckdb) only where a database is opened: a command sent to a server never loads it
    from crmctl.store import db
    from crmctl.store.records import add_event  # (the same)

    path, timeout = database_path(options)
    try:
        conn = db.connect(path, busy_timeout=timeout)
        try:
            with db.transaction(conn):
                for record, form, data in refusals:
                    add_event(conn, now, actor, Event.PERMISSION_REFUSED, record=record, form=form, data=data)
        finally:
            db.close(conn)
    except CrmError:
        return


@dataclass(frozen=True)
class RehearsedEvent:
    """An event a write would have written: on which record, what, and its data as it would be stored."""

    record: str | None
    action: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Rehearsal:
    """What an operation would do, run with --dry-run: its events (records created and changed, stages
    entered with their approvers, projects launched and their tasks) and its result; nothing was written."""

    command: str
    events: list[RehearsedEvent]
    result: Any = field(metadata={"json": False})


def rehearse(session: Session, command: str, function: Any, request: Any) -> Rehearsal:
    """Run a write operation in one transaction that is rolled back: everything it would do, written nowhere."""
    # the store (and duckdb) only where a database is opened: a command sent to a server never loads it
    from crmctl.store import db
    from crmctl.store.records import events_after, last_event  # (the same)

    session.dry_run = True
    with db.rehearsal(session.conn) as conn:
        since = last_event(conn)
        result = function(session, request)
        events = [RehearsedEvent(**e) for e in events_after(conn, since)]
    return Rehearsal(command, events, result)
