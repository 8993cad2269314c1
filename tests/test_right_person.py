"""Work reaches the right person (issue 24, part 1): the record's author, the member of a role who is at work,
reminders for those who own the record and that follow it, a date field on the agenda."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ok

ABSENT = """
  - id: alla
    name: Алла Иванова
    roles: [manager]
    absences:
      - {from: 2027-03-01, to: 2027-03-12, reason: vacation}
"""


def walk_client_to_active(cli, *, mover: str = "nikitina") -> None:
    """pyrus-client-crm: belov creates CL-1 and passes his stages; the specialists pass theirs; `mover` moves the
    client to `active`, which launches the client's project."""
    ok(
        cli,
        "--as",
        "belov",
        "record",
        "create",
        "client",
        "--set",
        "name=Ромашка",
        "--set",
        "contact_person=Иван",
        "--set",
        "phone=+7 (495) 123-45-67",
        "--set",
        "needs=Сайт",
        "--set",
        "inn=1234567890",
        "--set",
        "address=Москва",
        "--set",
        "next_contact=2027-03-05",
    )
    for _ in range(2):
        ok(cli, "--as", "belov", "approve", "CL-1")
    while json.loads(ok(cli, "record", "show", "CL-1", "-f", "json"))["stage"] != "invoicing":
        pending = json.loads(ok(cli, "record", "show", "CL-1", "-f", "json"))["pending_approvers"]
        person = {"role:lawyer": "morozova", "role:presale": "zaitsev"}.get(pending[0], pending[0])
        ok(cli, "--as", person, "approve", "CL-1")
    ok(cli, "--as", mover, "advance", "CL-1", "--to", "active")


# -- author means the record's author ---------------------------------------------------------------------------
def test_author_in_a_template_is_the_record_author_not_who_moved_it(cli, example) -> None:
    example("pyrus-client-crm")
    walk_client_to_active(cli, mover="nikitina")
    tasks = json.loads(ok(cli, "task", "list", "--for", "CL-1", "-f", "json"))
    by_template = {t["template_task"]: t["assignee"] for t in tasks}
    assert by_template["welcome_call"] == "belov"  # he created the client; nikitina moved it
    assert by_template["kickoff"] == "belov"
    assert by_template["documents"] == "nikitina"


def test_actor_in_a_template_is_who_launches(cli, base_workspace: Path, monkeypatch) -> None:
    template = base_workspace / "template.yaml"
    template.write_text(template.read_text().replace("assignee: anna", "assignee: actor"))
    monkeypatch.chdir(base_workspace)
    ok(cli, "apply")
    ok(cli, "--as", "anna", "record", "create", "client", "--set", "name=Ромашка")
    ok(cli, "--as", "boris", "project", "launch", "cards", "--for", "CL-1", "--param", "run=50")
    tasks = json.loads(ok(cli, "--as", "boris", "task", "list", "-f", "json"))
    assert [(t["template_task"], t["assignee"]) for t in tasks] == [("layout", "boris")]


def test_actor_outside_a_template_is_refused(cli, base_workspace: Path, monkeypatch) -> None:
    process = base_workspace / "process.yaml"
    process.write_text(process.read_text().replace("responsible: author", "responsible: actor"))
    monkeypatch.chdir(base_workspace)
    result = cli("validate")
    assert result.exit_code == 1
    assert "R001 'actor' (the person acting) names an assignee of a template's task only" in result.stdout


# -- least-loaded honours calendars -----------------------------------------------------------------------------
@pytest.fixture
def absent_colleague(cli, base_workspace: Path, monkeypatch) -> Path:
    """The base workspace with alla, a manager on holiday from 1 to 12 March (her id comes before anna's),
    and a responsible role for the approval stage."""
    team = base_workspace / "team.yaml"
    team.write_text(team.read_text().replace("people:\n", "people:" + ABSENT, 1))
    process = base_workspace / "process.yaml"
    process.write_text(
        process.read_text().replace(
            "    title: Согласование\n", "    title: Согласование\n    responsible: role:manager\n"
        )
    )
    monkeypatch.chdir(base_workspace)
    ok(cli, "apply")
    cli.actor = "boris"
    return base_workspace


def test_a_template_task_goes_to_the_member_at_work_and_says_why(cli, absent_colleague: Path) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Ромашка")
    out = ok(cli, "project", "launch", "cards", "--for", "CL-1", "--param", "run=100")
    tasks = json.loads(ok(cli, "task", "list", "-f", "json"))
    assert {t["template_task"]: t["assignee"] for t in tasks}["print"] == "anna"
    assert "assigned T-2 by role:manager: anna finishes first (2027-03-01 14:30); alla 2027-03-15 10:30\n" in out
    launched = json.loads(ok(cli, "project", "launch", "cards", "--for", "CL-1", "--param", "run=100", "-f", "json"))
    assert [a["task"] for a in launched["assigned"]] == ["T-4"]
    assert launched["assigned"][0]["why"].startswith("role:manager: anna finishes first")


def test_after_the_holiday_the_member_with_less_queued_work_finishes_first(cli, absent_colleague: Path) -> None:
    later = "2027-03-15T10:00:00+03:00"
    ok(cli, "--now", later, "record", "create", "client", "--set", "name=Ромашка")
    out = ok(cli, "--now", later, "project", "launch", "cards", "--for", "CL-1", "--param", "run=100")
    assert "assigned T-2 by role:manager: alla finishes first (2027-03-15 11:30); anna 2027-03-15 14:30\n" in out


def test_a_stage_responsible_is_a_member_at_work(cli, absent_colleague: Path) -> None:
    ok(cli, "record", "create", "deal", "--set", "title=Сайт", "--set", "amount=10")
    ok(cli, "advance", "DL-1", "--to", "approval")
    assert json.loads(ok(cli, "record", "show", "DL-1", "-f", "json"))["responsible"] == "anna"


def test_a_stage_responsible_on_a_tie_is_the_smallest_id(cli, absent_colleague: Path) -> None:
    later = "2027-03-15T10:00:00+03:00"
    ok(cli, "--now", later, "record", "create", "deal", "--set", "title=Сайт", "--set", "amount=10")
    ok(cli, "--now", later, "advance", "DL-1", "--to", "approval")
    assert json.loads(ok(cli, "record", "show", "DL-1", "-f", "json"))["responsible"] == "alla"


# -- role reminders go to those who own the record ----------------------------------------------------------------
PROSPECT = ["name=ООО Заявка", "email=lead@example.com", "manager=romanov"]


def prospect_in_choice(cli) -> str:
    sets = [x for pair in PROSPECT for x in ("--set", pair)]
    key = ok(cli, "--as", "petrov", "record", "create", "prospect", *sets).strip()
    ok(cli, "--as", "petrov", "advance", key, "--to", "choice")
    return key


def reminders(cli, *people: str) -> list[tuple[str, str | None, str]]:
    """The open reminders of these people in the next 30 days, by person, as the chief of the workspace sees them."""
    found = []
    for person in people:
        items = json.loads(ok(cli, "agenda", person, "--days", "30", "-f", "json"))
        found += [(i["record"], i["person"], i["text"]) for i in items if i["kind"] == "reminder"]
    return found


DESK = ("kozlov", "nikolaev", "petrov", "romanov", "stepanova", "vasilieva")


def test_a_role_reminder_of_the_stage_role_goes_to_the_responsible_person(cli, example) -> None:
    example("service-desk-leads")
    first, second = prospect_in_choice(cli), prospect_in_choice(cli)
    responsible = {k: json.loads(ok(cli, "record", "show", k, "-f", "json"))["responsible"] for k in (first, second)}
    assert responsible[first] != responsible[second]  # the second goes to the member with fewer records
    assert sorted((r, p) for r, p, _ in reminders(cli, *DESK)) == sorted(responsible.items())


def test_a_role_reminder_of_another_role_goes_to_every_member_done_by_any(cli, absent_colleague: Path) -> None:
    process = absent_colleague / "process.yaml"
    process.write_text(process.read_text().replace("for: author}", "for: role:manager}"))
    ok(cli, "apply")
    ok(cli, "record", "create", "deal", "--set", "title=Сайт", "--set", "amount=10")
    ok(cli, "advance", "DL-1", "--to", "approval")
    ok(cli, "--as", "anna", "approve", "DL-1")
    assert [(r, p) for r, p, _ in reminders(cli, "alla", "anna")] == [("DL-1", "alla"), ("DL-1", "anna")]
    mine = json.loads(ok(cli, "--as", "anna", "agenda", "--days", "30", "-f", "json"))
    ok(cli, "--as", "anna", "remind", "--done", mine[0]["id"].split(":")[1])
    assert reminders(cli, "alla", "anna") == []


# -- reminders follow the record ----------------------------------------------------------------------------------
def test_reminders_of_a_stage_close_when_the_record_leaves_it(cli, example) -> None:
    example("service-desk-leads")
    key = prospect_in_choice(cli)
    assert [r for r, _, _ in reminders(cli, *DESK)] == [key]
    ok(cli, "--as", "petrov", "record", "update", key, "--set", "invoice_number=СЧ-1", "--set", "invoice_amount=1")
    ok(cli, "--as", "petrov", "advance", key, "--to", "invoicing")
    assert [t for _, _, t in reminders(cli, *DESK)] == [
        "Проверить, оплачен ли счёт"
    ]  # the new stage's; choice's closed
    history = json.loads(ok(cli, "record", "history", key, "-f", "json"))
    closed = [e["data"] for e in history if e["action"] == "reminder.closed"]
    assert closed == [{"reminders": [1], "stage": "choice"}]
    assert "reminders 1 closed: the record left choice" in ok(cli, "record", "history", key, env={"COLUMNS": "250"})


def test_a_kept_reminder_stays_open(cli, base_workspace: Path, monkeypatch) -> None:
    process = base_workspace / "process.yaml"
    process.write_text(
        process.read_text().replace(
            "    responsible: author\n",
            "    responsible: author\n    on_enter:\n"
            "      - remind: {in: 1d, text: Follow up, for: author, keep: true}\n"
            "      - remind: {in: 1d, text: Draft it, for: author}\n",
        )
    )
    monkeypatch.chdir(base_workspace)
    ok(cli, "apply")
    cli.actor = "boris"
    ok(cli, "record", "create", "deal", "--set", "title=Сайт", "--set", "amount=10")
    assert [t for _, _, t in reminders(cli, "boris")] == ["Follow up", "Draft it"]
    ok(cli, "advance", "DL-1", "--to", "approval")
    assert [t for _, _, t in reminders(cli, "boris")] == ["Follow up"]


# -- a date field drives the agenda -------------------------------------------------------------------------------
def test_a_contact_date_shows_on_its_day_for_the_record_owner(cli, example) -> None:
    example("pyrus-client-crm")
    ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=Ромашка", "--set", "next_contact=2027-03-05")

    def contacts(now: str, *args: str) -> list[tuple[str, str, str, str]]:
        items = json.loads(ok(cli, "--now", now, "agenda", "belov", *args, "-f", "json"))
        return [(i["due"], i["id"], i["text"], i["person"]) for i in items if i["kind"] == "contact"]

    assert contacts("2027-03-01T10:00:00+03:00") == []
    expected = [("2027-03-05T00:00:00+03:00", "contact:CL-1:next_contact", "Следующий контакт", "belov")]
    assert contacts("2027-03-01T10:00:00+03:00", "--days", "7") == expected
    assert contacts("2027-03-05T09:00:00+03:00") == expected
    assert contacts("2027-03-06T09:00:00+03:00") == []
    assert json.loads(ok(cli, "--now", "2027-03-05T09:00:00+03:00", "agenda", "kuznetsova", "-f", "json")) == []


def test_contact_date_on_a_field_that_is_not_a_date_is_refused(cli, base_workspace: Path, monkeypatch) -> None:
    forms = base_workspace / "forms.yaml"
    forms.write_text(
        forms.read_text().replace("{id: email, type: email}", "{id: email, type: email, contact_date: true}")
    )
    monkeypatch.chdir(base_workspace)
    result = cli("validate")
    assert result.exit_code == 1
    assert "F604 'contact_date' does not apply to a email field" in result.stdout
