"""Running TaskJuggler (tj3), the reference scheduler, on an export, for the tests that compare with it."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest


def tj3() -> str:
    """tj3's path; the test is skipped, saying why, when it is not installed."""
    found = shutil.which("tj3")
    if found is None:
        pytest.skip("tj3 (TaskJuggler) is not installed (scripts/test-deps.sh installs it where the machine allows)")
    return found


def run(folder: Path, name: str, report: str) -> dict[str, tuple[str, str]]:
    """Schedule folder/name with tj3, which must accept it without a word on stderr; each task's start and end
    as tj3's CSV report `report` gives them ('2027-03-01 09:00', in the project's time zone), by tj3 id."""
    done = subprocess.run(
        [tj3(), "--silent", "--no-color", name], cwd=folder, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    with open(folder / f"{report}.csv", newline="") as fh:
        return {row["Id"]: (row["Start"], row["End"]) for row in csv.DictReader(fh, delimiter=";")}


def minute(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """An instant as tj3's report writes it, in the project's time zone."""
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"
