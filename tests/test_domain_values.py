"""Field values, conditions and durations: the pure core the checks and records share."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crmctl.domain.conditions import evaluate, fits, operand_problem
from crmctl.domain.durations import format_minutes, parse_duration
from crmctl.domain.values import FieldSpec, convert

MONEY = FieldSpec("amount", "money")
TEXT = FieldSpec("name", "text", mask=r"[A-Z].*")
LIST = FieldSpec("status", "list", options=("new", "won"))


@pytest.mark.parametrize(
    ("spec", "raw", "expected"),
    [
        (MONEY, "1000000.10", Decimal("1000000.10")),
        (MONEY, 12, Decimal("12")),
        (MONEY, "1 000 000", Decimal("1000000")),
        (FieldSpec("n", "number"), "2.5", 2.5),
        (FieldSpec("n", "number"), "3", 3),
        (FieldSpec("d", "date"), "2027-02-28", dt.date(2027, 2, 28)),
        (FieldSpec("t", "datetime"), "2027-02-28T10:00:00Z", dt.datetime(2027, 2, 28, 10, tzinfo=dt.UTC)),
        (FieldSpec("b", "bool"), "yes", True),
        (FieldSpec("b", "bool"), False, False),
        (LIST, "won", "won"),
        (TEXT, "Acme", "Acme"),
        (FieldSpec("e", "email"), "a@b.ru", "a@b.ru"),
        (FieldSpec("p", "phone"), "+7 (912) 000-00-00", "+7 (912) 000-00-00"),
    ],
)
def test_convert_accepts(spec: FieldSpec, raw: object, expected: object) -> None:
    assert convert(spec, raw) == expected


@pytest.mark.parametrize(
    ("spec", "raw", "message"),
    [
        (MONEY, "a lot", "expected a number, got 'a lot'"),
        (MONEY, True, "expected a number, got true"),
        (MONEY, "NaN", "expected a number, got 'NaN'"),
        (FieldSpec("n", "number", min=1), "0", "0 is less than the minimum 1"),
        (FieldSpec("d", "date"), "2027-02-30", "'2027-02-30' is not a date (YYYY-MM-DD)"),
        (FieldSpec("b", "bool"), "maybe", "expected true or false, got 'maybe'"),
        (LIST, "lost", "'lost' is not one of the options: new, won"),
        (TEXT, "acme", "'acme' does not match the mask [A-Z].*"),
        (FieldSpec("e", "email"), "not-an-email", "'not-an-email' is not an e-mail address"),
        (FieldSpec("p", "person"), "nobody", "no person 'nobody' in the team"),
    ],
)
def test_convert_refuses(spec: FieldSpec, raw: object, message: str) -> None:
    with pytest.raises(
        ValueError,
        match="^"
        + message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace(".", r"\.")
        .replace("*", r"\*")
        .replace("[", r"\[")
        .replace("]", r"\]")
        + "$",
    ):
        convert(spec, raw, people={"anna"})


SPECS = {"amount": MONEY, "name": FieldSpec("name", "text"), "status": LIST}


@pytest.mark.parametrize(
    ("cond", "values", "expected"),
    [
        ({"field": "amount", "gt": 1000000}, {"amount": Decimal("1000000")}, False),
        ({"field": "amount", "gt": 1000000}, {"amount": Decimal("1000001")}, True),
        ({"field": "amount", "lte": "100000.50"}, {"amount": Decimal("100000.50")}, True),
        ({"field": "amount", "gt": 5}, {}, False),
        ({"field": "amount", "ne": 5}, {}, True),
        ({"field": "name", "filled": True}, {"name": ""}, False),
        ({"field": "name", "filled": False}, {}, True),
        ({"field": "name", "matches": "ООО .*"}, {"name": "ООО Ромашка"}, True),
        ({"field": "name", "contains": "ромаш"}, {"name": "ООО Ромашка"}, True),
        ({"field": "status", "in": ["new", "won"]}, {"status": "won"}, True),
        (
            {"all": [{"field": "status", "eq": "won"}, {"not": {"field": "amount", "lt": 10}}]},
            {"status": "won", "amount": Decimal(10)},
            True,
        ),
        (
            {"any": [{"field": "status", "eq": "new"}, {"field": "amount", "lt": 10}]},
            {"status": "won", "amount": Decimal(10)},
            False,
        ),
    ],
)
def test_evaluate(cond: dict, values: dict, expected: bool) -> None:
    assert evaluate(cond, values, SPECS) is expected


def test_operators_fit_types() -> None:
    assert fits(MONEY, "gt") and not fits(MONEY, "matches")
    assert fits(SPECS["name"], "contains") and not fits(SPECS["name"], "gte")
    assert not fits(FieldSpec("b", "bool"), "in")
    assert operand_problem(LIST, "eq", "lost") == "'lost' is not one of the options: new, won"
    assert operand_problem(MONEY, "gt", 10) is None
    assert operand_problem(SPECS["name"], "matches", "(").startswith("invalid regular expression")


@pytest.mark.parametrize(("text", "minutes"), [("90m", 90), ("2h", 120), ("1d", 480), ("1h30m", 90), ("1w", 2400)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "0m", "-3h", "abc", "2 days", "30m1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_format_minutes() -> None:
    assert [format_minutes(m) for m in (0, 45, 60, 90, -30)] == ["0m", "45m", "1h", "1h30m", "-30m"]
