"""Handing work on (issue 24, part 2): record assign, who acts at a stage, delegation and deputies, a field that
names the responsible person."""

from __future__ import annotations

import json

from tests.conftest import ok
from tests.dbstate import dump

CLIENT = [
    "--set",
    "name=Ромашка",
    "--set",
    "contact_person=Иван",
    "--set",
    "phone=+7 (495) 123-45-67",
    "--set",
    "needs=Сайт",
]


def client_at_proposal(cli) -> None:
    """pyrus-client-crm: belov's CL-1 at the proposal stage, zaitsev (presale) responsible."""
    ok(cli, "--as", "belov", "record", "create", "client", *CLIENT)
    for _ in range(2):
        ok(cli, "--as", "belov", "approve", "CL-1")


def shown(cli, key: str = "CL-1") -> dict:
    return json.loads(ok(cli, "record", "show", key, "-f", "json"))


def inbox(cli, person: str) -> list[str]:
    return [i["text"] for i in json.loads(ok(cli, "inbox", person, "-f", "json"))]


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
    assert events == [
        ("responsible.changed", "kuznetsova", "zaitsev", "orlova"),
        ("approval.moved", "kuznetsova", "zaitsev", "orlova"),
    ]
    assert inbox(cli, "orlova")[-1] == (
        "CL-1 Ромашка at stage 'Коммерческое предложение': you are responsible now (assigned by kuznetsova)"
    )
    assert inbox(cli, "zaitsev")[-1] == (
        "CL-1 Ромашка at stage 'Коммерческое предложение': orlova is responsible now, not you (assigned by kuznetsova)"
    )
    refused = cli("--as", "zaitsev", "approve", "CL-1")
    assert refused.exit_code == 1 and "zaitsev is not a pending approver" in refused.stderr
    assert (
        ok(cli, "--as", "orlova", "approve", "CL-1") == "CL-1: approved; stage 'proposal' passed -> proposal_review\n"
    )


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
        (
            ["--as", "belov", "record", "assign", "CL-1", "orlova"],
            1,
            "belov may not assign client records: permission records.assign is missing",
        ),
        (
            ["--as", "kuznetsova", "record", "assign", "CL-1", "nobody"],
            1,
            "record assign: no person 'nobody' in the team",
        ),
        (
            ["--as", "kuznetsova", "record", "assign", "CL-1", "zaitsev"],
            1,
            "zaitsev is responsible for CL-1 at 'proposal' already",
        ),
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
        "you do the work; your approval passes it"
    )
    ok(cli, "--as", "zaitsev", "approve", "CL-1")
    ok(cli, "--as", "kuznetsova", "record", "assign", "CL-1", "orlova")
    card = ok(cli, "--as", "sokolov", "record", "show", "CL-1")
    assert "who acts     orlova prepares it; belov (Проверка КП автором) approves it\n" in card


# -- delegation and deputies -------------------------------------------------------------------------------------
def test_approve_delegate_hands_one_records_approval_to_a_person(cli, example) -> None:
    example("pyrus-client-crm")
    client_at_proposal(cli)
    ok(cli, "--as", "belov", "record", "create", "client", *CLIENT)  # CL-2, also at proposal after two approvals
    for _ in range(2):
        ok(cli, "--as", "belov", "approve", "CL-2")
    out = ok(cli, "--as", "zaitsev", "approve", "CL-1", "--delegate", "lebedeva")
    assert out == "CL-1: approval at 'proposal' handed to lebedeva\n"
    assert shown(cli, "CL-1")["pending_approvers"] == ["lebedeva"]
    assert shown(cli, "CL-2")["pending_approvers"] == ["zaitsev"]  # that record only
    assert inbox(cli, "lebedeva")[-1] == (
        "CL-1 Ромашка waits for your approval at stage 'Коммерческое предложение' (КП подготовлено), for zaitsev"
    )
    ok(cli, "--as", "lebedeva", "approve", "CL-1")
    history = json.loads(ok(cli, "record", "history", "CL-1", "-f", "json"))
    moved = next(e for e in history if e["action"] == "approval.moved")
    assert (moved["actor"], moved["data"]["from"], moved["data"]["to"]) == ("zaitsev", "zaitsev", "lebedeva")
    given = [e for e in history if e["action"] == "approval.given"][-1]
    assert (given["actor"], given["data"]["for"]) == ("lebedeva", ["zaitsev"])
    text = ok(cli, "record", "history", "CL-1", env={"COLUMNS": "250"})
    assert "approved proposal (КП подготовлено) for zaitsev" in text


def test_approve_delegate_mistakes_change_nothing(cli, example) -> None:
    db = example("pyrus-client-crm") / "crmctl.duckdb"
    client_at_proposal(cli)
    before = dump(db)
    cases = [
        (["--as", "zaitsev", "approve", "CL-1", "--delegate", "nobody"], "--delegate: no person 'nobody' in the team"),
        (
            ["--as", "zaitsev", "approve", "CL-1", "--delegate", "zaitsev"],
            "zaitsev cannot delegate an approval to themselves",
        ),
        (
            ["--as", "belov", "approve", "CL-1", "--delegate", "orlova"],
            "belov is not a pending approver of CL-1 (waiting for: zaitsev)",
        ),
    ]
    for args, message in cases:
        result = cli(*args)
        assert (result.exit_code, result.stderr) == (1, f"crmctl: error: {message}\n")
        assert dump(db) == before


HOLIDAY = "2027-02-16T10:00:00+03:00"  # orlova is on holiday from 15 to 26 February; belov is her deputy


def test_a_deputy_acts_for_an_absent_person(cli, example) -> None:
    example("pyrus-client-crm")
    ok(cli, "--as", "orlova", "--now", HOLIDAY, "record", "create", "client", *CLIENT)
    card = shown(cli)
    assert (card["author"], card["responsible"], card["pending_approvers"]) == ("orlova", "belov", ["belov"])
    assert inbox(cli, "belov")[1] == (
        "CL-1 Ромашка waits for your approval at stage 'Первичный контакт' (Контакт установлен) for orlova (absent)"
    )
    ok(cli, "--as", "belov", "--now", HOLIDAY, "approve", "CL-1")  # -> needs, with a reminder for the author
    history = json.loads(ok(cli, "record", "history", "CL-1", "-f", "json"))
    entered = [e["data"] for e in history if e["action"] == "stage.entered"]
    assert (entered[0]["responsible"], entered[0]["responsible_for"]) == ("belov", "orlova")
    given = next(e for e in history if e["action"] == "approval.given")
    assert (given["actor"], given["data"]["for"]) == ("belov", ["orlova"])
    reminder = next(e["data"] for e in history if e["action"] == "reminder.added")
    assert (reminder["for"], reminder["instead_of"]) == ("belov", "orlova")


def test_after_the_absence_the_person_acts_again(cli, example) -> None:
    example("pyrus-client-crm")
    ok(cli, "--as", "orlova", "--now", "2027-03-01T10:00:00+03:00", "record", "create", "client", *CLIENT)
    card = shown(cli)
    assert (card["responsible"], card["pending_approvers"]) == ("orlova", ["orlova"])


def test_a_deputy_must_be_another_person_of_the_team(cli, example) -> None:
    root = example("pyrus-client-crm")
    team = root / "team.yaml"
    team.write_text(team.read_text().replace("deputy: belov", "deputy: orlova"))
    result = cli("validate")
    assert result.exit_code == 1 and "R001 deputy 'orlova' cannot be their own deputy" in result.stdout
    team.write_text(team.read_text().replace("deputy: orlova", "deputy: belof"))
    result = cli("validate")
    assert result.exit_code == 1 and "R001 deputy 'belof' is not a person of the team" in result.stdout


# -- a field names the responsible person ------------------------------------------------------------------------
def incident(cli, assignee: str) -> str:
    sets = [
        "--set",
        "subject=Сбой",
        "--set",
        "priority=high",
        "--set",
        "category=error",
        "--set",
        f"assignee={assignee}",
    ]
    return ok(cli, "--as", "petrov", "record", "create", "incident", *sets).strip()


def test_the_executor_field_makes_that_person_responsible_for_in_progress(cli, example) -> None:
    example("service-desk-leads")
    key = incident(cli, "romanov")
    ok(cli, "--as", "petrov", "advance", key, "--to", "in_progress")
    assert shown(cli, key)["responsible"] == "romanov"  # not kozlov, the role's first free member
    history = json.loads(ok(cli, "--as", "petrov", "record", "history", key, "-f", "json"))
    assert history[-1]["data"]["responsible"] == "romanov"


def test_responsible_field_must_be_a_person_field(cli, example) -> None:
    root = example("service-desk-leads")
    process = root / "processes" / "incident.yaml"
    process.write_text(process.read_text().replace("responsible_field: assignee", "responsible_field: subject"))
    result = cli("validate")
    assert result.exit_code == 1
    assert "R001 unknown person field 'subject'" in result.stdout


def test_a_template_task_for_an_absent_person_goes_to_the_deputy(cli, base_workspace, monkeypatch) -> None:
    team = base_workspace / "team.yaml"
    team.write_text(
        team.read_text().replace(
            "    roles: [manager]\n",
            "    roles: [manager]\n    absences:\n      - {from: 2027-03-01, to: 2027-03-05, deputy: boris}\n",
            1,
        )
    )
    monkeypatch.chdir(base_workspace)
    ok(cli, "apply")
    cli.actor = "boris"
    ok(cli, "record", "create", "client", "--set", "name=Ромашка")
    out = ok(cli, "project", "launch", "cards", "--for", "CL-1", "--param", "run=50")
    assert "assigned T-1 by anna: boris as deputy of anna, who is absent\n" in out
    tasks = json.loads(ok(cli, "task", "list", "-f", "json"))
    assert [(t["template_task"], t["assignee"]) for t in tasks] == [("layout", "boris")]
