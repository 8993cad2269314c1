"""Correcting what was logged (issue 17 §2): time edit and time delete, one person's intervals never overlap,
the forgotten timer, `time log --at` over the person's calendar, a running timer in spent and left, and the
intervals on a task's card.

The crm-orders example: the office calendar is Monday to Friday 09:00-18:00 with lunch 13:00-14:00
(Europe/Moscow); lisitsyna (a designer: tasks.execute, not tasks.manage_others) and frolov work on it, the
director kovalev may do everything. 2027-03-01 is a Monday."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import WIDE, ok
from .dbstate import dump, query

ME = ("--as", "lisitsyna")
EVENING = ("--now", "2027-03-05T20:00:00+03:00")  # a Friday evening: the week before is in the past


def refused(cli, db: Path, code: int, message: str, *args: str) -> None:
    before = dump(db)
    result = cli(*args)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert dump(db) == before


def spans(db: Path) -> list[tuple[int, str, str | None, str, str | None, str | None]]:
    """Every interval: id, task, person, start and end in Moscow time, note."""
    return [
        (i, task, person, start, end, note)
        for i, task, person, start, end, note in query(
            db,
            "SELECT id, task, person, strftime(timezone('Europe/Moscow', started_at), '%Y-%m-%d %H:%M'), "
            "strftime(timezone('Europe/Moscow', ended_at), '%Y-%m-%d %H:%M'), note "
            "FROM crm.time_intervals ORDER BY id",
        )
    ]


@pytest.fixture
def studio(example, cli) -> Path:
    """crm-orders with T-1 (lisitsyna's, 4h) and T-2 (frolov's); the database file."""
    root = example("crm-orders")
    ok(cli, "task", "add", "Макет", "--assignee", "lisitsyna", "--estimate", "4h")
    ok(cli, "task", "add", "Иконки", "--assignee", "frolov")
    return root / "crmctl.duckdb"


def test_a_day_logged_from_nine_leaves_out_lunch_and_a_weekend(cli, studio) -> None:
    db = studio
    assert ok(cli, *ME, *EVENING, "time", "log", "T-1", "1d", "--at", "2027-03-01T09:00", "--note", "макет") == (
        "8h logged on T-1 from 2027-03-01 09:00 to 2027-03-01 18:00 (intervals 1, 2, around breaks)\n"
    )
    # Friday 14:00 + 1d: four hours on Friday, the weekend skipped, four on Monday
    assert ok(cli, *ME, *EVENING, "time", "log", "T-1", "1d", "--at", "2027-02-19T14:00") == (
        "8h logged on T-1 from 2027-02-19 14:00 to 2027-02-22 13:00 (intervals 3, 4, around breaks)\n"
    )
    # work on a Saturday is overtime: clock time from its start
    assert ok(cli, *ME, *EVENING, "time", "log", "T-1", "2h", "--at", "2027-02-27T10:00") == (
        "2h logged on T-1 from 2027-02-27 10:00 to 2027-02-27 12:00\n"
    )
    assert spans(db) == [
        (1, "T-1", "lisitsyna", "2027-03-01 09:00", "2027-03-01 13:00", "макет"),
        (2, "T-1", "lisitsyna", "2027-03-01 14:00", "2027-03-01 18:00", "макет"),
        (3, "T-1", "lisitsyna", "2027-02-19 14:00", "2027-02-19 18:00", None),
        (4, "T-1", "lisitsyna", "2027-02-22 09:00", "2027-02-22 13:00", None),
        (5, "T-1", "lisitsyna", "2027-02-27 10:00", "2027-02-27 12:00", None),
    ]
    logged = query(db, "SELECT data FROM crm.events WHERE action = 'time.logged' ORDER BY id")
    assert json.loads(logged[0][0])["intervals"] == [1, 2] and json.loads(logged[0][0])["minutes"] == 480
    task = json.loads(ok(cli, *EVENING, "task", "show", "T-1", "-f", "json"))
    assert task["actual_minutes"] == 480 + 480 + 120
    # without --at, the clock time that ends now
    assert ok(cli, *ME, *EVENING, "time", "log", "T-1", "1h") == (
        "1h logged on T-1 from 2027-03-05 19:00 to 2027-03-05 20:00\n"
    )


def test_overlapping_intervals_of_one_person_are_refused(cli, studio) -> None:
    db = studio
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "1d", "--at", "2027-03-01T09:00")
    overlap = "it would overlap interval 1 (T-1, 2027-03-01 09:00 to 2027-03-01 13:00) of lisitsyna"
    refused(cli, db, 1, overlap, *ME, *EVENING, "time", "log", "T-1", "30m", "--at", "2027-03-01T12:45")
    # the lunch break is free, and so is the same hour for someone else
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "30m", "--at", "2027-03-01T13:15")
    ok(cli, *EVENING, "time", "log", "T-2", "30m", "--at", "2027-03-01T12:45")
    # a timer cannot start inside a logged interval
    ok(cli, *ME, "--now", "2027-03-02T12:00", "time", "log", "T-1", "1h", "--at", "2027-03-02T10:00")
    refused(
        cli,
        db,
        1,
        "it would overlap interval 5 (T-1, 2027-03-02 10:00 to 2027-03-02 11:00)",
        *ME,
        "--now",
        "2027-03-02T10:30",
        "task",
        "start",
        "T-1",
    )
    # a running timer is open-ended: nothing may be logged after its start
    ok(cli, *ME, "--now", "2027-03-03T09:00", "task", "start", "T-1")
    refused(
        cli,
        db,
        1,
        "it would overlap interval 6 (T-1, 2027-03-03 09:00 to running)",
        *ME,
        "--now",
        "2027-03-03T12:00",
        "time",
        "log",
        "T-1",
        "1h",
        "--at",
        "2027-03-03T10:00",
    )


def test_import_time_refuses_overlaps_with_the_database_and_within_the_file(cli, studio) -> None:
    db = studio
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "2h", "--at", "2027-03-01T09:00")
    Path("time.csv").write_text(
        "task,person,started_at,ended_at\n"
        "T-1,lisitsyna,2027-03-01T10:00,2027-03-01T12:00\n"
        "T-1,lisitsyna,2027-03-02T10:00,2027-03-02T12:00\n"
        "T-1,lisitsyna,2027-03-02T11:00,2027-03-02T13:00\n"
        "T-1,lisitsyna,2027-03-01T09:00,2027-03-01T10:30\n",
        encoding="utf-8",
    )
    before = dump(db)
    result = cli(*EVENING, "import", "time", "time.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "row 2, column started_at: '2027-03-01T10:00:00+03:00': overlaps interval 1 "
        "(T-1, 2027-03-01 09:00 to 2027-03-01 11:00)",
        "row 4, column started_at: '2027-03-02T11:00:00+03:00': overlaps row 3 of the file",
    ]
    assert dump(db) == before
    # the last row is interval 1 found again (task, person, start): its new end is a correction, not an overlap
    ok(cli, *EVENING, "import", "time", "time.csv", "--on-error", "skip")
    assert [s[3:5] for s in spans(db)] == [
        ("2027-03-01 09:00", "2027-03-01 10:30"),
        ("2027-03-02 10:00", "2027-03-02 12:00"),
    ]


def test_time_edit_corrects_an_interval_and_the_history_keeps_both(cli, studio) -> None:
    db = studio
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "2h", "--at", "2027-03-01T09:00", "--note", "эскиз")
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "1h", "--at", "2027-03-01T14:00")
    listed = ok(cli, *ME, *EVENING, "time", "list")
    assert listed.splitlines()[0].split()[:3] == ["id", "from", "to"]
    assert listed.splitlines()[2].split()[:2] == ["1", "2027-03-01"]
    assert ok(cli, *ME, *EVENING, "time", "edit", "1", "--end", "2027-03-01T12:30") == (
        "interval 1 on T-1: 2027-03-01 09:00 to 2027-03-01 12:30 (3h30m)\n"
    )
    assert ok(cli, *ME, *EVENING, "time", "edit", "1", "--start", "2027-03-01T10:00", "--minutes", "90") == (
        "interval 1 on T-1: 2027-03-01 10:00 to 2027-03-01 11:30 (1h30m)\n"
    )
    ok(cli, *ME, *EVENING, "time", "edit", "1", "--note", "")
    assert spans(db)[0] == (1, "T-1", "lisitsyna", "2027-03-01 10:00", "2027-03-01 11:30", None)
    edits = [json.loads(d) for (d,) in query(db, "SELECT data FROM crm.events WHERE action = 'time.edited'")]
    assert edits[0]["from"]["ended_at"].startswith("2027-03-01T11:00") and edits[0]["from"]["note"] == "эскиз"
    assert edits[0]["to"]["ended_at"].startswith("2027-03-01T12:30")
    assert [e["interval"] for e in edits] == [1, 1, 1]
    history = ok(cli, *EVENING, "task", "show", "T-1", env=WIDE)
    assert "time.edited  T-1 interval 1 of lisitsyna: 2027-03-01 09:00 to 11:00 -> 2027-03-01 09:00 to 12:30" in (
        history
    )
    # bad corrections change nothing
    overlap = "it would overlap interval 2 (T-1, 2027-03-01 14:00 to 2027-03-01 15:00)"
    refused(cli, db, 1, overlap, *ME, *EVENING, "time", "edit", "1", "--end", "2027-03-01T14:30")
    refused(
        cli,
        db,
        1,
        "would end (2027-03-01 09:00) before it starts",
        *ME,
        *EVENING,
        "time",
        "edit",
        "1",
        "--end",
        "2027-03-01T09:00",
    )
    refused(
        cli,
        db,
        1,
        "time cannot be logged in the future",
        *ME,
        *EVENING,
        "time",
        "edit",
        "1",
        "--end",
        "2027-03-06T09:00",
    )
    refused(
        cli,
        db,
        2,
        "--minutes and --end exclude each other",
        *ME,
        *EVENING,
        "time",
        "edit",
        "1",
        "--minutes",
        "30",
        "--end",
        "2027-03-01T11:00",
    )
    refused(cli, db, 2, "say what to change", *ME, *EVENING, "time", "edit", "1")
    refused(cli, db, 1, "--minutes must be more than 0", *ME, *EVENING, "time", "edit", "1", "--minutes", "0")
    refused(cli, db, 2, "--end: 'soon' is not a date-time", *ME, *EVENING, "time", "edit", "1", "--end", "soon")
    refused(cli, db, 3, "no time interval 9", *ME, *EVENING, "time", "edit", "9", "--minutes", "30")


def test_time_delete_keeps_the_content_in_the_history(cli, studio) -> None:
    db = studio
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "90m", "--at", "2027-03-01T09:00", "--note", "не та задача")
    assert ok(cli, *ME, *EVENING, "time", "delete", "1") == (
        "interval 1 deleted (T-1, lisitsyna, 2027-03-01 09:00 to 2027-03-01 10:30, 1h30m); "
        "task show T-1 keeps it in the history\n"
    )
    assert spans(db) == []
    (data,) = query(db, "SELECT data FROM crm.events WHERE action = 'time.deleted'")[0]
    kept = json.loads(data)
    assert {k: v for k, v in kept.items() if k not in ("started_at", "ended_at")} == {
        "interval": 1,
        "task": "T-1",
        "person": "lisitsyna",
        "minutes": 90.0,
        "note": "не та задача",
        "source": "log",
    }
    assert kept["started_at"].startswith("2027-03-01T09:00") and kept["ended_at"].startswith("2027-03-01T10:30")
    assert "T-1 interval 1 of lisitsyna deleted (2027-03-01 09:00 to 10:30, 90.0 min): не та задача" in ok(
        cli, *EVENING, "task", "show", "T-1", env=WIDE
    )
    refused(cli, db, 3, "no time interval 1", *ME, *EVENING, "time", "delete", "1")


def test_someone_elses_interval_takes_manage_others(cli, studio) -> None:
    db = studio
    ok(cli, *EVENING, "time", "log", "T-2", "1h", "--at", "2027-03-01T10:00")  # frolov's, by the director
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "1h", "--at", "2027-03-01T10:00")
    for args in (("time", "edit", "1", "--minutes", "30"), ("time", "delete", "1")):
        result = cli(*ME, *EVENING, *args)
        assert result.exit_code == 1 and "tasks.manage_others" in result.stderr, result.stderr
    assert len(spans(db)) == 2
    ok(cli, *ME, *EVENING, "time", "edit", "2", "--minutes", "30")  # her own
    ok(cli, *EVENING, "time", "edit", "1", "--minutes", "45")  # the director manages others'
    ok(cli, *EVENING, "time", "delete", "2")
    assert [(s[0], s[2], s[4]) for s in spans(db)] == [(1, "frolov", "2027-03-01 10:45")]


def test_a_forgotten_timer_is_stopped_at_its_real_end_or_at_the_cap(cli, studio) -> None:
    db = studio
    ok(cli, *ME, "--now", "2027-03-01T09:00", "task", "start", "T-1")
    next_morning = ("--now", "2027-03-02T09:30")
    refused(
        cli,
        db,
        1,
        "the timer on T-1 has run 24h30m since 2027-03-01 09:00, past the 12h cap: give the real end with --at, "
        "or stop it at the cap with --at-cap",
        *ME,
        *next_morning,
        "task",
        "stop",
    )
    refused(
        cli,
        db,
        1,
        "--at must be after the timer started (2027-03-01 09:00) and not after now",
        *ME,
        *next_morning,
        "task",
        "stop",
        "--at",
        "2027-03-01T08:00",
    )
    refused(
        cli,
        db,
        2,
        "--at and --at-cap exclude each other",
        *ME,
        *next_morning,
        "task",
        "stop",
        "--at",
        "2027-03-01T18:00",
        "--at-cap",
    )
    assert ok(cli, *ME, *next_morning, "task", "stop", "--at", "2027-03-01T18:00") == (
        "timer stopped on T-1 after 9h\n"
    )
    ok(cli, *ME, "--now", "2027-03-02T10:00", "task", "start", "T-1")
    assert ok(cli, *ME, "--now", "2027-03-03T08:00", "task", "stop", "--at-cap") == (
        "timer stopped on T-1 after 12h (stopped at the 12h cap)\n"
    )
    # starting another timer stops one past the cap at the cap, and says so
    ok(cli, *ME, "--now", "2027-03-03T09:00", "task", "start", "T-1")
    ok(cli, "task", "add", "Баннер", "--assignee", "lisitsyna")
    assert ok(cli, *ME, "--now", "2027-03-04T09:00", "task", "start", "T-3") == (
        "timer started on T-3 (stopped T-1 at the 12h cap after 12h)\n"
    )
    # under the cap, --at-cap is a plain stop
    assert ok(cli, *ME, "--now", "2027-03-04T10:00", "task", "stop", "--at-cap") == "timer stopped on T-3 after 1h\n"
    assert [s[3:5] for s in spans(db)] == [
        ("2027-03-01 09:00", "2027-03-01 18:00"),
        ("2027-03-02 10:00", "2027-03-02 22:00"),
        ("2027-03-03 09:00", "2027-03-03 21:00"),
        ("2027-03-04 09:00", "2027-03-04 10:00"),
    ]


def test_the_timer_cap_is_a_workspace_setting(cli, studio) -> None:
    db = studio
    settings = Path("crmctl.yaml")
    settings.write_text(settings.read_text(encoding="utf-8") + "timer_cap: 0h\n", encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1 and "K801" in result.stdout + result.stderr
    settings.write_text(settings.read_text(encoding="utf-8").replace("timer_cap: 0h", "timer_cap: 10h"), "utf-8")
    ok(cli, "apply")
    ok(cli, *ME, "--now", "2027-03-01T09:00", "task", "start", "T-1")
    refused(cli, db, 1, "past the 10h cap", *ME, "--now", "2027-03-01T19:30", "task", "stop")
    assert ok(cli, *ME, "--now", "2027-03-01T19:30", "task", "stop", "--at-cap") == (
        "timer stopped on T-1 after 10h (stopped at the 10h cap)\n"
    )


def test_agenda_and_inbox_flag_a_timer_past_the_working_day(cli, studio) -> None:
    ok(cli, *ME, "--now", "2027-03-01T09:00", "task", "start", "T-1")
    at_five = json.loads(ok(cli, *ME, "--now", "2027-03-01T17:00", "agenda", "-f", "json"))
    assert [i for i in at_five if i["kind"] == "timer"] == []
    at_seven = json.loads(ok(cli, *ME, "--now", "2027-03-01T19:00", "agenda", "-f", "json"))
    timers = [i for i in at_seven if i["kind"] == "timer"]
    text = (
        "timer on T-1 still running since 2027-03-01 09:00, past the end of lisitsyna's working day "
        "(2027-03-01 18:00): task stop --at the real end"
    )
    assert [(t["id"], t["person"], t["text"], t["overdue"]) for t in timers] == [("timer:1", "lisitsyna", text, True)]
    assert timers[0]["due"].startswith("2027-03-01T18:00")
    for _ in range(2):  # the notice is written once
        notices = json.loads(ok(cli, *ME, "--now", "2027-03-01T19:00", "inbox", "-f", "json"))
        assert [n["text"] for n in notices if n["kind"] == "timer"] == [text]
    # the director sees hers; his own agenda has no timer of hers
    assert [
        i["id"]
        for i in json.loads(ok(cli, "--now", "2027-03-01T19:00", "agenda", "lisitsyna", "-f", "json"))
        if i["kind"] == "timer"
    ] == ["timer:1"]
    assert [
        i for i in json.loads(ok(cli, "--now", "2027-03-01T19:00", "agenda", "-f", "json")) if i["kind"] == "timer"
    ] == []


def test_a_running_timer_counts_in_spent_and_left(cli, studio, snapshot) -> None:
    ok(cli, *ME, "--now", "2027-03-01T11:00", "task", "start", "T-1")
    noon = ("--now", "2027-03-01T12:00")
    queue = json.loads(ok(cli, *noon, "queue", "lisitsyna", "-f", "json"))
    assert [(q["id"], q["actual_minutes"], q["remaining_minutes"]) for q in queue] == [("T-1", 60.0, 180.0)]
    table = ok(cli, *noon, "queue", "lisitsyna")
    row = next(line for line in table.splitlines() if line.split()[:1] == ["T-1"] or " T-1 " in line)
    assert "3h" in row.split() and "1h" in row.split()
    task = json.loads(ok(cli, *noon, "task", "show", "T-1", "-f", "json"))
    assert task["actual_minutes"] == 60.0
    assert [(i["id"], i["person"], i["minutes"], i["ended_at"]) for i in task["intervals"]] == [
        (1, "lisitsyna", 60.0, None)
    ]
    ok(cli, *ME, "--now", "2027-03-01T12:00", "time", "log", "T-1", "1h", "--at", "2027-03-01T09:00", "--note", "бриф")
    assert ok(cli, *noon, "task", "show", "T-1") == snapshot
