"""Working-time arithmetic and the schedule: queue order, chains across people, calendars, problems."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmctl.domain.schedule import build
from crmctl.domain.worktime import NoWorkingTime, WorkCalendar
from tests.conftest import WIDE, chief

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {
    "name": "office",
    "timezone": "Europe/Moscow",
    "hours": {"mon-fri": ["09:00-13:00", "14:00-18:00"]},
    "holidays": [{"date": "2027-03-08", "title": "8 марта"}],
}


def at(text: str, tz: ZoneInfo = MSK) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz)


def office(absences: list[dict] | None = None) -> WorkCalendar:
    return WorkCalendar.from_definition(OFFICE, "Europe/Moscow", absences or [])


# -- working time ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "minutes", "end"),
    [
        ("2027-03-01T09:00", 60, "2027-03-01T10:00"),
        ("2027-03-01T12:30", 60, "2027-03-01T14:30"),  # across the lunch break
        ("2027-03-01T13:20", 10, "2027-03-01T14:10"),  # starting inside the break
        ("2027-03-01T07:00", 30, "2027-03-01T09:30"),  # before the day begins
        ("2027-03-05T17:00", 120, "2027-03-09T10:00"),  # Friday evening, the weekend, the holiday on Monday
        ("2027-03-01T09:00", 8 * 60, "2027-03-01T18:00"),
        ("2027-03-01T09:00", 8 * 60 + 1, "2027-03-02T09:01"),
    ],
)
def test_adding_working_minutes(start: str, minutes: int, end: str) -> None:
    assert office().add(at(start), minutes) == at(end)


def test_counting_working_minutes() -> None:
    cal = office()
    assert cal.between(at("2027-03-01T09:00"), at("2027-03-01T18:00")) == 480
    assert cal.between(at("2027-03-05T12:00"), at("2027-03-09T10:00")) == 60 + 240 + 60  # Fri, then Tue
    assert cal.between(at("2027-03-02T10:00"), at("2027-03-02T09:00")) == 0
    for minutes in (1, 59, 61, 479, 481, 2000):
        start = at("2027-03-03T11:17")
        assert cal.between(start, cal.add(start, minutes)) == minutes


def test_absences_and_their_reasons() -> None:
    cal = office([{"from": "2027-03-02", "to": "2027-03-03", "reason": "отпуск"}])
    assert cal.add(at("2027-03-01T17:00"), 120) == at("2027-03-04T10:00")
    assert cal.reason_off(dt.date(2027, 3, 2)) == "absence: отпуск"
    assert cal.reason_off(dt.date(2027, 3, 8)) == "holiday: 8 марта"
    assert cal.reason_off(dt.date(2027, 3, 6)) == "day off"


def test_daylight_saving_changes_are_counted_in_real_minutes() -> None:
    always = WorkCalendar.from_definition(None, "Europe/Berlin")
    spring = at("2027-03-28T01:00", BERLIN)  # clocks go from 02:00 to 03:00
    assert always.add(spring, 180) == at("2027-03-28T05:00", BERLIN)
    autumn = at("2027-10-31T01:00", BERLIN)  # clocks go from 03:00 back to 02:00
    assert always.add(autumn, 180).astimezone(dt.UTC) - autumn.astimezone(dt.UTC) == dt.timedelta(hours=3)
    assert always.add(autumn, 180) == at("2027-10-31T03:00", BERLIN).replace(fold=1)
    assert always.between(autumn, always.add(autumn, 180)) == 180
    night = {"name": "night", "timezone": "Europe/Berlin", "hours": {"sun": ["01:00-05:00"]}}
    shift = WorkCalendar.from_definition(night, "UTC")
    assert shift.between(spring, at("2027-03-28T05:00", BERLIN)) == 180  # the shift is an hour shorter that day


def test_a_calendar_without_working_time_says_so() -> None:
    empty = WorkCalendar.from_definition({"name": "never", "hours": {}}, "UTC")
    with pytest.raises(NoWorkingTime, match="calendar never has no working time"):
        empty.add(at("2027-03-01T09:00"), 60, horizon_days=30)


# -- the schedule ------------------------------------------------------------------------------------------------
NOW = at("2027-03-01T09:00")


def task(n: int, who: str | None, estimate: int | None, *deps: int, **extra) -> dict:
    return {
        "id": f"T-{n}",
        "number": n,
        "status": extra.pop("status", "todo"),
        "assignee": who,
        "estimate_minutes": estimate,
        "actual_minutes": extra.pop("actual", 0),
        "priority": extra.pop("priority", 3),
        "project_priority": extra.pop("project_priority", None),
        "due_at": extra.pop("due", None),
        "created_at": NOW,
        "depends_on": [f"T-{d}" for d in deps],
        **extra,
    }


def plan(tasks: list[dict], calendars: dict | None = None, **options):
    return build(tasks, lambda p: (calendars or {}).get(p) or office(), NOW, **options)


def when(schedule, n: int) -> tuple[str, str]:
    slot = schedule.slots[f"T-{n}"]
    return f"{slot.start:%d %H:%M}", f"{slot.finish:%d %H:%M}"


def test_queue_order() -> None:
    tasks = [
        task(1, "anna", 60),
        task(2, "anna", 60, priority=1),
        task(3, "anna", 60, project_priority=1, priority=5),
        task(4, "anna", 60, status="in_progress", priority=5),
        task(5, "anna", 60, priority=1, due=at("2027-03-02T12:00")),
    ]
    schedule = plan(tasks)
    assert schedule.order["anna"] == ["T-4", "T-3", "T-5", "T-2", "T-1"]
    assert [when(schedule, n) for n in (4, 3, 5, 2, 1)] == [
        ("01 09:00", "01 10:00"),
        ("01 10:00", "01 11:00"),
        ("01 11:00", "01 12:00"),
        ("01 12:00", "01 13:00"),
        ("01 14:00", "01 15:00"),
    ]
    by_creation = plan(tasks, order=("created",))
    assert by_creation.order["anna"] == ["T-4", "T-1", "T-2", "T-3", "T-5"]


def test_chains_across_people_and_idle_time() -> None:
    schedule = plan([task(1, "anna", 120), task(2, "boris", 60, 1), task(3, "anna", 30, 2)])
    assert [when(schedule, n) for n in (1, 2, 3)] == [
        ("01 09:00", "01 11:00"),
        ("01 11:00", "01 12:00"),
        ("01 12:00", "01 12:30"),
    ]
    assert schedule.slots["T-2"].reason == "waits for T-1"
    assert schedule.slots["T-3"].reason == "waits for T-2"


def test_blocked_work_does_not_hold_anyone_idle_and_nothing_is_interrupted() -> None:
    # boris's first task waits for anna's; he does his second meanwhile, and finishes it before the first
    schedule = plan([task(1, "anna", 60), task(2, "boris", 60, 1, priority=1), task(3, "boris", 240, priority=5)])
    assert when(schedule, 3) == ("01 09:00", "01 13:00")
    assert when(schedule, 2) == ("01 14:00", "01 15:00")
    assert schedule.slots["T-2"].reason == (
        "after T-3 in boris's queue; boris is off (a break) until 2027-03-01 14:00"
    )


def test_remaining_work_holidays_absences_and_risk() -> None:
    calendars = {"vera": office([{"from": "2027-03-01", "to": "2027-03-02"}])}
    tasks = [
        task(1, "anna", 600, actual=540, status="in_progress"),  # an hour left
        task(2, "anna", 480, 1, due=at("2027-03-02T12:00")),
        task(3, "anna", 600, actual=900),  # over its estimate: nothing left
        task(4, "vera", 60),
        task(5, "anna", 300, 2),
    ]
    schedule = plan(tasks, calendars)
    assert schedule.order["anna"] == ["T-1", "T-2", "T-3", "T-5"]  # in progress first, then the due date
    assert when(schedule, 1) == ("01 09:00", "01 10:00")
    assert when(schedule, 2) == ("01 10:00", "02 10:00")
    assert when(schedule, 3) == ("02 10:00", "02 10:00")
    assert schedule.slots["T-2"].at_risk is False
    assert when(schedule, 4) == ("03 09:00", "03 10:00")
    assert "vera is off (absence) until 2027-03-03 09:00" in schedule.slots["T-4"].reason
    assert when(schedule, 5) == ("02 10:00", "02 16:00")
    late = plan([task(1, "anna", 480, due=at("2027-03-01T17:00"))])
    assert late.slots["T-1"].at_risk is True


def test_what_cannot_be_scheduled_says_why() -> None:
    away = {"olga": office([{"from": "2027-01-01", "to": "2029-12-31"}])}
    tasks = [
        task(1, None, 60),
        task(2, "anna", None),
        task(3, "anna", 60, 4),
        task(4, "anna", 60, 3),
        task(5, "boris", 60, 1),
        task(6, "olga", 60),
        task(7, "anna", 60 * 8 * 300),
    ]
    schedule = plan(tasks, away, horizon_days=200)
    problems = {tid: slot.problem for tid, slot in schedule.slots.items()}
    assert problems == {
        "T-1": "it has no assignee",
        "T-2": "it has no estimate",
        "T-3": "it is in, or waits for, a dependency cycle",
        "T-4": "it is in, or waits for, a dependency cycle",
        "T-5": "it waits for T-1, which cannot be scheduled",
        "T-6": "olga has no working time within 200 days",
        "T-7": "it would finish after the horizon (200 days)",
    }


# -- the commands ----------------------------------------------------------------------------------------------
@pytest.fixture
def cards(tmp_path: Path, cli, monkeypatch) -> Path:
    root = tmp_path / "fo"
    assert cli("init", str(root), "--example", "freshoffice-templates").exit_code == 0
    monkeypatch.chdir(root)
    cli.actor = chief(root)
    me = ("--as", "grigoriev")
    assert cli(*me, "record", "create", "client", "--set", "name=ООО Ромашка").exit_code == 0
    sets = [
        "title=Визитки",
        "client=CL-1",
        "print_run=500",
        "colour=4+4",
        "sides=two_sided",
        "paper=matte_350",
        "amount=3000",
        "needs_layout=true",
    ]
    assert cli(*me, "record", "create", "card_order", *[x for s in sets for x in ("--set", s)]).exit_code == 0
    result = cli(
        *me,
        "project",
        "launch",
        "business-cards",
        "--for",
        "BC-1",
        "-p",
        "print_run=500",
        "-p",
        "needs_layout=true",
        "-p",
        "sides=two_sided",
    )
    assert result.exit_code == 0, result.stderr
    return root


def test_eta_of_an_order_across_people(cli, cards, snapshot) -> None:
    result = cli("eta", "BC-1", env=WIDE)  # the words, not the fit to 100 columns
    assert result.exit_code == 0, result.stderr
    assert result.stdout == snapshot
    data = json.loads(cli("eta", "P-1", "-f", "json").stdout)
    assert data["last_task"] == "T-7" and data["ready"] == json.loads(cli("eta", "T-7", "-f", "json").stdout)["ready"]


def test_queue_shows_ready_work_in_order(cli, cards) -> None:
    assert (
        cli(
            "--as",
            "grigoriev",
            "task",
            "add",
            "Срочно",
            "--assignee",
            "grigoriev",
            "--estimate",
            "1h",
            "--priority",
            "1",
            "--due",
            "2027-03-01T10:30",
        ).exit_code
        == 0
    )
    rows = json.loads(cli("queue", "grigoriev", "-f", "json").stdout)
    assert [r["id"] for r in rows] == ["T-8", "T-1"]  # T-7 waits for the chain
    assert rows[0]["at_risk"] is True and rows[0]["finish"] == "2027-03-01T11:00:00+03:00"
    assert rows[1]["start"] == "2027-03-01T11:00:00+03:00"
    mine = cli("--as", "grigoriev", "queue", env=WIDE)  # the words, not the fit to 100 columns
    assert "AT RISK" in mine.stdout
    for args, code, message in (
        (["queue"], 3, "whose queue?"),
        (["queue", "nobody"], 3, "no person 'nobody'"),
        (["eta", "T-99"], 3, "no task T-99"),
        (["eta", "P-9"], 3, "no project P-9"),
        (["eta", "XX-1"], 3, "no record XX-1"),
    ):
        result = cli(*args, env={"CRMCTL_USER": ""} if args == ["queue"] else None)
        assert (result.exit_code, message in result.stderr) == (code, True), (args, result.stderr)


def test_agenda_reports_tasks_at_risk(cli, cards) -> None:
    assert (
        cli(
            "--as",
            "grigoriev",
            "task",
            "add",
            "Отчёт",
            "--assignee",
            "rybakov",
            "--estimate",
            "1h",
            "--due",
            "2027-03-20T18:00",
        ).exit_code
        == 0
    )
    assert (
        cli(
            "--as",
            "grigoriev",
            "task",
            "add",
            "Поздравить",
            "--assignee",
            "pavlova",
            "--estimate",
            "1h",
            "--due",
            "2027-03-20T18:00",
        ).exit_code
        == 0
    )
    items = json.loads(cli("agenda", "rybakov", "-f", "json").stdout)
    assert items == []  # due in three weeks and will be done in time
    assert (
        cli(
            "--as",
            "grigoriev",
            "task",
            "add",
            "Срочно",
            "--assignee",
            "rybakov",
            "--estimate",
            "1h",
            "--due",
            "2027-03-05T18:00",
        ).exit_code
        == 0
    )  # rybakov is away until the 15th
    items = json.loads(cli("agenda", "rybakov", "-f", "json").stdout)
    assert [(i["id"], i["text"]) for i in items] == [
        ("task:T-10", "task T-10 is due, at risk: it finishes 2027-03-15 10:00")
    ]


def test_the_stored_schedule_is_reused_until_something_changes(cli, cards) -> None:
    from tests.dbstate import query

    db = cards / "crmctl.duckdb"
    first = json.loads(cli("queue", "grigoriev", "-f", "json").stdout)
    stamp = query(db, "SELECT value FROM crm.meta WHERE key = 'schedule_stamp'")
    assert stamp and query(db, "SELECT count(*) FROM crm.schedule_queues")[0][0] >= 1
    # the same minute, nothing changed: read back, not computed (the stored rows are what is shown)
    assert json.loads(cli("--now", "2027-03-01T10:00:40+03:00", "queue", "grigoriev", "-f", "json").stdout) == first
    assert query(db, "SELECT value FROM crm.meta WHERE key = 'schedule_stamp'") == stamp
    # a new task changes it
    assert (
        cli(
            "--as",
            "grigoriev",
            "task",
            "add",
            "Срочно",
            "--assignee",
            "grigoriev",
            "--estimate",
            "1h",
            "--priority",
            "1",
        ).exit_code
        == 0
    )
    second = json.loads(cli("queue", "grigoriev", "-f", "json").stdout)
    assert second[0]["title"] == "Срочно" and len(second) == len(first) + 1
    # time imported without an event changes it too: the task's time left shrinks
    tid = second[0]["id"]
    (cards / "time.csv").write_text(
        f"task,person,started_at,ended_at\n{tid},grigoriev,2027-03-01T08:00,2027-03-01T08:30\n", encoding="utf-8"
    )
    assert cli("--as", "grigoriev", "import", "time", "time.csv").exit_code == 0
    third = json.loads(cli("queue", "grigoriev", "-f", "json").stdout)
    assert third[0]["remaining_minutes"] == 30
    # and a minute later it is computed afresh
    later = json.loads(cli("--now", "2027-03-01T10:01:00+03:00", "queue", "grigoriev", "-f", "json").stdout)
    assert later[0]["start"] == "2027-03-01T10:01:00+03:00"
