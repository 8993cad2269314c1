"""The schedule at scale: open tasks of 1,000 people with two dependencies per task, and `crmctl queue`.

Fills two workspaces' databases in bulk with TASKS // 10 and TASKS open tasks of PEOPLE people, each task
depending on two earlier ones (a DAG of about 2n edges), except the QUEUE tasks of the person whose queue is
timed, which wait for nothing (others' tasks may wait for them). Prints, each side taking turns with the
other:

- the schedule simulation alone (in this process, on the rows the command reads) on the large database
  beside the small one (goal: at most 12, what n log n allows for ten times the tasks);
- `crmctl queue PERSON --format json` on the large database beside a bare Python process that imports
  duckdb, opens the same file and reads that person's open, unblocked tasks in queue order with one query
  (goal: at most 1.5x). With nothing changed and the clock in the same minute, `queue` reads the schedule
  that an earlier one computed and stored; the goal is about that;
- the same `queue` when the stored schedule is out of date (its stamp is removed before each run), so that
  it computes everyone's schedule and stores it: what a `queue` costs after any change.

Every run's output is checked: the person's QUEUE tasks, in queue order (and, from crmctl, with dates).

    .venv/bin/python benchmarks/schedule.py [--tasks 100000] [--people 1000] [--queue 300] [--runs 3] [--keep]

Exit status: 0 when every command ran and printed what it should (whether or not a goal was met), 1 when not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchlib import (
    Case,
    Figure,
    InProcess,
    Result,
    clean_env,
    machine,
    measure,
    parsed,
    run,
    scratch,
    table,
    tool,
)

NOW = "2027-03-01T09:00:00+03:00"
PERSON = "pavlova"  # a member of the example's team; the other assignees use the default calendar
GROWTH_GOAL = 12.0
QUEUE_GOAL = 1.5

# Every `step`-th task is the timed person's and waits for nothing; every other task waits for two earlier
# ones, within the 5,000 before it.
FILL = [
    """INSERT INTO crm.tasks (id, number, title, assignee, estimate_minutes, priority, status, created_at)
       SELECT 'T-' || i, i, 'task ' || i,
              CASE WHEN i % $step = 0 THEN $person ELSE 'p' || lpad(CAST(i % $people AS VARCHAR), 4, '0') END,
              15 * (1 + i % 16), 1 + i % 5, 'todo', TIMESTAMPTZ '2027-02-01 09:00:00+03'
       FROM range(1, $tasks + 1) t(i)""",
    """INSERT INTO crm.task_dependencies
       SELECT DISTINCT 'T-' || i, 'T-' || (i - 1 - (hash(i, k) % least(i - 1, 5000)))
       FROM range(2, $tasks + 1) t(i), range(2) k(k)
       WHERE i % $step <> 0""",
]

BARE = """
import duckdb, json, sys
conn = duckdb.connect(sys.argv[1], read_only=True)
conn.execute("SET enable_progress_bar_print = false")  # as crmctl: no bar on stdout on a slow query
cursor = conn.execute('''
  SELECT t.id, t.title, t.status, t.estimate_minutes, t.priority, t.due_at
  FROM crm.tasks t LEFT JOIN crm.projects p ON p.id = t.project
  WHERE t.assignee = ? AND t.status IN ('todo', 'in_progress')
    AND NOT EXISTS (SELECT 1 FROM crm.task_dependencies d JOIN crm.tasks b ON b.id = d.depends_on
                    WHERE d.task = t.id AND b.status IN ('todo', 'in_progress'))
  ORDER BY t.status <> 'in_progress', coalesce(p.priority, 3), t.priority, t.due_at NULLS LAST, t.created_at,
           t.number''', [sys.argv[2]])
names = [d[0] for d in cursor.description]
print(json.dumps([dict(zip(names, row)) for row in cursor.fetchall()], default=str))
"""


def fill(crmctl: str, root: Path, tasks: int, people: int, step: int, env: dict[str, str]) -> None:
    import duckdb

    run([crmctl, "init", str(root), "--example", "freshoffice-templates"], root.parent, env)
    values = {"tasks": tasks, "people": people, "step": step, "person": PERSON}
    conn = duckdb.connect(str(root / "crmctl.duckdb"))
    try:
        for statement in FILL:
            conn.execute(statement, {k: v for k, v in values.items() if f"${k}" in statement})
    finally:
        conn.close()


def queue_of(tasks: int, step: int) -> list[str]:
    """The timed person's tasks in queue order, as the fill makes them: by priority, then number."""
    return [f"T-{i}" for i in sorted(range(step, tasks + 1, step), key=lambda i: (1 + i % 5, i))]


def lists(want: list[str], dated: bool) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        rows = parsed(result)
        got = [row["id"] for row in rows]
        if got != want:
            return f"listed {len(got)} tasks ({', '.join(got[:3])} ...), not the {len(want)} expected"
        if dated and any(row["start"] is None or row["finish"] is None for row in rows):
            return "some tasks have no start or finish"
        return None

    return check


@contextmanager
def simulation(root: Path, tasks: int) -> Iterator[InProcess]:
    """A case that computes the whole schedule on the workspace's database, in this process."""
    from crmctl.ops import schedule
    from crmctl.ops.session import Options, open_session

    with open_session(Options(workspace=root, now=NOW, actor=PERSON)) as session:

        def compute() -> str | None:
            result, rows = schedule.compute(session)
            problems = sum(1 for slot in result.slots.values() if slot.problem)
            if len(rows) != tasks or problems:
                return f"{len(rows)} open tasks scheduled, of {tasks}; {problems} could not be scheduled"
            return None

        yield InProcess(f"schedule of {tasks:,} tasks", compute)


def forget_schedule(db: Path) -> Callable[[], None]:
    """Remove the stored schedule's stamp, so that the next `queue` computes it again."""

    def forget() -> None:
        import duckdb

        from crmctl.store.schedule import STAMP

        conn = duckdb.connect(str(db))
        try:
            conn.execute("DELETE FROM crm.meta WHERE key = ?", [STAMP])
        finally:
            conn.close()

    return forget


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks of the large database")
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--queue", type=int, default=300, help="tasks in the timed person's queue")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspaces and print where")
    args = parser.parse_args()
    if args.tasks < 10 * args.queue or args.queue < 1 or args.people < 1 or args.runs < 1:
        parser.error("--tasks must be at least ten times --queue, and --queue, --people and --runs at least 1")

    with scratch("schedule", args.keep) as folder:
        env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": NOW, "CRMCTL_USER": PERSON, "NO_COLOR": "1"}
        crmctl = str(tool("crmctl"))
        small_root, big_root = folder / "small", folder / "big"
        small_n, big_n = args.tasks // 10, args.tasks
        fill(crmctl, small_root, small_n, args.people, max(1, small_n // args.queue), env)
        step = max(1, big_n // args.queue)
        fill(crmctl, big_root, big_n, args.people, step, env)
        want = queue_of(big_n, step)
        print(f"{machine()}\nmedian of {args.runs} runs each\n", flush=True)

        with simulation(big_root, big_n) as big, simulation(small_root, small_n) as small:
            growth = Figure(
                f"schedule of {big_n:,} / of {small_n:,} tasks, {args.people:,} people (in process)",
                big,
                small,
                GROWTH_GOAL,
            )
            measure([growth], folder, env, args.runs)

        db = big_root / "crmctl.duckdb"
        command = [crmctl, "queue", PERSON, "--format", "json"]
        stored = Case("crmctl queue, stored", [command], lists(want, dated=True))
        computed = Case("crmctl queue, computed", [command], lists(want, dated=True), prepare=forget_schedule(db))
        bare = Case("one query", [[sys.executable, "-c", BARE, str(db), PERSON]], lists(want, dated=False))
        what = f"queue {PERSON}: {len(want)} of {big_n:,} tasks, {args.people:,} people"
        figures = [
            Figure(f"{what}, stored schedule / one query", stored, bare, QUEUE_GOAL),
            Figure(f"{what}, computed and stored / one query", computed, bare),
        ]
        measure(figures, big_root, env, args.runs)
        print(table([growth, *figures]))
        print(
            "\nschedule: wall and CPU seconds of schedule.compute in this process (large / small database); "
            "queue: processes, crmctl / a python -c with one query"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
