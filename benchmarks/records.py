"""How fast `crmctl record show` and `crmctl record list` are beside a bare duckdb script on the same file.

The script makes a throw-away workspace with `crmctl init --example pyrus-client-crm`, fills its database
with N client records (default 100 000) through one INSERT ... SELECT per table (no process per record),
checks that the real commands work on it, and then times each command, as a process, beside a bare Python
process that imports duckdb, opens the same file and runs the queries the command runs:

    record show KEY                       the crm.definitions check and row, SET TimeZone, the form of KEY
                                          from crm.records, the record's row, its comments and open reminders
    record list client --where status=... the same start, then the filtered, ordered, limited SELECT

Both sides run with the interpreter that runs this script (its folder holds the crmctl entry point), each
figure is the best of --runs runs (after one unmeasured run of each, which also fills a bytecode cache in the
throw-away folder), and the ratio is crmctl / bare. The issue's goal is at most 1.3x for
`record show`: a command may only pay for the imports it needs.

    .venv/bin/python benchmarks/records.py [--records N] [--runs N] [--keep]

Exit status: 0 when every command ran (whether or not a goal was met), 1 when a command failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLE = "pyrus-client-crm"
FORM = "client"
PREFIX = "CL"
LIST_WHERE = ("status", "active")
LIST_LIMIT = 20
SHOW_GOAL = 1.3  # the goal for `record show`; `record list` has none, its ratio is shown for reference

# The stages of the client-work process, and what each one leaves in the card: the status its on_enter sets,
# its due_in in hours (none: no deadline) and who is responsible (None: the author; the role's one person).
STAGES = ["first_contact", "needs", "proposal", "negotiation", "contract", "invoicing", "active", "lost"]
STAGE_STATUS = ["new", "new", "new", "negotiation", "negotiation", "negotiation", "active", "lost"]
STAGE_DUE_HOURS = [24, 72, 48, None, 72, 48, None, None]
STAGE_RESPONSIBLE = [None, None, "zaitsev", None, "morozova", "nikitina", None, None]
MANAGERS = ["kuznetsova", "belov", "orlova"]  # the team's people with the manager role
INDUSTRIES = ["retail", "manufacturing", "construction", "it", "services", "other"]
CONTACTS = ["Иван Петров", "Мария Смирнова", "Алексей Козлов", "Елена Новикова", "Сергей Морозов"]
POSITIONS = ["Директор", "Закупщик", "Главный инженер", "Финансовый директор", "Офис-менеджер"]
NEEDS = ["Поставка оборудования", "Сервисный контракт", "Внедрение CRM", "Обучение персонала"]

# Each column of the client form's table (the example's fields, masks and list options) as an expression of
# i (the record number), h (a hash of it), s (the stage's index) and created (its creation time). Columns
# marked optional may be missing from the table (system columns that come and go as crmctl grows); the
# others must exist, and a column of the table not named here must allow NULL.
CLIENT_COLUMNS: list[tuple[str, str, bool]] = [
    ("key", "$prefix || '-' || i", False),
    ("number", "i", False),
    ("author", "$managers[1 + i % 3]", False),
    ("created_at", "created", False),
    ("updated_at", "created + to_hours(h % 72)", False),
    ("def_version", "$version", False),
    ("process", "'client-work'", False),
    ("stage", "$stages[1 + s]", False),
    ("stage_since", "created + to_hours(h % 72)", False),
    ("stage_due", "created + to_hours(h % 72) + to_hours($due_hours[1 + s])", True),
    ("responsible", "coalesce($responsible[1 + s], CASE WHEN s < 7 THEN $managers[1 + i % 3] END)", True),
    ("name", "'ООО «Клиент ' || i || '»'", False),
    ("status", "CASE WHEN s = 6 AND h % 10 = 0 THEN 'on_hold' ELSE $statuses[1 + s] END", False),
    ("contact_person", "$contacts[1 + (h // 7) % 5]", False),
    ("position", "$positions[1 + (h // 11) % 5]", False),
    ("phone", "printf('+7 (495) %03d-%02d-%02d', h % 1000, (h // 1000) % 100, (h // 100000) % 100)", False),
    ("email", "'info@client' || i || '.example.ru'", False),
    ("address", "'г. Москва, ул. Тверская, д. ' || (1 + h % 200)", False),
    ("website", "'https://client' || i || '.example.ru'", False),
    ("inn", "printf('%010d', 7700000000 + i)", False),
    ("industry", "$industries[1 + (h // 13) % 6]", False),
    ("manager", "$managers[1 + i % 3]", False),
    ("next_contact", "DATE '2027-01-01' + CAST(h % 365 AS INTEGER)", False),
    ("needs", "CASE WHEN s >= 2 THEN $needs[1 + (h // 17) % 4] END", False),
    ("notes", "CASE WHEN h % 5 = 0 THEN 'Звонили ' || (1 + h % 28) || ' числа, ждут КП' END", False),
]
FILL_CLIENTS = """
INSERT INTO client ({columns})
SELECT {expressions}
FROM (
    SELECT i, h, CAST(h % 8 AS INTEGER) AS s, TIMESTAMPTZ '2024-01-01 09:00:00+03' + to_minutes(i * 5) AS created
    FROM (SELECT range AS i, CAST(hash(range) % 1000000007 AS BIGINT) AS h FROM range(1, $count + 1))
)
"""
FILL_RECORDS = "INSERT INTO crm.records SELECT key, 'client', number, created_at FROM client"
FILL_EVENTS = """
INSERT INTO crm.events (occurred_at, actor, action, record, form, data)
SELECT created_at, author, 'record.created', key, 'client',
    json_object('values', json_object('name', name, 'status', 'new', 'manager', manager))
FROM client WHERE number % 10000 = 0 OR key = $key
UNION ALL
SELECT stage_since, author, 'stage.entered', key, 'client', json_object('process', process, 'stage', stage)
FROM client WHERE number % 10000 = 0 OR key = $key
"""
FILL_COMMENTS = """
INSERT INTO crm.comments (record, created_at, author, text)
SELECT $key, TIMESTAMPTZ '2026-03-02 10:00:00+03' + to_days(range), 'belov', 'Комментарий ' || (range + 1)
FROM range(3)
"""
FILL_REMINDERS = """
INSERT INTO crm.reminders (record, due_at, text, person, created_by, created_at, done_at)
SELECT $key, TIMESTAMPTZ '2027-03-02 10:00:00+03' + to_days(range), 'Перезвонить клиенту', 'belov', 'belov',
    TIMESTAMPTZ '2026-03-02 10:00:00+03', CASE WHEN range = 0 THEN TIMESTAMPTZ '2026-03-03 10:00:00+03' END
FROM range(2)
"""

# What a minimal program does to answer the same question, with the queries crmctl runs: the start every
# command makes (open the file, check it is a crmctl database, read the latest definitions, set the
# workspace's time zone), then the command's own queries. argv: database path, then the command's values.
BARE_START = """
import datetime as dt
import json
import sys

import duckdb

c = duckdb.connect(sys.argv[1])
c.execute(
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'crm' AND table_name = 'definitions'"
).fetchone()
version, documents = c.execute(
    "SELECT version, documents FROM crm.definitions ORDER BY version DESC LIMIT 1"
).fetchone()
tz = next((d.get("timezone", "UTC") for d in json.loads(documents) if d["kind"] == "Workspace"), "UTC")
c.execute("SET TimeZone = ?", [tz])
"""
BARE_SHOW = (
    BARE_START
    + """
key = sys.argv[2]
form = c.execute("SELECT form FROM crm.records WHERE key = ?", [key]).fetchone()[0]
print(c.execute(f'SELECT * FROM "{form}" WHERE key = ?', [key]).fetchall())
print(c.execute(
    "SELECT id, created_at, author, text FROM crm.comments WHERE record = ? ORDER BY created_at, id", [key]
).fetchall())
far = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=36500)
print(c.execute(
    "SELECT id, record, due_at, text, person, created_by FROM crm.reminders "
    "WHERE done_at IS NULL AND due_at <= ? AND record = ? ORDER BY due_at, id",
    [far, key],
).fetchall())
c.close()
"""
)
BARE_LIST = (
    BARE_START
    + """
form, column, value, limit = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
print(c.execute(f'SELECT * FROM "{form}" WHERE "{column}" = ? ORDER BY number LIMIT ?', [value, limit]).fetchall())
c.close()
"""
)


class CommandFailed(Exception):
    """A measured or preparing command exited with an error."""


@dataclass
class Case:
    what: str
    crmctl: list[str]
    bare: list[str]
    goal: float | None = None
    crmctl_best: float = float("inf")
    bare_best: float = float("inf")

    @property
    def ratio(self) -> float:
        return self.crmctl_best / self.bare_best


def clean_env(pycache: Path) -> dict[str, str]:
    """The environment of the measured processes.

    Without CRMCTL_* settings, so that the caller's shell cannot change what is measured; and with bytecode
    cached under `pycache` (the throw-away folder) even where PYTHONDONTWRITEBYTECODE is set, as in some
    sandboxes: else every run compiles crmctl's sources afresh, a cost no installed crmctl pays. The first,
    unmeasured run of each side fills the cache.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def describe(cmd: list[str]) -> str:
    """A command as a line, with a bare script's text left out."""
    return " ".join([cmd[0], "-c", "<bare script>", *cmd[3:]] if cmd[1:2] == ["-c"] else cmd)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run a command to completion; its wall time and stdout. Raises CommandFailed on a non-zero exit."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise CommandFailed(f"`{describe(cmd)}` exited with {done.returncode}:\n{done.stderr.strip()}")
    return elapsed, done.stdout


def fill(path: Path, count: int, key: str) -> None:
    """Fill the client form with `count` records, one INSERT ... SELECT per table, in one transaction."""
    import duckdb

    conn: Any = duckdb.connect(str(path))
    try:
        table = dict(
            conn.execute(
                "SELECT column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [FORM],
            ).fetchall()
        )
        known = {name for name, _, _ in CLIENT_COLUMNS}
        missing = [name for name, _, optional in CLIENT_COLUMNS if not optional and name not in table]
        required = [name for name, nullable in table.items() if name not in known and nullable != "YES"]
        if missing or required:
            raise CommandFailed(
                f"the {EXAMPLE} example's {FORM} table changed (missing: {', '.join(missing) or '-'}; "
                f"unknown NOT NULL columns: {', '.join(required) or '-'}); update CLIENT_COLUMNS"
            )
        if conn.execute("SELECT count(*) FROM crm.records").fetchone()[0]:
            raise CommandFailed("the new workspace already holds records")
        version = conn.execute("SELECT max(version) FROM crm.definitions").fetchone()[0]
        filled = [(name, sql) for name, sql, _ in CLIENT_COLUMNS if name in table]
        values = {
            "prefix": PREFIX,
            "count": count,
            "version": version,
            "managers": MANAGERS,
            "stages": STAGES,
            "statuses": STAGE_STATUS,
            "due_hours": STAGE_DUE_HOURS,
            "responsible": STAGE_RESPONSIBLE,
            "contacts": CONTACTS,
            "positions": POSITIONS,
            "industries": INDUSTRIES,
            "needs": NEEDS,
        }
        sql = FILL_CLIENTS.format(
            columns=", ".join(f'"{name}"' for name, _ in filled),
            expressions=",\n    ".join(expression for _, expression in filled),
        )
        used = {name for name in values if f"${name}" in sql}
        conn.execute("BEGIN TRANSACTION")
        conn.execute(sql, {name: value for name, value in values.items() if name in used})
        conn.execute(FILL_RECORDS)
        conn.execute(FILL_EVENTS, {"key": key})
        conn.execute(FILL_COMMENTS, {"key": key})
        conn.execute(FILL_REMINDERS, {"key": key})
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise CommandFailed(f"filling {path} failed: {exc}") from None
    finally:
        conn.close()


def check(case: Case, workspace: Path, env: dict[str, str], expect: str) -> None:
    """Run both sides once, untimed: they must work and find what the benchmark asks for."""
    for cmd in (case.crmctl, case.bare):
        _, out = run(cmd, workspace, env)
        if expect not in out:
            raise CommandFailed(f"`{describe(cmd)}` did not print {expect!r}:\n{out[:2000]}")


def measure(cases: list[Case], workspace: Path, env: dict[str, str], runs: int) -> None:
    """Best of `runs` for each side, the two sides taking turns so that drift in the machine hits both."""
    for _ in range(runs):
        for case in cases:
            case.crmctl_best = min(case.crmctl_best, run(case.crmctl, workspace, env)[0])
            case.bare_best = min(case.bare_best, run(case.bare, workspace, env)[0])


def table(cases: list[Case]) -> str:
    header = ("what", "crmctl s", "bare s", "ratio", "goal", "met?")
    rows = []
    for case in cases:
        goal = case.goal
        met = "-" if goal is None else ("yes" if case.ratio <= goal else "NO")
        rows.append(
            (
                case.what,
                f"{case.crmctl_best:.3f}",
                f"{case.bare_best:.3f}",
                f"{case.ratio:.2f}x",
                "-" if goal is None else f"<= {goal:g}x",
                met,
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="records to fill (default 100000)")
    parser.add_argument("--runs", type=int, default=10, help="runs of each command; the best counts (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace and print where it is")
    args = parser.parse_args(argv)
    if args.records < 1 or args.runs < 1:
        parser.error("--records and --runs must be at least 1")

    python = sys.executable
    crmctl = Path(python).parent / "crmctl"
    if not crmctl.is_file():
        print(f"no crmctl beside {python}: run this with the project's venv python", file=sys.stderr)
        return 1
    key = f"{PREFIX}-{max(1, args.records // 2)}"
    tmp = Path(tempfile.mkdtemp(prefix="crmctl-bench-"))
    env = clean_env(tmp / "pycache")
    workspace = tmp / "ws"
    db = workspace / "crmctl.duckdb"
    try:
        run([str(crmctl), "init", str(workspace), "--example", EXAMPLE], tmp, env)
        start = time.perf_counter()
        fill(db, args.records, key)
        filled = time.perf_counter() - start

        column, value = LIST_WHERE
        cases = [
            Case(
                f"record show {key}",
                [str(crmctl), "record", "show", key],
                [python, "-c", BARE_SHOW, str(db), key],
                goal=SHOW_GOAL,
            ),
            Case(
                f"record list {FORM} --where {column}={value} --limit {LIST_LIMIT}",
                [str(crmctl), "record", "list", FORM, "--where", f"{column}={value}", "--limit", str(LIST_LIMIT)],
                [python, "-c", BARE_LIST, str(db), FORM, column, value, str(LIST_LIMIT)],
            ),
        ]
        check(cases[0], workspace, env, key)
        check(cases[1], workspace, env, PREFIX + "-")

        import duckdb

        print(
            f"crmctl records benchmark: {args.records} {FORM} records ({db.stat().st_size / 1e6:.1f} MB, "
            f"filled in {filled:.2f}s), best of {args.runs} runs, in the workspace folder"
        )
        print(
            f"python {platform.python_version()}, duckdb {duckdb.__version__}, {sys.platform}, "
            f"bytecode cached in {env['PYTHONPYCACHEPREFIX']}"
        )
        print()
        measure(cases, workspace, env, args.runs)
        print(table(cases))
        print()
        print("crmctl s: the command as a process; bare s: python -c 'import duckdb' + the same queries; ratio = c/b")
    except CommandFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workspace}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
