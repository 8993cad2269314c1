"""Definition changes never lose or strand data: type changes, people who leave, approvers, renamed stages,
and who may see a plan."""

from __future__ import annotations

from pathlib import Path

from .dbstate import dump, query
from .test_apply import create, edit


def _with_field(cli, workspace: Path, field: str) -> None:
    edit(
        workspace / "forms.yaml",
        "  - {id: title, type: text, required: true}\n",
        "  - {id: title, type: text, required: true}\n  - " + field + "\n",
    )
    assert cli("apply").exit_code == 0


def test_a_type_change_that_alters_values_is_refused_until_archived(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    _with_field(cli, workspace, "{id: inn, type: text}")
    create(cli, "deal", "--set", "title=A", "--set", "inn=0012345678")
    create(cli, "deal", "--set", "title=B", "--set", "inn=42")
    create(cli, "deal", "--set", "title=C", "--set", "inn=7.50")
    create(cli, "deal", "--set", "title=D")
    edit(workspace / "forms.yaml", "{id: inn, type: text}", "{id: inn, type: number}")
    before = dump(db)
    plan = cli("plan")
    assert plan.exit_code == 1
    assert plan.stdout == snapshot
    assert plan.stderr == "crmctl: error: 1 change would lose data (see the plan)\n"
    refused = cli("apply")
    assert refused.exit_code == 1
    assert (
        "refused: field deal.inn (type text -> number): 2 records hold values that would change: "
        "DL-1 ('0012345678' -> '12345678'), DL-3 ('7.50' -> '7.5') (apply with --archive" in refused.stderr
    )
    assert dump(db) == before
    applied = cli("apply", "--archive")
    assert applied.exit_code == 0, applied.stderr
    assert query(db, 'SELECT key, inn FROM "deal" ORDER BY number') == [
        ("DL-1", 12345678.0),
        ("DL-2", 42.0),
        ("DL-3", 7.5),
        ("DL-4", None),
    ]
    assert query(db, "SELECT version, form, record, what, name, value FROM crm.archive ORDER BY record") == [
        (3, "deal", "DL-1", "field", "inn", "0012345678"),
        (3, "deal", "DL-2", "field", "inn", "42"),
        (3, "deal", "DL-3", "field", "inn", "7.50"),
    ]


def test_exact_type_changes_go_through(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    _with_field(cli, workspace, "{id: pages, type: number}")
    create(cli, "deal", "--set", "title=A", "--set", "pages=12")
    create(cli, "deal", "--set", "title=B", "--set", "pages=0.25")
    create(cli, "client", "--set", "name=A", "--set", "status=lost")
    edit(workspace / "forms.yaml", "{id: pages, type: number}", "{id: pages, type: text}")
    edit(workspace / "forms.yaml", "{id: status, type: list, options: [new, active, lost], default: new}",
         "{id: status, type: text}")
    result = cli("apply")
    assert result.exit_code == 0, result.stderr
    assert query(db, 'SELECT key, pages FROM "deal" ORDER BY number') == [("DL-1", "12"), ("DL-2", "0.25")]
    assert query(db, 'SELECT status FROM "client"') == [("lost",)]
    assert query(db, "SELECT count(*) FROM crm.archive") == [(0,)]
    # and back again: the text of a number converts back to the same number
    edit(workspace / "forms.yaml", "{id: pages, type: text}", "{id: pages, type: number}")
    assert cli("apply").exit_code == 0
    assert query(db, 'SELECT pages FROM "deal" ORDER BY number') == [(12.0,), (0.25,)]
