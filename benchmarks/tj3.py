"""crmctl's schedule beside TaskJuggler (tj3) on the same project: how long each takes, and where they differ.

For each size (default 1,000 tasks of 10 people, and 10,000 tasks of 1,000 people) it fills a workspace's
database with open tasks as schedule.py does (each task waiting for two earlier ones, except the tasks of
the person whose queue is timed), writes the project with `crmctl export tjp`, and times, in turns:

    crmctl queue PERSON --format json     with the stored schedule out of date, so that it computes
                                          everyone's schedule (and stores it)
    tj3 project.tjp                       TaskJuggler schedules the exported project and writes its report

tj3 gets --limit seconds a run; when it takes longer it is stopped, not run again, and shown as "> N s".
Every run's output is checked (the person's queue; a report with every exported task).

Then it compares every task's start and end, crmctl's (computed in this process) against tj3's report, to the
minute, and says why those that differ do:

- split: tj3 worked on the task in pieces, around higher-priority work that became ready later (the
  working time between its start and end is more than its effort). crmctl never interrupts work: a policy
  difference documented in docs/scheduling.md;
- waited for lower priority: in crmctl the task waited for its person to finish a lower-priority task
  already under way, which tj3 interrupts: the same policy difference, seen from the other side;
- follows a difference: one of its dependencies, or a task its person worked on before it (in either
  schedule), differs;
- unexplained: none of these; a defect of one scheduler or the other, listed.

    .venv/bin/python benchmarks/tj3.py [--sizes 1000/10,10000/1000] [--runs 3] [--limit 600] [--keep]

Exit status: 0 when every command ran and printed what it should, 1 when not (or when tj3 is missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchlib import Case, CommandFailed, Figure, Result, clean_env, machine, measure, run, scratch, table, tool
from schedule import NOW, PERSON, fill, forget_schedule, lists, queue_of

ACTOR = "grigoriev"  # the example's director: may see everyone's tasks and export them
PROJECT = "project.tjp"
REPORT = "project_schedule.csv"  # what `crmctl export tjp --out project.tjp` names the report

SPLIT = "split by tj3 around higher-priority work that became ready later (crmctl does not interrupt work)"
WAITED = "waited in crmctl for a lower-priority task already under way, which tj3 interrupts (same policy)"
FOLLOWS = "follow a task that differs (a dependency, or an earlier task of the same person)"
UNEXPLAINED = "unexplained: a defect of one scheduler or the other"
REASONS = [SPLIT, WAITED, FOLLOWS, UNEXPLAINED]


def sizes(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(n) for n in part.split("/")) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("sizes are TASKS/PEOPLE, separated by commas: 1000/10,10000/1000") from None
    if any(len(p) != 2 or p[1] < 2 or p[0] < 2 * p[1] for p in pairs):
        raise argparse.ArgumentTypeError("each size is TASKS/PEOPLE, at least 2 people and 2 tasks a person")
    return [(p[0], p[1]) for p in pairs]


def reported(root: Path, want: set[str], into: dict[str, tuple[str, str]]) -> Callable[[Result], str | None]:
    """The check of a tj3 run: its report holds every exported task. The first report is kept in `into`; each
    is removed, so that the next run must write its own."""
    from crmctl.render.tjp import read_report

    def check(result: Result) -> str | None:
        path = root / REPORT
        if not path.exists():
            return f"tj3 wrote no {REPORT}"
        times = read_report(path.read_text(encoding="utf-8"))
        path.unlink()
        missing = want - times.keys()
        if missing:
            return f"its report lacks {len(missing)} of the {len(want)} tasks ({', '.join(sorted(missing)[:3])} ...)"
        if not into:
            into.update(times)
        return None

    return check


def crmctl_schedule(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[str]], Any, Any]:
    """crmctl's schedule of the workspace, computed in this process: the slots, the open tasks, each person's
    queue order, the time zone, and each person's calendar (a function)."""
    from crmctl.ops import schedule
    from crmctl.ops.lookups import calendar_for
    from crmctl.ops.session import Options, open_session

    with open_session(Options(workspace=root, now=NOW, actor=ACTOR)) as session:
        result, tasks = schedule.compute(session)
        calendars: dict[str, Any] = {}

        def calendar_of(person: str) -> Any:
            if person not in calendars:
                calendars[person] = calendar_for(session, person)
            return calendars[person]

        for person in {t["assignee"] for t in tasks}:  # before the session closes
            calendar_of(person)
        return result.slots, tasks, result.order, ZoneInfo(session.defs.timezone), calendar_of


def compare(root: Path, theirs: dict[str, tuple[str, str]]) -> tuple[int, int, Counter[str], list[str]]:
    """How many tasks start and end at the same minute in both schedules, of how many; why the others differ
    (a count per reason); the unexplained ones, described."""
    from crmctl.render.tjp import TIMEFORMAT, minute, task_id

    slots, tasks, order, tz, calendar_of = crmctl_schedule(root)
    place = {tid: i for queue in order.values() for i, tid in enumerate(queue)}
    mine = {
        t["id"]: (minute(slots[t["id"]].start, tz), minute(slots[t["id"]].finish, tz))
        for t in tasks
        if slots[t["id"]].problem is None
    }
    if len(mine) != len(tasks):
        raise CommandFailed(f"crmctl could not schedule {len(tasks) - len(mine)} tasks")
    tj = {t["id"]: theirs[task_id(t["id"])] for t in tasks}
    differ = {tid for tid in mine if mine[tid] != tj[tid]}
    by_person: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_person.setdefault(task["assignee"], []).append(task)

    def when(text: str) -> dt.datetime:
        return dt.datetime.strptime(text, TIMEFORMAT).replace(tzinfo=tz)

    reasons: Counter[str] = Counter()
    unexplained = []
    for task in tasks:
        tid, person = task["id"], task["assignee"]
        if tid not in differ:
            continue
        slot = slots[tid]
        start, end = map(when, tj[tid])
        before = slot.reason.removeprefix("after ").split(" in ", 1)[0] if slot.reason.startswith("after ") else None
        if calendar_of(person).between(start, end) > slot.remaining:
            reasons[SPLIT] += 1
        elif before in place and place[before] > place[tid] and start < slot.start:
            reasons[WAITED] += 1
        elif any(d in differ for d in task["depends_on"]) or any(
            other["id"] in differ
            and other["id"] != tid
            and (mine[other["id"]][0] < mine[tid][0] or tj[other["id"]][0] < tj[tid][0])
            for other in by_person[person]
        ):
            reasons[FOLLOWS] += 1
        else:
            reasons[UNEXPLAINED] += 1
            unexplained.append(f"{tid} ({person}): crmctl {' - '.join(mine[tid])}, tj3 {' - '.join(tj[tid])}")
    return len(tasks) - len(differ), len(tasks), reasons, unexplained


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=sizes, default=sizes("1000/10,10000/1000"), help="TASKS/PEOPLE,...")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=600, help="seconds a tj3 run may take (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspaces and print where")
    args = parser.parse_args()
    if args.runs < 1 or args.limit <= 0:
        parser.error("--runs must be at least 1 and --limit more than 0")

    with scratch("tj3", args.keep) as folder:
        env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": NOW, "CRMCTL_USER": ACTOR, "NO_COLOR": "1"}
        crmctl = str(tool("crmctl"))
        tj3 = shutil.which("tj3")
        if tj3 is None:
            raise CommandFailed("tj3 (TaskJuggler) is not installed: bash scripts/test-deps.sh installs it")
        from crmctl.render.tjp import task_id

        print(f"{machine()}\nmedian of {args.runs} runs each; tj3 stopped after {args.limit:g} s\n", flush=True)
        figures, comparisons = [], []
        for tasks, people in args.sizes:
            root = folder / f"{tasks}-{people}"
            root.mkdir()
            fill(crmctl, root, tasks, people, people, env)  # the person's tasks: every people-th
            want = queue_of(tasks, people)

            run([crmctl, "export", "tjp", "--out", PROJECT], root, env)
            theirs: dict[str, tuple[str, str]] = {}
            ours = Case(
                "crmctl queue, computed",
                [[crmctl, "queue", PERSON, "--format", "json"]],
                lists(want, dated=True),
                prepare=forget_schedule(root / "crmctl.duckdb"),
            )
            exported = {task_id(f"T-{i}") for i in range(1, tasks + 1)}
            reference = Case(
                "tj3", [[tj3, "--silent", "--no-color", PROJECT]], reported(root, exported, theirs), limit=args.limit
            )
            figure = Figure(
                f"{tasks:,} tasks, {people:,} people: queue {PERSON} (computed and stored) / tj3", ours, reference
            )
            measure([figure], root, env, args.runs)
            figures.append(figure)
            comparisons.append((tasks, people, compare(root, theirs) if theirs else None))
        print(table(figures))
        for tasks, people, compared in comparisons:
            print(f"\nstart and end to the minute, {tasks:,} tasks of {people:,} people:")
            if compared is None:
                print(f"  no comparison: tj3 did not finish within {args.limit:g} s")
                continue
            agree, total, reasons, unexplained = compared
            print(f"  {agree:,} of {total:,} tasks agree; {total - agree:,} differ:")
            for reason in REASONS:
                print(f"  {reasons[reason]:>7,}  {reason}")
            for line in unexplained[:10]:
                print(f"           {line}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
