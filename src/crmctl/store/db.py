"""Opening the database: lock retry, one transaction per command, the system schema."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from crmctl.errors import Busy, InputError, NotFound

SCHEMA_VERSION = 4
_IDENT = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# the column type that holds each field type
SQL_TYPES = {
    "text": "VARCHAR",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "list": "VARCHAR",
    "person": "VARCHAR",
    "ref": "VARCHAR",
    "number": "DOUBLE",
    "money": "DECIMAL(18,2)",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "bool": "BOOLEAN",
}

SYSTEM_DDL = [
    "CREATE SCHEMA IF NOT EXISTS crm",
    "CREATE TABLE IF NOT EXISTS crm.meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS crm.definitions (
        version INTEGER PRIMARY KEY, hash VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL,
        actor VARCHAR, documents JSON NOT NULL, changes JSON NOT NULL)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.event_ids",
    """CREATE TABLE IF NOT EXISTS crm.events (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.event_ids'), occurred_at TIMESTAMPTZ NOT NULL, actor VARCHAR,
        action VARCHAR NOT NULL, record VARCHAR, form VARCHAR, data JSON)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.comment_ids",
    """CREATE TABLE IF NOT EXISTS crm.comments (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.comment_ids'), record VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, author VARCHAR, text VARCHAR NOT NULL)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.reminder_ids",
    """CREATE TABLE IF NOT EXISTS crm.reminders (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.reminder_ids'), record VARCHAR, due_at TIMESTAMPTZ NOT NULL,
        text VARCHAR NOT NULL, person VARCHAR, created_by VARCHAR, created_at TIMESTAMPTZ NOT NULL,
        done_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS crm.people (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR, roles VARCHAR[], calendar VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.archive (
        version INTEGER NOT NULL, archived_at TIMESTAMPTZ NOT NULL, form VARCHAR NOT NULL, record VARCHAR NOT NULL,
        what VARCHAR NOT NULL, name VARCHAR NOT NULL, value VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.approval_ids",
    """CREATE TABLE IF NOT EXISTS crm.approvals (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.approval_ids'), record VARCHAR NOT NULL,
        process VARCHAR NOT NULL, stage VARCHAR NOT NULL, approval_group VARCHAR,
        approver VARCHAR NOT NULL, requested_at TIMESTAMPTZ NOT NULL, decision VARCHAR, decided_by VARCHAR,
        decided_at TIMESTAMPTZ, comment VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.inbox_ids",
    """CREATE TABLE IF NOT EXISTS crm.inbox (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.inbox_ids'), person VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, kind VARCHAR NOT NULL, record VARCHAR, text VARCHAR NOT NULL,
        read_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS crm.projects (
        id VARCHAR PRIMARY KEY, number BIGINT NOT NULL, title VARCHAR NOT NULL, parent VARCHAR, record VARCHAR,
        template VARCHAR, params JSON, priority INTEGER, created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.tasks (
        id VARCHAR PRIMARY KEY, number BIGINT NOT NULL, project VARCHAR, record VARCHAR, template_task VARCHAR,
        title VARCHAR NOT NULL, description VARCHAR, type VARCHAR, subtype VARCHAR, assignee VARCHAR,
        watchers VARCHAR[] NOT NULL DEFAULT [], priority INTEGER NOT NULL DEFAULT 3, estimate_minutes INTEGER,
        due_at TIMESTAMPTZ, status VARCHAR NOT NULL DEFAULT 'todo', created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, external_id VARCHAR)""",
    # schema 3: the id a task had in the file it was imported from, so that a second import finds it
    "ALTER TABLE crm.tasks ADD COLUMN IF NOT EXISTS external_id VARCHAR",
    """CREATE TABLE IF NOT EXISTS crm.task_dependencies (
        task VARCHAR NOT NULL, depends_on VARCHAR NOT NULL, PRIMARY KEY (task, depends_on))""",
    "CREATE SEQUENCE IF NOT EXISTS crm.interval_ids",
    """CREATE TABLE IF NOT EXISTS crm.time_intervals (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.interval_ids'), task VARCHAR NOT NULL, person VARCHAR,
        started_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, note VARCHAR, source VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS crm.mail_messages (
        message_id VARCHAR PRIMARY KEY, rule VARCHAR NOT NULL, sender VARCHAR, subject VARCHAR,
        sent_at TIMESTAMPTZ, received_at TIMESTAMPTZ NOT NULL, record VARCHAR, task VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.sprints (
        name VARCHAR PRIMARY KEY, starts_on DATE NOT NULL, ends_on DATE NOT NULL, goal VARCHAR,
        created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.sprint_tasks (
        task VARCHAR PRIMARY KEY, sprint VARCHAR NOT NULL, added_at TIMESTAMPTZ NOT NULL, added_by VARCHAR)""",
    # the last computed schedule, one row per person: their queue as JSON (see store/schedule.py)
    "CREATE TABLE IF NOT EXISTS crm.schedule_queues (person VARCHAR PRIMARY KEY, rows JSON NOT NULL)",
    "CREATE SEQUENCE IF NOT EXISTS crm.import_ids",
    """CREATE TABLE IF NOT EXISTS crm.imports (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.import_ids'), kind VARCHAR NOT NULL, source VARCHAR,
        actor VARCHAR, imported_at TIMESTAMPTZ NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,
        unchanged BIGINT NOT NULL, rejected BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS crm.import_runs (
        import BIGINT NOT NULL, form VARCHAR NOT NULL, first_number BIGINT NOT NULL, last_number BIGINT NOT NULL)""",
    """CREATE OR REPLACE VIEW crm.task_times AS
        SELECT t.id AS task, t.type, t.subtype, t.assignee, t.status, t.estimate_minutes,
               coalesce(sum(date_diff('second', i.started_at, i.ended_at)) / 60.0, 0) AS actual_minutes
        FROM crm.tasks t LEFT JOIN crm.time_intervals i ON i.task = t.id AND i.ended_at IS NOT NULL
        GROUP BY ALL""",
    """CREATE OR REPLACE VIEW crm.history AS
        SELECT e.id, e.occurred_at, e.actor, p.name AS actor_name, e.action, e.record, e.form, e.data
        FROM crm.events e LEFT JOIN crm.people p ON p.id = e.actor""",
    """CREATE OR REPLACE VIEW crm.open_reminders AS
        SELECT r.*, p.name AS person_name FROM crm.reminders r LEFT JOIN crm.people p ON p.id = r.person
        WHERE r.done_at IS NULL""",
]


def quote(identifier: str) -> str:
    """A YAML-born identifier as a quoted SQL identifier; anything unexpected is refused."""
    if not _IDENT.match(identifier):
        raise InputError(f"'{identifier}' is not a valid identifier")
    return '"' + identifier + '"'


def _holder(message: str) -> str:
    match = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", message)
    return f"process {match.group(2)} ({Path(match.group(1)).name})" if match else "another process"


def _busy(path: Path, holder: str, busy_timeout: float) -> Busy:
    return Busy(
        f"database {path} is busy: {holder or 'another command holds it'} "
        f"(waited {busy_timeout:g}s; set CRMCTL_BUSY_TIMEOUT to wait longer)"
    )


def _pause(deadline: float, delay: float, longest: float) -> float:
    """Sleep before the next try, never past the deadline; the next, doubled delay."""
    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
    return min(delay * 2, longest)


_TURNS: dict[int, int] = {}  # id of an open connection -> the descriptor of the lock file it holds


def _lockable(path: Path) -> bool:
    """Whether the path is a database file, or none yet: no lock file beside anything else."""
    try:
        if path.stat().st_size == 0:
            return path.is_file()
        if not path.is_file():
            return False
        with path.open("rb") as head:
            return head.read(12)[8:12] == b"DUCK"
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _take_turn(path: Path, deadline: float, busy_timeout: float) -> int | None:
    """Wait for the exclusive flock on <database>.lock, the turn that crmctl commands take one after another
    from before DuckDB opens the file until after it has closed it, checkpoint included. DuckDB's own lock
    alone leaves moments unguarded (it reads the file's headers before locking it), and under load a
    command's committed write was lost between two processes. The lock file sits beside the file a symlink
    leads to; another user's lock file is locked through a read-only descriptor. None where no lock file can
    be made or opened (a read-only folder, a system without flock): DuckDB's lock is then the only guard."""
    if not _lockable(path):
        return None  # DuckDB refuses it
    target = Path(os.path.realpath(path))
    try:
        import fcntl

        lock = target.with_name(target.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:
            fd = os.open(lock, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                os.close(fd)
                who = f"crmctl process {holder} holds it" if holder.isdigit() else ""
                raise _busy(path, who, busy_timeout) from None
            delay = _pause(deadline, delay, 0.1)
            continue
        except OSError:
            os.close(fd)
            return None
        with suppress(OSError):  # who has the turn, for the busy message (not on a read-only descriptor)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd


def connect(path: Path, *, busy_timeout: float = 10.0, create: bool = False) -> Any:
    """Open the DuckDB file in this command's turn, retrying while another process holds its lock; close it
    with close()."""
    if not create and not path.exists():
        raise NotFound(f"no database at {path} (create one with `crmctl init` or `crmctl apply`)")
    deadline = time.monotonic() + busy_timeout
    turn = _take_turn(path, deadline, busy_timeout)
    try:
        conn = _open(path, deadline, busy_timeout)
    except BaseException:
        _end_turn(turn)
        raise
    if turn is not None:
        _TURNS[id(conn)] = turn
    return conn


def close(conn: Any) -> None:
    """Close the connection (DuckDB checkpoints and lets go of the file), then end the command's turn."""
    try:
        conn.close()
    finally:
        _end_turn(_TURNS.pop(id(conn), None))


def _end_turn(fd: int | None) -> None:
    if fd is None:
        return
    with suppress(OSError):
        os.ftruncate(fd, 0)  # no one's number stays in the file
    os.close(fd)  # closing the descriptor lets go of the flock


def _open(path: Path, deadline: float, busy_timeout: float) -> Any:
    import duckdb

    delay = 0.02
    while True:
        try:
            conn = duckdb.connect(str(path))
            conn.execute("SET enable_progress_bar_print = false")  # crmctl draws its own, on stderr, if any
            return conn
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" in message.lower():
                if time.monotonic() >= deadline:
                    raise _busy(path, f"{_holder(message)} holds its lock", busy_timeout) from None
                delay = _pause(deadline, delay, 0.5)
                continue
            if "not a valid DuckDB database" in message:
                raise InputError(f"{path} is not a DuckDB database file") from None
            raise InputError(f"cannot open database {path}: {message}") from None
        except duckdb.Error as exc:
            raise InputError(f"cannot open database {path}: {exc}") from None


@contextmanager
def transaction(conn: Any) -> Iterator[Any]:
    """One transaction: everything inside happens, or nothing does."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def insert_many(conn: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows in their order with one statement (each column passed as one list and unnested: some 200
    times faster than a statement per row)."""
    if not rows:
        return
    lists = [list(column) for column in zip(*rows, strict=True)]
    unnested = ", ".join(f"unnest(?) AS c{i}" for i in range(len(columns)))
    picked = ", ".join(f"c{i}" for i in range(len(columns)))
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM "
        f"(SELECT {unnested}, unnest(range(?)) AS crm_order) ORDER BY crm_order",
        [*lists, len(rows)],
    )


def ensure_system_schema(conn: Any) -> None:
    for statement in SYSTEM_DDL:
        conn.execute(statement)
    if conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'crm' AND table_name = 'records'"
    ).fetchone()[0]:  # schema 3 and before: a table of its own, a second copy of every key
        from crmctl.store.definitions import latest

        found = latest(conn)
        conn.execute("DROP TABLE crm.records")
        define_records_view(conn, found[1].forms if found else ())
    elif not conn.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'crm' AND view_name = 'records'"
    ).fetchone()[0]:
        define_records_view(conn, ())
    row = conn.execute("SELECT value FROM crm.meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        conn.execute("INSERT INTO crm.meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    elif int(row[0]) > SCHEMA_VERSION:
        raise InputError(f"this database was written by a newer crmctl (schema {row[0]}); upgrade crmctl")
    elif int(row[0]) < SCHEMA_VERSION:
        conn.execute("UPDATE crm.meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])


def define_records_view(conn: Any, forms: Iterable[str]) -> None:
    """crm.records: every record's key, form, number and creation time, read from the form tables and from
    the tables in which `apply` keeps the records of removed forms (crm.archived_<form>_v<version>); the
    form tables are the only copy of a key, so a bulk import writes each key once."""
    tables = [(name, "main." + quote(name)) for name in forms]  # a form may be named like a crm table
    for (name,) in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'crm' "
        "AND starts_with(table_name, 'archived_') ORDER BY table_name"
    ).fetchall():
        match = re.fullmatch(r"archived_(.+)_v[0-9]+", name)
        if match:
            tables.append((match.group(1), "crm." + quote(name)))
    parts = [f"SELECT key, '{quote(form)[1:-1]}' AS form, number, created_at FROM {table}" for form, table in tables]
    if not parts:
        parts = [
            "SELECT NULL::VARCHAR AS key, NULL::VARCHAR AS form, NULL::BIGINT AS number, "
            "NULL::TIMESTAMPTZ AS created_at WHERE false"
        ]
    conn.execute("CREATE OR REPLACE VIEW crm.records AS " + " UNION ALL ".join(parts))


def schema_is_current(conn: Any) -> bool:
    row = conn.execute("SELECT value FROM crm.meta WHERE key = 'schema_version'").fetchone()
    return row is not None and int(row[0]) == SCHEMA_VERSION


def is_crmctl_database(conn: Any) -> bool:
    import duckdb

    try:  # information_schema costs ~10 ms on a small file; naming the table costs nothing
        conn.execute("SELECT version FROM crm.definitions LIMIT 0").fetchall()
    except duckdb.CatalogException:
        return False
    return True
