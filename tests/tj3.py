"""Running TaskJuggler (tj3), the reference scheduler, on an export, for the tests that compare with it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crmctl.render.tjp import minute, read_report

__all__ = ["minute", "run", "tj3"]


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
    return read_report((folder / f"{report}.csv").read_text(encoding="utf-8"))
