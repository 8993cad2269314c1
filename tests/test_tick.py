"""crmctl tick and timed transitions: a stage moves a record `after` working time in it or `when` a date field
has passed, only `if` its condition holds, as a manual move would; tick is idempotent at one instant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ok
from .dbstate import dump, query

TIMED = """\
    timed:
      - {name: Подписан, to: approval, when: signed_on}
      - {to: lost, after: 2d, if: {field: amount, filled: false}}
"""


@pytest.fixture
def timed(base_workspace: Path, cli, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The base workspace whose draft deals go to approval once signed, and are lost after two working days
    in draft without an amount (a lost stage needs no required field filled)."""
    process = base_workspace / "process.yaml"
    text = process.read_text(encoding="utf-8").replace("    require: [amount]\n", "    require: [amount]\n" + TIMED, 1)
    text = text.replace("  - id: lost\n    terminal: true\n", "  - id: lost\n    terminal: true\n    outcome: lost\n")
    text = text.replace("    due_in: 2d\n", "    due_in: 2d\n    responsible: anna\n")
    process.write_text(text, encoding="utf-8")
    monkeypatch.chdir(base_workspace)
    assert cli("apply").exit_code == 0
    cli.actor = "boris"
    return base_workspace


def deal(cli, *values: str) -> str:
    return ok(cli, "record", "create", "deal", *[a for v in values for a in ("--set", v)]).strip()


def test_a_date_field_passing_moves_the_record_as_a_manual_move_would(cli, timed: Path) -> None:
    key = deal(cli, "title=Поставка", "amount=500000", "signed_on=2027-03-02")
    assert ok(cli, "tick") == "nothing was due\n"
    assert ok(cli, "tick", "--now", "2027-03-02T23:59") == "nothing was due\n"  # the day has not passed yet
    out = ok(cli, "tick", "--now", "2027-03-03T00:00", "-f", "json")
    assert json.loads(out)[0] == {"kind": "moved", "subject": key, "text": "draft -> approval (Подписан)"}
    db = timed / "crmctl.duckdb"
    assert query(db, f"SELECT stage FROM deal WHERE key = '{key}'") == [("approval",)]
    # entering the stage asked its approver, as advance would have
    assert query(db, "SELECT approver, decision FROM crm.approvals") == [("role:manager", None)]
    assert query(db, "SELECT person, kind FROM crm.inbox WHERE kind = 'approval'") == [("anna", "approval")]
    events = query(db, "SELECT action, data->>'rule', actor FROM crm.events WHERE action = 'transition.timed'")
    assert events == [("transition.timed", "Подписан", "boris")]
    history = ok(cli, "record", "history", key)
    assert "draft -> approval on time: Подписан" in history
    assert "(timed: Подписан)" in history


def test_tick_twice_at_the_same_instant_changes_nothing_the_second_time(cli, timed: Path) -> None:
    deal(cli, "title=Поставка", "amount=500000", "signed_on=2027-03-01")
    deal(cli, "title=Без суммы")
    ok(cli, "remind", "DL-1", "Позвонить", "--at", "2027-03-02T10:00", "--every", "1w")
    db = timed / "crmctl.duckdb"
    first = ok(cli, "tick", "--now", "2027-03-08T12:00")
    assert "moved" in first and "reminder" in first and "notice" in first
    after_first = dump(db)
    assert ok(cli, "tick", "--now", "2027-03-08T12:00") == "nothing was due\n"
    assert dump(db) == after_first


def test_after_counts_working_time_in_the_stage(cli, timed: Path) -> None:
    """Two days of 8 working hours from Monday 10:00 on 09-13, 14-18: Wednesday 10:00."""
    key = deal(cli, "title=Без суммы")
    db = timed / "crmctl.duckdb"
    assert ok(cli, "tick", "--now", "2027-03-03T09:59") == "nothing was due\n"
    out = ok(cli, "tick", "--now", "2027-03-03T10:00", "-f", "csv")
    assert out.splitlines()[1] == f"moved,{key},draft -> lost (after 2d -> lost)"
    assert query(db, f"SELECT stage FROM deal WHERE key = '{key}'") == [("lost",)]


def test_the_condition_keeps_a_record_that_does_not_meet_it(cli, timed: Path) -> None:
    deal(cli, "title=С суммой", "amount=100")
    db = timed / "crmctl.duckdb"
    before = dump(db)
    assert ok(cli, "tick", "--now", "2027-04-01T10:00") == "nothing was due\n"
    assert dump(db) == before


def test_a_record_that_cannot_leave_waits_and_nothing_changes(cli, timed: Path) -> None:
    """Signed, but its amount (required to leave draft) is empty: tick says why and leaves it."""
    key = deal(cli, "title=Без суммы", "signed_on=2027-02-20")
    db = timed / "crmctl.duckdb"
    before = dump(db)
    out = ok(cli, "tick", "--now", "2027-03-01T12:00")
    assert out.splitlines()[2:] == [
        f"waiting  {key}       Подписан: {key} cannot leave 'draft' before these fields are filled: amount"
    ]
    assert dump(db) == before


def test_cron_runs_it_for_nobody_in_a_team_workspace(cli, timed: Path) -> None:
    key = deal(cli, "title=Поставка", "amount=500000", "signed_on=2027-03-01")
    result = cli("tick", "--now", "2027-03-02T09:00", env={"CRMCTL_USER": ""})
    assert result.exit_code == 0, result.stderr
    db = timed / "crmctl.duckdb"
    assert query(db, f"SELECT stage FROM deal WHERE key = '{key}'") == [("approval",)]
    assert query(db, "SELECT actor FROM crm.events WHERE action = 'transition.timed'") == [(None,)]


def test_tick_tells_passed_stage_deadlines_and_reminders_once(cli, timed: Path, snapshot) -> None:
    deal(cli, "title=Поставка", "amount=500000")
    ok(cli, "advance", "DL-1", "--to", "approval")  # due in 2d; anna's role approves
    ok(cli, "remind", "DL-1", "Позвонить", "--at", "2027-03-01T12:00", "--for", "anna")
    out = ok(cli, "tick", "--now", "2027-03-04T10:00")
    assert out == snapshot
    assert ok(cli, "tick", "--now", "2027-03-04T10:00") == "nothing was due\n"
    inbox = json.loads(ok(cli, "inbox", "anna", "-f", "json"))
    assert [i["kind"] for i in inbox].count("reminder") == 1


def test_the_service_desk_example_invoices_again_when_the_contract_expires(cli, example) -> None:
    """1C 004: «переход… в случае истечения срока действия договора»."""
    workspace = example("service-desk-leads")
    values = [
        "name=Ромашка", "manager=petrov", "invoice_number=1", "invoice_amount=100", "paid_on=2027-02-01",
        "documents_received=true", "contract_number=Д-1", "contract_until=2027-03-10",
    ]  # fmt: skip
    key = ok(cli, "record", "create", "prospect", *[a for v in values for a in ("--set", v)]).strip()
    for stage in ("choice", "invoicing", "paid", "awaiting_documents", "client", "contract_work"):
        ok(cli, "advance", key, "--to", stage)
    assert "moved" not in ok(cli, "tick", "--now", "2027-03-10T18:00")
    out = ok(cli, "tick", "--now", "2027-03-11T09:00")
    assert f"moved    {key}       contract_work -> invoicing (Срок действия договора истёк)" in out
    db = workspace / "crmctl.duckdb"
    assert query(db, f"SELECT stage FROM prospect WHERE key = '{key}'") == [("invoicing",)]


def test_timed_rules_are_checked_with_their_position(cli, base_workspace: Path, monkeypatch) -> None:
    process = base_workspace / "process.yaml"
    text = process.read_text(encoding="utf-8").replace(
        "    require: [amount]\n",
        "    require: [amount]\n    timed:\n      - {to: won, when: title, if: {field: nope, filled: true}}\n",
    )
    process.write_text(text, encoding="utf-8")
    monkeypatch.chdir(base_workspace)
    result = cli("validate")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "process.yaml:12:14: error P406 timed transition to 'won', which is not among the stage's transitions "
        "(approval, lost)",
        "process.yaml:12:25: error P407 'when' names field 'title', a text field: it must be a date or datetime field",
        "process.yaml:12:44: error R001 unknown field 'nope'",
    ]
