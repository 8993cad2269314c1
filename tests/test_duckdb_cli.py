"""The database file opens in DuckDB's own `duckdb` program (1.x), as docs/storage.md tells users to read it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from crmctl.store import db

from .conftest import ROOT

BIN = Path(sys.executable).parent
DUCKDB_CLI = BIN / "duckdb"
STORAGE_MD = ROOT / "docs" / "storage.md"


def sh_examples() -> list[str]:
    """The ```sh blocks of docs/storage.md, in order, dedented."""
    blocks = re.findall(r"```sh\n(.*?)```", STORAGE_MD.read_text(encoding="utf-8"), re.DOTALL)
    return [textwrap.dedent(block) for block in blocks]


def duckdb_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert DUCKDB_CLI.exists(), "the duckdb program comes with the test extra: pip install -e '.[test]'"
    return subprocess.run([str(DUCKDB_CLI), *args], cwd=folder, capture_output=True, text=True, timeout=60)


def storage_version(path: Path) -> str:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        row = conn.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE path = ?", [str(path)]
        ).fetchone()
    finally:
        conn.close()
    assert row is not None
    return row[0]


def create_deals(cli, *titles: str) -> None:
    for title in titles:
        result = cli("--as", "anna", "record", "create", "deal", "--set", f"title={title}")
        assert result.exit_code == 0, result.stderr


def test_the_duckdb_program_reads_the_file_with_the_first_example_of_storage_md(cli, workspace: Path) -> None:
    create_deals(cli, "Сайт", "Ремонт")
    command = shlex.split(sh_examples()[0])
    assert command[:3] == ["duckdb", "-readonly", "crmctl.duckdb"]
    run = duckdb_cli(workspace, *command[1:-1], "-csv", command[-1])
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["key,stage,responsible", "DL-1,draft,anna", "DL-2,draft,anna"]


def test_a_new_file_is_written_in_the_storage_version_1x_reads(workspace: Path) -> None:
    assert storage_version(workspace / "crmctl.duckdb") == f"{db.STORAGE_VERSION}+"


def test_a_file_in_the_newer_format_keeps_it_and_the_documented_copy_converts_it(
    cli, base_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(base_workspace)
    monkeypatch.setattr(db, "STORAGE_VERSION", "v2.0.0")  # as a crmctl that wrote DuckDB 2's own format
    assert cli("apply").exit_code == 0
    monkeypatch.undo()
    monkeypatch.chdir(base_workspace)
    create_deals(cli, "Сайт")
    file = base_workspace / "crmctl.duckdb"
    assert storage_version(file) == "v2.0.0+"
    refused = duckdb_cli(base_workspace, "-readonly", "crmctl.duckdb", "SELECT 1")
    assert refused.returncode != 0
    assert "version number 69" in refused.stderr

    recipe = next(block for block in sh_examples() if "COPY FROM DATABASE" in block)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["sh", "-c", recipe], cwd=base_workspace, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr

    assert storage_version(file) == f"{db.STORAGE_VERSION}+"
    create_deals(cli, "Ремонт")  # crmctl goes on with the copy: numbers and event ids (primary keys) continue
    read = duckdb_cli(base_workspace, "-readonly", "-csv", "crmctl.duckdb", "SELECT key FROM deal ORDER BY number")
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines() == ["key", "DL-1", "DL-2"]
