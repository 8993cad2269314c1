"""Recurring work: tasks (`task add --every`), reminders (`remind --every`, a stage's remind action with
every) and scheduled template launches; the next occurrence once, on the person's working day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ok
from .dbstate import dump, query

WEEKLY = """\
kind: ProjectTemplate
name: weekly
title: Weekly report
schedule: {every: 1w, on: monday, at: "09:00", for: role:manager}
tasks:
  - {id: write, title: Write the weekly report, assignee: author, estimate: 1h}
"""


@pytest.fixture
def recurring(base_workspace: Path, cli, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The base workspace with Monday 8 March 2027 a holiday, a weekly report launched every Monday at 09:00 for
    a manager, and a weekly call to the client once a deal is won."""
    calendar = base_workspace / "calendar.yaml"
    calendar.write_text(calendar.read_text(encoding="utf-8") + "  - 2027-03-08\n", encoding="utf-8")
    (base_workspace / "weekly.yaml").write_text(WEEKLY, encoding="utf-8")
    process = base_workspace / "process.yaml"
    text = process.read_text(encoding="utf-8")
    text = text.replace("{in: 1d, text: Call the client, for: author}", "{in: 1d, every: 1w, text: Call, for: author}")
    process.write_text(text, encoding="utf-8")
    monkeypatch.chdir(base_workspace)
    assert cli("apply").exit_code == 0, cli("validate").stdout
    cli.actor = "boris"
    return base_workspace


def task(cli, tid: str) -> dict:
    return json.loads(ok(cli, "task", "show", tid, "-f", "json"))


def test_a_recurring_task_comes_again_when_done_on_the_next_working_day(cli, recurring: Path) -> None:
    ok(cli, "task", "add", "Отчёт", "-a", "anna", "--due", "2027-03-01T17:00", "--every", "1w")
    listed = json.loads(ok(cli, "task", "list", "--recurring", "-f", "json"))
    assert [t["id"] for t in listed] == ["T-1"]
    assert ok(cli, "task", "done", "T-1") == "T-1 done\nnext: T-2\n"
    # Monday 8 March is a holiday: that one falls on Tuesday; the series stays on Mondays
    assert task(cli, "T-2")["due_at"] == "2027-03-09T17:00:00+03:00"
    assert ok(cli, "task", "done", "T-2") == "T-2 done\nnext: T-3\n"
    assert task(cli, "T-3")["due_at"] == "2027-03-15T17:00:00+03:00"
    assert [t["id"] for t in json.loads(ok(cli, "task", "list", "--recurring", "-f", "json"))] == ["T-3"]
    assert task(cli, "T-3")["assignee"] == "anna"


def test_tick_makes_the_next_task_once_its_date_passed_and_never_twice(cli, recurring: Path) -> None:
    ok(cli, "task", "add", "Отчёт", "-a", "anna", "--due", "2027-03-02T17:00", "--every", "1w")
    db = recurring / "crmctl.duckdb"
    assert "task" not in ok(cli, "tick", "--now", "2027-03-02T16:59")
    out = json.loads(ok(cli, "tick", "--now", "2027-03-02T17:00", "-f", "json"))
    assert out == [{"kind": "task", "subject": "T-2", "text": "Отчёт due 2027-03-09 17:00 (series 1, every 1w)"}]
    before = dump(db)
    assert ok(cli, "tick", "--now", "2027-03-02T17:00") == "nothing was due\n"
    assert dump(db) == before
    assert task(cli, "T-1")["status"] == "todo"  # the missed one stays open
    ok(cli, "task", "done", "T-2")  # done early: the next is a week after T-2's date
    assert task(cli, "T-3")["due_at"] == "2027-03-16T17:00:00+03:00"
    assert query(db, "SELECT count(*) FROM crm.events WHERE action = 'series.next'") == [(2,)]


def test_a_stopped_series_makes_no_next_task(cli, recurring: Path) -> None:
    ok(cli, "task", "add", "Отчёт", "--due", "2027-03-02T17:00", "--every", "2w")
    assert ok(cli, "task", "stop-series", "T-1") == "series 1 (every 2w) stopped: T-1 is its last task\n"
    assert ok(cli, "task", "done", "T-1") == "T-1 done\n"
    assert ok(cli, "tick", "--now", "2027-04-01T10:00") == "nothing was due\n"
    assert ok(cli, "task", "list", "--recurring") == "(none)\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["task", "add", "X", "--every", "1w"], 2, "--every repeats a task from its --due date"),
        (["task", "add", "X", "--due", "2027-03-02", "--every", "1 week"], 1, "'1 week' is not a period"),
        (["task", "add", "X", "--due", "2027-03-02", "--every", "0d"], 1, "'0d' is not a period"),
        (["task", "stop-series", "T-1"], 3, "T-1 is not the current task of a recurring series"),
        (["remind", "--stop", "1"], 3, "reminder 1 is not the current one of a recurring series"),
        (["remind", "--list", "--done", "1"], 2, "takes nothing else"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cli, recurring: Path, args, code, message) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    ok(cli, "task", "add", "Plain")
    ok(cli, "remind", "CL-1", "Once", "--at", "+1d")
    db = recurring / "crmctl.duckdb"
    before = dump(db)
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert dump(db) == before


def test_a_recurring_reminder_comes_again_in_the_agenda(cli, recurring: Path) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    made = ok(cli, "remind", "CL-1", "Позвонить", "--at", "2027-03-01T12:00", "--every", "1w", "--for", "anna")
    assert made == "reminder 1 for anna at 2027-03-01 12:00 on CL-1, every 1w\n"
    listed = json.loads(ok(cli, "remind", "--list", "--for", "anna", "-f", "json"))
    assert [(r["id"], r["every"], r["series"]) for r in listed] == [(1, "1w", 1)]
    out = ok(cli, "tick", "--now", "2027-03-01T12:00")
    assert "reminder  CL-1       reminder 2 'Позвонить' due 2027-03-09 12:00" in out  # the 8th is a holiday
    agenda = json.loads(ok(cli, "agenda", "anna", "--days", "10", "-f", "json"))
    assert [(i["id"], i["due"]) for i in agenda] == [
        ("reminder:1", "2027-03-01T12:00:00+03:00"),
        ("reminder:2", "2027-03-09T12:00:00+03:00"),
    ]
    ok(cli, "remind", "--done", "2")
    assert [r["due_at"] for r in json.loads(ok(cli, "remind", "--list", "--for", "anna", "-f", "json"))] == [
        "2027-03-01T12:00:00+03:00",
        "2027-03-15T12:00:00+03:00",
    ]
    assert ok(cli, "remind", "--stop", "3") == "reminder 3: its series 1 stopped (Позвонить)\n"
    ok(cli, "remind", "--done", "3")
    assert len(json.loads(ok(cli, "remind", "--list", "--for", "anna", "-f", "json"))) == 1


def test_a_stage_action_sets_a_recurring_reminder(cli, recurring: Path) -> None:
    ok(cli, "record", "create", "deal", "--set", "title=Поставка", "--set", "amount=1000")
    ok(cli, "advance", "DL-1", "--to", "approval")
    ok(cli, "--as", "anna", "approve", "DL-1")  # won: the weekly call begins
    listed = json.loads(ok(cli, "remind", "--list", "-f", "json"))
    assert [(r["text"], r["every"]) for r in listed] == [("Call", "1w")]
    out = ok(cli, "tick", "--now", "2027-03-02T11:00")
    assert "reminder 2 'Call' due 2027-03-09 10:00" in out
    history = ok(cli, "record", "history", "DL-1")
    assert "series 1 of reminders every 1w: 1" in history


def test_a_template_schedule_launches_it_once_per_date_for_the_role(cli, recurring: Path) -> None:
    db = recurring / "crmctl.duckdb"
    assert ok(cli, "tick", "--now", "2027-03-08T12:00") == "nothing was due\n"  # the 8th is a holiday
    out = ok(cli, "tick", "--now", "2027-03-09T09:00")
    assert "P-1        Weekly report from weekly for anna (series 1)" in out
    assert query(db, "SELECT title, assignee FROM crm.tasks") == [("Write the weekly report", "anna")]
    before = dump(db)
    assert ok(cli, "tick", "--now", "2027-03-09T09:00") == "nothing was due\n"
    assert dump(db) == before
    assert "launch  P-2" in ok(cli, "tick", "--now", "2027-03-15T09:00")
    assert query(db, "SELECT count(*) FROM crm.projects") == [(2,)]


def test_a_schedule_taken_out_stops_its_series(cli, recurring: Path) -> None:
    ok(cli, "tick", "--now", "2027-03-09T09:00")
    (recurring / "weekly.yaml").write_text(
        WEEKLY.replace('schedule: {every: 1w, on: monday, at: "09:00", for: role:manager}\n', "")
    )
    ok(cli, "apply")
    out = ok(cli, "tick", "--now", "2027-03-15T09:00")
    assert "stopped  weekly     launch series 1: no schedule any more" in out
    assert ok(cli, "tick", "--now", "2027-03-22T09:00") == "nothing was due\n"


def test_the_pyrus_example_launches_its_weekly_report_after_the_march_holiday(cli, example) -> None:
    """Pyrus 000: «повторяющиеся задачи»; 8 March 2027 is a holiday of the example's calendar."""
    workspace = example("pyrus-client-crm")
    assert ok(cli, "tick", "--now", "2027-03-08T09:00") == "nothing was due\n"
    out = json.loads(ok(cli, "tick", "--now", "2027-03-09T09:00", "-f", "json"))
    assert [(a["kind"], a["subject"]) for a in out] == [("launch", "P-2")]
    tasks = query(workspace / "crmctl.duckdb", "SELECT title, assignee FROM crm.tasks ORDER BY id")
    assert tasks == [
        ("Собрать итоги недели по сделкам и клиентам", "kuznetsova"),
        ("Провести планёрку отдела продаж", "kuznetsova"),
    ]
