"""A read command runs as many statements on a workspace of many records as on one of few (issue 21): the
agenda looked up each item's record title with two queries (2,852 s at 100,000 clients), and the board listed
every record. The records are made in bulk, as benchmarks/records.py makes them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .conftest import ok

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from records import fill


class Counting:
    """A duckdb connection that counts the statements run through it."""

    count = 0

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, *args: Any) -> Any:
        Counting.count += 1
        return self._conn.execute(*args)

    def executemany(self, *args: Any) -> Any:
        Counting.count += 1
        return self._conn.executemany(*args)

    def __enter__(self) -> Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: Counting(connect(*a, **k)))
    yield


def statements(cli, *args: str) -> tuple[int, str]:
    Counting.count = 0
    out = ok(cli, "--now", "2027-03-01T10:00:00+03:00", "--as", "belov", *args)
    return Counting.count, out


def test_agenda_and_board_run_as_many_statements_for_many_records_as_for_few(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted: None
) -> None:
    counts, shown_items = {}, {}
    for n in (20, 80):
        root = tmp_path / f"ws{n}"
        ok(cli, "init", str(root), "--example", "pyrus-client-crm")
        monkeypatch.chdir(root)
        fill(root / "crmctl.duckdb", n)  # clients past their stage deadlines, with reminders
        with duckdb.connect(str(root / "crmctl.duckdb"), read_only=True) as conn:
            (shown,) = conn.execute("SELECT count(*) FROM client").fetchone()
        agenda_count, agenda = statements(cli, "agenda", "belov", "-f", "json")
        board_count, board = statements(cli, "board", "client-work", "--limit", "2", "-f", "json")
        items = json.loads(agenda)
        shown_items[n] = len(items)
        assert all(i["title"].startswith("ООО «Клиент ") for i in items if i["kind"] in ("stage", "reminder"))
        columns = json.loads(board)["stages"]
        assert sum(c["count"] for c in columns) == shown
        assert all(len(c["cards"]) <= 2 for c in columns)
        counts[n] = (agenda_count, board_count)
    assert shown_items[80] > shown_items[20] > 0  # belov's deadlines and reminders: more with more clients
    assert counts[20] == counts[80]
