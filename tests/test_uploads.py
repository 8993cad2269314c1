"""The files a command names travel with its request to a team server (crmctl.uploads): the server runs the
operation on copies with the same names, and never on a path of its own that the client did not send."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from crmctl import uploads
from crmctl.errors import NotFound, UsageError


@dataclass(frozen=True)
class Files:
    paths: list[Path]
    rule: str
    mapping: Path | None = None


def test_files_and_folders_arrive_with_their_names(tmp_path: Path) -> None:
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "01.eml").write_bytes(b"Subject: one\n\nbody\n")
    (tmp_path / "mail" / "box.mbox").write_bytes(b"From x\n")
    (tmp_path / "map.yaml").write_text("Имя: name\n", encoding="utf-8")
    request = Files([tmp_path / "mail"], "crm", tmp_path / "map.yaml")
    sent = json.loads(json.dumps(uploads.gather(request)))  # as it travels
    server = tmp_path / "server"
    server.mkdir()
    placed = uploads.place(request, sent, server)
    folder, mapping = placed.paths[0], placed.mapping
    assert folder.name == "mail" and server in folder.parents
    assert sorted(p.name for p in folder.iterdir()) == ["01.eml", "box.mbox"]
    assert (folder / "01.eml").read_bytes() == b"Subject: one\n\nbody\n"
    assert mapping is not None and mapping.name == "map.yaml" and mapping.read_text(encoding="utf-8") == "Имя: name\n"


def test_a_path_not_sent_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="was not sent with the request"):
        uploads.place(Files([Path("/etc/passwd")], "crm"), {}, tmp_path)


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ""])
def test_a_sent_name_is_a_name_not_a_path(tmp_path: Path, name: str) -> None:
    sent = {"x.eml": {"dir": False, "files": {name: "eA=="}}}
    with pytest.raises(UsageError):
        uploads.place(Files([Path("x.eml")], "crm"), sent, tmp_path)
    assert not (tmp_path.parent / "evil").exists()


def test_a_missing_file_is_not_found_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"nowhere\.csv"):
        uploads.gather(Files([tmp_path / "nowhere.csv"], "crm"))
