"""`crmctl report efficiency` on millions of time intervals, beside the same aggregation written by hand.

Fills a workspace's database in bulk (SQL, not CLI calls) with TASKS finished tasks of 1,000 people and
INTERVALS time intervals, then times, in turns,

    crmctl report efficiency --by person --period week --format json

and a bare Python process that imports duckdb, opens the same file, runs a hand-written SQL query computing
the same figures and prints them as JSON. The two outputs must be equal, on every run. Goal: at most 1.2x.

    .venv/bin/python benchmarks/efficiency.py [--tasks 100000] [--intervals 10000000] [--runs 5] [--keep]

Exit status: 0 when every command ran and printed what it should (whether or not the goal was met), 1 when not.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import Case, CommandFailed, Figure, Result, clean_env, machine, measure, parsed, run, scratch, table, tool

GOAL = 1.2
NOW = "2027-06-30T12:00:00+03:00"

FILL = """
INSERT INTO crm.tasks (id, number, title, type, assignee, estimate_minutes, status, created_at, finished_at)
SELECT 'T-' || i, i, 'task ' || i, 'type' || (i % 20), 'p' || lpad(CAST(i % 1000 AS VARCHAR), 4, '0'),
       CASE WHEN i % 50 = 0 THEN NULL ELSE 30 + (i % 17) * 15 END, 'done',
       TIMESTAMPTZ '2027-01-01 09:00:00+03' ,
       TIMESTAMPTZ '2027-01-04 18:00:00+03' + to_days(CAST(i % 170 AS INTEGER))
FROM range(1, $tasks + 1) t(i);
INSERT INTO crm.time_intervals (id, task, person, started_at, ended_at, source)
SELECT i, 'T-' || (1 + i % $tasks), 'p' || lpad(CAST((i % $tasks) % 1000 AS VARCHAR), 4, '0'),
       TIMESTAMPTZ '2027-01-04 09:00:00+03' + to_minutes(CAST(i % 100000 AS BIGINT)),
       TIMESTAMPTZ '2027-01-04 09:00:00+03' + to_minutes(CAST(i % 100000 + 5 + i % 40 AS BIGINT)), 'log'
FROM range(1, $intervals + 1) t(i);
"""

# The same figures as the report, written by hand.
BARE = """
import duckdb, json, sys
conn = duckdb.connect(sys.argv[1], read_only=True)
conn.execute("SET TimeZone = 'Europe/Moscow'")
conn.execute("SET enable_progress_bar_print = false")  # as crmctl: no bar on stdout on a slow query
rows = conn.execute('''
  WITH actual AS (SELECT task, sum(epoch(ended_at) - epoch(started_at)) / 60.0 AS minutes
                  FROM crm.time_intervals WHERE ended_at IS NOT NULL GROUP BY task),
  base AS (SELECT coalesce(t.assignee, '-') AS person, t.estimate_minutes, coalesce(a.minutes, 0) AS actual,
                  date_trunc('week', t.finished_at) AS period
           FROM crm.tasks t LEFT JOIN actual a ON a.task = t.id WHERE t.status = 'done')
  SELECT strftime(period, '%G-W%V') AS period, person, count(*) AS tasks,
         count(*) FILTER (WHERE estimate_minutes IS NULL) AS unestimated,
         round(sum(estimate_minutes) / 60.0, 2) AS estimated_hours,
         round(sum(actual) FILTER (WHERE estimate_minutes IS NOT NULL) / 60.0, 2) AS actual_hours,
         round(sum(estimate_minutes) / nullif(sum(actual) FILTER (WHERE estimate_minutes IS NOT NULL), 0), 2) AS ratio,
         round(avg(actual) / 60.0, 2) AS mean_hours, round(median(actual) / 60.0, 2) AS median_hours,
         round(quantile_cont(actual, 0.9) / 60.0, 2) AS p90_hours
  FROM base GROUP BY period, person ORDER BY period, person''')
names = [d[0] for d in rows.description]
print(json.dumps([dict(zip(names, r)) for r in rows.fetchall()], ensure_ascii=False, indent=2))
"""


def fill(db: Path, tasks: int, intervals: int) -> None:
    import duckdb

    conn = duckdb.connect(str(db))
    try:
        for statement in filter(str.strip, FILL.split(";")):
            used = {k: v for k, v in (("tasks", tasks), ("intervals", intervals)) if f"${k}" in statement}
            conn.execute(statement, used)
    finally:
        conn.close()


def same_as(want: list[dict[str, object]]) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        got = parsed(result)
        return None if got == want else f"printed {len(got):,} rows that are not the {len(want):,} expected"

    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--intervals", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace and print where it is")
    args = parser.parse_args()

    with scratch("efficiency", args.keep) as folder:
        env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": NOW, "CRMCTL_USER": "grigoriev", "NO_COLOR": "1"}
        root = folder / "ws"
        db = root / "crmctl.duckdb"
        crmctl = str(tool("crmctl"))
        run([crmctl, "init", str(root), "--example", "freshoffice-templates"], folder, env)
        start = time.perf_counter()
        fill(db, args.tasks, args.intervals)
        print(f"filled {args.tasks:,} tasks and {args.intervals:,} intervals in {time.perf_counter() - start:.1f}s")
        report = [crmctl, "report", "efficiency", "--by", "person", "--period", "week", "--format", "json"]
        bare = [sys.executable, "-c", BARE, str(db)]
        want = parsed(run(bare, root, env))
        mine = parsed(run(report, root, env))
        if mine != want:
            raise CommandFailed(f"the report and the hand-written query disagree ({len(mine)} rows, {len(want)})")
        figures = [
            Figure(
                f"report efficiency --by person --period week ({args.intervals:,} intervals, {args.tasks:,} tasks)"
                " / SQL by hand",
                Case("crmctl report efficiency", [report], same_as(want)),
                Case("the same SQL by hand", [bare], same_as(want)),
                GOAL,
            )
        ]
        print(f"{machine()}\n{len(want):,} rows in the report; median of {args.runs} runs each\n", flush=True)
        measure(figures, root, env, args.runs)
        print(table(figures))
        return 0


if __name__ == "__main__":
    sys.exit(main())
