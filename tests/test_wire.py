"""Requests and results as JSON and back (crmctl.wire): what goes over the wire comes back equal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from crmctl.wire import WireError, decode, encode

UTC = dt.UTC


class Colour(enum.StrEnum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Row:
    id: int
    at: dt.datetime
    due: dt.date | None
    values: dict[str, Any]
    tags: list[str]
    colour: Colour
    mode: Literal["a", "b"] = "a"
    share: float = 0.5
    file: Path | None = None


@dataclasses.dataclass(frozen=True)
class Page:
    rows: list[Row]
    pair: tuple[str, int]
    note: str | None = None
    content: bytes = b"\x00PAR1\xff"
    progress: Any = dataclasses.field(default=None, compare=False, metadata={"local": True})


def _sample() -> Page:
    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    values = {"amount": Decimal("12.50"), "signed": dt.date(2026, 1, 5), "when": at, "n": 3, "ok": True, "x": None}
    row = Row(7, at, None, values, ["a", "b"], Colour.RED, "b", 1.0, Path("in/file.csv"))
    return Page([row, dataclasses.replace(row, id=8, due=dt.date(2026, 4, 1), values={"nested": [values]})], ("k", 2))


def test_a_result_comes_back_equal_through_json_text() -> None:
    page = _sample()
    text = json.dumps(encode(page))
    assert decode(Page, json.loads(text)) == page


def test_declared_types_go_plain_and_only_any_values_are_tagged() -> None:
    data = encode(_sample())
    row = data["rows"][0]
    assert row["at"] == "2026-03-02T09:30:00+00:00"  # declared a datetime: no tag
    assert row["values"]["when"] == {"$datetime": "2026-03-02T09:30:00+00:00"}
    assert row["values"]["amount"] == {"$decimal": "12.50"}
    assert row["values"]["signed"] == {"$date": "2026-01-05"}
    assert row["colour"] == "red" and row["file"] == "in/file.csv"


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        (Row, {"id": "7"}),  # a string for an int
        (Page, {"rows": [], "pair": ["k", 2], "unknown": 1}),  # a field the type has not
        (Row, [1, 2]),  # a list for an object
        (list[int], {"a": 1}),
        (Literal["a", "b"], "c"),
        (dt.datetime, "not a time"),
        (int, True),  # a bool is not a number here
        (str, None),
    ],
)
def test_json_that_does_not_fit_is_refused(declared: Any, data: Any) -> None:
    with pytest.raises((WireError, TypeError)):
        decode(declared, data)


def test_a_local_field_stays_with_the_caller() -> None:
    page = dataclasses.replace(_sample(), progress=print)
    data = encode(page)
    assert "progress" not in data and data["content"] == "AFBBUjH/"
    assert decode(Page, data).progress is None
    with pytest.raises(WireError):
        decode(Page, {**data, "progress": 1})  # nor may a request set it


def test_what_json_cannot_carry_is_refused() -> None:
    with pytest.raises(WireError):
        encode(object())
