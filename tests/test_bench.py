"""benchmarks/benchlib.py: how the benchmark scripts run, time and compare commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from benchlib import Case, CommandFailed, Figure, InProcess, Result, clean_env, measure, run, table

PY = sys.executable


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("CRMCTL_USER", "someone")
    return clean_env(tmp_path / "pycache")


def test_the_measured_processes_keep_bytecode_and_no_crmctl_settings(env: dict[str, str], tmp_path: Path) -> None:
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert not any(name.startswith("CRMCTL_") for name in env)
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")


def test_a_run_counts_the_cpu_time_of_its_own_process(env: dict[str, str], tmp_path: Path) -> None:
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\nprint('done')"
    result = run([PY, "-c", busy], tmp_path, env)
    assert result.stdout == "done\n"
    assert 0.25 < result.cpu < result.wall + 0.1
    assert result.peak_mb > 1
    idle = run([PY, "-c", "import time; time.sleep(0.3)"], tmp_path, env)
    assert idle.wall >= 0.3
    assert idle.cpu < 0.2  # asleep: the wall clock passes, the CPU time does not


def test_a_failing_command_stops_the_benchmark(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="exited with 3"):
        run([PY, "-c", "import sys; print('bad input', file=sys.stderr); sys.exit(3)"], tmp_path, env)
    assert run([PY, "-c", "import sys; sys.exit(3)"], tmp_path, env, ok=(3,)).code == 3


def test_a_run_over_the_limit_is_killed_and_shown_as_more_than_the_limit(env: dict[str, str], tmp_path: Path) -> None:
    slow = Case("slow", [[PY, "-c", "import time; time.sleep(30)"]], limit=0.5)
    fast = Case("fast", [[PY, "-c", "print('ok')"]], check=lambda r: None if r.stdout == "ok\n" else "not ok")
    figure = Figure("fast / slow", fast, slow)
    measure([figure], tmp_path, env, runs=3)
    assert slow.over
    assert slow.walls == []  # killed in the first, untimed run, and not run again
    assert len(fast.walls) == 3
    assert figure.ratio_text() == f"< {fast.wall / 0.5:.2f}x"
    assert figure.cpu_ratio_text() == "-"
    row = table([figure]).splitlines()[2]
    assert "> 0.5" in row


def test_every_run_is_checked(env: dict[str, str], tmp_path: Path) -> None:
    outputs = iter(["right", "right", "wrong"])

    def check(result: Result) -> str | None:
        return None if next(outputs) == "right" else "printed the wrong thing"

    case = Case("echo", [[PY, "-c", "print(1)"]], check=check)
    with pytest.raises(CommandFailed, match="echo: printed the wrong thing"):
        measure([Figure("echo / echo", case, case)], tmp_path, env, runs=3)


def test_cases_take_turns_in_both_orders(env: dict[str, str], tmp_path: Path) -> None:
    log: list[str] = []

    def case(name: str) -> InProcess:
        return InProcess(name, lambda: log.append(name))  # type: ignore[func-returns-value]

    a, b, c = case("a"), case("b"), case("c")
    measure([Figure("a / b", a, b), Figure("a / c", a, c)], tmp_path, env, runs=4)
    assert "".join(log) == "abc" + "abc" + "cba" + "abc" + "cba"  # one untimed run each, then the turns
    assert len(a.walls) == len(b.walls) == len(c.walls) == 4


def test_a_prepare_step_runs_before_every_run_untimed(env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    case = Case(
        "reads the marker",
        [[PY, "-c", f"import pathlib; p = pathlib.Path({str(marker)!r}); print(p.read_text()); p.unlink()"]],
        check=lambda r: None if r.stdout == "fresh\n" else "stale",
        prepare=lambda: marker.write_text("fresh"),
    )
    measure([Figure("x", case, case)], tmp_path, env, runs=2)
    assert len(case.walls) == 2


def test_output_that_should_be_json_and_is_not_stops_the_benchmark_with_its_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    from benchlib import parsed

    assert parsed(run([PY, "-c", "print('[1, 2]')"], tmp_path, env)) == [1, 2]
    bar = run([PY, "-c", "print('100% ▕████▏'); print('[]')"], tmp_path, env)
    with pytest.raises(CommandFailed, match=r"not JSON .*100%"):
        parsed(bar)
