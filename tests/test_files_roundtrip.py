"""Export and import carry attached files: `export --with-files DIR` and `import FORM FILE --files DIR` give
another workspace's records the same files (names, sizes, SHA-256), each content checked against its hash;
a file that is missing or changed is refused with its row, and nothing is written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from crmctl import uploads
from crmctl.ops.imports import ImportRequest
from tests.conftest import ok
from tests.dbstate import dump, query

from . import test_server
from .test_files import png
from .test_server import Served

served, template = test_server.served, test_server.template  # fixtures: a team server of the pyrus example
OFFER = b"%PDF-1.4 offer"
FILES_SQL = "SELECT owner, name, size, sha256, media_type FROM crm.files WHERE deleted_at IS NULL ORDER BY owner, id"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def source(example, cli, tmp_path: Path) -> Path:
    """The orders CRM with CL-1 (offer.pdf, logo.png, and a deleted note.txt) and CL-2 (the offer again,
    as same.pdf); exported as out/clients.csv and out/clients.jsonl with the files in out/files."""
    root = example("crm-orders")
    inbox = tmp_path / "in"
    inbox.mkdir()
    for name, content in [("offer.pdf", OFFER), ("same.pdf", OFFER), ("logo.png", png()), ("note.txt", b"gone")]:
        (inbox / name).write_bytes(content)
    ok(cli, "record", "create", "client", "--set", "name=АО Вектор")
    ok(cli, "record", "create", "client", "--set", "name=ООО Ромашка")
    ok(cli, "attach", "CL-1", str(inbox / "offer.pdf"), str(inbox / "logo.png"), str(inbox / "note.txt"))
    ok(cli, "file", "delete", "3")
    ok(cli, "attach", "CL-2", str(inbox / "same.pdf"))
    out = tmp_path / "out"
    out.mkdir()
    ok(cli, "export", "client", "--out", str(out / "clients.csv"), "--with-files", str(out / "files"))
    ok(cli, "export", "client", "-f", "json", "--out", str(out / "clients.jsonl"))
    return root


@pytest.fixture
def target(cli, tmp_path: Path, source: Path) -> Path:
    """Another workspace of the same example, with no records and no files."""
    root = tmp_path / "other"
    ok(cli, "init", str(root), "--example", "crm-orders")
    return root


def db(root: Path) -> Path:
    return root / "crmctl.duckdb"


def into(cli, target: Path, *args: str):
    """Run crmctl in the target workspace."""
    return cli("-w", str(target), *args)


@pytest.mark.parametrize("name", ["clients.csv", "clients.jsonl"])
def test_round_trip_gives_the_other_workspace_the_same_files(
    cli, source: Path, target: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    result = into(cli, target, "import", "client", str(out / name), "--files", str(out / "files"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{name}: 2 rows: created 2, updated 0, unchanged 0, rejected 0, files attached 3\n"
    files = query(db(target), FILES_SQL)
    assert files == query(db(source), FILES_SQL)
    assert [(owner, name, size, digest) for owner, name, size, digest, _ in files] == [
        ("CL-1", "offer.pdf", len(OFFER), sha(OFFER)),
        ("CL-1", "logo.png", len(png()), sha(png())),
        ("CL-2", "same.pdf", len(OFFER), sha(OFFER)),
    ]
    # each content once, the bytes themselves; the files are events of their records, as `attach` makes them
    assert query(db(target), "SELECT sha256, size FROM crm.file_contents ORDER BY size") == [
        (sha(OFFER), len(OFFER)),
        (sha(png()), len(png())),
    ]
    ok(cli, "-w", str(target), "file", "get", "2", "--out", str(tmp_path / "logo.png"))
    assert (tmp_path / "logo.png").read_bytes() == png()
    events = query(
        db(target), "SELECT record, data->>'name' FROM crm.events WHERE action = 'file.attached' ORDER BY id"
    )
    assert events == [("CL-1", "offer.pdf"), ("CL-1", "logo.png"), ("CL-2", "same.pdf")]
    assert query(db(target), "SELECT DISTINCT source FROM crm.files") == [("import",)]
    listed = json.loads(into(cli, target, "files", "CL-1", "-f", "json").stdout)
    assert [(f["name"], f["sha256"]) for f in listed] == [("offer.pdf", sha(OFFER)), ("logo.png", sha(png()))]


def test_importing_twice_attaches_nothing_the_second_time(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("import", "client", str(out / "clients.csv"), "--files", str(out / "files"), "--key", "key")
    assert into(cli, target, *args).exit_code == 0
    before = dump(db(target))
    again = into(cli, target, *args, "-f", "json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["created"], report["unchanged"], report["files"], report["import"]) == (0, 2, 0, None)
    assert dump(db(target)) == before
    # a record that lacks one of its files gets that one only
    ok(cli, "-w", str(target), "file", "delete", "2")
    assert "unchanged 2, rejected 0, files attached 1" in into(cli, target, *args).stdout
    assert query(db(target), "SELECT count(*) FROM crm.files WHERE owner = 'CL-1' AND deleted_at IS NULL") == [(2,)]


def test_content_in_the_workspace_needs_no_folder(cli, source: Path, target: Path, tmp_path: Path) -> None:
    ok(cli, "-w", str(target), "task", "add", "Разобрать вложения")
    ok(cli, "-w", str(target), "attach", "T-1", str(tmp_path / "in" / "offer.pdf"), str(tmp_path / "in" / "logo.png"))
    result = into(cli, target, "import", "client", str(tmp_path / "out" / "clients.csv"))
    assert result.exit_code == 0, result.stderr
    assert "files attached 3" in result.stdout
    assert query(db(target), "SELECT count(*) FROM crm.file_contents") == [(2,)]
    assert [r[:4] for r in query(db(target), FILES_SQL) if r[0] != "T-1"] == [
        r[:4] for r in query(db(source), FILES_SQL)
    ]


def test_content_neither_here_nor_in_a_folder_is_refused(cli, source: Path, target: Path, tmp_path: Path) -> None:
    before = dump(db(target))
    result = into(cli, target, "import", "client", str(tmp_path / "out" / "clients.csv"))
    assert result.exit_code == 1
    assert "row 2, column crm.files: file offer.pdf: its content" in result.stderr
    assert "is not in this workspace; give the folder `export --with-files` wrote: --files DIR" in result.stderr
    assert "2 rows have problems; nothing was imported" in result.stderr
    assert dump(db(target)) == before


def test_a_changed_file_is_refused_and_nothing_is_written(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    tampered = out / "files" / sha(OFFER)
    tampered.write_bytes(OFFER.replace(b"offer", b"OFFER"))  # the same size, other bytes
    before = dump(db(target))
    result = into(cli, target, "import", "client", str(out / "clients.csv"), "--files", str(out / "files"))
    assert result.exit_code == 1
    message = f"file offer.pdf: the content of files/{sha(OFFER)} does not match its SHA-256"
    assert f"row 2, column crm.files: {message}" in result.stderr
    assert f"row 3, column crm.files: file same.pdf: the content of files/{sha(OFFER)}" in result.stderr
    assert dump(db(target)) == before
    # --on-error skip: only the rows whose files are whole are written
    tampered.unlink()
    (out / "files" / sha(png())).write_bytes(b"short")
    result = into(cli, target, "import", "client", str(out / "clients.csv"), "--files", str(out / "files"))
    assert f"row 2, column crm.files: file offer.pdf: the folder files has no file {sha(OFFER)}" in result.stderr
    assert f"file logo.png: files/{sha(png())} is 5 bytes, not {len(png())}" in result.stderr
    assert dump(db(target)) == before


def test_a_missing_file_is_refused_with_its_row(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "files" / sha(png())).unlink()
    before = dump(db(target))
    result = into(cli, target, "import", "client", str(out / "clients.jsonl"), "--files", str(out / "files"))
    assert result.exit_code == 1
    assert f"row 1, column crm.files: file logo.png: the folder files has no file {sha(png())}" in result.stderr
    assert "1 row has problems; nothing was imported" in result.stderr
    assert dump(db(target)) == before
    skipped = into(
        cli, target, "import", "client", str(out / "clients.jsonl"), "--files", str(out / "files"), "--on-error", "skip"
    )
    assert skipped.exit_code == 0
    assert "created 1, updated 0, unchanged 0, rejected 1, files attached 1" in skipped.stdout
    assert query(db(target), "SELECT owner, name FROM crm.files") == [("CL-2", "same.pdf")]


def test_a_dry_run_says_what_it_would_attach(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = dump(db(target))
    result = into(cli, target, "import", "client", str(out / "clients.csv"), "--files", str(out / "files"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would be created 2, would be updated 0, unchanged 0, rejected 0, files would be attached 3" in result.stdout
    assert dump(db(target)) == before


def _limit(cli, target: Path, setting: str) -> None:
    """The workspace's crmctl.yaml with these limits (those of a call before replaced)."""
    settings = target / "crmctl.yaml"
    kept = [line for line in settings.read_text(encoding="utf-8").splitlines() if not line.startswith("max_file")]
    settings.write_text("\n".join([*kept, setting, ""]), encoding="utf-8")
    ok(cli, "-w", str(target), "apply")


def test_the_size_limits_hold(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("import", "client", str(out / "clients.csv"), "--files", str(out / "files"))
    _limit(cli, target, "max_file_mb: 0.00005")  # 52 bytes: the offer (14) fits, the logo (100) does not
    before = dump(db(target))
    result = into(cli, target, *args)
    assert result.exit_code == 1
    assert (
        "row 2, column crm.files: logo.png is" in result.stderr and "larger than the limit of one file" in result.stderr
    )
    assert dump(db(target)) == before
    _limit(cli, target, "max_file_mb: 1\nmax_files_mb: 0.00001")  # 10 bytes in all
    before = dump(db(target))
    result = into(cli, target, *args)
    assert result.exit_code == 1
    assert "file, column crm.files: the workspace's files would take" in result.stderr
    assert dump(db(target)) == before


def test_files_goes_with_a_column_of_files(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / "plain.csv").write_text("name\nАО Вектор\n", encoding="utf-8")
    (tmp_path / "tasks.csv").write_text("title\nЗвонок\n", encoding="utf-8")
    before = dump(db(target))
    for args, code, words in [
        (("time", str(tmp_path / "tasks.csv")), 2, "--files goes with records or tasks, not time"),
        (("client", str(tmp_path / "plain.csv")), 2, "--files: plain.csv has no crm.files column"),
        (("tasks", str(tmp_path / "tasks.csv")), 2, "--files: tasks.csv has no crm.files column"),
    ]:
        result = into(cli, target, "import", *args, "--files", str(out / "files"))
        assert (result.exit_code, words in result.stderr) == (code, True), result.stderr
    result = into(cli, target, "import", "client", str(out / "clients.csv"), "--files", str(out / "clients.csv"))
    assert result.exit_code == 1 and "not a folder" in result.stderr
    assert dump(db(target)) == before


def test_tasks_carry_their_files_too(cli, source: Path, target: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(cli, "task", "add", "Позвонить", "--for", "CL-1")  # in the source workspace
    ok(cli, "attach", "T-1", str(tmp_path / "in" / "note.txt"))
    ok(cli, "export", "tasks", "--out", str(out / "tasks.csv"), "--with-files", str(out / "task-files"))
    ok(cli, "-w", str(target), "import", "client", str(out / "clients.csv"), "--files", str(out / "files"))
    before = dump(db(target))
    refused = into(cli, target, "import", "tasks", str(out / "tasks.csv"))
    assert refused.exit_code == 1
    assert "row 2, column crm.files: file note.txt: its content" in refused.stderr
    assert dump(db(target)) == before
    args = ("import", "tasks", str(out / "tasks.csv"), "--files", str(out / "task-files"))
    done = into(cli, target, *args)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.endswith("created 1, updated 0, unchanged 0, rejected 0, files attached 1\n")
    assert query(db(target), "SELECT owner, name, size, sha256 FROM crm.files WHERE owner = 'T-1'") == [
        ("T-1", "note.txt", 4, sha(b"gone"))
    ]
    event = "SELECT record, data->>'task' FROM crm.events WHERE action = 'file.attached' AND data->>'name' = 'note.txt'"
    assert query(db(target), event) == [("CL-1", "T-1")]
    again = into(cli, target, *args)
    assert again.stdout.endswith("created 0, updated 0, unchanged 1, rejected 0, files attached 0\n"), again.stderr
    assert query(db(target), "SELECT count(*) FROM crm.files WHERE owner = 'T-1'") == [(1,)]


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("not json", "is not JSON"),
        ('{"name": "a"}', "is not a list of files"),
        ('[{"name": "a.pdf", "size": 1, "sha256": "../../etc/passwd"}]', "its sha256 is not 64 hexadecimal digits"),
        ('[{"name": "", "size": 1, "sha256": "' + "0" * 64 + '"}]', "a file needs a name"),
    ],
)
def test_a_cell_that_is_no_list_of_files_is_refused(
    cli, source: Path, target: Path, tmp_path: Path, cell: str, problem: str
) -> None:
    (tmp_path / "bad.jsonl").write_text(
        json.dumps({"name": "X", "crm.files": json.loads(cell) if cell[0] in "[{" else cell}) + "\n"
    )
    before = dump(db(target))
    result = into(
        cli, target, "import", "client", str(tmp_path / "bad.jsonl"), "--files", str(tmp_path / "out" / "files")
    )
    assert result.exit_code == 1
    assert "row 1, column crm.files:" in result.stderr and problem in result.stderr
    assert dump(db(target)) == before


def test_the_folder_goes_to_a_team_server_with_the_import(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    request = ImportRequest("client", out / "clients.csv", files=out / "files")
    sent = json.loads(json.dumps(uploads.gather(request)))  # as it travels
    server = tmp_path / "server"
    server.mkdir()
    placed = uploads.place(request, sent, server)
    assert placed.files is not None and server in placed.files.parents and placed.files.name == "files"
    assert sorted(p.name for p in placed.files.iterdir()) == sorted([sha(OFFER), sha(png())])
    assert (placed.files / sha(png())).read_bytes() == png()


@pytest.mark.slow  # a real server and client
def test_a_team_server_gets_the_folder_with_the_import(served: Served) -> None:
    listed = [{"id": 7, "name": "offer.pdf", "size": len(OFFER), "sha256": sha(OFFER)}]
    row = ["Бета", "Анна", "+7 (900) 000-00-01", json.dumps(listed).replace('"', '""')]
    (served.home / "clients.csv").write_text(
        "name,contact_person,phone,crm.files\n" + ",".join(f'"{c}"' for c in row) + "\n", encoding="utf-8"
    )
    (served.home / "files").mkdir()
    (served.home / "files" / sha(OFFER)).write_bytes(OFFER.upper())  # changed: refused, with its row
    refused = served.client("sokolov", "import", "client", "clients.csv", "--files", "files")
    assert refused.returncode == 1
    assert (
        f"row 2, column crm.files: file offer.pdf: the content of files/{sha(OFFER)} does not match" in refused.stderr
    )
    (served.home / "files" / sha(OFFER)).write_bytes(OFFER)
    done = served.client("sokolov", "import", "client", "clients.csv", "--files", "files")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "clients.csv: 1 row: created 1, updated 0, unchanged 0, rejected 0, files attached 1\n"
    files = json.loads(served.client("sokolov", "files", "CL-2", "-f", "json").stdout)
    assert [(f["name"], f["size"], f["sha256"], f["source"]) for f in files] == [
        ("offer.pdf", len(OFFER), sha(OFFER), "import")
    ]
