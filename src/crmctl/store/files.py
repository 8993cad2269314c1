"""The one way crmctl writes a file: every --out, --ics, --report, schema --out and init's workspace files.

A target is refused, before anything is written, when it is the workspace's database or its write-ahead
log (`<db>.wal`) or lock file (`<db>.lock`), compared by real path and by inode; when it is any other DuckDB
database (b"DUCK" at bytes 8:12 of the file, so this holds outside a workspace too); when it is a symlink
(the link is never followed, so the file it leads to cannot be overwritten by way of it); and when it is a
folder, a device (/dev/null included), a FIFO or a socket. Otherwise the bytes go to a temp file beside the
target (same folder, so the same file system), which is flushed, fsynced and renamed into place: a write
that fails leaves the old file, or none, and no temp file. Every refusal and failure is an InputError
(exit code 1) of one line.

It sits beneath core and cli (it imports nothing of crmctl's but errors) because both write files: the CLI
its outputs, core the exports DuckDB writes itself (`replacing` hands out the temp path for that) and init.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from crmctl.errors import InputError

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}
_COMPANIONS = (
    ("", "the workspace's database"),
    (".wal", "the database's write-ahead log"),
    (".lock", "the database's lock file"),
)


def _place(path: Path | str) -> str:
    """The path with its folder resolved and its last part left alone (a symlink there is not followed)."""
    absolute = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))


def _guarded(databases: Iterable[Path]) -> dict[str, str]:
    """Each file of the databases (as given and as a symlink resolves it) -> what it is."""
    guarded: dict[str, str] = {}
    for db in databases:
        for base in {os.path.abspath(db), os.path.realpath(db)}:
            for suffix, what in _COMPANIONS:
                guarded.setdefault(_place(base + suffix), what)
    return guarded


def _is_duckdb(path: Path) -> bool:
    try:
        with open(path, "rb") as head:
            return head.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def check(path: Path, databases: Iterable[Path] = ()) -> None:
    """InputError unless crmctl may (re)place the file at path; see the module's docstring for the rules."""
    guarded = _guarded(databases)
    what = guarded.get(_place(path))
    if what is not None:
        raise InputError(f"refusing to write {path}: it is {what}")
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if found is None:
        folder = Path(path).parent  # as the user gave it, for the message
        if not folder.is_dir():
            raise InputError(f"cannot write {path}: no folder {folder}")
        return
    if stat.S_ISLNK(found.st_mode):
        raise InputError(f"refusing to write {path}: it is a symlink (crmctl does not write through one)")
    if not stat.S_ISREG(found.st_mode):
        kind = _KINDS.get(stat.S_IFMT(found.st_mode), "a special file")
        raise InputError(f"refusing to write {path}: it is {kind}, not a regular file")
    for name, what in guarded.items():
        with suppress(OSError):
            other = os.stat(name)
            if (other.st_dev, other.st_ino) == (found.st_dev, found.st_ino):
                raise InputError(f"refusing to write {path}: it is {what} (another name for it)")
    if _is_duckdb(path):
        raise InputError(f"refusing to write {path}: it is a DuckDB database")


def _mode(path: Path) -> int:
    """The mode the written file gets: the replaced file's, else what the umask allows."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _sync_folder(folder: str) -> None:
    """Make the rename durable (best effort: not every system can open a folder)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _failure(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write {path}: {exc.strerror or exc}")


@contextmanager
def replacing(path: Path, databases: Iterable[Path] = (), mode: int | None = None) -> Iterator[Path]:
    """Check path, then hand out an empty temp file beside it to fill; when the block ends without an error
    the temp file is fsynced and renamed over path, else removed. For writers that want a file name (DuckDB's
    COPY); write_bytes and write_text use it. `mode` overrides the file's mode (a backup is 0600)."""
    databases = tuple(databases)
    check(path, databases)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    try:  # the temp name ends like the target's, so that a writer that looks at the extension sees the same one
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".crmctl-", suffix="-" + name[-64:])
        os.close(fd)
    except OSError as exc:
        raise _failure(path, exc) from None
    try:
        yield Path(temp)
        os.chmod(temp, _mode(path) if mode is None else mode)
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        check(path, databases)  # once more, just before the rename: the target may have changed meanwhile
        os.replace(temp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise _failure(path, exc) from None
        raise
    _sync_folder(folder)


def write_bytes(path: Path, data: bytes, databases: Iterable[Path] = (), mode: int | None = None) -> None:
    """Write data to path safely (see the module's docstring)."""
    with replacing(path, databases, mode) as temp, open(temp, "wb") as out:
        out.write(data)
        out.flush()


def write_text(path: Path, text: str, databases: Iterable[Path] = (), newline: str | None = None) -> None:
    """Write text as UTF-8; newline as for open() (None: \\n becomes the platform's line end, "": as is)."""
    with replacing(path, databases) as temp, open(temp, "w", encoding="utf-8", newline=newline) as out:
        out.write(text)
        out.flush()
