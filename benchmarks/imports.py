"""`crmctl import` of a million-row CSV file beside DuckDB reading the same file into a table.

Makes a throw-away workspace with one form of 12 fields of mixed types (text, e-mail, phone, money, number,
date, date-time, yes/no, a list, a person and free text; no process) and a CSV file of ROWS rows for it, all
valid. Then, in turns, each run starting from the same freshly applied database:

    crmctl import leads leads.csv --quiet      every value converted and checked, records written with
                                               their keys, and the import's history
    python -c "CREATE TABLE t AS FROM read_csv('leads.csv')"   DuckDB alone, types detected, no checks

Every run checks what was written: every row of the file as a record, each holding the file's row its number names (keys
follow the file's order), and the refused import naming the bad row by its number in the file.

Goal: at most 2x. Also printed: the peak memory (resident set) of each process, goal under 2 GB for the
crmctl import, and the same import with a bad row in the middle (--on-error abort: nothing written) for
reference.

    .venv/bin/python benchmarks/imports.py [--rows 1000000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
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


def written(folder: Path, env: dict[str, str], rows: int) -> Callable[[Result], str | None]:
    """The check of an import: the table holds every row, each record the file's row its number names."""

    def check(result: Result) -> str | None:
        count = run([sys.executable, "-c", COUNT], folder, env)
        stored, misplaced = map(int, count.stdout.split())
        if stored != rows:
            return f"wrote {stored} rows, not {rows}"
        return f"{misplaced} records got their number out of the file's order" if misplaced else None

    return check


def refused(bad_row: int) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        if "nothing was imported" not in result.stderr:
            return f"the bad file was not refused: {result.stderr[:500]}"
        if not result.stderr.startswith(f"row {bad_row}, "):
            return f"the bad row was not named as row {bad_row}: {result.stderr[:500]}"
        return None

    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the throw-away folder.")
    args = parser.parse_args()
    if args.rows < 2 or args.runs < 1:
        parser.error("--rows must be at least 2 and --runs at least 1")
    crmctl, python = str(tool("crmctl")), sys.executable
    with scratch("import", args.keep) as folder:
        env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": "2027-03-01T10:00:00+03:00", "CRMCTL_USER": "belov"}
        (folder / "crmctl.yaml").write_text(WORKSPACE, encoding="utf-8")
        run([crmctl, "apply"], folder, env)
        shutil.copy(folder / "crmctl.duckdb", folder / "empty.duckdb")
        make_csv(folder / "leads.csv", args.rows)
        make_csv(folder / "bad.csv", args.rows, bad_row=args.rows // 2)
        size = (folder / "leads.csv").stat().st_size / 1e6
        print(f"{machine()}\n{args.rows:,} rows, {size:.0f} MB of CSV, 12 fields; median of {args.runs} runs\n")

        def fresh() -> None:
            shutil.copy(folder / "empty.duckdb", folder / "crmctl.duckdb")

        ours = Case(
            "crmctl import",
            [[crmctl, "import", "leads", "leads.csv", "--quiet"]],
            written(folder, env, args.rows),
            prepare=fresh,
        )
        bad = Case(
            "crmctl import, bad row in the middle",
            [[crmctl, "import", "leads", "bad.csv", "--quiet"]],
            refused(args.rows // 2 + 2),  # the header is row 1
            prepare=fresh,
            ok=(1,),
        )
        ref = Case(
            "duckdb read_csv into a table",
            [[python, "-c", REFERENCE, "ref.duckdb", "leads.csv"]],
            prepare=lambda: (folder / "ref.duckdb").unlink(missing_ok=True),
        )
        rows = f"{args.rows:,} rows"
        figures = [
            Figure(f"import {rows}, 12 fields, checked and written / CREATE TABLE AS read_csv", ours, ref, 2.0),
            Figure(f"import {rows} with a bad one, refused / CREATE TABLE AS read_csv", bad, ref),
        ]
        measure(figures, folder, env, args.runs)
        print(table(figures))
        print(
            f"\npeak resident memory: crmctl import {ours.peak_mb:,.0f} MB (goal: under 2048 MB), the refused "
            f"import {bad.peak_mb:,.0f} MB, the reference {ref.peak_mb:,.0f} MB"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
