"""Data-driven diagnostics: tests/data/invalid/<CODE>-<slug>/ holds files laid over the valid base workspace.

A new case is a new folder. Each case must report its code, exit 1, and match its snapshot.
A `case.json` may ask for generated files: {"generate": {"name.yaml": size_in_bytes}}.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crmctl.config.codes import CODES

from .conftest import DATA

CASES = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())


def materialise(case: Path, target: Path) -> Path:
    shutil.copytree(DATA / "base", target)
    for item in case.iterdir():
        if item.name == "case.json":
            spec = json.loads(item.read_text())
            for name, size in spec.get("generate", {}).items():
                line = b"# padding, to make the file large\n"
                with open(target / name, "wb") as fh:
                    fh.write(b"kind: Calendar\nname: huge\n")
                    fh.write(line * (size // len(line)))
        else:
            shutil.copy(item, target / item.name)
    return target


def test_every_code_has_a_case() -> None:
    covered = {p.name.split("-")[0] for p in CASES}
    assert covered == set(CODES)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_case(case: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot) -> None:
    workspace = materialise(case, tmp_path / "ws")
    before = {p: p.read_bytes() for p in workspace.rglob("*") if p.is_file()}
    monkeypatch.chdir(workspace)
    code = case.name.split("-")[0]

    text = cli("validate")
    assert text.exit_code == 1, text
    assert text.stderr == ""
    codes = {line.split(" ")[2] for line in text.stdout.splitlines()}
    assert code in codes
    assert "Traceback" not in text.stdout
    assert text.stdout == snapshot

    as_json = cli("validate", "--format", "json")
    assert as_json.exit_code == 1
    rows = json.loads(as_json.stdout)
    assert code in {row["code"] for row in rows}
    assert all(set(row) == {"file", "line", "column", "code", "severity", "message"} for row in rows)
    # validation never writes anything
    assert {p: p.read_bytes() for p in workspace.rglob("*") if p.is_file()} == before
