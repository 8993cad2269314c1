"""`crmctl report efficiency` on millions of time intervals, beside the same aggregation written by hand.

Fills a workspace's database in bulk (SQL, not CLI calls) with TASKS finished tasks of 1,000 people and
INTERVALS time intervals, then times

    crmctl report efficiency --by person --period week --format json

against a bare Python process that imports duckdb, opens the same file, runs a hand-written SQL query
computing the same figures and prints them as JSON. Each side runs several times; the medians are compared.
Goal: at most 1.2x.

    python benchmarks/efficiency.py [--tasks 100000] [--intervals 10000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CRMCTL = str(BIN / "crmctl")
ENV = {**os.environ, "CRMCTL_NOW": "2027-06-30T12:00:00+03:00", "CRMCTL_USER": "grigoriev", "NO_COLOR": "1"}

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


def timed(argv: list[str], runs: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=ENV, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv[:3])}... failed: {done.stderr.strip()}")
        out = done.stdout
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--intervals", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import duckdb

    folder = Path(tempfile.mkdtemp(prefix="crmctl-bench-efficiency-"))
    try:
        root = folder / "ws"
        subprocess.run([CRMCTL, "init", str(root), "--example", "freshoffice-templates"], env=ENV, check=True,
                       capture_output=True)
        db = root / "crmctl.duckdb"
        start = time.perf_counter()
        conn = duckdb.connect(str(db))
        for statement in filter(str.strip, FILL.split(";")):
            used = {k: v for k, v in (("tasks", args.tasks), ("intervals", args.intervals)) if f"${k}" in statement}
            conn.execute(statement, used)
        conn.close()
        fill = time.perf_counter() - start
        print(f"filled {args.tasks:,} tasks and {args.intervals:,} intervals in {fill:.1f}s")

        report, report_out = timed(
            [CRMCTL, "-w", str(root), "report", "efficiency", "--by", "person", "--period", "week", "--format",
             "json"], args.runs)
        bare, bare_out = timed([sys.executable, "-c", BARE, str(db)], args.runs)
        mine, theirs = json.loads(report_out), json.loads(bare_out)
        if mine != theirs:
            sys.exit(f"the report and the hand-written query disagree ({len(mine)} rows against {len(theirs)})")
        ratio = report / bare
        print(f"{'figure':<44} {'crmctl':>9} {'reference':>10} {'ratio':>7}  goal")
        print(f"{'report efficiency --by person --period week':<44} {report:>8.3f}s {bare:>9.3f}s {ratio:>7.2f}  "
              f"<= 1.2 {'met' if ratio <= 1.2 else 'MISSED'}")
        print(f"({len(mine):,} rows; median of {args.runs} runs each)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
