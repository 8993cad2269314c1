"""The database file opens in DuckDB's own `duckdb` program (1.x), as docs/storage.md tells users to read it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb

from crmctl.store.db import STORAGE_VERSION

from .conftest import ROOT

DUCKDB_CLI = Path(sys.executable).parent / "duckdb"


def first_sh_example(doc: Path) -> list[str]:
    """The first ```sh block of the doc, as the words of its one command."""
    block = re.search(r"```sh\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None, f"{doc} has no sh example"
    return shlex.split(block.group(1))


def test_the_duckdb_program_reads_the_file_with_the_first_example_of_storage_md(cli, workspace: Path) -> None:
    assert DUCKDB_CLI.exists(), "the duckdb program comes with the test extra: pip install -e '.[test]'"
    for title in ("Сайт", "Ремонт"):
        result = cli("--as", "anna", "record", "create", "deal", "--set", f"title={title}")
        assert result.exit_code == 0, result.stderr
    command = first_sh_example(ROOT / "docs" / "storage.md")
    assert command[:3] == ["duckdb", "-readonly", "crmctl.duckdb"]
    run = subprocess.run(
        [str(DUCKDB_CLI), *command[1:-1], "-csv", command[-1]],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["key,stage,responsible", "DL-1,draft,anna", "DL-2,draft,anna"]


def test_a_new_file_is_written_in_the_storage_version_1x_reads(workspace: Path) -> None:
    conn = duckdb.connect(str(workspace / "crmctl.duckdb"), read_only=True)
    try:
        tags = conn.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'crmctl'").fetchone()
    finally:
        conn.close()
    assert tags == ({"storage_version": f"{STORAGE_VERSION}+"},)
