"""Projects, tasks, time and sprints as operations: typed requests in, typed results out, and one task shape
(TaskRow) for every command that shows tasks, its fields the JSON keys and CSV columns in that order."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from crmctl.domain.shapes import names
from crmctl.ops.projects import (
    ProjectCreateRequest,
    ProjectShowRequest,
    TaskAddRequest,
    TaskDoneRequest,
    TaskListRequest,
    TaskRow,
    TimeListRequest,
    TimeLogRequest,
    TimeRow,
)
from crmctl.ops.registry import run
from crmctl.ops.session import Options
from crmctl.ops.sprints import SprintAddRequest, SprintCard, SprintCreateRequest, SprintShowRequest, SprintTask
from crmctl.store import projects as store

from .conftest import NOW, ok


@pytest.fixture
def options(workspace: Path, cli) -> Options:
    return Options(workspace=workspace, actor=cli.actor, now=NOW)


def test_a_task_comes_back_as_a_task_row(options: Options) -> None:
    first = run("task.add", options, TaskAddRequest("Макет", estimate="2h", due="2027-02-28"))
    second = run("task.add", options, TaskAddRequest("Вёрстка", depends_on=["T-1"], priority=2))
    assert isinstance(first, TaskRow) and (first.id, first.estimate_minutes, first.overdue) == ("T-1", 120, True)
    assert (second.depends_on, second.blocked_by, second.priority) == (["T-1"], ["T-1"], 2)
    listed = run("task.list", options, TaskListRequest(ready=True))
    assert [t.id for t in listed] == ["T-1"]
    finished = run("task.done", options, TaskDoneRequest("1"))
    assert finished.task == "T-1" and [t.id for t in finished.unblocked] == ["T-2"]
    assert finished.unblocked[0].blocked_by == []


def test_task_row_fields_are_names_the_select_gives(workspace: Path, options: Options) -> None:
    """TaskRow.of reads its fields by name from store.projects.tasks(): only `overdue` is computed."""
    import duckdb

    run("task.add", options, TaskAddRequest("Макет"))
    conn = duckdb.connect(str(workspace / "crmctl.duckdb"), read_only=True)
    try:
        (row,) = store.tasks(conn)
    finally:
        conn.close()
    assert set(names(TaskRow)) - set(row) == {"overdue"}


def test_task_json_and_csv_hold_the_task_rows_fields_in_order(cli, workspace: Path) -> None:
    ok(cli, "task", "add", "Макет", "--estimate", "1h")
    listed = json.loads(ok(cli, "task", "list", "-f", "json"))
    assert list(listed[0]) == names(TaskRow)
    assert ok(cli, "task", "list", "-f", "csv").splitlines()[0].split(",") == names(TaskRow)
    shown = json.loads(ok(cli, "task", "show", "T-1", "-f", "json"))
    assert list(shown)[: len(names(TaskRow))] == names(TaskRow)
    assert list(shown)[len(names(TaskRow)) :] == [
        "dependents",
        "start_after",
        "start_after_why",
        "intervals",
        "history",
    ]


def test_project_card_carries_its_parsed_parameters_and_task_rows(options: Options) -> None:
    made = run("project.create", options, ProjectCreateRequest("Клиенты / Ромашка"))
    assert made.id == "P-2"
    run("task.add", options, TaskAddRequest("Позвонить", project="P-2"))
    card = run("project.show", options, ProjectShowRequest("1"))
    assert (card.project.id, card.project.params, [s.id for s in card.subprojects]) == ("P-1", {}, ["P-2"])
    assert [t.id for t in card.tasks] == ["T-1"] and card.hidden == {"tasks": 0}


def test_time_is_logged_and_listed_as_time_rows(options: Options) -> None:
    run("task.add", options, TaskAddRequest("Макет"))
    logged = run("time.log", options, TimeLogRequest("T-1", "90m", note="эскизы"))
    assert (logged.task, logged.minutes, logged.note) == ("T-1", 90, "эскизы")
    (row,) = run("time.list", options, TimeListRequest(task="T-1"))
    assert isinstance(row, TimeRow) and (row.minutes, row.running, row.source) == (90.0, False, "log")


def test_sprint_card_carries_its_totals(options: Options) -> None:
    for title in ("Макет", "Вёрстка"):
        run("task.add", options, TaskAddRequest(title, estimate="1h"))
    run("sprint.create", options, SprintCreateRequest("W10", "2027-03-01", "2027-03-05"))
    change = run("sprint.add", options, SprintAddRequest("W10", ["T-1", "T-2"]))
    assert [(m.task, m.before) for m in change.moved] == [("T-1", None), ("T-2", None)]
    card = run("sprint.show", options, SprintShowRequest("W10"))
    assert isinstance(card, SprintCard) and all(isinstance(t, SprintTask) for t in card.tasks)
    assert dataclasses.asdict(card.totals) == {
        "count": 2,
        "done": 0,
        "estimate_minutes": 120,
        "actual_minutes": 0.0,
        "remaining_minutes": 120.0,
    }
