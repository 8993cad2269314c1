"""Attached files: attach to records, tasks and projects, list (a project's tree), get the bytes, delete to the
archive; contents once by SHA-256; size limits; mail attachments kept; the HTML card's thumbnails; exports."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import ok
from tests.dbstate import dump, query

from .browser import assert_not_blank, screenshot


def png(width: int = 40, height: int = 30, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def desk(example, cli, tmp_path: Path) -> Path:
    """The service desk with a prospect PC-1; petrov may delete files (process_admin), romanov may not."""
    root = example("service-desk-leads")
    cli.actor = "petrov"
    ok(cli, "record", "create", "prospect", "--set", "name=АО Вектор")
    files = tmp_path / "in"
    files.mkdir()
    (files / "offer.pdf").write_bytes(b"%PDF-1.4 offer")
    (files / "same.pdf").write_bytes(b"%PDF-1.4 offer")  # the same content under another name
    (files / "logo.png").write_bytes(png())
    return root


def db(root: Path) -> Path:
    return root / "crmctl.duckdb"


def test_attach_list_and_get_back_the_same_bytes(cli, desk: Path, tmp_path: Path, snapshot) -> None:
    inbox = tmp_path / "in"
    listed = ok(cli, "attach", "PC-1", str(inbox / "offer.pdf"), str(inbox / "logo.png"), str(inbox / "same.pdf"))
    assert listed == snapshot
    rows = json.loads(ok(cli, "files", "pc-1", "-f", "json"))
    assert [(r["id"], r["name"], r["media_type"], r["source"]) for r in rows] == [
        (1, "offer.pdf", "application/pdf", "attach"),
        (2, "logo.png", "image/png", "attach"),
        (3, "same.pdf", "application/pdf", "attach"),
    ]
    assert rows[0]["sha256"] == hashlib.sha256(b"%PDF-1.4 offer").hexdigest() == rows[2]["sha256"]
    assert query(db(desk), "SELECT count(*), sum(size) FROM crm.file_contents") == [(2, 14 + len(png()))]
    out = tmp_path / "back.png"
    assert ok(cli, "file", "get", "2", "--out", str(out)) == f"wrote {out} (logo.png, {len(png())} bytes)\n"
    assert out.read_bytes() == png()
    assert ok(cli, "file", "get", "1", "--out", "-") == "%PDF-1.4 offer"
    history = json.loads(ok(cli, "record", "history", "PC-1", "-f", "json"))
    attached = [e["data"] for e in history if e["action"] == "file.attached"]
    assert [(d["file"], d["name"], d["size"]) for d in attached] == [
        (1, "offer.pdf", 14),
        (2, "logo.png", len(png())),
        (3, "same.pdf", 14),
    ]
    text = ok(cli, "record", "show", "PC-1")
    assert "\nfiles\n  1  offer.pdf  14 B\n" in text


def test_files_of_tasks_and_a_project_tree(cli, desk: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    ok(cli, "project", "create", "Внедрение")
    ok(cli, "project", "create", "Этап 1", "--parent", "P-1")
    ok(cli, "task", "add", "Договор", "--project", "P-2", "--for", "PC-1")
    ok(cli, "attach", "P-1", str(inbox / "offer.pdf"))
    ok(cli, "attach", "p-2", str(inbox / "logo.png"))
    ok(cli, "attach", "T-1", str(inbox / "same.pdf"))
    own = json.loads(ok(cli, "files", "P-1", "-f", "json"))
    assert [r["owner"] for r in own] == ["P-1"]
    tree = json.loads(ok(cli, "files", "P-1", "--tree", "-f", "json"))
    assert [(r["owner"], r["name"]) for r in tree] == [("P-1", "offer.pdf"), ("P-2", "logo.png"), ("T-1", "same.pdf")]
    assert [r["owner"] for r in json.loads(ok(cli, "files", "P-2", "--tree", "-f", "json"))] == ["P-2", "T-1"]
    refused = cli("files", "T-1", "--tree")
    assert (refused.exit_code, refused.stderr) == (1, "crmctl: error: --tree lists a project's files; T-1 is a task\n")
    events = query(db(desk), "SELECT record, data->>'task' FROM crm.events WHERE action = 'file.attached'")
    assert (("PC-1", "T-1") in events) and len(events) == 3


def test_delete_moves_a_file_to_the_archive(cli, desk: Path, tmp_path: Path) -> None:
    ok(cli, "attach", "PC-1", str(tmp_path / "in" / "offer.pdf"), str(tmp_path / "in" / "logo.png"))
    before = dump(db(desk))
    refused = cli("--as", "romanov", "file", "delete", "1")
    assert refused.exit_code == 1
    assert (
        refused.stderr == "crmctl: error: romanov may not delete attached files: permission files.delete is missing\n"
    )
    assert dump(db(desk)) == before
    assert ok(cli, "file", "delete", "1") == "file 1 (offer.pdf) of PC-1 moved to the archive\n"
    assert [r["id"] for r in json.loads(ok(cli, "files", "PC-1", "-f", "json"))] == [2]
    archived = json.loads(ok(cli, "files", "PC-1", "--archived", "-f", "json"))
    assert [(r["id"], r["deleted_at"] is not None) for r in archived] == [(1, True), (2, False)]
    assert "offer.pdf (deleted)" in ok(cli, "files", "PC-1", "--archived")
    assert ok(cli, "file", "get", "1") == "%PDF-1.4 offer"  # the archive keeps the bytes
    again = cli("file", "delete", "1")
    assert (again.exit_code, again.stderr) == (1, "crmctl: error: file 1 is deleted already\n")
    assert "file 1 «offer.pdf» deleted" in ok(cli, "record", "history", "PC-1")


def test_reading_files_takes_reading_their_record(cli, desk: Path, tmp_path: Path) -> None:
    ok(cli, "attach", "PC-1", str(tmp_path / "in" / "offer.pdf"))
    ok(cli, "task", "add", "Чужая", "--assignee", "vasilieva", "--for", "PC-1")
    ok(cli, "attach", "T-1", str(tmp_path / "in" / "same.pdf"))
    before = dump(db(desk))
    for args in (["files", "T-1"], ["file", "get", "2"]):
        refused = cli("--as", "romanov", *args)  # someone else's task: tasks.view_others
        assert refused.exit_code == 1 and "permission tasks.view_others is missing" in refused.stderr, args
    refused = cli("--as", "makarov", "attach", "PC-1", str(tmp_path / "in" / "logo.png"))
    assert (
        refused.stderr
        == "crmctl: error: makarov may not change prospect records: permission records.update is missing\n"
    )
    assert dump(db(desk)) == before


def test_bad_input_changes_nothing(cli, desk: Path, tmp_path: Path) -> None:
    (desk / "crmctl.yaml").write_text(
        (desk / "crmctl.yaml").read_text(encoding="utf-8") + "max_file_mb: 0.0001\nmax_files_mb: 0.00025\n",
        encoding="utf-8",
    )
    ok(cli, "apply")
    inbox = tmp_path / "in"
    (inbox / "big.bin").write_bytes(b"x" * 200)
    (inbox / "a.txt").write_bytes(b"a" * 100)
    (inbox / "b.txt").write_bytes(b"b" * 100)
    (inbox / "c.txt").write_bytes(b"c" * 100)
    (inbox / "bad\nname.txt").write_bytes(b"x")
    ok(cli, "attach", "PC-1", str(inbox / "a.txt"), str(inbox / "b.txt"))
    before = dump(db(desk))
    cases = [
        (
            ["attach", "PC-1", str(inbox / "big.bin")],
            1,
            "big.bin is 200 B: larger than the limit of one file (104 B, max_file_mb in crmctl.yaml)",
        ),
        (
            ["attach", "PC-1", str(inbox / "c.txt"), str(inbox / "a.txt")],
            1,
            "the workspace's files would take 300 B: more than its limit (262 B, max_files_mb in crmctl.yaml)",
        ),
        (
            ["attach", "PC-1", str(inbox / "bad\nname.txt")],
            1,
            "the file name 'bad\\nname.txt' holds control characters",
        ),
        (["attach", "PC-1", str(inbox / "nope.txt")], 3, f"no such file: {inbox / 'nope.txt'}"),
        (["attach", "PC-1", str(inbox)], 1, f"{inbox} is not a file"),
        (["attach", "PC-99", str(inbox / "a.txt")], 3, "no record PC-99"),
        (["attach", "T-9", str(inbox / "a.txt")], 3, "no task T-9"),
        (["files", "P-4"], 3, "no project P-4"),
        (["file", "get", "99"], 3, "no file 99"),
        (["file", "delete", "99"], 3, "no file 99"),
        (["file", "get", "1", "--out", str(desk / "crmctl.duckdb")], 1, None),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args
        if message is not None:
            assert result.stderr == f"crmctl: error: {message}\n", args
    assert dump(db(desk)) == before


def test_the_name_is_only_shown_never_a_path(cli, desk: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "in" / "<img src=x onerror=alert(1)>.png"
    hostile.write_bytes(b"not an image at all")
    ok(cli, "attach", "PC-1", str(hostile))
    (row,) = json.loads(ok(cli, "files", "PC-1", "-f", "json"))
    assert row["name"] == "<img src=x onerror=alert(1)>.png"
    assert row["media_type"] == "application/octet-stream"  # an image by name, not by content
    page = tmp_path / "card.html"
    ok(cli, "record", "show", "PC-1", "-f", "html", "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.png" in html
    assert "data:" not in html  # not shown as an image


def test_mail_attachments_stay_with_what_the_message_made(cli, desk: Path, tmp_path: Path) -> None:
    m = EmailMessage()
    m["Message-ID"] = "<with-files@vector.example>"
    m["From"] = "Ирина <i.smirnova@vector.example>"
    m["To"] = "support@sd.example.ru"
    m["Subject"] = "Скриншот ошибки"
    m.set_content("Смотрите вложение")
    m.add_attachment(png(), maintype="image", subtype="png", filename="ошибка.png")
    m.add_attachment(b"log line\n", maintype="text", subtype="plain", filename="app.log")
    path = tmp_path / "m.eml"
    path.write_bytes(bytes(m))
    ok(cli, "intake", "mail", str(path), "--rule", "support-mail", env={"CRMCTL_USER": "alekseeva"})
    rows = json.loads(ok(cli, "files", "INC-1", "-f", "json"))
    assert [(r["name"], r["size"], r["source"]) for r in rows] == [
        ("ошибка.png", len(png()), "mail"),
        ("app.log", 9, "mail"),
    ]
    out = tmp_path / "e.png"
    ok(cli, "file", "get", str(rows[0]["id"]), "--out", str(out))
    assert out.read_bytes() == png()


def test_a_task_from_mail_keeps_its_attachments(cli, desk: Path, tmp_path: Path) -> None:
    m = EmailMessage()
    m["Message-ID"] = "<order@new.example>"
    m["From"] = "new@new.example"
    m["To"] = "crm@sd.example.ru"
    m["Subject"] = "Заявка"
    m.set_content("Реквизиты во вложении")
    m.add_attachment(b"%PDF-1.4 card", maintype="application", subtype="pdf", filename="реквизиты.pdf")
    path = tmp_path / "t.eml"
    path.write_bytes(bytes(m))
    ok(cli, "intake", "mail", str(path), "--rule", "crm-mail", env={"CRMCTL_USER": "alekseeva"})
    rows = json.loads(ok(cli, "files", "T-1", "-f", "json"))
    assert [(r["owner"], r["name"]) for r in rows] == [("T-1", "реквизиты.pdf")]


def test_export_lists_files_and_writes_them_by_hash(cli, desk: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    ok(cli, "attach", "PC-1", str(inbox / "offer.pdf"), str(inbox / "same.pdf"), str(inbox / "logo.png"))
    ok(cli, "file", "delete", "3")
    ok(cli, "task", "add", "Звонок", "--for", "PC-1")
    ok(cli, "attach", "T-1", str(inbox / "logo.png"))
    (line,) = ok(cli, "export", "prospect", "-f", "json").splitlines()
    listed = json.loads(line)["crm.files"]
    sha = hashlib.sha256(b"%PDF-1.4 offer").hexdigest()
    assert listed == [
        {"id": 1, "name": "offer.pdf", "size": 14, "sha256": sha},
        {"id": 2, "name": "same.pdf", "size": 14, "sha256": sha},
    ]
    folder = tmp_path / "out" / "files"
    ok(cli, "export", "prospect", "--out", str(tmp_path / "out.csv"), "--with-files", str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [sha]  # the deleted logo is not exported
    assert (folder / sha).read_bytes() == b"%PDF-1.4 offer"
    tasks = ok(cli, "export", "tasks", "--with-files", str(tmp_path / "t"))
    assert tasks.splitlines()[0].endswith(",crm.files")
    assert (tmp_path / "t" / hashlib.sha256(png()).hexdigest()).read_bytes() == png()
    # the column is no field: an import attaches the files it lists (tests/test_files_roundtrip.py)
    from crmctl.domain.imports import map_columns
    from crmctl.domain.values import FieldSpec

    mapping, problems = map_columns(["key", "name", "crm.files"], {"name": FieldSpec("name", "text")})
    assert (problems, mapping.ignored, mapping.fields, mapping.files_column) == ([], ["crm.files"], {"name": 1}, 2)


def test_html_card_shows_images_beside_the_fields(cli, desk: Path, tmp_path: Path) -> None:
    ok(cli, "attach", "PC-1", str(tmp_path / "in" / "logo.png"), str(tmp_path / "in" / "offer.pdf"))
    page = tmp_path / "card.html"
    assert ok(cli, "record", "show", "PC-1", "-f", "html", "--out", str(page)) == f"wrote {page}\n"
    html = page.read_text(encoding="utf-8")
    assert html.count('<figure class="thumb">') == 1 and "data:image/png;base64," in html
    assert '<ul class="files">' in html and 'offer.pdf <span class="size">14 B</span>' in html
    assert "Наименование" in html and "АО Вектор" in html and "http" not in html
    assert json.loads(ok(cli, "record", "show", "PC-1", "-f", "json"))["files"] == [
        {"id": 1, "name": "logo.png", "size": len(png()), "media_type": "image/png"},
        {"id": 2, "name": "offer.pdf", "size": 14, "media_type": "application/pdf"},
    ]


@pytest.mark.slow  # headless Chromium
def test_html_card_thumbnail_in_a_real_browser(cli, desk: Path, tmp_path: Path) -> None:
    ok(cli, "attach", "PC-1", str(tmp_path / "in" / "logo.png"))
    page = tmp_path / "card.html"
    ok(cli, "record", "show", "PC-1", "-f", "html", "--out", str(page))
    assert_not_blank(screenshot(page, tmp_path, "1000,600"))
    probe = tmp_path / "probe.html"  # the page, and a script that says how the browser decoded the image
    probe.write_text(
        page.read_text(encoding="utf-8").replace(
            "</body>",
            "<script>window.onload = () => { const i = document.querySelector('figure.thumb img');"
            " document.body.setAttribute('data-decoded', i.naturalWidth + 'x' + i.naturalHeight); };</script></body>",
        ),
        encoding="utf-8",
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium is not None  # screenshot() skipped the test otherwise
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=3000",
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--dump-dom",
            probe.as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'data-decoded="40x30"' in dom
