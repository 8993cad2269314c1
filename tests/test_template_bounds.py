"""A template's date parameter bounds a task (docs/projects.md, "Date bounds"): `start_after` and `due` are
rendered at launch, the schedule never starts the task before its bound (at the first working moment of its
person's calendar) and says why, a value that is not a date refuses the launch with nothing changed, and
`validate` names the place of a bound that cannot give a date. By hand: `task add|update --start-after`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import tj3
from tests.conftest import ok
from tests.dbstate import dump, query

DELIVERY = [
    "--as", "fedorova", "project", "launch", "flower-delivery", "-p", "delivery_address=ул. Ленина, 1",
    "-p", "delivery_date=2027-03-05", "-p", "time_slot=12-15", "-p", "price_range=up_to_3000",
    "-p", "recipient_phone=+7 (916) 555-11-22",
]  # fmt: skip

# A template of this test's own: a visit on a day, its hours given as text (a slip the launch must catch).
VISIT = """kind: ProjectTemplate
name: visit
parameters:
  - {id: day, type: date, required: true}
  - {id: hours, type: text}
  - {id: length, type: text, default: 1h}
tasks:
  - id: prepare
    title: Prepare the visit
    assignee: gusev
    estimate: 1h
  - id: go
    title: "Visit on {{ day }}"
    assignee: gusev
    estimate: 10h
    start_after: "{{ day }} {{ hours or '' }}"
    due: "{{ day }}"
"""


def _launch_delivery(cli) -> str:
    """Launch the flower delivery for 5 March, 12-15; the delivery task's id."""
    launched = json.loads(ok(cli, *DELIVERY, "--format", "json"))
    return next(t["id"] for t in launched["tasks"] if t["template_task"] == "delivery")


def _eta(cli, key: str) -> dict:
    return json.loads(ok(cli, "eta", key, "--format", "json"))


def test_a_delivery_for_5_march_is_scheduled_on_5_march_and_eta_says_why(cli, example, snapshot) -> None:
    root = example("freshoffice-templates")
    delivery = _launch_delivery(cli)
    (task,) = _eta(cli, delivery)["tasks"]
    # the bouquet is ready on 3 March; without its bound the courier would go then
    assert task["start"] == "2027-03-05T12:00:00+03:00"
    assert task["finish"] == "2027-03-05T14:00:00+03:00"
    assert task["due_at"] == "2027-03-05T15:00:00+03:00" and task["at_risk"] is False
    assert task["reason"] == "not before 2027-03-05 12:00: the template's start_after (delivery_date, time_slot)"
    assert query(root / "crmctl.duckdb", "SELECT strftime(start_after, '%Y-%m-%d %H:%M'), start_after_why "
                 "FROM crm.tasks WHERE id = ?", [delivery]) == [
        ("2027-03-05 09:00", "the template's start_after (delivery_date, time_slot)")  # stored in UTC
    ]  # fmt: skip
    assert ok(cli, "eta", delivery) == snapshot(name="eta")
    shown = ok(cli, "task", "show", delivery)
    assert "not before  2027-03-05 12:00: the template's start_after (delivery_date, time_slot)\n" in shown
    card = json.loads(ok(cli, "task", "show", delivery, "--format", "json"))
    assert card["start_after"] == "2027-03-05T12:00:00+03:00"
    # what waits for the delivery waits for its bound too: the photo report comes after it
    project = _eta(cli, "P-1")
    assert project["ready"] == "2027-03-05T14:15:00+03:00"


def _visit_workspace(cli, example) -> Path:
    root = example("freshoffice-templates")
    (root / "templates" / "visit.yaml").write_text(VISIT, encoding="utf-8")
    ok(cli, "apply")
    return root


def test_a_date_alone_starts_at_the_first_working_moment_and_an_unmet_due_date_is_at_risk(cli, example) -> None:
    _visit_workspace(cli, example)
    launched = json.loads(ok(cli, "project", "launch", "visit", "-p", "day=2027-03-08", "--format", "json"))
    prepare, go = (t["id"] for t in launched["tasks"])
    # 8 March is a Monday, a day off of the flower shop's calendar: gusev starts on Wednesday at 09:00, and
    # takes the work that is ready meanwhile
    (task,) = _eta(cli, go)["tasks"]
    assert task["start"] == "2027-03-10T09:00:00+03:00"
    assert task["reason"] == (
        "not before 2027-03-08 00:00: the template's start_after (day, hours); gusev is off (day off) until "
        "2027-03-10 09:00"
    )
    assert _eta(cli, prepare)["tasks"][0]["start"] == "2027-03-03T09:00:00+03:00"
    # due at the end of 8 March, it cannot be met: at risk
    assert task["due_at"] == "2027-03-08T23:59:00+03:00" and task["at_risk"] is True
    assert go in _eta(cli, "P-1")["at_risk"]


def test_a_bound_that_is_not_a_date_refuses_the_launch_and_changes_nothing(cli, example) -> None:
    root = _visit_workspace(cli, example)
    db = root / "crmctl.duckdb"
    before = dump(db)
    result = cli("project", "launch", "visit", "-p", "day=2027-03-05", "-p", "hours=after lunch")
    assert result.exit_code == 1
    assert result.stderr == (
        "crmctl: error: template visit, task go, start_after: '2027-03-05 after lunch' is not a date or a "
        "date-time: 2027-03-05, 2027-03-05 09:00\n"
    )
    assert dump(db) == before
    # the same template with a time: the bound is that moment
    launched = json.loads(
        ok(cli, "project", "launch", "visit", "-p", "day=2027-03-05", "-p", "hours=15:30", "--format", "json")
    )
    go = launched["tasks"][1]["id"]
    assert _eta(cli, go)["tasks"][0]["start"] == "2027-03-05T15:30:00+03:00"


def test_validate_names_the_place_of_a_bound_that_cannot_give_a_date(cli, example) -> None:
    root = _visit_workspace(cli, example)
    broken = VISIT.replace("start_after: \"{{ day }} {{ hours or '' }}\"", 'start_after: "{{ hours }} 09:00"')
    broken = broken.replace('due: "{{ day }}"', "due: |\n      {{ dayz }}")
    (root / "templates" / "visit.yaml").write_text(broken, encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "error" in line]
    assert (
        "templates/visit.yaml:16:18: error T707 start_after uses 'hours' (text), but no date or date-time "
        "parameter or field" in lines
    )
    assert (
        "templates/visit.yaml:18:10: error T702 template uses 'dayz', which is not a parameter (did you mean "
        "'day'?)" in lines
    )


def test_task_add_and_update_take_a_start_bound(cli, example) -> None:
    root = example("freshoffice-templates")
    db = root / "crmctl.duckdb"
    tid = ok(cli, "task", "add", "Отвезти образцы", "-a", "gusev", "-e", "1h", "--start-after", "2027-03-04T10:00")
    tid = tid.strip()
    (task,) = _eta(cli, tid)["tasks"]
    assert (task["start"], task["reason"]) == (
        "2027-03-04T10:00:00+03:00",
        "not before 2027-03-04 10:00: set with --start-after",
    )
    before = dump(db)
    bad = cli("task", "update", tid, "--start-after", "someday")
    assert bad.exit_code == 2 and bad.stderr.startswith("crmctl: error: --start-after: 'someday' is not a date-time")
    assert dump(db) == before
    changed = ok(cli, "task", "update", tid, "--start-after", "2027-03-06")
    assert changed == f"{tid} start_after: 2027-03-04 10:00 -> 2027-03-06 00:00\n"
    assert _eta(cli, tid)["tasks"][0]["start"] == "2027-03-06T09:00:00+03:00"  # a Saturday of the flower shop
    ok(cli, "task", "update", tid, "--start-after", "")
    (task,) = _eta(cli, tid)["tasks"]
    assert (task["start"], task["reason"]) == ("2027-03-03T09:00:00+03:00", "can start now; gusev is off (day off) "
                                               "until 2027-03-03 09:00")  # fmt: skip
    assert query(db, "SELECT start_after, start_after_why FROM crm.tasks WHERE id = ?", [tid]) == [(None, None)]


@pytest.mark.slow
def test_tj3_plans_a_bounded_task_when_crmctl_does(cli, example, tmp_path) -> None:
    from tests.test_tjp_export import compare

    tj3.tj3()
    example("freshoffice-templates")
    delivery = _launch_delivery(cli)
    samples = ["Образцы", "--project", "P-1", "-a", "gusev", "-e", "1h", "--start-after", "2027-03-04T10:00"]
    ok(cli, "task", "add", *samples)
    # a bound that a dependency's finish overtakes holds nothing back: tj3 must not be told it
    ok(cli, "task", "update", "T-6", "--start-after", "2027-03-02")
    ours = compare(cli, tmp_path / "tj", "2027-03-01T10:00:00+03:00", "Europe/Moscow", ["P-1"])
    assert ours[delivery]["start"] == "2027-03-05T12:00:00+03:00"
    text = (tmp_path / "tj" / "plan.tjp").read_text()
    assert "  start 2027-03-05-12:00-+0300\n" in text and "2027-03-02-00:00" not in text


def test_export_and_import_carry_a_start_bound(cli, example, tmp_path: Path, monkeypatch) -> None:
    """`export tasks` writes start_after and where it came from; `import tasks` of that file into another
    workspace bounds the task the same way; a value that is not a date is refused with its row."""
    example("freshoffice-templates")
    delivery = _launch_delivery(cli)
    exported = tmp_path / "tasks.csv"
    ok(cli, "export", "tasks", "--out", str(exported))
    header = exported.read_text().splitlines()[0]
    assert "start_after,start_after_why" in header
    other = tmp_path / "other"
    assert cli("init", str(other), "--example", "freshoffice-templates").exit_code == 0
    monkeypatch.chdir(other)
    before = dump(other / "crmctl.duckdb")
    bad = tmp_path / "bad.csv"
    bad.write_text("title,assignee,estimate,start_after\nОбразцы,gusev,1h,someday\n")
    refused = cli("import", "tasks", str(bad))
    assert refused.exit_code == 1 and "row 2" in refused.stderr and "start_after" in refused.stderr
    assert dump(other / "crmctl.duckdb") == before
    ok(cli, "import", "tasks", str(exported))
    (task,) = _eta(cli, delivery)["tasks"]
    assert task["start"] == "2027-03-05T12:00:00+03:00"
    assert task["reason"].startswith("not before 2027-03-05 12:00: the template's start_after (delivery_date")
    bare = tmp_path / "bare.csv"
    bare.write_text("title,assignee,estimate,start_after\nОбразцы,gusev,1h,2027-03-04\n")
    ok(cli, "import", "tasks", str(bare))
    assert query(other / "crmctl.duckdb", "SELECT start_after_why FROM crm.tasks WHERE title = 'Образцы'") == [
        ("set by an import",)
    ]
