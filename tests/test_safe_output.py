"""Every file crmctl writes goes through one safe writer (crmctl.store.files): never the database, its
write-ahead log or lock file, any DuckDB file, a symlink, a folder or a device; a temp file beside the
target, fsynced and renamed, so that a failed write leaves the old file (or none) and no temp file."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.conftest import ok
from tests.test_docs import COMMANDS

OUT = "{out}"
CSV = "{csv}"

# each way of writing a file: (command, option) it exercises -> a command line, OUT standing for the target
WRITERS: dict[str, tuple[tuple[str, str], list[str]]] = {
    "board": (("board", "--out"), ["board", "deals", "--out", OUT]),
    "board html": (("board", "--out"), ["board", "deals", "--format", "html", "--out", OUT]),
    "report efficiency": (("report efficiency", "--out"), ["report", "efficiency", "--out", OUT]),
    "report efficiency html": (("report efficiency", "--out"), ["report", "efficiency", "-f", "html", "-o", OUT]),
    "export tjp": (("export", "--out"), ["export", "tjp", "--out", OUT]),
    "export csv": (("export", "--out"), ["export", "client", "--format", "csv", "--out", OUT]),
    "export json": (("export", "--out"), ["export", "client", "--format", "json", "--out", OUT]),
    "export parquet": (("export", "--out"), ["export", "client", "--format", "parquet", "--out", OUT]),
    "agenda ics": (("agenda", "--ics"), ["agenda", "--ics", OUT]),
    "import report": (("import", "--report"), ["import", "client", CSV, "--report", OUT]),
    "schema": (("schema", "--out"), ["schema", "--out", OUT]),  # a folder: its files are checked one by one
    "init": (("init", "folder"), ["init", OUT]),  # a new or empty folder: never a file
    "record show html": (("record show", "--out"), ["record", "show", "CL-1", "--format", "html", "--out", OUT]),
    "load html": (("load", "--out"), ["load", "--format", "html", "--out", OUT]),
    "backup": (("backup", "out"), ["backup", OUT]),
    "file get": (("file get", "--out"), ["file", "get", "1", "--out", OUT]),
    "export with files": (("export", "--with-files"), ["export", "client", "--with-files", OUT]),  # a folder
}
FOLDER_WRITERS = {"schema", "init", "export with files"}
FILE_WRITERS = [name for name in WRITERS if name not in FOLDER_WRITERS]
# refused like every writer, but not replacing a file here: a backup is written to a new file only, and
# `file get` needs an attached file (tests/test_files.py writes one)
REPLACING = [name for name in FILE_WRITERS if name not in ("backup", "file get")]

# parameters that name files crmctl reads, never writes
READS = {
    ("import", "file"),
    ("import", "--map"),
    ("import", "--files"),
    ("intake mail", "paths"),
    ("attach", "paths"),
    ("record create", "--file"),
    ("record update", "--file"),
    ("simulate", "--file"),
    ("validate", "paths"),
    ("serve", "--tls-cert"),
    ("serve", "--tls-key"),
    ("login", "--ca-file"),
}


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def listing(*folders: Path) -> list[str]:
    """Every name under the folders (temp files included), to see that nothing was left behind."""
    return sorted(str(p) for folder in folders for p in folder.rglob("*"))


def command_line(name: str, out: Path | str, csv: Path) -> list[str]:
    return [{OUT: str(out), CSV: str(csv)}.get(arg, arg) for arg in WRITERS[name][1]]


def one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crmctl: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], result.stderr


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    """A good import file: importing it would add a record, so a refused import shows in the database."""
    path = tmp_path / "in" / "clients.csv"
    path.parent.mkdir()
    path.write_text("name,status\nAcme,new\n", encoding="utf-8")
    return path


def targets(workspace: Path, tmp_path: Path) -> dict[str, tuple[Path | str, str]]:
    """Where an output must never go -> (the path as given, what the error says)."""
    db = workspace / "crmctl.duckdb"
    shutil.copyfile(db, tmp_path / "other.duckdb")
    (tmp_path / "folder").mkdir()
    (tmp_path / "precious.txt").write_text("keep me\n", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(tmp_path / "precious.txt")
    (tmp_path / "to-db").symlink_to(db)
    (tmp_path / "up").mkdir()
    os.mkfifo(tmp_path / "fifo")
    return {
        "database": ("crmctl.duckdb", "it is the workspace's database"),
        "database, absolute": (db, "it is the workspace's database"),
        "database, by way of ..": (tmp_path / "up" / ".." / "ws" / "crmctl.duckdb", "the workspace's database"),
        "write-ahead log": ("crmctl.duckdb.wal", "it is the database's write-ahead log"),
        "lock file": ("crmctl.duckdb.lock", "it is the database's lock file"),
        "another database": (tmp_path / "other.duckdb", "it is a DuckDB database"),
        "folder": (tmp_path / "folder", "it is a folder"),
        "device": ("/dev/null", "it is a character device"),
        "symlink to a file": (tmp_path / "link.txt", "it is a symlink"),
        "symlink to the database": (tmp_path / "to-db", "it is a symlink"),
        "missing folder": (tmp_path / "missing" / "out.txt", "no folder"),
        "FIFO": (tmp_path / "fifo", "it is a FIFO (named pipe)"),  # last: without the check, writing it blocks
    }


@pytest.mark.parametrize("writer", FILE_WRITERS)
def test_an_output_file_never_replaces_the_database_a_folder_a_device_or_a_symlink_target(
    cli, workspace: Path, tmp_path: Path, csv: Path, writer: str
) -> None:
    db = workspace / "crmctl.duckdb"
    cases = targets(workspace, tmp_path)
    guarded = [db, workspace / "crmctl.duckdb.lock", tmp_path / "other.duckdb", tmp_path / "precious.txt"]
    before = {path: digest(path) for path in guarded}
    names = listing(workspace, tmp_path)
    for case, (target, says) in cases.items():
        result = cli(*command_line(writer, target, csv))
        one_error_line(result, f"{target}", says)
        assert {path: digest(path) for path in guarded} == before, case
        assert listing(workspace, tmp_path) == names, case
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert os.readlink(tmp_path / "link.txt") == str(tmp_path / "precious.txt")


def test_the_database_given_with_db_is_guarded_too(cli, workspace: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "crm.duckdb"
    shutil.move(workspace / "crmctl.duckdb", db)
    (tmp_path / "crm-link.duckdb").symlink_to(db)
    before = digest(db)
    for given in (db, tmp_path / "crm-link.duckdb"):
        for target, says in ((db, "the workspace's database"), (Path(f"{db}.wal"), "write-ahead log")):
            one_error_line(cli("--db", str(given), "board", "deals", "--out", str(target)), says)
            one_error_line(cli("--db", str(given), "export", "client", "--out", str(target)), says)
    assert digest(db) == before
    assert [p.name for p in data.iterdir()] == ["crm.duckdb"]  # refused before the database was opened


def test_a_database_set_in_the_workspace_file_is_guarded(cli, workspace: Path) -> None:
    (workspace / "crmctl.yaml").write_text(
        (workspace / "crmctl.yaml").read_text(encoding="utf-8") + "database: data.duckdb\n", encoding="utf-8"
    )
    shutil.move(workspace / "crmctl.duckdb", workspace / "data.duckdb")
    (workspace / "crmctl.duckdb.lock").unlink()
    before = digest(workspace / "data.duckdb")
    one_error_line(cli("agenda", "--ics", "data.duckdb.wal"), "write-ahead log")
    one_error_line(cli("agenda", "--ics", "data.duckdb"), "the workspace's database")
    assert digest(workspace / "data.duckdb") == before
    assert not (workspace / "data.duckdb.wal").exists()


def test_a_refused_report_file_stops_the_import_before_it_writes(cli, workspace: Path, csv: Path) -> None:
    from tests.dbstate import dump

    db = workspace / "crmctl.duckdb"
    before = dump(db)
    one_error_line(cli("import", "client", str(csv), "--report", "crmctl.duckdb"), "the workspace's database")
    assert dump(db) == before
    ok(cli, "import", "client", str(csv), "--report", "problems.csv")
    assert dump(db) != before


@pytest.mark.parametrize("writer", REPLACING)
def test_an_output_file_is_written_and_replaced_whole(
    cli, workspace: Path, tmp_path: Path, csv: Path, writer: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "result.out"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    ok(cli, *command_line(writer, target, csv))
    assert target.read_bytes() not in (b"", b"old\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file's mode is kept
    assert [p.name for p in folder.iterdir()] == ["result.out"]  # no temp file left


def test_a_new_output_file_gets_the_usual_mode(cli, workspace: Path, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        ok(cli, "board", "deals", "--out", str(tmp_path / "board.txt"))
        ok(cli, "export", "client", "--format", "parquet", "--out", str(tmp_path / "c.parquet"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "board.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "c.parquet").stat().st_mode) == 0o640


def _disk_full(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("writer", REPLACING)
@pytest.mark.parametrize("existing", [True, False], ids=["over a file", "new file"])
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    cli, workspace: Path, tmp_path: Path, csv: Path, monkeypatch: pytest.MonkeyPatch, writer: str, existing: bool
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "result.out"
    if existing:
        target.write_text("old\n", encoding="utf-8")
    ok(cli, "record", "create", "client", "--set", "name=Acme")  # a record to show
    db = workspace / "crmctl.duckdb"
    before = digest(db)
    monkeypatch.setattr(os, "fsync", _disk_full)
    result = cli(*command_line(writer, target, csv))
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr  # report efficiency notes first that no finished task matches
    assert result.stderr.splitlines()[-1] == f"crmctl: error: cannot write {target}: No space left on device"
    assert [p.name for p in folder.iterdir()] == (["result.out"] if existing else [])
    if existing:
        assert target.read_text(encoding="utf-8") == "old\n"
    if writer != "import report":  # the import itself went in; its report could not be written
        assert digest(db) == before


def test_a_failed_rename_leaves_no_temp_file(cli, workspace: Path, tmp_path: Path, monkeypatch) -> None:
    def refuse(src: str, dst: str) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", refuse)
    result = cli("export", "client", "--format", "parquet", "--out", str(tmp_path / "c.parquet"))
    one_error_line(result, "cannot write", "Read-only file system")
    assert not any(p.name.endswith(".parquet") for p in tmp_path.iterdir())


# -- schema --out DIR and init FOLDER ---------------------------------------------------------------------------
def test_schema_out_refuses_a_file_and_each_schema_file_is_checked(cli, workspace: Path, tmp_path: Path) -> None:
    db = workspace / "crmctl.duckdb"
    before = digest(db)
    for target in ("crmctl.duckdb", "crmctl.duckdb.lock", str(db)):
        one_error_line(cli("schema", "--out", target), "it is not a folder")
    assert digest(db) == before
    folder = tmp_path / "schemas"
    folder.mkdir()
    (tmp_path / "precious.json").write_text("{}\n", encoding="utf-8")
    (folder / "form.schema.json").symlink_to(tmp_path / "precious.json")
    one_error_line(cli("schema", "--out", str(folder)), "form.schema.json: it is a symlink")
    assert (tmp_path / "precious.json").read_text(encoding="utf-8") == "{}\n"
    (folder / "form.schema.json").unlink()
    shutil.copyfile(db, folder / "team.schema.json")
    one_error_line(cli("schema", "--out", str(folder)), "team.schema.json: it is a DuckDB database")
    assert digest(folder / "team.schema.json") == before
    (folder / "team.schema.json").unlink()
    written = ok(cli, "schema", "--out", str(folder))
    assert written == f"wrote {len(list(folder.iterdir()))} schemas to {folder}\n"


def test_schema_out_outside_a_workspace_still_refuses_a_database(cli, tmp_path: Path, monkeypatch) -> None:
    import duckdb

    monkeypatch.chdir(tmp_path)
    duckdb.connect("some.duckdb").close()
    (tmp_path / "out").mkdir()
    shutil.copyfile("some.duckdb", tmp_path / "out" / "crmctl.schema.json")
    before = digest(tmp_path / "out" / "crmctl.schema.json")
    one_error_line(cli("schema", "--out", "some.duckdb"), "not a folder")
    one_error_line(cli("schema", "--out", "out"), "it is a DuckDB database")
    assert digest(tmp_path / "out" / "crmctl.schema.json") == before


def test_init_never_takes_over_an_existing_database(cli, workspace: Path, tmp_path: Path) -> None:
    db = workspace / "crmctl.duckdb"
    before = digest(db)
    result = cli("--db", str(db), "init", str(tmp_path / "new"))
    one_error_line(result, f"{db} exists already")
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    one_error_line(cli("--db", str(db), "init", str(tmp_path / "empty"), "--example", "crm-orders"), "exists already")
    assert list((tmp_path / "empty").iterdir()) == []
    one_error_line(cli("init", str(db)), "is not an empty folder")
    assert digest(db) == before


# -- no output option can forget the writer ---------------------------------------------------------------------
def _output_parameters() -> set[tuple[str, str]]:
    """Every parameter of every command that names a file or folder to write: an option called --out, --ics or
    --report, or any parameter of type path that is not one crmctl reads."""
    found = set()
    for name, command in COMMANDS.items():
        for param in getattr(command, "params", []):
            label = next((o for o in param.opts if o.startswith("--")), param.name)
            named = {"--out", "--ics", "--report"} & set(param.opts)
            if named or (getattr(param.type, "name", "") == "path" and (name, label) not in READS):
                found.add((name, label))
    return found


def test_every_output_option_is_known_here() -> None:
    covered = {exercised for exercised, _ in WRITERS.values()}
    assert _output_parameters() == covered, "a new output option: add it to WRITERS (and write it with write_file)"


@pytest.mark.parametrize("exercised", sorted(_output_parameters()), ids=" ".join)
def test_every_output_option_refuses_the_database(cli, workspace: Path, csv: Path, exercised) -> None:
    db = workspace / "crmctl.duckdb"
    before = digest(db)
    for writer, (covers, _) in WRITERS.items():
        if covers == exercised:
            result = cli(*command_line(writer, "crmctl.duckdb", csv))
            one_error_line(result, "crmctl.duckdb")
            assert digest(db) == before, writer
