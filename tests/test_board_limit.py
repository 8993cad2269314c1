"""crmctl board shows at most --limit cards per column (default 50), those longest in their stage, with every
column's count; --all shows every card (issue 21: a board of 100,000 records listed them all)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ok
from .dbstate import dump

PROSPECT = [
    "name=ООО Заявка",
    "email=lead@example.com",
    "manager=romanov",
    "invoice_number=СЧ-1",
    "invoice_amount=1000",
]
COLUMNS = """
board_columns:
  - {id: billing, title: Счёт и оплата, stages: [invoicing, paid]}
"""


def prospect(cli, at: str, *path: str) -> str:
    """A new prospect made at `at`, moved along `path` at the same time."""
    sets = [x for p in PROSPECT for x in ("--set", p)]
    key = ok(cli, "--now", at, "--as", "petrov", "record", "create", "prospect", *sets).strip()
    for stage in path:
        ok(cli, "--now", at, "--as", "petrov", "advance", key, "--to", stage)
    return key


def made(cli, hours: int, *path: str) -> str:
    return prospect(cli, f"2027-03-01T{hours:02d}:00:00+03:00", *path)


LATER = "2027-03-02T12:00:00+03:00"


def board(cli, *args: str) -> dict:
    return json.loads(ok(cli, "--now", LATER, "board", "interest", *args, "-f", "json"))


def test_a_column_shows_its_first_cards_and_counts_them_all(cli, example) -> None:
    example("service-desk-leads")
    keys = [made(cli, hour) for hour in (9, 10, 11, 12)]  # PC-1 has been in its stage longest
    shown = board(cli, "--limit", "2")
    first = shown["stages"][0]
    assert (shown["limit"], first["stage"], first["count"], first["more"]) == (2, "new", 4, 2)
    assert [c["key"] for c in first["cards"]] == keys[:2]
    assert all(s["count"] == 0 and s["more"] == 0 for s in shown["stages"][1:])
    every = board(cli, "--all")
    assert every["limit"] is None
    assert [c["key"] for c in every["stages"][0]["cards"]] == keys
    assert (every["stages"][0]["count"], every["stages"][0]["more"]) == (4, 0)
    default = board(cli)
    assert default["limit"] == 50 and len(default["stages"][0]["cards"]) == 4
    text = ok(cli, "--now", LATER, "board", "interest", "--limit", "3", env={"COLUMNS": "200"})
    assert "Новый (4)" in text and "+1 more" in text
    assert "PC-3" in text and "PC-4" not in text
    page = ok(cli, "--now", LATER, "board", "interest", "--limit", "3", "-f", "html")
    assert "+1 more" in page and "PC-4" not in page and "4 records" in page


def test_a_column_of_several_stages_shows_the_longest_in_their_stages(cli, example) -> None:
    root = example("service-desk-leads")
    process = root / "processes" / "interest.yaml"
    process.write_text(process.read_text() + COLUMNS)
    ok(cli, "apply")
    late = made(cli, 9, "choice", "invoicing")
    early = made(cli, 8, "choice", "invoicing", "paid")  # entered paid at 08:00: longest in its stage
    made(cli, 10, "choice", "invoicing")
    shown = board(cli, "--limit", "2")
    billing = next(s for s in shown["stages"] if s["stage"] == "billing")
    assert (billing["count"], billing["more"]) == (3, 1)
    assert [c["key"] for c in billing["cards"]] == [early, late]


def test_bad_limits_are_refused(cli, example) -> None:
    example("service-desk-leads")
    made(cli, 9)
    before = dump(Path("crmctl.duckdb"))
    for args, says in (
        (["--limit", "0"], "'--limit': 0 is not in the range"),
        (["--limit", "-3"], "'--limit': -3 is not in the range"),
        (["--limit", "2", "--all"], "give --limit or --all, not both"),
    ):
        result = cli("board", "interest", *args)
        assert result.exit_code == 2, args
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1 and says in result.stderr, result.stderr
    assert dump(Path("crmctl.duckdb")) == before
