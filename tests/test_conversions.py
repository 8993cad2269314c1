"""Conversions and notices: a stage's create: action makes a record of another form (once, linked both ways),
notify: informs without asking, and entry: demands fields or a reason before a record enters a stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ok
from tests.dbstate import dump, query

WON = [
    "name=ООО Заявка",
    "email=lead@example.com",
    "phone=+79001234567",
    "manager=romanov",
    "invoice_number=СЧ-1",
    "invoice_amount=1000",
    "paid_on=2027-03-01",
    "documents_received=true",
    "contract_number=Д-7",
    "contract_until=2028-03-01",
]


def prospect(cli, values: list[str]) -> str:
    return ok(cli, "record", "create", "prospect", *[x for v in values for x in ("--set", v)]).strip()


def walk(cli, key: str, *stages: str) -> None:
    for stage in stages:
        ok(cli, "advance", key, "--to", stage)


@pytest.fixture
def desk(example, cli) -> Path:
    root = example("service-desk-leads")
    cli.actor = "petrov"
    return root


def test_a_won_prospect_becomes_a_client_once(cli, desk: Path) -> None:
    key = prospect(cli, WON)
    walk(cli, key, "choice", "invoicing", "paid", "awaiting_documents")
    db = desk / "crmctl.duckdb"
    assert query(db, "SELECT count(*) FROM client") == [(0,)]
    walk(cli, key, "client")
    made = json.loads(ok(cli, "record", "show", "KL-1", "-f", "json"))
    assert made["fields"] == {
        "name": "ООО Заявка",
        "email": "lead@example.com",
        "phone": "+79001234567",
        "company": None,
        "manager": "romanov",
        "contract_number": "Д-7",
        "contract_until": "2028-03-01",
        "prospect": key,
    }
    assert made["author"] == "petrov"
    source = json.loads(ok(cli, "record", "show", key, "-f", "json"))
    assert [(r["key"], r["form"]) for r in source["related"]] == [("KL-1", "client")]  # linked back
    linked = "SELECT record, data->>'from', data->>'to' FROM crm.events WHERE action = 'record.linked' ORDER BY id"
    assert query(db, linked) == [(key, key, "KL-1"), ("KL-1", key, "KL-1")]
    assert query(db, "SELECT source, target, action FROM crm.links") == [(key, "KL-1", "create:client")]
    assert f"{key} -> KL-1 (create:client)" in ok(cli, "record", "history", "KL-1")
    # round the loop again: contract work, a new invoice ... and back to client: no second client
    walk(cli, key, "contract_work", "invoicing", "paid", "awaiting_documents", "client")
    assert query(db, "SELECT key FROM client") == [("KL-1",)]
    assert query(db, "SELECT count(*) FROM crm.events WHERE action = 'record.linked'") == [(2,)]


def test_a_refusal_needs_its_reason(cli, desk: Path) -> None:
    key = prospect(cli, ["name=ООО Отказ"])
    before = dump(desk / "crmctl.duckdb")
    refused = cli("advance", key, "--to", "refused")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"crmctl: error: {key} cannot enter 'refused' without Причина отказа (refusal_reason): fill it first "
        f"(crmctl record update {key} --set refusal_reason=...)\n"
    )
    assert dump(desk / "crmctl.duckdb") == before
    stray = cli("advance", key, "--to", "choice", "--reason", "просто так")
    assert (stray.exit_code, stray.stderr) == (
        1,
        "crmctl: error: stage 'choice' asks for no reason: leave out --reason (a comment goes with -m)\n",
    )
    ok(cli, "record", "update", key, "--set", "refusal_reason=price")
    assert ok(cli, "advance", key, "--to", "refused") == f"{key} -> refused\n"


WORKSPACE = """\
kind: Workspace
name: notices
timezone: Europe/Moscow
---
kind: Form
name: request
key_prefix: RQ
fields:
  - {id: title, type: text, required: true}
  - {id: amount, type: number}
---
kind: Form
name: order
key_prefix: OR
fields:
  - {id: subject, type: text}
  - {id: total, type: number, max: 100}
  - {id: request, type: ref, form: request}
---
kind: Process
name: requests
form: request
stages:
  - id: new
    transitions: [done, refused]
  - id: done
    terminal: true
    on_enter:
      - notify: {to: author, text: "заявка выполнена"}
      - notify: {to: "role:office", text: "к сведению"}
      - create: {form: order, fields: {subject: title, total: amount, request: key}}
  - id: refused
    terminal: true
    entry: {reason: true}
---
kind: Team
name: staff
roles:
  - {id: all, permissions: ["*"]}
  - {id: office, permissions: [records.read]}
people:
  - {id: anna, name: Анна, roles: [all]}
  - {id: boris, name: Борис, roles: [all]}
  - {id: vera, name: Вера, roles: [office]}
  - {id: gleb, name: Глеб, roles: [office]}
"""


@pytest.fixture
def notices(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "crmctl.yaml").write_text(WORKSPACE, encoding="utf-8")
    monkeypatch.chdir(root)
    ok(cli, "--as", "anna", "apply")
    cli.actor = "boris"
    return root


def test_notify_informs_the_author_and_a_role_without_asking(cli, notices: Path) -> None:
    ok(cli, "--as", "anna", "record", "create", "request", "--set", "title=Пропуск", "--set", "amount=3")
    ok(cli, "advance", "RQ-1", "--to", "done")
    inbox = json.loads(ok(cli, "--as", "anna", "inbox", "-f", "json"))
    assert [(i["kind"], i["record"], i["text"]) for i in inbox] == [
        ("notice", "RQ-1", "RQ-1 Пропуск entered stage 'done': заявка выполнена")
    ]
    for person in ("vera", "gleb"):
        texts = [i["text"] for i in json.loads(ok(cli, "--as", person, "inbox", "-f", "json"))]
        assert texts == ["RQ-1 Пропуск entered stage 'done': к сведению"], person
    db = notices / "crmctl.duckdb"
    assert query(db, "SELECT count(*) FROM crm.approvals") == [(0,)]  # nobody is asked anything
    sent = query(db, "SELECT data->>'to' FROM crm.events WHERE action = 'notice.sent' ORDER BY id")
    assert [json.loads(s[0]) for s in sent] == [["anna"], ["gleb", "vera"]]
    assert "notice to anna: заявка выполнена" in ok(cli, "record", "history", "RQ-1")
    assert query(db, 'SELECT key, subject, total, request FROM "order"') == [("OR-1", "Пропуск", 3, "RQ-1")]


def test_a_stage_that_asks_for_a_reason(cli, notices: Path) -> None:
    ok(cli, "record", "create", "request", "--set", "title=Лишнее")
    before = dump(notices / "crmctl.duckdb")
    for reason in ([], ["--reason", "  "]):
        refused = cli("advance", "RQ-1", "--to", "refused", *reason)
        assert (refused.exit_code, refused.stderr) == (
            1,
            "crmctl: error: RQ-1 cannot enter 'refused' without a reason: give --reason TEXT\n",
        )
    assert dump(notices / "crmctl.duckdb") == before
    ok(cli, "advance", "RQ-1", "--to", "refused", "--reason", "Дубль заявки RQ-0")
    card = json.loads(ok(cli, "record", "show", "RQ-1", "-f", "json"))
    assert card["stage"] == "refused"
    assert [c["text"] for c in card["comments"]] == ["refused: Дубль заявки RQ-0"]


BROKEN = (
    WORKSPACE.replace(
        "create: {form: order, fields: {subject: title, total: amount, request: key}}",
        "create: {form: order, fields: {subject: amount, total: title, request: key, nope: title}}",
    )
    .replace("entry: {reason: true}", "entry: {require: [reasn]}")
    .replace("to: author", "to: nobody")
)


def test_validate_checks_the_actions_with_positions(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    (root / "crmctl.yaml").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(root)
    result = cli("validate")
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if " error " in line]
    assert lines == [
        "crmctl.yaml:29:22: error R001 unknown person 'nobody'",
        "crmctl.yaml:31:49: error P408 'subject' of order (text) cannot take 'amount' (number)",
        "crmctl.yaml:31:64: error P408 'total' of order (number) cannot take 'title' (text)",
        "crmctl.yaml:31:85: error R001 unknown field 'nope' of form 'order'",
        "crmctl.yaml:34:23: error R001 unknown field 'reasn'",
    ]


def test_a_conversion_the_new_form_refuses_changes_nothing(cli, notices: Path) -> None:
    ok(cli, "record", "create", "request", "--set", "title=Много", "--set", "amount=500")
    before = dump(notices / "crmctl.duckdb")
    refused = cli("advance", "RQ-1", "--to", "done")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "total" in refused.stderr and "Traceback" not in refused.stderr
    assert dump(notices / "crmctl.duckdb") == before
