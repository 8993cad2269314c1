"""`crmctl import` of a million-row CSV file beside DuckDB reading the same file into a table.

Makes a throw-away workspace with one form of 12 fields of mixed types (text, e-mail, phone, money, number,
date, date-time, yes/no, a list, a person and free text; no process) and a CSV file of ROWS rows for it, all
valid. Then, in turns, each run starting from the same freshly applied database:

    crmctl import leads leads.csv --quiet      every value converted and checked, records written with
                                               their keys, and the import's history
    python -c "CREATE TABLE t AS FROM read_csv('leads.csv')"   DuckDB alone, types detected, no checks

Every run checks what was written: a million records, each holding the file's row its number names (keys
follow the file's order), and the refused import naming the bad row by its number in the file.

Goal: at most 2x. Also printed: the peak memory (resident set) of the crmctl process, goal under 2 GB, and
the same import with a bad row in the middle (--on-error abort: nothing written) for reference.

    .venv/bin/python benchmarks/imports.py [--rows 1000000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import Case, CommandFailed, Figure, clean_env, machine, run, table, tool

WORKSPACE = """\
kind: Workspace
name: bench
timezone: Europe/Moscow
---
kind: Team
name: staff
roles:
  - {id: sales, permissions: ["*"]}
people:
  - {id: belov, name: Белов, roles: [sales]}
  - {id: sokolov, name: Соколов, roles: [sales]}
  - {id: frolov, name: Фролов, roles: [sales]}
---
kind: Form
name: leads
key_prefix: LD
title_field: name
fields:
  - {id: name, type: text, required: true}
  - {id: email, type: email}
  - {id: phone, type: phone}
  - {id: amount, type: money, min: 0}
  - {id: budget, type: number}
  - {id: score, type: number, min: 0, max: 100}
  - {id: signed_on, type: date}
  - {id: contacted_at, type: datetime}
  - {id: active, type: bool, default: false}
  - {id: segment, type: list, options: [retail, b2b, gov]}
  - {id: manager, type: person}
  - {id: notes, type: text}
"""
HEADER = [
    "name",
    "email",
    "phone",
    "amount",
    "budget",
    "score",
    "signed_on",
    "contacted_at",
    "active",
    "segment",
    "manager",
    "notes",
]
REFERENCE = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
    "c.execute('CREATE TABLE t AS FROM read_csv(?)', [sys.argv[2]]); c.close()"
)
# how many records, and how many of them do not hold the file's row their number says (row i is "Компания i-1")
COUNT = (
    "import duckdb; c = duckdb.connect('crmctl.duckdb'); print(*c.execute(\"SELECT count(*), "
    "count(*) FILTER (name <> 'Компания ' || (number - 1)) FROM leads\").fetchone())"
)


def make_csv(path: Path, rows: int, bad_row: int | None = None) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            w.writerow(
                [
                    f"Компания {i}",
                    f"user{i}@example.ru",
                    f"+7 912 {i % 1000:03d}-{i % 100:02d}-{i % 97:02d}",
                    f"{rnd.randint(1, 10**6)}.{rnd.randint(0, 99):02d}",
                    str(rnd.randint(1, 10**5)),
                    f"{rnd.random() * 100:.3f}",
                    f"2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                    f"2026-05-{rnd.randint(1, 28):02d}T10:{rnd.randint(0, 59):02d}:00+03:00",
                    rnd.choice(["yes", "no"]),
                    rnd.choice(["retail", "b2b", "gov"]),
                    rnd.choice(["belov", "sokolov", "frolov"]),
                    "примечание " * rnd.randint(0, 3) if i != bad_row else "",
                ]
                if i != bad_row
                else [f"Компания {i}", "not-an-address", "", "-5", "", "", "2026-13-01", "", "", "", "", ""]
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the throw-away folder.")
    args = parser.parse_args()
    crmctl, python = str(tool("crmctl")), sys.executable
    folder = Path(tempfile.mkdtemp(prefix="crmctl-bench-import-"))
    env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": "2027-03-01T10:00:00+03:00", "CRMCTL_USER": "belov"}
    try:
        (folder / "crmctl.yaml").write_text(WORKSPACE, encoding="utf-8")
        run([crmctl, "apply"], folder, env)
        shutil.copy(folder / "crmctl.duckdb", folder / "empty.duckdb")
        make_csv(folder / "leads.csv", args.rows)
        make_csv(folder / "bad.csv", args.rows, bad_row=args.rows // 2)
        size = (folder / "leads.csv").stat().st_size / 1e6
        print(f"{machine()}\n{args.rows:,} rows, {size:.0f} MB of CSV, 12 fields\n", flush=True)
        ours = Case("crmctl import", [])
        bad = Case("crmctl import, bad row in the middle", [])
        ref = Case("duckdb read_csv into a table", [])
        for turn in range(args.runs + 1):
            shutil.copy(folder / "empty.duckdb", folder / "crmctl.duckdb")
            mine = run([crmctl, "import", "leads", "leads.csv", "--quiet"], folder, env)
            count = run(
                [
                    python,
                    "-c",
                    COUNT,
                ],
                folder,
                env,
            )
            written, misplaced = map(int, count.stdout.split())
            if written != args.rows:
                raise CommandFailed(f"crmctl import wrote {written} rows, not {args.rows}")
            if misplaced:
                raise CommandFailed(f"{misplaced} records got their number out of the file's order")
            shutil.copy(folder / "empty.duckdb", folder / "crmctl.duckdb")
            refused = run([crmctl, "import", "leads", "bad.csv", "--quiet"], folder, env, ok=(1,))
            if "nothing was imported" not in refused.stderr:
                raise CommandFailed(f"the bad file was not refused: {refused.stderr[:500]}")
            if not refused.stderr.startswith(f"row {args.rows // 2 + 2}, "):  # the header is row 1
                raise CommandFailed(f"the bad row was not named as row {args.rows // 2 + 2}: {refused.stderr[:500]}")
            (folder / "ref.duckdb").unlink(missing_ok=True)
            reference = run([python, "-c", REFERENCE, "ref.duckdb", "leads.csv"], folder, env)
            if turn:  # the first turn is a warm-up
                for case, result in ((ours, mine), (bad, refused), (ref, reference)):
                    case.walls.append(result.wall)
                    case.cpus.append(result.cpu)
        figures = [
            Figure("import 1M rows (checked, written)", ours, ref, 2.0),
            Figure("import refused (bad row, nothing written)", bad, ref),
        ]
        print(table(figures))
        print(f"\npeak resident memory of any measured process: {peak_rss_mb():,.0f} MB (goal: under 2048 MB)")
        print(
            f"median seconds: crmctl {statistics.median(ours.walls):.2f}, reference {statistics.median(ref.walls):.2f}"
        )
        return 0
    except CommandFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
