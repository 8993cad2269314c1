"""Close only what is finished (issue 17 §3): a required yes/no field must be yes, a stage's `enter_when` and
`tasks_done` refuse a record that is not ready to enter it (naming the condition or the open tasks), and a
move that launches a project says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ok
from .dbstate import dump, query


def refused(cli, db: Path, code: int, message: str, *args: str) -> None:
    before = dump(db)
    result = cli(*args)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert result.stderr == f"crmctl: error: {message}\n"
    assert dump(db) == before


def stage_of(db: Path, key: str) -> str:
    table = {"ORD": "order", "DL": "deal"}[key.split("-")[0]]
    return query(db, f'SELECT stage FROM "{table}" WHERE key = ?', [key])[0][0]


@pytest.fixture
def orders(example, cli) -> Path:
    """crm-orders: CL-1, DL-1 (in work), ORD-1 in production with P-1 (T-1..T-8), as sergeeva."""
    root = example("crm-orders")
    cli.actor = "sergeeva"
    ok(cli, "record", "create", "client", "--set", "name=ООО Альфа")
    ok(
        cli,
        "record",
        "create",
        "deal",
        "--set",
        "title=Сайт",
        "--set",
        "client=CL-1",
        "--set",
        "amount=300000",
        "--set",
        "expected_close=2027-04-01",
        "--set",
        "manager=sergeeva",
        "--set",
        "contract_number=Д-1",
    )
    for stage in ("qualification", "proposal", "contract"):
        ok(cli, "advance", "DL-1", "--to", stage)
    ok(
        cli,
        "record",
        "create",
        "order",
        "--set",
        "title=Сайт",
        "--set",
        "deal=DL-1",
        "--set",
        "order_type=website",
        "--set",
        "budget=200000",
        "--set",
        "due_date=2027-03-20",
        "--set",
        "specification=ТЗ",
    )
    ok(cli, "advance", "ORD-1", "--to", "planning")
    return root


def db(root: Path) -> Path:
    return root / "crmctl.duckdb"


def test_advance_says_what_it_launched(cli, orders) -> None:
    out = ok(cli, "advance", "ORD-1", "--to", "website_production")
    assert out == (
        "ORD-1 -> website_production; launched P-1 with 8 tasks (copywriting left out: when does not "
        "hold: needs_copywriting = true)\n"
    )


def test_advance_json_holds_the_launch(cli, orders) -> None:
    data = json.loads(ok(cli, "advance", "ORD-1", "--to", "website_production", "-f", "json"))
    assert data == {
        "key": "ORD-1",
        "stages": ["website_production"],
        "launched": [
            {
                "project": "P-1",
                "title": "Сайт ORD-1: Сайт",
                "tasks": 8,
                "left_out": [{"task": "copywriting", "why": "when does not hold: needs_copywriting = true"}],
            }
        ],
    }
    assert json.loads(ok(cli, "advance", "ORD-1", "-f", "json")) == {
        "key": "ORD-1",
        "stages": ["acceptance"],
        "launched": [],
    }


def test_an_order_is_handed_over_only_when_accepted_and_its_tasks_are_done(cli, orders) -> None:
    ok(cli, "advance", "ORD-1", "--to", "website_production")
    ok(cli, "advance", "ORD-1")  # acceptance: sergeeva, the author, approves the act
    assert ok(cli, "approve", "ORD-1") == "ORD-1: approved; stage 'acceptance' passed (advance it to go on)\n"
    # accepted_by_client is a yes/no field with the default no: required means it must be yes
    refused(
        cli,
        db(orders),
        1,
        "ORD-1 cannot leave 'acceptance' before these yes/no fields are yes: accepted_by_client",
        "advance",
        "ORD-1",
    )
    ok(cli, "record", "update", "ORD-1", "--set", "accepted_by_client=yes")
    refused(
        cli,
        db(orders),
        1,
        "ORD-1 cannot enter 'done' while its tasks are open: T-1, T-2, T-3, T-4, T-5, T-6, T-7, T-8",
        "advance",
        "ORD-1",
    )
    for tid in ("T-1", "T-2", "T-3", "T-4", "T-5", "T-6", "T-7"):
        ok(cli, "--as", "kovalev", "task", "cancel", tid)
    refused(cli, db(orders), 1, "ORD-1 cannot enter 'done' while its tasks are open: T-8", "advance", "ORD-1")
    assert stage_of(db(orders), "ORD-1") == "acceptance"
    ok(cli, "--as", "kovalev", "task", "done", "T-8")
    assert ok(cli, "advance", "ORD-1") == "ORD-1 -> done\n"
    assert stage_of(db(orders), "ORD-1") == "done"


def test_an_approval_leading_into_a_closed_stage_leaves_the_record_where_it_is(cli, orders) -> None:
    ok(cli, "advance", "ORD-1", "--to", "website_production")
    ok(cli, "record", "update", "ORD-1", "--set", "accepted_by_client=yes")
    ok(cli, "advance", "ORD-1")
    assert ok(cli, "approve", "ORD-1") == "ORD-1: approved; stage 'acceptance' passed (advance it to go on)\n"
    assert stage_of(db(orders), "ORD-1") == "acceptance"
    notices = query(db(orders), "SELECT text FROM crm.inbox WHERE kind = 'stage' ORDER BY id DESC LIMIT 1")
    assert notices == [("ORD-1 Сайт is approved at 'Приёмка клиентом': advance it",)]


def test_a_deal_closes_only_when_the_tasks_of_its_orders_are_done(cli, orders) -> None:
    ok(cli, "advance", "ORD-1", "--to", "website_production")
    assert stage_of(db(orders), "DL-1") == "in_work"  # contract skipped: no approval group applies to 300 000
    refused(
        cli,
        db(orders),
        1,
        "DL-1 cannot enter 'closing' while its tasks are open: T-1, T-2, T-3, T-4, T-5, T-6, T-7, T-8",
        "advance",
        "DL-1",
    )
    for number in range(1, 9):
        ok(cli, "--as", "kovalev", "task", "cancel", f"T-{number}")
    assert ok(cli, "advance", "DL-1") == "DL-1 -> closing\n"


MINI = """\
kind: Workspace
name: mini
timezone: Europe/Moscow
---
kind: Form
name: job
key_prefix: JB
fields:
  - {id: title, type: text}
  - {id: signed, type: bool, default: false}
  - {id: amount, type: number}
---
kind: Process
name: jobs
form: job
stages:
  - id: new
    on_enter:
      - launch: {template: kickoff}
    transitions: [paid]
  - id: paid
    enter_when: {all: [{field: signed, eq: true}, {field: amount, gt: 0}]}
    transitions: [closed]
  - id: closed
    terminal: true
---
kind: ProjectTemplate
name: kickoff
form: job
parameters:
  - {id: call, type: bool, default: false}
tasks:
  - {id: brief, title: Бриф}
  - {id: call, title: Звонок, when: {field: call, eq: true}}
"""


@pytest.fixture
def mini(tmp_path, cli, monkeypatch) -> Path:
    root = tmp_path / "mini"
    root.mkdir()
    (root / "crmctl.yaml").write_text(MINI, encoding="utf-8")
    monkeypatch.chdir(root)
    ok(cli, "apply")
    return root


def test_record_create_says_what_its_first_stage_launched(cli, mini) -> None:
    out = ok(cli, "record", "create", "job", "--set", "title=Первая")
    assert out == "JB-1\nlaunched P-1 with 1 task (call left out: when does not hold: call = true)\n"
    data = json.loads(ok(cli, "record", "create", "job", "--set", "title=Вторая", "-f", "json"))
    assert data["key"] == "JB-2"
    assert data["launched"] == [
        {
            "project": "P-2",
            "title": "kickoff JB-2",
            "tasks": 1,
            "left_out": [{"task": "call", "why": "when does not hold: call = true"}],
        }
    ]


def test_enter_when_names_the_condition_that_fails(cli, mini) -> None:
    ok(cli, "record", "create", "job", "--set", "title=Первая", "--set", "amount=10")
    refused(
        cli,
        mini / "crmctl.duckdb",
        1,
        "JB-1 cannot enter 'paid': (signed = true) and (amount > 0) does not hold",
        "advance",
        "JB-1",
    )
    ok(cli, "record", "update", "JB-1", "--set", "signed=yes")
    assert ok(cli, "advance", "JB-1") == "JB-1 -> paid\n"


def test_enter_when_naming_an_unknown_field_is_reported_with_its_place(cli, mini) -> None:
    text = (mini / "crmctl.yaml").read_text(encoding="utf-8")
    (mini / "crmctl.yaml").write_text(text.replace("{field: amount, gt: 0}", "{field: amout, gt: 0}"), encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1
    assert result.stdout == "crmctl.yaml:22:59: error R001 unknown field 'amout' (did you mean 'amount'?)\n"


def test_tasks_done_must_be_a_yes_or_no(cli, mini) -> None:
    text = (mini / "crmctl.yaml").read_text(encoding="utf-8")
    (mini / "crmctl.yaml").write_text(
        text.replace("    transitions: [closed]", "    tasks_done: sure\n    transitions: [closed]"), encoding="utf-8"
    )
    result = cli("validate")
    assert result.exit_code == 1 and "crmctl.yaml:23:17: error S004" in result.stdout, result.stdout
