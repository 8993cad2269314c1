"""import and export as operations: a typed request in, a typed result out, nothing printed; the import's
progress told through the request's callback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.domain.imports import Outcome
from crmctl.ops.exports import Exported, ExportRequest
from crmctl.ops.imports import ImportRequest
from crmctl.ops.registry import run
from crmctl.ops.session import Options
from tests.conftest import NOW, ok
from tests.dbstate import query


@pytest.fixture
def options(workspace: Path) -> Options:
    return Options(workspace=workspace, actor="boris", now=NOW)


def test_import_tells_its_progress_to_the_request_and_prints_nothing(
    workspace: Path, options: Options, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "c.csv").write_text("name,phone\nООО Ромашка,+79123456789\nИП Васильев,\n", encoding="utf-8")
    told: list[tuple[str, float]] = []
    outcome = run("import", options, ImportRequest("client", workspace / "c.csv", progress=lambda *a: told.append(a)))
    assert isinstance(outcome, Outcome)
    assert (outcome.rows, outcome.created, outcome.problems) == (2, 2, [])
    assert ("reading c.csv", 100.0) in told and ("checking", 100.0) in told and ("writing", 100.0) in told
    assert capsys.readouterr() == ("", "")


def test_the_progress_callback_does_not_make_two_requests_differ(workspace: Path) -> None:
    assert ImportRequest("tasks", workspace / "t.csv") == ImportRequest("tasks", workspace / "t.csv", progress=print)


def test_export_gives_the_files_bytes_as_the_command_writes_them(cli, workspace: Path, options: Options) -> None:
    ok(cli, "task", "add", "Звонок")
    exported = run("export", options, ExportRequest("tasks", format="json"))
    assert isinstance(exported, Exported) and exported.format == "json"
    assert json.loads(exported.content.decode("utf-8"))["title"] == "Звонок"
    ok(cli, "export", "tasks", "--format", "json", "--out", "tasks.jsonl")
    assert (workspace / "tasks.jsonl").read_bytes() == exported.content
    tjp = run("export", options, ExportRequest("tjp", report="plan_schedule"))
    assert tjp.format == "tjp" and b"plan_schedule" in tjp.content


def test_a_task_named_twice_in_a_file_is_updated_row_after_row(cli, workspace: Path) -> None:
    """Rows naming one task by crmctl's id and by the file's: the second sees what the first changed."""
    db = workspace / "crmctl.duckdb"
    (workspace / "first.csv").write_text("id,title\nA1,Макет\n", encoding="utf-8")
    ok(cli, "import", "tasks", "first.csv")
    (workspace / "again.csv").write_text("id,title\nT-1,Вёрстка\nA1,Тесты\n", encoding="utf-8")
    assert "updated 2" in ok(cli, "import", "tasks", "again.csv")
    assert query(db, "SELECT title FROM crm.tasks") == [("Тесты",)]
    changes = [
        json.loads(data)["changes"]["title"]
        for (data,) in query(db, "SELECT data FROM crm.events WHERE action = 'task.updated' ORDER BY id")
    ]
    assert changes == [["Макет", "Вёрстка"], ["Вёрстка", "Тесты"]]
