"""What the benchmark scripts share: running a command as a process, timing it in turns, the table of ratios.

Every figure is a median over several runs of a command started as a process, printed beside a reference
measured in the same run of the script (the two taking turns, so that whatever else the machine does hits
both), and the ratio between them is what a goal is about: no figure is compared with a number from
another day or another machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class CommandFailed(Exception):
    """A measured or preparing command exited with an error, or printed something other than expected."""


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


def _child_cpu() -> float:
    if sys.platform == "win32":
        return 0.0
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Result:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process
    stdout: str
    stderr: str
    code: int


def run(cmd: list[str], cwd: Path, env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> Result:
    """Run a command to completion. CommandFailed when its exit status is not one of `ok`."""
    cpu = _child_cpu()
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise CommandFailed(f"`{describe(cmd)}` could not start: {exc}") from None
    result = Result(time.perf_counter() - start, _child_cpu() - cpu, done.stdout, done.stderr, done.returncode)
    if done.returncode not in ok:
        output = (done.stdout + done.stderr).strip()
        if len(output) > 4000:
            output = output[:4000] + "\n..."
        raise CommandFailed(f"`{describe(cmd)}` exited with {done.returncode}:\n{output}")
    return result


@dataclass
class Case:
    """One measured thing: one or more commands run one after another (their times add up)."""

    what: str
    commands: list[list[str]]
    check: Callable[[str], str | None] | None = None  # stdout (of the last command) -> a problem, or None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    def once(self, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
        wall = cpu = 0.0
        out = ""
        for cmd in self.commands:
            result = run(cmd, cwd, env)
            wall, cpu, out = wall + result.wall, cpu + result.cpu, result.stdout
        problem = self.check(out) if self.check else None
        if problem:
            raise CommandFailed(f"{self.what}: {problem}\n--- its output ---\n{out[:3000]}")
        return wall, cpu


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
        return None if self.goal is None else self.ratio <= self.goal


def measure(figures: list[Figure], cwd: Path, env: dict[str, str], runs: int, *, warmup: bool = True) -> None:
    """`runs` timed runs of every case (the cases taking turns), each output checked; one untimed run first."""
    cases: list[Case] = []
    for figure in figures:
        for case in (figure.crmctl, figure.reference):
            if all(case is not c for c in cases):
                cases.append(case)
    if warmup:
        for case in cases:
            case.once(cwd, env)
    for _ in range(runs):
        for case in cases:
            wall, cpu = case.once(cwd, env)
            case.walls.append(wall)
            case.cpus.append(cpu)


def table(figures: list[Figure]) -> str:
    """The figures as a table. Seconds and ratio are wall clock, which the goals are about; the CPU ratio
    (user + system seconds of the processes) is steadier when something else keeps the machine busy."""
    header = ("figure", "crmctl s", "reference s", "ratio", "goal", "met?", "CPU ratio")
    rows = [
        (
            f.what,
            f"{f.crmctl.wall:.3f}",
            f"{f.reference.wall:.3f}",
            f"{f.ratio:.2f}x",
            "-" if f.goal is None else f"<= {f.goal:g}x",
            "-" if f.met is None else ("yes" if f.met else "NO"),
            f"{f.crmctl.cpu / f.reference.cpu:.2f}x" if f.reference.cpu else "-",
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    """One line about where the figures come from."""
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({sys.executable})"
    )
