"""init, validate, schema, plan, apply and intake mail as operations: called through the registry with a typed
request, each gives a result that holds everything its output is made from."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.errors import NotFound, UsageError
from crmctl.ops.definitions import ApplyRequest, Planned, PlanRequest
from crmctl.ops.mail import Intake, IntakeRequest
from crmctl.ops.registry import run
from crmctl.ops.session import Options
from crmctl.ops.workspace import (
    Initialized,
    InitRequest,
    SchemaRequest,
    Schemas,
    ValidateRequest,
    Validation,
)
from tests.conftest import NOW, ROOT

EXAMPLES = ROOT / "examples" / "processes"


def test_schema_gives_one_schema_or_every_one_with_its_file_name() -> None:
    one: Schemas = run("schema", Options(), SchemaRequest("process"))
    assert [f.name for f in one.files] == ["process.schema.json"]
    assert one.files[0].schema["title"] == "crmctl Process"
    every: Schemas = run("schema", Options(), SchemaRequest(every=True))
    assert len(every.files) == 8 and every.files[0].name == "crmctl.schema.json"
    with pytest.raises(UsageError):
        run("schema", Options(), SchemaRequest("Form", every=True))
    with pytest.raises(UsageError):
        run("schema", Options(), SchemaRequest("Nothing"))


def test_validate_gives_the_diagnostics_and_what_was_checked(tmp_path: Path) -> None:
    clean: Validation = run("validate", Options(), ValidateRequest([EXAMPLES]))
    assert clean.diagnostics == [] and clean.workspaces == 4 and clean.documents > 4
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Form\nname: x\n", encoding="utf-8")
    found: Validation = run("validate", Options(), ValidateRequest([broken]))
    assert found.diagnostics and found.diagnostics[0].location.file.endswith("broken.yaml")
    assert found.workspaces == 0
    with pytest.raises(NotFound):
        run("validate", Options(), ValidateRequest(workspace=tmp_path))


def test_init_lists_the_examples_or_makes_a_workspace(tmp_path: Path) -> None:
    listed: Initialized = run("init", Options(), InitRequest(list_examples=True))
    assert "crm-orders" in listed.examples and listed.database is None
    with pytest.raises(UsageError):
        run("init", Options(), InitRequest())
    made: Initialized = run("init", Options(actor="olga", now=NOW), InitRequest(tmp_path / "ws"))
    assert (made.folder, made.database, made.version) == (tmp_path / "ws", tmp_path / "ws" / "crmctl.duckdb", 1)


def test_plan_and_apply_carry_the_plan(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    options = Options(workspace=ws, actor="olga", now=NOW)
    run("init", options, InitRequest(ws))
    same: Planned = run("plan", options, PlanRequest())
    assert (same.unchanged, same.current_version, same.next_version, same.changes) == (True, 1, 2, [])
    form = ws / "forms" / "client.yaml"
    form.write_text(form.read_text(encoding="utf-8") + "  - {id: notes, type: text, label: Notes}\n", "utf-8")
    planned: Planned = run("plan", options, PlanRequest())
    assert [(c.symbol, c.action, c.target, c.name) for c in planned.changes] == [("+", "add", "field", "client.notes")]
    assert planned.applied is None and planned.database == ws / "crmctl.duckdb"
    applied: Planned = run("apply", options, ApplyRequest())
    assert applied.applied == 2 and applied.changes == planned.changes


def test_intake_dry_run_carries_each_outcome_and_its_line(example) -> None:
    example("service-desk-leads")
    request = IntakeRequest([ROOT / "examples" / "mail" / "02-broken-charset.eml"], "support-mail", dry_run=True)
    result: Intake = run("intake.mail", Options(actor="alekseeva", now=NOW), request)
    assert result.dry_run and [t.outcome for t in result.taken] == ["rejected"]
    assert result.lines == ["02-broken-charset.eml rejected: its text is not valid utf-8"]
