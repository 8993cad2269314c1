"""Opening the database: lock retry, one transaction per command, quoting; the system schema is store/migrations.py."""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from crmctl.errors import Busy, Environment, InputError, NotFound

if TYPE_CHECKING:  # duckdb itself is imported where a connection is opened: it costs start-up time
    import duckdb

# An open database, in every annotation of the store (a name at run time, the class for the type checker).
Connection: TypeAlias = "duckdb.DuckDBPyConnection"

# The storage format a new file is written in: the one DuckDB 1.5 reads, so that the `duckdb` 1.x programs
# (the CLI on PyPI is 1.5.x) open a file that the 2.x library made. A file keeps the format it was made in.
STORAGE_VERSION = "v1.5.0"
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


# What the machine says when the fault is its own (DuckDB passes on the system's words): exit code 6, not 5.
_ENVIRONMENT = {
    "No space left on device": "no space is left on its device; nothing was changed",
    "Disk quota exceeded": "the disk quota is exceeded; nothing was changed",
    "Read-only file system": "its file system is read-only: commands that write cannot run, those that only read can",
    "Corrupt database file": "the file is damaged (a checksum does not match); restore it from a backup",
    "Could not read enough bytes": "the file is cut short; restore it from a backup",
    "Input/output error": "the device reports an input/output error; nothing was changed",
}


def _environment(path: Path, exc: BaseException) -> Environment | None:
    """The Environment error for a DuckDB error that the machine caused (a full disk, a read-only file
    system, a damaged file), else None: the caller lets the original error through."""
    import duckdb

    if not isinstance(exc, duckdb.Error):
        return None
    message = str(exc)
    for text, meaning in _ENVIRONMENT.items():
        if text in message:
            return Environment(f"database {path}: {meaning}")
    return None


def _pause(deadline: float, delay: float, longest: float) -> float:
    """Sleep before the next try, never past the deadline; the next, doubled delay."""
    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
    return min(delay * 2, longest)


# The lock file: bytes [0, 32) hold the number of the writing process that has the turn (for the busy
# message); bytes [32, 52) the next ticket, in decimal; byte _TICKETS + n is ticket n, locked (an fcntl
# record lock, which the system lets go of when its process ends, however it ends) by the command that
# drew it while it waits and while it has its turn: a writer locks it exclusively, a reader shared.
_HOLDER = 32
_COUNTER = (32, 20)
_TICKETS = 1 << 20
_POLL = 0.005  # seconds between two looks at the line
_STALLED = 1.0  # seconds no one may take a free turn before those behind go ahead of the stalled


@dataclass
class _Turn:
    fd: int
    write: bool


_OPEN: dict[int, tuple[Path, _Turn | None]] = {}  # id of an open connection -> its file and the turn it holds
_WRITABLE: set[int] = set()  # ids of the open connections that may write


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


def _open_lock_file(lock: Path) -> tuple[int, bool] | None:
    """The lock file's descriptor, and whether it may be written; None where none can be made or opened. A
    symbolic link, a folder or anything else but a regular file at its place is refused: crmctl writes into
    the lock file, and a lock on something else guards nothing."""
    flags = os.O_NOFOLLOW | os.O_NONBLOCK  # no link followed; a FIFO does not hang the open
    try:
        try:
            fd, writable = os.open(lock, os.O_RDWR | os.O_CREAT | flags, 0o666), True
        except PermissionError:  # another user's lock file
            fd, writable = os.open(lock, os.O_RDONLY | flags), False
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # a link, a folder, a socket
            raise _not_a_lock_file(lock) from None
        return None  # a read-only folder, a missing one
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_a_lock_file(lock)
    return fd, writable


def _not_a_lock_file(lock: Path) -> Environment:
    kind = "a symbolic link" if lock.is_symlink() else "a folder" if lock.is_dir() else "not a regular file"
    return Environment(f"the lock file {lock} is {kind}; crmctl will not use it (remove it, no command needs it)")


def _take_ticket(fd: int, write: bool) -> int:
    """Draw the next ticket and lock its byte: the command's place in the line."""
    import fcntl

    fcntl.lockf(fd, fcntl.LOCK_EX, _COUNTER[1], _COUNTER[0])  # held for the few microseconds below
    try:
        text = os.pread(fd, _COUNTER[1], _COUNTER[0]).strip(b"\0 \n")
        ticket = int(text) if text.isdigit() else 0
        os.pwrite(fd, str(ticket + 1).ljust(_COUNTER[1]).encode(), _COUNTER[0])
        fcntl.lockf(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH, 1, _TICKETS + ticket)
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, _COUNTER[1], _COUNTER[0])
    return ticket


def _try_lock(fd: int, how: int, *args: int) -> bool:
    """One non-blocking try: an flock (no args) or a record lock on a range; a failed try takes nothing."""
    import fcntl

    try:
        if args:
            fcntl.lockf(fd, how | fcntl.LOCK_NB, *args)
        else:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


def _holder_of(fd: int) -> str:
    holder = os.pread(fd, _HOLDER, 0).decode("ascii", "replace").split("\n")[0].strip("\0 ")
    return f"crmctl process {holder} holds it" if holder.isdigit() else ""


def _take_turn(path: Path, deadline: float, busy_timeout: float, write: bool) -> _Turn | None:
    """Wait in line for this command's turn on <database>.lock, held from before DuckDB opens the file until
    after it has closed it, checkpoint included. DuckDB's own lock alone leaves moments unguarded (it reads
    the file's headers before locking it), and under load a command's committed write was lost between two
    processes.

    The line: a command draws a ticket (a counter in the lock file) and keeps a record lock on its ticket's
    byte; its turn comes when no earlier ticket is held (a reader: when no earlier writer's is), which it
    learns by trying to lock the range of the earlier tickets, every few milliseconds. Commands are thus
    served in the order they arrived, and one that dies or gives up leaves the line at once; one that
    stops while it waits (^Z) is passed once the turn has stayed free for _STALLED seconds. In its turn it
    takes the flock on the file (exclusive to write, shared to read), which is what keeps other programs
    that take it out, and what a command takes alone where it cannot draw a ticket (another user's lock file,
    opened read-only; a system whose flock and record locks are not independent: Linux only).

    The lock file sits beside the file a symlink leads to. None where no lock file can be made or opened (a
    read-only folder, a system without fcntl): DuckDB's lock is then the only guard."""
    if not _lockable(path):
        return None  # DuckDB refuses it
    try:
        import fcntl
    except ImportError:
        return None
    target = Path(os.path.realpath(path))
    opened = _open_lock_file(target.with_name(target.name + ".lock"))
    if opened is None:
        return None
    fd, writable = opened
    how = fcntl.LOCK_EX if write else fcntl.LOCK_SH
    ticket = 0  # none drawn, or the first: no one to wait for but the flock's holder
    try:
        if writable and sys.platform.startswith("linux"):
            with suppress(OSError):  # a full disk, a file system without record locks: the flock alone
                ticket = _take_ticket(fd, write)
        delay, free_since = _POLL, None
        while True:
            if ticket == 0 or _try_lock(fd, how, ticket, _TICKETS):
                if _try_lock(fd, how):
                    break
                free_since = None
            elif _try_lock(fd, how):  # no one has the turn, yet the line ahead does not move: stopped (^Z)?
                free_since = free_since or time.monotonic()
                if time.monotonic() - free_since >= _STALLED:
                    break  # go ahead of it: the flock keeps the turn one's own all the same
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                free_since = None
            if time.monotonic() >= deadline:
                raise _busy(path, _holder_of(fd), busy_timeout)
            delay = _pause(deadline, delay, _POLL if ticket else 0.1)
    except OSError:  # a system without flock
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)  # lets go of the ticket and of every lock taken
        raise
    if write:
        with suppress(OSError):  # who has the turn, for the busy message (not on a read-only descriptor)
            os.pwrite(fd, f"{os.getpid()}\n".ljust(_HOLDER).encode(), 0)
    return _Turn(fd, write)


def connect(path: Path, *, busy_timeout: float = 10.0, create: bool = False, write: bool = True) -> Connection:
    """Open the DuckDB file in this command's turn, waiting in line while other commands hold it, for
    writing or (write=False) read-only; close it with close()."""
    if not create and not path.exists():
        raise NotFound(f"no database at {path} (create one with `crmctl init` or `crmctl apply`)")
    deadline = time.monotonic() + busy_timeout
    turn = _take_turn(path, deadline, busy_timeout, write)
    try:
        conn = _open(path, deadline, busy_timeout, write)
    except BaseException:
        _end_turn(turn)
        raise
    _OPEN[id(conn)] = (path, turn)
    if write:
        _WRITABLE.add(id(conn))
    return conn


def close(conn: Connection) -> None:
    """Close the connection (DuckDB checkpoints and lets go of the file), then end the command's turn."""
    path, turn = _OPEN.pop(id(conn), (None, None))
    _WRITABLE.discard(id(conn))
    from crmctl.store.audit import forget  # here, not at the top: store.audit builds on this module

    forget(conn)
    try:
        conn.close()
    except Exception as exc:
        raise_environment(path, exc)
        raise
    finally:
        _end_turn(turn)


def raise_environment(path: Path | None, exc: Exception) -> None:
    """Raise the Environment error for a DuckDB error the machine caused; return for any other."""
    failed = _environment(path or Path("(in memory)"), exc)
    if failed is not None:
        raise failed from None


def _end_turn(turn: _Turn | None) -> None:
    if turn is None:
        return
    if turn.write:
        with suppress(OSError):
            os.pwrite(turn.fd, b" " * _HOLDER, 0)  # no one's number stays in the file
    os.close(turn.fd)  # closing the descriptor lets go of the flock and of the ticket


def _open(path: Path, deadline: float, busy_timeout: float, write: bool = True) -> Connection:
    import duckdb

    delay = 0.02
    while True:
        try:
            # the setting only chooses the format of a file this call creates; an existing file keeps its own
            conn = duckdb.connect(
                str(path), read_only=not write, config={"storage_compatibility_version": STORAGE_VERSION}
            )
            conn.execute("SET enable_progress_bar_print = false")  # crmctl draws its own, on stderr, if any
            return conn
        except duckdb.Error as exc:
            message = str(exc)
            if isinstance(exc, duckdb.IOException) and re.search(r"\block\b", message, re.IGNORECASE):
                if time.monotonic() >= deadline:
                    raise _busy(path, f"{_holder(message)} holds its lock", busy_timeout) from None
                delay = _pause(deadline, delay, 0.5)
                continue
            failed = _environment(path, exc)
            if failed is not None:
                raise failed from None
            if "not a valid DuckDB database" in message:
                raise InputError(f"{path} is not a DuckDB database file") from None
            raise InputError(f"cannot open database {path}: {message}") from None


def enter_writer(cursor: Connection) -> None:
    """A cursor of a connection that may write (the team server's writer) from now until leave_writer: its
    transactions seal their events in the event log's chain, as a writing connection's do."""
    _WRITABLE.add(id(cursor))


def leave_writer(cursor: Connection) -> None:
    """The cursor writes no more (it is about to be closed: its id may be reused by another)."""
    _WRITABLE.discard(id(cursor))
    from crmctl.store.audit import forget  # here, not at the top: store.audit builds on this module

    forget(cursor)


@contextmanager
def rehearsal(conn: Connection) -> Iterator[Connection]:
    """One transaction that is always rolled back: what runs inside writes nothing (a dry run)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """One transaction: everything inside happens, or nothing does. A full disk or a damaged file, found
    while writing or at the commit, is an Environment error."""
    path = _OPEN.get(id(conn), (None, None))[0]
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException as exc:
        try:
            conn.execute("ROLLBACK")
        except Exception:
            if _environment(Path(), exc) is None:
                raise
            # the failed write may have ended the transaction already: the Environment error is the news
        if isinstance(exc, Exception):
            raise_environment(path, exc)
        raise
    try:
        sealing = id(conn) in _WRITABLE
        if sealing:
            # here, not at the top: store.audit builds on this module
            from crmctl.store.audit import seal

            seal(conn)  # the events this transaction wrote join the event log's hash chain
        conn.execute("COMMIT")
    except Exception as exc:
        raise_environment(path, exc)
        raise
    if sealing:
        from crmctl.store.audit import committed  # (the same)

        committed(conn)


def scalar(conn: Connection, sql: str, params: object = None) -> Any:
    """The one value of a query that always returns one row (an aggregate such as count(*))."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise ValueError(f"no row from {sql}")
    return row[0]


def insert_many(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows in their order with one statement (each column passed as one list and unnested: some 200
    times faster than a statement per row)."""
    if not rows:
        return
    lists = [list(column) for column in zip(*rows, strict=True)]
    params: list[Any] = [len(rows)]  # $1
    picked, unnested = [], []
    for i, values in enumerate(lists):
        if _same(values):  # one value for every row, bound once: passing a list costs about 2 µs a value
            params.append(values[0])
            picked.append(f"${len(params)}")
        else:
            params.append(values)
            unnested.append(f"unnest(${len(params)}) AS c{i}")
            picked.append(f"c{i}")
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(picked)} FROM "
        f"(SELECT {''.join(u + ', ' for u in unnested)}unnest(range($1)) AS crm_order) ORDER BY crm_order",
        params,
    )


def _same(values: list[Any]) -> bool:
    """Whether every value is the first one, of its type."""
    first = values[0]
    return values.count(first) == len(values) and len(set(map(type, values))) == 1


def define_records_view(conn: Connection, forms: Iterable[str]) -> None:
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


def is_crmctl_database(conn: Connection) -> bool:
    import duckdb

    try:  # information_schema costs ~10 ms on a small file; naming the table costs nothing
        conn.execute("SELECT version FROM crm.definitions LIMIT 0").fetchall()
    except duckdb.CatalogException:
        return False
    return True
