"""What the benchmark scripts share: running a command as a process, timing it in turns, the table of ratios.

Every figure is a median over several runs of a command started as a process, printed beside a reference
measured in the same run of the script (the two taking turns, so that whatever else the machine does hits
both), and the ratio between them is what a goal is about: no figure is compared with a number from
another day or another machine. Wall clock and CPU time (user + system, of each process alone, from
os.wait4) are both kept; every run's output is checked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CommandFailed(Exception):
    """A measured or preparing command exited with an error, or printed something other than expected."""


@contextmanager
def scratch(name: str, keep: bool) -> Iterator[Path]:
    """A throw-away folder for one benchmark's workspaces, removed at the end unless keep (then its place is
    printed); a command that failed ends the script with one line on stderr and exit code 1."""
    folder = Path(tempfile.mkdtemp(prefix=f"crmctl-bench-{name}-"))
    try:
        yield folder
    except CommandFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def clean_env(pycache: Path) -> dict[str, str]:
    """The environment of the measured processes.

    Without CRMCTL_* settings, so that the caller's shell cannot change what is measured; and with bytecode
    cached under `pycache` (a throw-away folder) even where PYTHONDONTWRITEBYTECODE is set, as in some
    sandboxes: else every run compiles the sources of crmctl and of its dependencies afresh, a cost that no
    installed program pays. The first, unmeasured run of each command fills the cache.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def tool(name: str, hint: str = "") -> Path:
    """An entry point beside the interpreter that runs the script (the project's venv)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise CommandFailed(f"no {name} beside {sys.executable}: run this with the project's venv python{hint}")
    return Path(found)


def describe(cmd: list[str], limit: int = 6) -> str:
    """A command as one short line: no script text after -c, no long file lists."""
    if cmd[1:2] == ["-c"]:
        cmd = [cmd[0], "-c", "<script>", *cmd[3:]]
    shown = [Path(cmd[0]).name, *cmd[1:limit]]
    rest = len(cmd) - limit
    return " ".join(shown) + (f" ... ({rest} more)" if rest > 0 else "")


@dataclass
class Result:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process (and of the processes it waited for)
    peak_mb: float  # its peak resident memory
    stdout: str
    stderr: str
    code: int
    over: bool = False  # killed at the time limit


def run(
    cmd: list[str], cwd: Path, env: dict[str, str], *, ok: tuple[int, ...] = (0,), limit: float | None = None
) -> Result:
    """Run a command to completion, or until `limit` seconds have passed (then it is killed and the result
    says `over`). CommandFailed when it finished with an exit status that is not one of `ok`.

    The process's own CPU time and peak memory come from os.wait4, which reaps it; the wall clock runs from
    just before it starts to just after it ends."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as exc:
            raise CommandFailed(f"`{describe(cmd)}` could not start: {exc}") from None
        ended = threading.Event()
        killed = threading.Event()

        def kill() -> None:
            if not ended.wait(limit):
                killed.set()
                proc.kill()

        timer = threading.Thread(target=kill, daemon=True) if limit is not None else None
        if timer is not None:
            timer.start()
        # wait without reaping, so that the timer can never signal a process id that was given to another
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - start
        ended.set()
        if timer is not None:
            timer.join()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Result(
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            code,
            killed.is_set(),
        )
    if not result.over and code not in ok:
        output = (result.stdout + result.stderr).strip()
        if len(output) > 4000:
            output = output[:4000] + "\n..."
        raise CommandFailed(f"`{describe(cmd)}` exited with {code}:\n{output}")
    return result


def parsed(result: Result) -> Any:
    """A command's output read as JSON; CommandFailed, showing how it starts, when it is not JSON."""
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise CommandFailed(f"its output is not JSON ({exc}): {result.stdout[:300]!r}") from None


@dataclass
class Case:
    """One measured thing: one or more commands run one after another (their times add up).

    `prepare` runs before each run, untimed (to reset what a run changes); `check` looks at the result of
    the last command of every run and returns a problem, or None; `ok` are the exit statuses that count as
    having worked. With a `limit`, a run that takes longer is killed, and the case is not run again: its
    time is then shown as more than the limit."""

    what: str
    commands: list[list[str]]
    check: Callable[[Result], str | None] | None = None
    prepare: Callable[[], None] | None = None
    ok: tuple[int, ...] = (0,)
    limit: float | None = None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    over: bool = False

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def peak_mb(self) -> float:
        return max(self.peaks)

    def seconds(self) -> str:
        return f"> {self.limit:g}" if self.over else f"{self.wall:.3f}"

    def once(self, cwd: Path, env: dict[str, str]) -> tuple[float, float, float] | None:
        """One run: its wall and CPU seconds and peak memory (MB); None when it went over the time limit."""
        if self.prepare is not None:
            self.prepare()
        wall = cpu = peak = 0.0
        result = None
        for cmd in self.commands:
            result = run(cmd, cwd, env, ok=self.ok, limit=self.limit and self.limit - wall)
            if result.over:
                self.over = True
                return None
            wall, cpu, peak = wall + result.wall, cpu + result.cpu, max(peak, result.peak_mb)
        problem = self.check(result) if self.check and result else None
        if problem:
            shown = result.stdout[:3000] if result else ""
            raise CommandFailed(f"{self.what}: {problem}\n--- its output ---\n{shown}")
        return wall, cpu, peak


class InProcess(Case):
    """A case that calls a function in this process instead of starting commands: its wall clock and this
    process's CPU time (time.process_time) around the call. `call` returns a problem, or None."""

    def __init__(self, what: str, call: Callable[[], str | None]) -> None:
        super().__init__(what, [])
        self.call = call

    def once(self, cwd: Path, env: dict[str, str]) -> tuple[float, float, float] | None:
        cpu, start = time.process_time(), time.perf_counter()
        problem = self.call()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if problem:
            raise CommandFailed(f"{self.what}: {problem}")
        return wall, cpu, 0.0


@dataclass
class Figure:
    """A row of the table: a crmctl case beside its reference, and the goal for their ratio (if any)."""

    what: str
    crmctl: Case
    reference: Case
    goal: float | None = None

    @property
    def ratio(self) -> float:
        return self.crmctl.wall / self.reference.wall

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.crmctl.over:
            return None if self.goal is None else False
        return True if self.reference.over else self.ratio <= self.goal

    def ratio_text(self) -> str:
        if self.crmctl.over and self.reference.over:
            return "-"
        if self.crmctl.over:
            return f"> {self.crmctl.limit / self.reference.wall:.2f}x"  # type: ignore[operator]
        if self.reference.over:
            return f"< {self.crmctl.wall / self.reference.limit:.2f}x"  # type: ignore[operator]
        return f"{self.ratio:.2f}x"

    def cpu_ratio_text(self) -> str:
        if self.crmctl.over or self.reference.over or not self.reference.cpu:
            return "-"
        return f"{self.crmctl.cpu / self.reference.cpu:.2f}x"


def measure(figures: list[Figure], cwd: Path, env: dict[str, str], runs: int, *, warmup: bool = True) -> None:
    """`runs` timed runs of every case, each output checked, after one untimed run of each (which also fills
    the bytecode cache). The cases take turns, and every other round goes through them in reverse order, so
    that each case runs as often right after each of the others, and a figure does not depend on the order
    in which the cases were listed. A case that went over its time limit is not run again."""
    cases: list[Case] = []
    for figure in figures:
        for case in (figure.crmctl, figure.reference):
            if all(case is not c for c in cases):
                cases.append(case)
    if warmup:
        for case in cases:
            case.once(cwd, env)
    for turn in range(runs):
        for case in cases if turn % 2 == 0 else cases[::-1]:
            if case.over:
                continue
            measured = case.once(cwd, env)
            if measured is not None:
                case.walls.append(measured[0])
                case.cpus.append(measured[1])
                case.peaks.append(measured[2])


def table(figures: list[Figure]) -> str:
    """The figures as a table, and the machine's load when they were taken. Seconds and ratio are wall clock
    (medians), which the goals are about; the CPU ratio (medians of the user + system seconds of the
    processes) is steadier when something else keeps the machine busy."""
    header = ("figure", "crmctl s", "reference s", "ratio", "goal", "met?", "CPU ratio")
    rows = [
        (
            f.what,
            f.crmctl.seconds(),
            f.reference.seconds(),
            f.ratio_text(),
            "-" if f.goal is None else f"<= {f.goal:g}x",
            "-" if f.met is None else ("yes" if f.met else "NO"),
            f.cpu_ratio_text(),
        )
        for f in figures
    ]
    return laid_out(header, rows)


def laid_out(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A header and rows as aligned columns (the first to the left, the figures to the right), a rule under
    the header, and the machine's load at the end."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"(load average at the end: {load()})")
    return "\n".join(lines)


def load() -> str:
    """The machine's load average over 1, 5 and 15 minutes: how busy other work kept it."""
    return "{:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg())


def machine() -> str:
    """One line about where and when the figures come from, and how busy the machine was at the start."""
    now = dt.datetime.now(dt.UTC)
    return (
        f"{now:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()} ({sys.executable}); load average {load()}"
    )
