"""Tables fit the terminal: at COLUMNS=80 a listing leaves out its last columns (and says so) and a board
puts its stages in bands; --wide shows everything; a pipe without COLUMNS keeps whole rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ok

BIN = Path(sys.executable).parent
LONG = "Корпоративный сайт, визитки и фирменный стиль для всех филиалов компании " * 3


@pytest.fixture
def crm(example) -> Path:
    return example("pyrus-client-crm")


def _filled(cli) -> None:
    ok(cli, "record", "create", "client", "--set", "name=ООО Ромашка", "--set", f"needs={LONG}")
    ok(cli, "record", "create", "client", "--set", "name=ИП Васильев", "--set", "phone=+7 (912) 345-67-89")


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_a_listing_fits_the_terminal_and_says_what_it_left_out(cli, crm: Path, columns: int) -> None:
    _filled(cli)
    text = ok(cli, "record", "list", "client", env={"COLUMNS": str(columns)})
    assert _widest(text) <= columns
    assert text.splitlines()[0].split()[0] == "key"  # the first columns are kept
    assert "CL-1" in text and "CL-2" in text
    assert text.splitlines()[-1].endswith("more columns: --wide shows every column)")


def test_wide_shows_every_column_and_cell_whole(cli, crm: Path) -> None:
    _filled(cli)
    text = ok(cli, "--wide", "record", "list", "client", env={"COLUMNS": "80"})
    assert "Заметки и история переговоров" in text.splitlines()[0]  # the last field's label
    assert LONG.strip() in text
    assert "more column" not in text


def test_wide_does_not_stay_on_for_the_next_command(cli, crm: Path) -> None:
    _filled(cli)
    ok(cli, "--wide", "record", "list", "client", env={"COLUMNS": "80"})
    assert _widest(ok(cli, "record", "list", "client", env={"COLUMNS": "80"})) <= 80


def test_a_board_puts_its_stages_in_bands_that_fit(cli, crm: Path) -> None:
    _filled(cli)
    ok(cli, "record", "create", "deal", "--set", "subject=Сайт", "--set", "client=CL-1", "--set", "amount=1500000")
    for columns in (50, 80):
        text = ok(cli, "board", "deal-approval", env={"COLUMNS": str(columns)})
        assert _widest(text) <= columns, text
        assert "DL-1" in text
    assert ok(cli, "board", "deal-approval", env={"COLUMNS": "80"}).count("┌") > 1  # more stages than fit in 80
    assert ok(cli, "--wide", "board", "deal-approval", env={"COLUMNS": "80"}).count("┌") == 1


def test_a_pipe_keeps_whole_rows(cli, crm: Path) -> None:
    _filled(cli)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_") and k != "COLUMNS"}
    env.update({"CRMCTL_USER": "belov", "CRMCTL_NOW": "2027-03-01T10:00:00+03:00", "NO_COLOR": "1"})
    done = subprocess.run(
        [str(BIN / "crmctl"), "record", "list", "client"], cwd=crm, env=env, capture_output=True, text=True, check=True
    )
    assert "Заметки и история переговоров" in done.stdout.splitlines()[0]
    assert LONG.strip() in done.stdout
    assert "more column" not in done.stdout
