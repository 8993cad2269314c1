"""crmctl sprint: time boxes of tasks, and the queue and efficiency report filtered by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ok
from tests.dbstate import dump, query


@pytest.fixture
def db(workspace: Path, cli) -> Path:
    for title, who, estimate in (("Макет", "anna", "2h"), ("Вёрстка", "anna", "1d"), ("Тесты", "boris", "90m")):
        ok(cli, "--as", "boris", "task", "add", title, "--assignee", who, "--estimate", estimate)
    ok(cli, "--as", "boris", "sprint", "create", "W10", "--from", "2027-03-01", "--to", "2027-03-05", "--goal", "Сайт")
    return workspace / "crmctl.duckdb"


def test_create_add_show(cli, db: Path, snapshot) -> None:
    assert ok(cli, "--as", "boris", "sprint", "add", "W10", "T-1", "T-3") == "T-1 -> 'W10'\nT-3 -> 'W10'\n"
    assert ok(cli, "--as", "boris", "sprint", "add", "W10", "T-1") == "nothing to change\n"
    ok(cli, "--as", "boris", "time", "log", "T-1", "1h", "--at", "2027-02-28T10:00")
    assert ok(cli, "--as", "boris", "sprint", "show", "W10") == snapshot
    data = json.loads(ok(cli, "--as", "boris", "sprint", "show", "W10", "--format", "json"))
    assert (data["count"], data["done"], data["estimate_minutes"], data["actual_minutes"]) == (2, 0, 210, 60.0)
    assert [t["id"] for t in data["tasks"]] == ["T-1", "T-3"]
    assert [t["remaining_minutes"] for t in data["tasks"]] == [60, 90]


def test_a_task_is_in_one_sprint_at_a_time(cli, db: Path) -> None:
    ok(cli, "--as", "boris", "sprint", "create", "W11", "--from", "2027-03-08", "--to", "2027-03-12")
    ok(cli, "--as", "boris", "sprint", "add", "W10", "T-2")
    assert ok(cli, "--as", "boris", "sprint", "add", "W11", "T-2") == "T-2 -> 'W11' (was in 'W10')\n"
    assert query(db, "SELECT task, sprint FROM crm.sprint_tasks") == [("T-2", "W11")]
    assert ok(cli, "--as", "boris", "sprint", "add", "W11", "T-2", "--remove") == "T-2 taken out of 'W11'\n"
    assert query(db, "SELECT count(*) FROM crm.sprint_tasks") == [(0,)]
    rows = json.loads(ok(cli, "--as", "boris", "sprint", "list", "--format", "json"))
    assert [r["name"] for r in rows] == ["W11", "W10"]


def test_queue_and_efficiency_by_sprint(cli, db: Path) -> None:
    ok(cli, "--as", "boris", "sprint", "add", "W10", "T-2")
    everything = json.loads(ok(cli, "--as", "anna", "queue", "--format", "json"))
    planned = json.loads(ok(cli, "--as", "anna", "queue", "--sprint", "W10", "--format", "json"))
    assert [t["id"] for t in everything] == ["T-1", "T-2"]
    assert [t["id"] for t in planned] == ["T-2"]
    assert planned[0]["start"] == everything[1]["start"]  # the dates still come from all the work
    ok(cli, "--as", "boris", "time", "log", "T-2", "2h", "--at", "2027-02-27T10:00")
    ok(cli, "--as", "boris", "time", "log", "T-1", "3h", "--at", "2027-02-26T10:00")
    ok(cli, "--as", "boris", "task", "done", "T-1")
    ok(cli, "--as", "boris", "task", "done", "T-2")
    rows = json.loads(ok(cli, "--as", "boris", "report", "efficiency", "--sprint", "W10", "--format", "json"))
    assert [(r["person"], r["tasks"], r["actual_hours"]) for r in rows] == [("anna", 1, 2.0)]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--as", "anna", "sprint", "create", "X", "--from", "2027-03-01", "--to", "2027-03-02"],
            1,
            "anna may not manage sprints: permission sprints.manage is missing",
        ),
        (
            ["--as", "boris", "sprint", "create", "W10", "--from", "2027-03-01", "--to", "2027-03-02"],
            1,
            "there is a sprint 'W10' already",
        ),
        (
            ["--as", "boris", "sprint", "create", "X", "--from", "2027-03-05", "--to", "2027-03-01"],
            1,
            "the sprint ends (2027-03-01) before it starts (2027-03-05)",
        ),
        (
            ["--as", "boris", "sprint", "create", "X", "--from", "March", "--to", "2027-03-01"],
            2,
            "sprint dates: 'March' is not a date (YYYY-MM-DD)",
        ),
        (["--as", "boris", "sprint", "add", "W9", "T-1"], 3, "no sprint 'W9' (sprints: W10)"),
        (["--as", "boris", "sprint", "add", "W10", "T-1", "T-99"], 3, "no task T-99"),
        (["--as", "boris", "sprint", "add", "W10", "T-1", "--remove"], 1, "T-1 is not in sprint 'W10'"),
        (["--as", "boris", "queue", "anna", "--sprint", "W9"], 3, "no sprint 'W9' (sprints: W10)"),
    ],
)
def test_bad_sprint_commands_change_nothing(cli, db: Path, args: list[str], code: int, message: str) -> None:
    before = dump(db)
    result = cli(*args)
    assert result.exit_code == code
    assert result.stderr == f"crmctl: error: {message}\n"
    assert dump(db) == before
