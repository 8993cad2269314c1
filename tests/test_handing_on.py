"""Handing work on (issue 24, part 2): record assign, who acts at a stage, delegation and deputies, a field that
names the responsible person."""

from __future__ import annotations

import json

from tests.conftest import ok
from tests.dbstate import dump

CLIENT = ["--set", "name=Ромашка", "--set", "contact_person=Иван", "--set", "phone=+7 (495) 123-45-67",
          "--set", "needs=Сайт"]


def client_at_proposal(cli) -> None:
    """pyrus-client-crm: belov's CL-1 at the proposal stage, zaitsev (presale) responsible."""
    ok(cli, "--as", "belov", "record", "create", "client", *CLIENT)
    for _ in range(2):
        ok(cli, "--as", "belov", "approve", "CL-1")


def shown(cli, key: str = "CL-1") -> dict:
    return json.loads(ok(cli, "--as", "sokolov", "record", "show", key, "-f", "json"))


def inbox(cli, person: str) -> list[str]:
    return [i["text"] for i in json.loads(ok(cli, "--as", "sokolov", "inbox", person, "-f", "json"))]


# -- record assign -----------------------------------------------------------------------------------------------
def test_record_assign_hands_the_stage_and_its_approvals_on(cli, example) -> None:
    example("pyrus-client-crm")
    client_at_proposal(cli)
    assert (shown(cli)["responsible"], shown(cli)["pending_approvers"]) == ("zaitsev", ["zaitsev"])
    out = ok(cli, "--as", "kuznetsova", "record", "assign", "CL-1", "orlova")
    assert out == "CL-1: orlova is responsible at 'proposal' (was zaitsev); approvals moved: КП подготовлено\n"
    assert (shown(cli)["responsible"], shown(cli)["pending_approvers"]) == ("orlova", ["orlova"])
    history = json.loads(ok(cli, "record", "history", "CL-1", "-f", "json"))
    events = [(e["action"], e["actor"], e["data"].get("from"), e["data"].get("to")) for e in history[-2:]]
    assert events == [("responsible.changed", "kuznetsova", "zaitsev", "orlova"),
                      ("approval.moved", "kuznetsova", "zaitsev", "orlova")]
    assert inbox(cli, "orlova")[-1] == (
        "CL-1 Ромашка at stage 'Коммерческое предложение': you are responsible now (assigned by kuznetsova)")
    assert inbox(cli, "zaitsev")[-1] == (
        "CL-1 Ромашка at stage 'Коммерческое предложение': orlova is responsible now, not you "
        "(assigned by kuznetsova)")
    refused = cli("--as", "zaitsev", "approve", "CL-1")
    assert refused.exit_code == 1 and "zaitsev is not a pending approver" in refused.stderr
    assert ok(cli, "--as", "orlova", "approve", "CL-1") == "CL-1: approved; stage 'proposal' passed -> proposal_review\n"


def test_record_assign_leaves_approvals_the_rule_gives_others(cli, example) -> None:
    example("pyrus-client-crm")
    client_at_proposal(cli)
    ok(cli, "--as", "zaitsev", "approve", "CL-1")  # -> proposal_review: belov responsible, the author approves
    out = ok(cli, "--as", "kuznetsova", "record", "assign", "CL-1", "orlova")
    assert out == "CL-1: orlova is responsible at 'proposal_review' (was belov)\n"
    assert shown(cli)["pending_approvers"] == ["belov"]  # the author's approval is not the responsible person's


def test_record_assign_mistakes_change_nothing(cli, example) -> None:
    db = example("pyrus-client-crm") / "crmctl.duckdb"
    client_at_proposal(cli)
    before = dump(db)
    cases = [
        (["--as", "belov", "record", "assign", "CL-1", "orlova"], 1,
         "belov may not assign client records: permission records.assign is missing"),
        (["--as", "kuznetsova", "record", "assign", "CL-1", "nobody"], 1, "record assign: no person 'nobody' in the team"),
        (["--as", "kuznetsova", "record", "assign", "CL-1", "zaitsev"], 1,
         "zaitsev is responsible for CL-1 at 'proposal' already"),
        (["--as", "kuznetsova", "record", "assign", "CL-9", "orlova"], 3, "no record CL-9"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert (result.exit_code, result.stderr) == (code, f"crmctl: error: {message}\n")
        if code == 1 and "permission" in message:
            continue  # a refusal is an event
        assert dump(db) == before


# -- who acts at a stage -----------------------------------------------------------------------------------------
def test_the_card_and_the_inbox_say_who_acts(cli, example) -> None:
    example("pyrus-client-crm")
    client_at_proposal(cli)
    card = ok(cli, "--as", "sokolov", "record", "show", "CL-1")
    assert "who acts     zaitsev does the work; their approval passes it\n" in card
    assert inbox(cli, "zaitsev")[0] == (
        "CL-1 Ромашка entered stage 'Коммерческое предложение': you are responsible, due 2027-03-03 10:00; "
        "you do the work; your approval passes it")
    ok(cli, "--as", "zaitsev", "approve", "CL-1")
    ok(cli, "--as", "kuznetsova", "record", "assign", "CL-1", "orlova")
    card = ok(cli, "--as", "sokolov", "record", "show", "CL-1")
    assert "who acts     orlova prepares it; belov (Проверка КП автором) approves it\n" in card
