"""The reliability harness at a size that fits CI: concurrent writers, and imports killed with SIGKILL.

benchmarks/reliability.py runs the same experiments at full size (8 writers x 200 operations, 20 kills).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import reliability

pytestmark = pytest.mark.slow  # dozens of crmctl processes writing at once, and imports killed


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reliability.make_workspace(tmp_path_factory.mktemp("reliability") / "ws")


def test_eight_writers_lose_nothing_and_apply_nothing_twice(folder: Path) -> None:
    result = reliability.concurrent(folder, workers=8, ops=8)
    assert result["problems"] == []
    assert result["operations"] == 64
    assert result["succeeded"] == 64  # with a 20 s busy timeout every operation gets its turn


def test_writers_that_give_up_on_the_lock_change_nothing(folder: Path) -> None:
    result = reliability.concurrent(folder, workers=8, ops=6, busy_timeout=0.05)
    assert result["problems"] == []
    assert result["operations"] == 48
    assert result["busy"] > 0  # some gave up, with exit code 4 and nothing written


def test_imports_killed_at_random_moments_are_whole_or_absent(folder: Path) -> None:
    result = reliability.killed_imports(folder, kills=5, rows=20_000, seed=7)
    assert result["problems"] == []
