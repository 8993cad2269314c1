"""Tasks in bulk: `crmctl import tasks` beside Taskwarrior's `task import` and beside DuckDB reading the same
CSV file, the launch of a template of many tasks beside crmctl's start-up, and that start-up beside Python's.

Makes a throw-away workspace (one Team, one person, one template of TEMPLATE tasks in chains of ten) and
files of tasks in chains of ten (each task depends on the one before it in its chain). Then, in turns:

    crmctl import tasks small.csv           SMALL tasks, checked and written with their dependencies and events
    task import small.json                  the same tasks in Taskwarrior (Debian's taskwarrior), where installed
    python -c "duckdb.connect(file)"        the floor of a crmctl command on a database, beside Taskwarrior too
    crmctl import tasks big.csv             BIG tasks with dependencies
    python -c "read_csv('big.csv')"         DuckDB alone, the same file into a table
    crmctl import time time.csv             INTERVALS time intervals of five people on SMALL tasks, checked
                                            (no overlap with each other nor the stored ones) and written
    python -c "read_csv('time.csv')"        DuckDB alone, the same file into a table
    crmctl project launch big-template      TEMPLATE tasks made from a template, with dependencies and events
    crmctl --version                        the start-up floor
    crmctl --help                           the top-level help page
    python -c pass                          the virtualenv's Python starting and doing nothing

Every run starts from the same freshly applied database, and each import is checked: every task is there
with its dependency.

Goals (issue 21): SMALL tasks at most 5x Taskwarrior; BIG tasks at most 3x DuckDB; the launch under 1 s
above the start-up floor; `crmctl --version` and `crmctl --help` at most 3x `python -c pass` (these three take
turns on their own, --startup-runs times; --startup-only measures only them).

    .venv/bin/python benchmarks/tasks.py [--small 1000] [--big 100000] [--template 2000] [--intervals 100000] [--runs 3]
                                         [--startup-runs 21] [--startup-only] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from benchlib import Case, Figure, Result, clean_env, machine, measure, run, scratch, table, tool

WORKSPACE = """\
kind: Workspace
name: bench
timezone: Europe/Moscow
---
kind: Team
name: staff
roles:
  - {id: all, permissions: ["*"]}
people:
  - {id: belov, name: Белов, roles: [all]}
  - {id: orlova, name: Орлова, roles: [all]}
  - {id: pavlov, name: Павлов, roles: [all]}
  - {id: sidorova, name: Сидорова, roles: [all]}
  - {id: zaitsev, name: Зайцев, roles: [all]}
"""
PEOPLE = ("belov", "orlova", "pavlov", "sidorova", "zaitsev")
# the least any crmctl command on a database does: Python starts, imports duckdb, opens the file and closes it
OPEN = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('SELECT 1').fetchall()"
REFERENCE = (
    "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('CREATE TABLE t AS FROM read_csv(?)', [sys.argv[2]])"
)


def _template(count: int) -> str:
    lines = ["kind: ProjectTemplate", "name: big-template", "project: {title: Большой проект}", "tasks:"]
    for n in range(1, count + 1):
        after = f", depends_on: [t{n - 1}]" if n % 10 != 1 else ""
        lines.append(f"  - {{id: t{n}, title: Задача {n}, assignee: belov, estimate: 1h{after}}}")
    return "\n".join(lines) + "\n"


def make_files(folder: Path, name: str, count: int) -> None:
    """name.csv for crmctl and name.json for Taskwarrior: the same tasks, in chains of ten."""
    ids = [str(uuid.UUID(int=n + 1)) for n in range(count)]
    with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "title", "assignee", "estimate", "priority", "depends_on", "project"])
        for n in range(count):
            after = f"x{n}" if n % 10 else ""
            writer.writerow([f"x{n + 1}", f"Задача {n + 1}", "belov", "2h", 1 + n % 5, after, "Импорт"])
    tasks = []
    for n in range(count):
        task = {"uuid": ids[n], "description": f"Задача {n + 1}", "project": "Импорт", "status": "pending"}
        if n % 10:
            task["depends"] = ids[n - 1]
        tasks.append(task)
    (folder / f"{name}.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")


def make_intervals(folder: Path, count: int, tasks: int) -> None:
    """time.csv: `count` closed intervals of half an hour, each person's one after another (40 minutes apart),
    going back from the end of February 2027, on tasks T-1 to T-`tasks` in turn."""
    end = dt.datetime(2027, 2, 28, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with open(folder / "time.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["task", "person", "started_at", "ended_at", "note"])
        for n in range(count):
            start = end - dt.timedelta(minutes=40 * (n // len(PEOPLE) + 1))
            stop = start + dt.timedelta(minutes=30)
            writer.writerow(
                [f"T-{n % tasks + 1}", PEOPLE[n % len(PEOPLE)], start.isoformat(), stop.isoformat(), f"n{n}"]
            )


def counted(folder: Path, env: dict[str, str], table: str, count: int) -> Callable[[Result], str | None]:
    """Check an import: the table holds `count` rows."""
    query = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        f"print(c.execute('SELECT count(*) FROM {table}').fetchone()[0])"
    )

    def check(result: Result) -> str | None:
        found = run([sys.executable, "-c", query, "crmctl.duckdb"], folder, env).stdout.strip()
        return None if found == str(count) else f"{found} rows in {table}, not {count}"

    return check


def copy(source: Path, target: Path) -> None:
    shutil.copy(source, target)


def afresh(folder: Path) -> None:
    """An empty folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()


def imported(folder: Path, env: dict[str, str], count: int) -> Callable[[Result], str | None]:
    """Check an import: every task there, with as many dependencies as the file gives."""
    query = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(c.execute('SELECT count(*) FROM crm.tasks').fetchone()[0], "
        "c.execute('SELECT count(*) FROM crm.task_dependencies').fetchone()[0])"
    )

    def check(result: Result) -> str | None:
        found = run([sys.executable, "-c", query, "crmctl.duckdb"], folder, env).stdout.split()
        wanted = [str(count), str(count - (count + 9) // 10)]
        return None if found == wanted else f"tasks and dependencies {found}, not {wanted}"

    return check


def launched(count: int) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        last = f"T-{count} "  # the launch lists the tasks it made, T-1 to T-count
        return None if last in result.stdout else f"not launched: {result.stdout[-300:]}"

    return check


def startup(crmctl: str, folder: Path, env: dict[str, str], runs: int) -> tuple[list[Figure], Case]:
    """`crmctl --version` and `crmctl --help` beside `python -c pass`, measured in turns; and the first."""
    python = Case("python -c pass", [[sys.executable, "-c", "pass"]])
    version = Case(
        "crmctl --version", [[crmctl, "--version"]], lambda r: None if r.stdout.startswith("crmctl ") else r.stdout
    )
    page = Case("crmctl --help", [[crmctl, "--help"]], lambda r: None if "Commands:" in r.stdout else r.stdout)
    figures = [
        Figure("crmctl --version / python -c pass", version, python, 3.0),
        Figure("crmctl --help / python -c pass", page, python, 3.0),
    ]
    measure(figures, folder, env, runs)
    return figures, version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--template", type=int, default=2_000)
    parser.add_argument("--intervals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=21)
    parser.add_argument("--startup-only", action="store_true", help="Measure only the start-up figures.")
    parser.add_argument("--keep", action="store_true", help="Keep the throw-away folder.")
    args = parser.parse_args()
    crmctl = str(tool("crmctl"))
    with scratch("tasks", args.keep) as folder:
        env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": "2027-03-01T10:00:00+03:00", "CRMCTL_USER": "belov"}
        print(f"{machine()}\nmedian of {args.startup_runs} runs (start-up), {args.runs} runs (the others)\n")
        first, floor = startup(crmctl, folder, env, args.startup_runs)
        if args.startup_only:
            print(table(first))
            return 0
        figures = imports_and_launch(args, crmctl, folder, env, floor)
        print(table(first + figures))
        above = figures[-1].crmctl.wall - floor.wall
        print(f"\nthe launch takes {above:.3f} s above the start-up floor (goal: under 1 s)")
        if not shutil.which("task"):
            print("Taskwarrior (`task`, Debian's taskwarrior) is not installed: that figure is left out")
        return 0


def imports_and_launch(
    args: argparse.Namespace, crmctl: str, folder: Path, env: dict[str, str], floor: Case
) -> list[Figure]:
    """The imports beside Taskwarrior and DuckDB, and the launch beside the start-up floor, measured in turns
    (the launch's figure last)."""
    python, taskwarrior = sys.executable, shutil.which("task")
    (folder / "crmctl.yaml").write_text(WORKSPACE, encoding="utf-8")
    (folder / "template.yaml").write_text(_template(args.template), encoding="utf-8")
    run([crmctl, "apply"], folder, env)
    shutil.copy(folder / "crmctl.duckdb", folder / "empty.duckdb")
    make_files(folder, "small", args.small)
    make_files(folder, "big", args.big)
    run([crmctl, "import", "tasks", "small.csv", "--quiet"], folder, env)  # the tasks the intervals are logged on
    shutil.copy(folder / "crmctl.duckdb", folder / "tasks.duckdb")
    make_intervals(folder, args.intervals, args.small)

    def fresh() -> None:
        shutil.copy(folder / "empty.duckdb", folder / "crmctl.duckdb")

    def case(what: str, cmd: list[str], check: Callable[[Result], str | None] | None) -> Case:
        return Case(what, [cmd], check, prepare=fresh)

    small = case("crmctl import tasks", [crmctl, "import", "tasks", "small.csv", "--quiet"],
                 imported(folder, env, args.small))  # fmt: skip
    big = case("crmctl import tasks", [crmctl, "import", "tasks", "big.csv", "--quiet"],
               imported(folder, env, args.big))  # fmt: skip
    ref = Case(
        "duckdb read_csv", [[python, "-c", REFERENCE, "ref.duckdb", "big.csv"]],
        prepare=lambda: (folder / "ref.duckdb").unlink(missing_ok=True),
    )  # fmt: skip
    time = Case(
        "crmctl import time", [[crmctl, "import", "time", "time.csv", "--quiet"]],
        counted(folder, env, "crm.time_intervals", args.intervals),
        prepare=lambda: copy(folder / "tasks.duckdb", folder / "crmctl.duckdb"),
    )  # fmt: skip
    time_ref = Case(
        "duckdb read_csv", [[python, "-c", REFERENCE, "ref.duckdb", "time.csv"]],
        prepare=lambda: (folder / "ref.duckdb").unlink(missing_ok=True),
    )  # fmt: skip
    launch = case("crmctl project launch", [crmctl, "project", "launch", "big-template"], launched(args.template))
    figures = [
        Figure(f"import {args.big:,} tasks with dependencies / DuckDB read_csv", big, ref, 3.0),
        Figure(f"import {args.intervals:,} time intervals of 5 people / DuckDB read_csv", time, time_ref),
        Figure(f"launch a template of {args.template:,} tasks / crmctl --version", launch, floor),
    ]
    if taskwarrior:
        data = folder / "taskdata"
        rc = folder / "taskrc"
        rc.write_text(f"data.location={data}\nconfirmation=off\nverbose=nothing\n", encoding="utf-8")
        tw = Case(
            "task import", [[taskwarrior, f"rc:{rc}", "import", "small.json"]],
            prepare=lambda: afresh(data),
        )  # fmt: skip
        opened = case("duckdb opens the database", [python, "-c", OPEN, "crmctl.duckdb"], None)
        figures[:0] = [
            Figure(f"import {args.small:,} tasks / Taskwarrior task import", small, tw, 5.0),
            Figure("Python, duckdb imported, the database opened / Taskwarrior task import", opened, tw),
        ]
    measure(figures, folder, env, args.runs)
    return figures


if __name__ == "__main__":
    sys.exit(main())
