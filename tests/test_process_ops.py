"""Process, schedule and report commands as operations: each result carries what its renderers show, and the
outputs rendered from it keep the shapes they have always had."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from crmctl.ops.process import Board, BoardRequest, SimulateRequest
from crmctl.ops.registry import run
from crmctl.ops.reports import EfficiencyRequest
from crmctl.ops.session import Options
from crmctl.render import board as render_board
from crmctl.store import process as store_process
from crmctl.store import records as store_records
from crmctl.store.process import Deferred, EventWrites, StageWrites

from .conftest import NOW, ok


def test_the_store_and_deferred_writes_are_one_kind() -> None:
    """Entering a stage writes through either; mypy checks the signatures, this the names."""
    deferred = Deferred.__new__(Deferred)
    for protocol, direct in ((StageWrites, store_process), (EventWrites, store_records)):
        wanted = [name for name in vars(protocol) if not name.startswith("_")]
        assert wanted
        for name in wanted:
            assert callable(getattr(direct, name)) and callable(getattr(deferred, name)), name


def test_a_board_carries_its_page(cli, example) -> None:
    root = example("service-desk-leads")
    options = Options(workspace=root, actor=cli.actor, now=NOW)
    found = run("board", options, BoardRequest("interest"))
    assert isinstance(found, Board)
    assert found.made_at == dt.datetime.fromisoformat(NOW)
    assert found.form_title and found.title
    assert render_board.html(found) == ok(cli, "board", "interest", "-f", "html")
    steps = run("simulate", options, SimulateRequest("interest"))
    assert [s.stage for s in steps] == [s["stage"] for s in json.loads(ok(cli, "simulate", "interest", "-f", "json"))]


def test_the_efficiency_page_asks_for_both_of_its_tables(cli, example) -> None:
    root = example("freshoffice-templates")
    options = Options(workspace=root, actor="grigoriev", now=NOW)
    report = run("report.efficiency", options, EfficiencyRequest(by="person,type", page=True, since="2027-01-01"))
    assert [(t.by, t.period) for t in report.tables] == [(["person"], "week"), (["type"], "week")]
    assert (report.since, report.until, report.made_at) == ("2027-01-01", None, dt.datetime.fromisoformat(NOW))
    one = run("report.efficiency", options, EfficiencyRequest(period="month"))
    assert [(t.by, t.period) for t in one.tables] == [(["person"], "month")]


def test_queue_and_eta_keep_their_column_orders(cli, example, tmp_path: Path) -> None:
    """JSON has priority before project_priority and the assignee after the status; CSV the other way round."""
    example("freshoffice-templates")
    me = ("--as", "grigoriev")
    ok(cli, *me, "record", "create", "client", "--set", "name=ООО Ромашка")
    ok(cli, *me, "task", "add", "Срочно", "--assignee", "pavlova", "--estimate", "2h", "--for", "CL-1")
    (row,) = json.loads(ok(cli, *me, "queue", "pavlova", "-f", "json"))
    keys = list(row)
    assert keys[:7] == ["id", "title", "status", "record", "project", "priority", "project_priority"]
    header = next(csv.reader(io.StringIO(ok(cli, *me, "queue", "pavlova", "-f", "csv"))))
    assert header[:7] == ["id", "title", "status", "record", "project", "project_priority", "priority"]
    (task,) = json.loads(ok(cli, *me, "eta", "CL-1", "-f", "json"))["tasks"]
    assert list(task) == [*keys[:3], "assignee", *keys[3:]]
