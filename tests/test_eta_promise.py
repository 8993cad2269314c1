"""When will the client get it, and why (issue 17 §4): eta of a finished record and of a deal (its orders),
a form's promised date flagged by eta, the card, the agenda and the board, and the why naming time off and
breaks.

The crm-orders example: the order form promises `due_date`; the website order's project is a chain of eight
tasks (T-1 ... T-8) of eight people on the office calendar (09:00-18:00, lunch 13:00-14:00; 8 March a
holiday; gromov away 8-12 February)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmctl.domain.worktime import WorkCalendar

from .conftest import WIDE, ok
from .dbstate import dump

OFFICE = {
    "name": "office",
    "hours": {"mon-fri": ["09:00-13:00", "14:00-18:00"]},
    "holidays": [{"date": "2027-03-08", "title": "Международный женский день"}],
}


def order(cli, due: str, now: str = "2027-03-01T10:00:00+03:00") -> None:
    """DL-1 of CL-1 with ORD-1, a website order promised for `due`, in production (its project launched)."""
    at = ("--now", now)
    ok(cli, *at, "record", "create", "client", "--set", "name=ООО Альфа")
    ok(cli, *at, "record", "create", "deal", "--set", "title=Сайт", "--set", "client=CL-1", "--set", "amount=300000")
    ok(
        cli,
        *at,
        "record",
        "create",
        "order",
        "--set",
        "title=Корпоративный сайт",
        "--set",
        "deal=DL-1",
        "--set",
        "order_type=website",
        "--set",
        "budget=200000",
        "--set",
        f"due_date={due}",
        "--set",
        "specification=ТЗ",
        "--set",
        "pages=8",
    )
    ok(cli, *at, "advance", "ORD-1", "--to", "planning")
    ok(cli, *at, "advance", "ORD-1", "--to", "website_production")


@pytest.fixture
def orders(example, cli) -> Path:
    root = example("crm-orders")
    cli.actor = "sergeeva"  # a manager: the orders are hers
    return root / "crmctl.duckdb"


def test_an_order_later_than_promised_is_flagged_everywhere(cli, orders, snapshot) -> None:
    order(cli, "2027-03-10")
    assert ok(cli, "eta", "ORD-1", env=WIDE) == snapshot
    eta = json.loads(ok(cli, "eta", "ORD-1", "-f", "json"))
    assert eta["promise"] == {
        "field": "due_date",
        "promised": "2027-03-10",
        "ready": "2027-03-19T18:00:00+03:00",
        "late": True,
    }
    assert eta["finished"] is False
    assert [(t["first"], t["last"], t["reason"]) for t in eta["time_off"]] == [
        ("2027-03-08", "2027-03-08", "holiday: Международный женский день")
    ]
    card = ok(cli, "record", "show", "ORD-1")
    assert "promised     2027-03-10: LATE, ready 2027-03-19 18:00\n" in card
    assert json.loads(ok(cli, "record", "show", "ORD-1", "-f", "json"))["promise"]["late"] is True
    board = json.loads(ok(cli, "board", "order", "-f", "json"))
    cards = [c for s in board["stages"] for c in s["cards"]]
    assert [(c["key"], c["promised"], c["late"]) for c in cards] == [("ORD-1", "2027-03-10", True)]
    assert "LATE" in ok(cli, "board", "order", env=WIDE)
    assert "promised 2027-03-10 · late" in ok(cli, "board", "order", "-f", "html")
    agenda = json.loads(ok(cli, "agenda", "-f", "json"))
    assert [(i["kind"], i["id"], i["text"], i["person"], i["overdue"]) for i in agenda] == [
        ("promise", "promise:ORD-1", "ready 2027-03-19 18:00, after the promised 2027-03-10", "sergeeva", False)
    ]
    assert agenda[0]["due"] == "2027-03-11T00:00:00+03:00"  # the end of the promised day
    # a later promise is kept: nothing is flagged
    ok(cli, "record", "update", "ORD-1", "--set", "due_date=2027-03-31")
    assert "promised 2027-03-31: in time\n" in ok(cli, "eta", "ORD-1")
    assert json.loads(ok(cli, "agenda", "-f", "json")) == []
    board = json.loads(ok(cli, "board", "order", "-f", "json"))
    assert [c["late"] for s in board["stages"] for c in s["cards"]] == [False]
    # no promise at all: nothing to compare
    ok(cli, "record", "update", "ORD-1", "--set", "due_date=")
    assert "promised" not in ok(cli, "eta", "ORD-1")
    assert json.loads(ok(cli, "eta", "ORD-1", "-f", "json"))["promise"] is None


def test_a_deal_rolls_up_its_orders_and_a_finished_record_says_when(cli, orders) -> None:
    db = orders
    order(cli, "2027-03-31")
    ready = json.loads(ok(cli, "eta", "ORD-1", "-f", "json"))["ready"]
    deal = json.loads(ok(cli, "eta", "DL-1", "-f", "json"))
    assert (deal["ready"], deal["last_task"]) == (ready, "T-8")
    assert [t["id"] for t in deal["tasks"]] == [f"T-{n}" for n in range(1, 9)]
    assert deal["promise"] is None  # a deal's form promises nothing
    for n in range(1, 9):
        ok(cli, "--as", "kovalev", "--now", f"2027-03-{n + 1:02d}T12:00:00+03:00", "task", "done", f"T-{n}")
    before = dump(db)
    assert ok(cli, "--now", "2027-03-20T10:00:00+03:00", "eta", "ORD-1") == (
        "record ORD-1: finished 2027-03-09 12:00\nwhy: all its tasks are done; T-8 finished last\n"
        "promised 2027-03-31: in time\n"
    )
    assert ok(cli, "--now", "2027-03-20T10:00:00+03:00", "eta", "DL-1") == (
        "record DL-1: finished 2027-03-09 12:00\nwhy: all its tasks are done; T-8 finished last\n"
    )
    finished = json.loads(ok(cli, "eta", "DL-1", "-f", "json"))
    assert (finished["finished"], finished["ready"]) == (True, "2027-03-09T12:00:00+03:00")
    assert dump(db) == before
    # a record without tasks has no date
    ok(cli, "record", "create", "client", "--set", "name=ООО Бета")
    assert ok(cli, "eta", "CL-2") == "record CL-2: no ready date\nwhy: no open tasks\n"


def test_the_why_names_absences_and_holidays_with_their_dates(cli, orders) -> None:
    order(cli, "2027-02-26", now="2027-02-01T10:00:00+03:00")
    text = ok(cli, "--now", "2027-02-01T10:00:00+03:00", "eta", "ORD-1", env=WIDE)
    off = text.split("time off before then:\n")[1].split("promised")[0]
    assert off == "  2027-02-08..2027-02-12 absence: Конференция (gromov)\n"  # before 23 February
    assert text.startswith("record ORD-1: ready 2027-02-18 ")
    assert "promised 2027-02-26: in time" in text


def test_a_promised_field_must_be_a_date_of_the_form(cli, orders) -> None:
    form = Path("forms/order.yaml")
    text = form.read_text(encoding="utf-8")
    form.write_text(text.replace("promised: due_date", "promised: title"), encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1
    assert "F604 'promised' names a text field: it takes a date or datetime" in result.stdout
    form.write_text(text.replace("promised: due_date", "promised: deadline"), encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1 and "R001 unknown field 'deadline'" in result.stdout


def test_a_lunch_break_is_a_break_and_time_off_comes_with_its_dates() -> None:
    tz = ZoneInfo("Europe/Moscow")
    absences = [{"from": "2027-03-09", "to": "2027-03-10", "reason": "Отпуск"}]
    calendar = WorkCalendar.from_definition(OFFICE, "Europe/Moscow", absences)
    at = lambda day, hour, minute=0: dt.datetime(2027, 3, day, hour, minute, tzinfo=tz)  # noqa: E731
    assert calendar.off_reason(at(1, 13, 30)) == "a break"
    assert calendar.off_reason(at(1, 8)) == "before working hours"
    assert calendar.off_reason(at(1, 18)) == "after working hours"
    assert calendar.off_reason(at(6, 12)) == "day off"
    assert calendar.off_reason(at(8, 12)) == "holiday: Международный женский день"
    assert calendar.time_off(at(1, 10), at(12, 10)) == [
        (dt.date(2027, 3, 8), dt.date(2027, 3, 8), "holiday: Международный женский день"),
        (dt.date(2027, 3, 9), dt.date(2027, 3, 10), "absence: Отпуск"),
    ]
    assert calendar.time_off(at(1, 10), at(5, 10)) == []
    # the end of a working day: its last stretch; after it (overtime) or on a day off, midnight
    assert calendar.day_end(at(1, 11)) == at(1, 18)
    assert calendar.day_end(at(1, 19)) == at(2, 0)
