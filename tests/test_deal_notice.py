"""The pyrus example informs the author of a deal's result (Pyrus: "автор… проинформирован о результатах
согласования") instead of asking them to approve it: once the lawyer has the contract ready the deal is
approved, and the author's inbox holds a notice naming the deal, the decision and the contract number."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ok
from tests.dbstate import query

from .test_process import deal, stage_of


def inbox(cli, person: str) -> list[dict[str, object]]:
    return json.loads(ok(cli, "--as", person, "inbox", "-f", "json"))


def test_the_author_is_told_the_result_and_asked_nothing(cli, example) -> None:
    root = example("pyrus-client-crm")
    ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    key = deal(cli, "1500000", "50000")  # belov is its author; kuznetsova has approved it
    ok(cli, "--as", "nikitina", "approve", key)
    ok(cli, "--as", "sokolov", "approve", key)
    assert stage_of(cli, key) == "contract"
    ok(
        cli,
        "--as",
        "morozova",
        "record",
        "update",
        key,
        "--set",
        "contract_number=Д-2027/15",
        "--set",
        "deadline=2027-04-01",
    )
    assert ok(cli, "--as", "morozova", "advance", key) == f"{key} -> approved\n"
    assert stage_of(cli, key) == "approved"
    assert query(root / "crmctl.duckdb", "SELECT decision FROM deal WHERE key = ?", [key]) == [("approved",)]
    notices = [n for n in inbox(cli, "belov") if n["kind"] == "notice"]
    assert [n["text"] for n in notices] == [
        f"{key} Поставка entered stage 'Сделка согласована': сделка согласована, договор № Д-2027/15, срок 2027-04-01"
    ]
    # the author was asked to approve nothing, at no stage, and no approval of theirs was recorded
    assert [n["kind"] for n in inbox(cli, "belov") if n["record"] == key] == ["stage", "notice"]  # draft: his work
    db = root / "crmctl.duckdb"
    asked = query(
        db, "SELECT count(*) FROM crm.events WHERE record = ? AND action LIKE 'approval.%' AND actor = 'belov'", [key]
    )
    assert asked == [(0,)]
    assert query(db, "SELECT data->>'text' FROM crm.events WHERE record = ? AND action = 'notice.sent'", [key]) == [
        ("сделка согласована, договор № Д-2027/15, срок 2027-04-01",)
    ]


def test_the_flow_has_no_approval_by_the_author(cli, example) -> None:
    example("pyrus-client-crm")
    plan = ok(cli, "simulate", "deal-approval", "--set", "amount=1500000", "--set", "purchase_amount=50000")
    assert "contract" in plan and "approved" in plan
    assert "Автор" not in plan and "acceptance" not in plan


def test_a_notice_naming_no_field_is_found_by_validate(cli, tmp_path: Path) -> None:
    source = Path(__file__).parent.parent / "examples" / "processes" / "pyrus-client-crm"
    copy = tmp_path / "pyrus"
    shutil.copytree(source, copy)
    process = copy / "processes" / "deal-approval.yaml"
    text = process.read_text(encoding="utf-8")
    assert "{{ record.contract_number }}" in text
    process.write_text(text.replace("{{ record.contract_number }}", "{{ record.contract }}"), encoding="utf-8")
    result = cli("validate", str(copy))
    assert result.exit_code == 1
    assert "T702 template uses record.contract, which is not a field (did you mean 'contract_number'?)" in result.stdout
