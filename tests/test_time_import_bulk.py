"""`crmctl import time` checks its rows and writes them in bulk (issue 21 §2) with what it did one by one: all or
nothing, problems at their row numbers, an interval found again by task, person and start updated, one
person's intervals never overlapping those stored (the first by start named) nor the file's earlier good rows
(the first of them named), a rejected row blocking nothing.

The crm-orders example (tests/test_time_corrections.py's `studio`): T-1 is lisitsyna's, T-2 frolov's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .conftest import ok
from .dbstate import dump, query
from .test_time_corrections import EVENING, ME, spans, studio  # noqa: F401  (studio: the fixture)

HEADER = "task,person,started_at,ended_at,note\n"


def _file(*rows: str) -> None:
    Path("time.csv").write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")


def test_overlaps_with_stored_intervals_and_earlier_rows_name_the_first(cli, studio: Path) -> None:  # noqa: F811
    db = studio
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "1h", "--at", "2027-03-01T09:00")  # interval 1
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "1h", "--at", "2027-03-01T11:00")  # interval 2
    ok(cli, "--as", "frolov", *EVENING, "time", "log", "T-2", "2h", "--at", "2027-03-01T09:00")  # frolov's
    _file(
        "T-1,lisitsyna,2027-03-01T09:30,2027-03-01T11:30,both",  # 2: over intervals 1 and 2: the first named
        "T-1,lisitsyna,2027-03-02T10:00,2027-03-02T11:00,a",  # 3: good
        "T-1,lisitsyna,2027-03-02T12:00,2027-03-02T13:00,b",  # 4: good
        "T-1,lisitsyna,2027-03-02T09:00,2027-03-02T14:00,c",  # 5: over rows 3 and 4: the first named
        "T-1,lisitsyna,2027-03-02T13:30,2027-03-02T15:00,d",  # 6: over row 5 only, which was refused: good
        "T-2,frolov,2027-03-01T10:00,2027-03-01T10:30,e",  # 7: frolov's own interval
        "T-2,lisitsyna,2027-03-01T09:30,2027-03-01T09:50,f",  # 8: lisitsyna's interval 1
        "T-2,frolov,2027-03-02T10:00,2027-03-02T11:00,g",  # 9: the same time as row 3, another person: good
        "T-1,lisitsyna,2027-03-02T10:00,2027-03-02T10:30,h",  # 10: row 3's task, person and start
        "T-1,lisitsyna,2027-03-01T09:00,2027-03-01T09:45,i",  # 11: interval 1 found again, ending sooner
        "T-1,lisitsyna,2027-03-01T11:00,2027-03-01T12:00,",  # 12: interval 2 found again, as it is
    )
    before = dump(db)
    result = cli("--as", "kovalev", *EVENING, "import", "time", "time.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        "row 2, column started_at: '2027-03-01T09:30:00+03:00': overlaps interval 1 "
        "(T-1, 2027-03-01 09:00 to 2027-03-01 10:00)",
        "row 5, column started_at: '2027-03-02T09:00:00+03:00': overlaps row 3 of the file",
        "row 7, column started_at: '2027-03-01T10:00:00+03:00': overlaps interval 3 "
        "(T-2, 2027-03-01 09:00 to 2027-03-01 11:00)",
        "row 8, column started_at: '2027-03-01T09:30:00+03:00': overlaps interval 1 "
        "(T-1, 2027-03-01 09:00 to 2027-03-01 10:00)",
        "row 10, column started_at: '2027-03-02T10:00': the same task, person and start as row 3",
    ]
    assert dump(db) == before
    dry = ok(cli, "--as", "kovalev", *EVENING, "import", "time", "time.csv", "--on-error", "skip", "--dry-run")
    assert dump(db) == before
    done = ok(cli, "--as", "kovalev", *EVENING, "import", "time", "time.csv", "--on-error", "skip")
    assert done.splitlines()[-1] == "time.csv: 11 rows: created 4, updated 1, unchanged 1, rejected 5"
    assert dry.splitlines()[-1] == (
        "time.csv: 11 rows: would be created 4, would be updated 1, unchanged 1, rejected 5 (dry run: nothing written)"
    )
    assert spans(db) == [
        (1, "T-1", "lisitsyna", "2027-03-01 09:00", "2027-03-01 09:45", "i"),
        (2, "T-1", "lisitsyna", "2027-03-01 11:00", "2027-03-01 12:00", None),
        (3, "T-2", "frolov", "2027-03-01 09:00", "2027-03-01 11:00", None),
        (4, "T-1", "lisitsyna", "2027-03-02 10:00", "2027-03-02 11:00", "a"),
        (5, "T-1", "lisitsyna", "2027-03-02 12:00", "2027-03-02 13:00", "b"),
        (6, "T-1", "lisitsyna", "2027-03-02 13:30", "2027-03-02 15:00", "d"),
        (7, "T-2", "frolov", "2027-03-02 10:00", "2027-03-02 11:00", "g"),
    ]
    assert query(db, "SELECT DISTINCT source FROM crm.time_intervals WHERE id > 3") == [("import",)]
    assert query(db, "SELECT kind, created, updated, unchanged, rejected FROM crm.imports") == [("time", 4, 1, 1, 5)]


def test_a_running_timer_is_open_ended(cli, studio: Path) -> None:  # noqa: F811
    db = studio
    ok(cli, *ME, "--now", "2027-03-03T09:00", "task", "start", "T-1")
    _file("T-1,lisitsyna,2027-03-03T08:00,2027-03-03T08:30,", "T-1,lisitsyna,2027-03-04T10:00,2027-03-04T11:00,")
    before = dump(db)
    result = cli(*ME, *EVENING, "import", "time", "time.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        "row 3, column started_at: '2027-03-04T10:00:00+03:00': overlaps interval 1 (T-1, 2027-03-03 09:00 to running)"
    ]
    assert dump(db) == before


def test_many_rows_in_one_file(cli, studio: Path) -> None:  # noqa: F811
    """A file of 1,501 intervals, two of them overlapping earlier rows, one a stored interval."""
    db = studio
    ok(cli, *ME, *EVENING, "time", "log", "T-1", "1h", "--at", "2026-12-31T20:00")
    rows = [f"T-1,lisitsyna,{_at(n)},{_at(n, 30)},n{n}" for n in range(1, 1501)]
    rows[700] = f"T-1,lisitsyna,{_at(700, 20)},{_at(701, 10)},late"  # over n700 (row 702)
    rows[1200] = f"T-1,lisitsyna,{_at(1199, 20)},{_at(1201, 10)},long"  # over n1199 (row 1201) and n1200
    rows.insert(0, "T-1,lisitsyna,2026-12-31T20:30,2026-12-31T21:10,early")  # row 2: over interval 1
    _file(*rows)
    before = dump(db)
    result = cli(*ME, *EVENING, "import", "time", "time.csv")
    assert result.exit_code == 1
    assert [line.split(",")[0] for line in result.stderr.splitlines()[:-1]] == ["row 2", "row 703", "row 1203"]
    assert "overlaps interval 1 (T-1" in result.stderr.splitlines()[0]
    assert "overlaps row 702 of the file" in result.stderr.splitlines()[1]
    assert "overlaps row 1201 of the file" in result.stderr.splitlines()[2]
    assert dump(db) == before
    done = ok(cli, *ME, *EVENING, "import", "time", "time.csv", "--on-error", "skip")
    assert done.splitlines()[-1] == "time.csv: 1501 rows: created 1498, updated 0, unchanged 0, rejected 3"
    notes = [note for *_, note in spans(db)]
    assert notes[1:4] == ["n1", "n2", "n3"] and notes[-1] == "n1500" and len(notes) == 1499
    assert not {"late", "long", "early"} & set(notes)


def _at(slot: int, minutes: int = 0) -> str:
    """40 minutes a slot from 2027-01-01 00:00 (Moscow), plus minutes."""
    return (dt.datetime(2027, 1, 1) + dt.timedelta(minutes=slot * 40 + minutes)).strftime("%Y-%m-%dT%H:%M")
