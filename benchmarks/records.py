"""How fast `crmctl record show` and `crmctl record list` are beside a bare duckdb script on the same file.

The script makes a throw-away workspace with `crmctl init --example pyrus-client-crm` and fills its
database in bulk, one INSERT ... SELECT per table in one transaction (no process per record), with what
crmctl itself writes for N client records (default 100 000) that went through the client-work process:
the form table's rows; the history (record.created, stage.entered); the pending approval
requests and the on_enter reminders of each record's current stage; two won deals (the deal form refers
to clients) for every tenth client. The record shown gets three comments
and two more reminders (one done). Simplifications: stage deadlines and reminders are in calendar hours,
not working time; the projects the `active` stage launches are not made (crm.tasks stays empty).

Then it checks the commands on that file: `record show KEY --format json` must hold the record's row, its
pending approvers, roll-ups, related deals, comments and open reminders as they are in the database, and
`record list --format json` exactly the records a hand-written query selects. Then it times, as processes
(in the workspace folder, cwd), each command beside a bare Python process that imports duckdb, opens the
same file and runs the very statements the command runs, with their parameters, and prints their rows:

    record show KEY                         the card of one record
    record list client --where status=active --limit 20

The statements are recorded by running crmctl once in a process whose duckdb.connect hands out a logging
connection, so the reference follows crmctl's queries as they change (the benchmark refuses to go on if
crmctl ran anything but reads). What the ratio shows is then crmctl's own cost on top of the queries:
importing itself and its command-line layer, finding the workspace and reading the definitions, rendering.

Each figure is the median of --runs runs, the sides taking turns after one untimed run of each (which also
fills a bytecode cache in the throw-away folder); every run's output is checked. The goal is at most 1.3x
for `record show`; `record list` has none (its ratio is shown for reference). --imports adds where the
import time goes (`python -X importtime` of both sides of `record show`, summed per top-level package).

    .venv/bin/python benchmarks/records.py [--records N] [--runs N] [--imports] [--keep]

Exit status: 0 when every command ran and printed what it should (whether or not a goal was met), 1 when not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

from benchlib import Case, CommandFailed, Figure, Result, clean_env, machine, measure, run, table, tool

EXAMPLE = "pyrus-client-crm"
FORM = "client"
PREFIX = "CL"
LIST_WHERE = ("status", "active")
LIST_LIMIT = 20
SHOW_GOAL = 1.3  # `record show` at most 1.3x the bare script; `record list` has no goal
MIN_RECORDS = 10

# The stages of the client-work process, and what each one leaves in the card: the status its on_enter sets,
# its due_in in hours (none: no deadline) and who is responsible (None: the author; the role's one person).
STAGES = ["first_contact", "needs", "proposal", "negotiation", "contract", "invoicing", "active", "lost"]
STAGE_STATUS = ["new", "new", "new", "negotiation", "negotiation", "negotiation", "active", "lost"]
STAGE_DUE_HOURS = [24, 72, 48, None, 72, 48, None, None]
STAGE_RESPONSIBLE = [None, None, "zaitsev", None, "morozova", "nikitina", None, None]
# The approvals each stage requests on entry, in order: (stage, group, approver; None: the record's author).
STAGE_APPROVALS = [
    ("first_contact", "Контакт установлен", None),
    ("needs", "Потребности выяснены", None),
    ("proposal", "Проверка КП автором", None),
    ("negotiation", "Условия согласованы с клиентом", None),
    ("contract", "Юридическая проверка", "role:lawyer"),
    ("contract", "Подписание клиентом", None),
]
# The reminders each stage's on_enter adds: (stage, due after entering in hours, text, for; None: the author).
STAGE_REMINDERS = [
    ("needs", 48, "Перезвонить клиенту и уточнить задачу", None),
    ("negotiation", 72, "Клиент ждёт ответа по КП — договоритесь о встрече", None),
    ("invoicing", 120, "Проверить поступление оплаты", "nikitina"),
    ("active", 672, "Плановый звонок клиенту — как идут дела?", None),
]
SHOWN_STAGE = "negotiation"  # the record shown is in this stage: a pending approval, a reminder, a deadline
MANAGERS = ["kuznetsova", "belov", "orlova"]  # the team's people with the manager role
INDUSTRIES = ["retail", "manufacturing", "construction", "it", "services", "other"]
CONTACTS = ["Иван Петров", "Мария Смирнова", "Алексей Козлов", "Елена Новикова", "Сергей Морозов"]
POSITIONS = ["Директор", "Закупщик", "Главный инженер", "Финансовый директор", "Офис-менеджер"]
NEEDS = ["Поставка оборудования", "Сервисный контракт", "Внедрение CRM", "Обучение персонала"]

# Each column of a form's table (the example's fields, masks and list options) as an SQL expression. Client
# rows are made from i (the record number), h (a hash of it), s (the stage's index) and created (the creation
# time); deal rows from j (the deal number), c (the number of its client) and created. Columns marked
# optional may be missing from the table (system columns that come and go as crmctl grows); the others must
# exist, and a column of the table not named here must allow NULL.
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
DEAL_COLUMNS: list[tuple[str, str, bool]] = [
    ("key", "'DL-' || j", False),
    ("number", "j", False),
    ("author", "$managers[1 + c % 3]", False),
    ("created_at", "created", False),
    ("updated_at", "created + INTERVAL 10 DAY", False),
    ("def_version", "$version", False),
    ("process", "'deal-approval'", False),
    ("stage", "'approved'", False),
    ("stage_since", "created + INTERVAL 10 DAY", False),
    ("stage_due", "NULL", True),
    ("responsible", "NULL", True),
    ("subject", "'Поставка оборудования, заказ ' || j", False),
    ("client", "$prefix || '-' || c", False),
    ("amount", "CAST(100000 + (j * 7919) % 900000 AS DECIMAL(18, 2))", False),
    ("purchase_amount", "CAST(50000 + (j * 104729) % 400000 AS DECIMAL(18, 2))", False),
    ("needs_tender", "false", False),
    ("supplier", "'ООО «Поставщик ' || (1 + j % 40) || '»'", False),
    ("payment_terms", "'split'", False),
    ("deadline", "DATE '2027-06-01' + CAST(j % 180 AS INTEGER)", False),
    ("contract_number", "'Д-' || j", False),
    ("manager", "$managers[1 + c % 3]", False),
    ("decision", "'approved'", False),
    ("comment", "NULL", False),
]
FILL_CLIENTS = """
INSERT INTO client ({columns})
SELECT {expressions}
FROM (
    SELECT i, h, CAST(h % 8 AS INTEGER) AS s, TIMESTAMPTZ '2024-01-01 09:00:00+03' + to_minutes(i * 5) AS created
    FROM (SELECT range AS i, CAST(hash(range) % 1000000007 AS BIGINT) AS h FROM range(1, $count + 1))
)
"""
FILL_DEALS = """
INSERT INTO deal ({columns})
SELECT {expressions}
FROM (
    SELECT j, c, TIMESTAMPTZ '2024-01-01 09:00:00+03' + to_minutes(c * 5) + INTERVAL 1 DAY AS created
    FROM (SELECT range AS j, ((range + 1) // 2) * 10 AS c FROM range(1, $deals + 1))
)
"""
FILL_EVENTS = """
INSERT INTO crm.events (occurred_at, actor, action, record, form, data)
SELECT created_at, author, 'record.created', key, 'client', json_object('values', json_object(
    'name', name, 'status', 'new', 'contact_person', contact_person, 'phone', phone, 'manager', manager))
FROM client
UNION ALL
SELECT stage_since, author, 'stage.entered', key, 'client',
    json_object('process', process, 'stage', stage, 'responsible', responsible, 'due', stage_due)
FROM client
ORDER BY 1
"""
FILL_APPROVALS = """
INSERT INTO crm.approvals (record, process, stage, approval_group, approver, requested_at)
SELECT c.key, c.process, c.stage, a.grp, coalesce(a.who, c.author), c.stage_since
FROM client c JOIN (VALUES {values}) a(ord, stage, grp, who) ON a.stage = c.stage
ORDER BY c.number, a.ord
"""
FILL_REMINDERS = """
INSERT INTO crm.reminders (record, due_at, text, person, created_by, created_at)
SELECT c.key, c.stage_since + to_hours(r.hours), r.text, coalesce(r.who, c.author), c.author, c.stage_since
FROM client c JOIN (VALUES {values}) r(stage, hours, text, who) ON r.stage = c.stage
ORDER BY c.number
"""
PICK_KEY = f"""
SELECT key FROM client WHERE number % 10 = 0 AND number >= $half
ORDER BY stage = '{SHOWN_STAGE}' DESC, number LIMIT 1
"""
SHOWN_COMMENTS = """
INSERT INTO crm.comments (record, created_at, author, text)
SELECT $key, TIMESTAMPTZ '2026-03-02 10:00:00+03' + to_days(range), 'belov', 'Комментарий ' || (range + 1)
FROM range(3)
"""
SHOWN_REMINDERS = """
INSERT INTO crm.reminders (record, due_at, text, person, created_by, created_at, done_at)
SELECT $key, TIMESTAMPTZ '2027-03-02 10:00:00+03' + to_days(range), 'Отправить КП, вариант ' || (range + 1),
    'belov', 'belov', TIMESTAMPTZ '2026-03-02 10:00:00+03',
    CASE WHEN range = 0 THEN TIMESTAMPTZ '2026-03-03 10:00:00+03' END
FROM range(2)
"""

# Runs crmctl (argv[2:]) in this process with duckdb.connect handing out a connection that logs every
# statement and its parameters, then writes the log as JSON to argv[1].
TRACER = r"""
import datetime as dt
import json
import sys

import duckdb

log = []


def encode(value):
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot record a parameter of type {type(value).__name__}")


class Logged:
    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, parameters=None):
        log.append([sql, None if parameters is None else encode(parameters)])
        return self._conn.execute(sql) if parameters is None else self._conn.execute(sql, parameters)

    def executemany(self, sql, parameters):
        log.append([sql, "executemany"])
        return self._conn.executemany(sql, parameters)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._conn.close()

    def __getattr__(self, name):
        return getattr(self._conn, name)


connect = duckdb.connect
duckdb.connect = lambda *args, **kwargs: Logged(connect(*args, **kwargs))
out, sys.argv = sys.argv[1], ["crmctl", *sys.argv[2:]]
from crmctl.cli import main

try:
    main()
finally:
    with open(out, "w", encoding="utf-8") as f:
        json.dump(log, f, ensure_ascii=False)
"""

# The reference: import duckdb, open the file (argv[1]), run the statements recorded from crmctl (the JSON
# file argv[2]) with their parameters, print what each returns.
BARE = r"""
import datetime as dt
import json
import sys

import duckdb


def decode(value):
    if isinstance(value, dict):
        if "$datetime" in value:
            return dt.datetime.fromisoformat(value["$datetime"])
        return dt.date.fromisoformat(value["$date"])
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


with open(sys.argv[2], encoding="utf-8") as f:
    statements = json.load(f)
conn = duckdb.connect(sys.argv[1])
for sql, parameters in statements:
    cursor = conn.execute(sql) if parameters is None else conn.execute(sql, decode(parameters))
    if cursor.description:
        print(cursor.fetchall())
conn.close()
"""
# The least a program can do: import duckdb, open the file (argv[1]), run one SELECT (argv[2]) with the
# parameters argv[3:] (numbers as numbers), print its rows.
MINIMAL = r"""
import sys

import duckdb

conn = duckdb.connect(sys.argv[1])
print(conn.execute(sys.argv[2], [int(a) if a.isdigit() else a for a in sys.argv[3:]]).fetchall())
conn.close()
"""
SHOW_SQL = f"SELECT * FROM {FORM} WHERE key = ?"
LIST_SQL = f'SELECT * FROM {FORM} WHERE "{{column}}" = ? ORDER BY number LIMIT ?'
READS = re.compile(r"\s*(SELECT|WITH|SET|PRAGMA)\b", re.IGNORECASE)


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _columns(conn: Any, form: str, spec: list[tuple[str, str, bool]]) -> list[tuple[str, str]]:
    """The (column, expression) pairs to fill, after checking that the table still has the expected shape."""
    table = dict(
        conn.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ?",
            [form],
        ).fetchall()
    )
    known = {name for name, _, _ in spec}
    missing = [name for name, _, optional in spec if not optional and name not in table]
    required = [name for name, nullable in table.items() if name not in known and nullable != "YES"]
    if missing or required:
        raise CommandFailed(
            f"the {EXAMPLE} example's {form} table changed (missing: {', '.join(missing) or '-'}; "
            f"unknown NOT NULL columns: {', '.join(required) or '-'}); update the benchmark's columns"
        )
    return [(name, sql) for name, sql, _ in spec if name in table]


def _insert(conn: Any, template: str, columns: list[tuple[str, str]], values: dict[str, Any]) -> None:
    sql = template.format(
        columns=", ".join(f'"{name}"' for name, _ in columns),
        expressions=",\n    ".join(expression for _, expression in columns),
    )
    conn.execute(sql, {name: value for name, value in values.items() if f"${name}" in sql})


def fill(path: Path, count: int) -> str:
    """Fill the database in one transaction; the key of the record to show."""
    import duckdb

    conn: Any = duckdb.connect(str(path))
    try:
        clients = _columns(conn, FORM, CLIENT_COLUMNS)
        deals = _columns(conn, "deal", DEAL_COLUMNS)
        if conn.execute("SELECT count(*) FROM crm.records").fetchone()[0]:
            raise CommandFailed("the new workspace already holds records")
        values = {
            "prefix": PREFIX,
            "count": count,
            "deals": count // 10 * 2,
            "version": conn.execute("SELECT max(version) FROM crm.definitions").fetchone()[0],
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
        approvals = ", ".join(
            f"({i}, {literal(stage)}, {literal(group)}, {literal(who)})"
            for i, (stage, group, who) in enumerate(STAGE_APPROVALS)
        )
        reminders = ", ".join(
            f"({literal(stage)}, {hours}, {literal(text)}, {literal(who)})"
            for stage, hours, text, who in STAGE_REMINDERS
        )
        conn.execute("BEGIN TRANSACTION")
        _insert(conn, FILL_CLIENTS, clients, values)
        _insert(conn, FILL_DEALS, deals, values)
        conn.execute(FILL_EVENTS)
        conn.execute(FILL_APPROVALS.format(values=approvals))
        conn.execute(FILL_REMINDERS.format(values=reminders))
        key = conn.execute(PICK_KEY, {"half": max(1, count // 2)}).fetchone()[0]
        conn.execute(SHOWN_COMMENTS, {"key": key})
        conn.execute(SHOWN_REMINDERS, {"key": key})
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
        return str(key)
    except duckdb.Error as exc:
        raise CommandFailed(f"filling {path} failed: {exc}") from None
    finally:
        conn.close()


# -- what the commands must print ------------------------------------------------------------------------
def expected(path: Path, key: str) -> dict[str, Any]:
    """What the database holds for the card of key and for the listing, read with plain queries."""
    import duckdb

    conn: Any = duckdb.connect(str(path), read_only=True)
    try:
        cursor = conn.execute(f"SELECT * FROM {FORM} WHERE key = ?", [key])
        row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
        column, value = LIST_WHERE
        return {
            "row": row,
            "pending": [
                r[0]
                for r in conn.execute(
                    "SELECT approver FROM crm.approvals WHERE record = ? AND stage = ? AND requested_at >= ? "
                    "AND decision IS NULL ORDER BY id",
                    [key, row["stage"], row["stage_since"]],
                ).fetchall()
            ],
            "deals": [
                r[0] for r in conn.execute("SELECT key FROM deal WHERE client = ? ORDER BY number", [key]).fetchall()
            ],
            "rollups": dict(
                zip(
                    ("deals_count", "deals_total"),
                    conn.execute("SELECT count(*), sum(amount) FROM deal WHERE client = ?", [key]).fetchone(),
                    strict=True,
                )
            ),
            "comments": [
                r[0]
                for r in conn.execute(
                    "SELECT text FROM crm.comments WHERE record = ? ORDER BY created_at, id", [key]
                ).fetchall()
            ],
            "reminders": [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM crm.reminders WHERE record = ? AND done_at IS NULL ORDER BY due_at, id", [key]
                ).fetchall()
            ],
            "listed": [
                r[0]
                for r in conn.execute(
                    f'SELECT key FROM {FORM} WHERE "{column}" = ? ORDER BY number LIMIT ?', [value, LIST_LIMIT]
                ).fetchall()
            ],
        }
    finally:
        conn.close()


def _same(a: Any, b: Any) -> bool:
    """A value from crmctl's JSON against the database's: dates and times as instants, money as decimals."""
    if isinstance(b, dt.datetime):
        return isinstance(a, str) and dt.datetime.fromisoformat(a) == b
    if isinstance(b, dt.date):
        return a == b.isoformat()
    if isinstance(b, Decimal):
        return a is not None and Decimal(str(a)) == b
    return bool(a == b)


def check_card(card: dict[str, Any], want: dict[str, Any], key: str) -> list[str]:
    """Differences between `record show --format json` and the database."""
    row = want["row"]
    problems = []
    meta = ["key", "process", "stage", "stage_since", "stage_due", "responsible", "author", "created_at"]
    meta += ["updated_at", "def_version"]
    for name in meta:
        if not _same(card.get(name), row[name]):
            problems.append(f"{name}: {card.get(name)!r}, the database has {row[name]!r}")
    fields = card.get("fields", {})
    for name, value in row.items():
        if name not in meta and name != "number" and not _same(fields.get(name), value):
            problems.append(f"field {name}: {fields.get(name)!r}, the database has {value!r}")
    checks = [
        ("pending approvers", card.get("pending_approvers"), want["pending"]),
        ("related records", [r.get("key") for r in card.get("related", [])], want["deals"]),
        ("comments", [c.get("text") for c in card.get("comments", [])], want["comments"]),
        ("open reminders", [r.get("id") for r in card.get("reminders", [])], want["reminders"]),
    ]
    problems += [f"{what}: {got!r}, the database has {have!r}" for what, got, have in checks if got != have]
    for name, value in want["rollups"].items():
        got = card.get("rollups", {}).get(name)
        if not (got is None and value is None) and not _same(got, value):
            problems.append(f"roll-up {name}: {got!r}, the database has {value!r}")
    if card.get("key") != key:
        problems.append(f"shows {card.get('key')!r}, not {key!r}")
    return problems


def in_order(out: str, words: list[str]) -> bool:
    """Every word appears in out, each after the one before (CL-26 is not found in CL-260)."""
    at = 0
    for word in words:
        found = re.compile(r"(?<![\w-])" + re.escape(word) + r"(?!\d)").search(out, at)
        if found is None:
            return False
        at = found.end()
    return True


def checker(words: list[str], first_line: str | None = None) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        out = result.stdout
        if first_line is not None and out.split("\n", 1)[0] != first_line:
            return f"its first line is not {first_line!r}"
        if not in_order(out, words):
            return f"it does not print {', '.join(words[:5])}{' ...' if len(words) > 5 else ''} in this order"
        return None

    return check


def trace(python: str, args: list[str], log: Path, workspace: Path, env: dict[str, str]) -> list[list[Any]]:
    """The statements crmctl runs for args; only reads, which the bare script can repeat as they are."""
    run([python, "-c", TRACER, str(log), *args], workspace, env)
    statements = json.loads(log.read_text(encoding="utf-8"))
    if not statements:
        raise CommandFailed(f"crmctl {' '.join(args)} ran no statement through duckdb.connect: update TRACER")
    writes = [sql for sql, params in statements if params == "executemany" or not READS.match(sql)]
    if writes:
        raise CommandFailed(f"crmctl {' '.join(args)} wrote to the database: {' '.join(writes[0].split())[:200]}")
    return statements


def import_costs(python: str, cmd: list[str], workspace: Path, env: dict[str, str]) -> Counter[str]:
    """Microseconds of import time (self) per top-level package, from python -X importtime."""
    result = run([python, "-X", "importtime", *(cmd[1:] if cmd[0] == python else cmd)], workspace, env)
    costs: Counter[str] = Counter()
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            costs[parts[2].strip().split(".")[0].lstrip("_")] += int(parts[0])
    return costs


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="client records to fill (default 100000)")
    parser.add_argument(
        "--runs", type=int, default=15, help="timed runs of each command; the median counts (default 15)"
    )
    parser.add_argument("--imports", action="store_true", help="also show where the import time of record show goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace and print where it is")
    args = parser.parse_args(argv)
    if args.records < MIN_RECORDS or args.runs < 1:
        parser.error(f"--records must be at least {MIN_RECORDS} and --runs at least 1")

    python = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="crmctl-bench-records-"))
    env = clean_env(tmp / "pycache")
    env["NO_COLOR"] = "1"
    env["CRMCTL_USER"] = "belov"  # a manager of the example's team: may read clients
    workspace = tmp / "ws"
    db = workspace / "crmctl.duckdb"
    try:
        crmctl = str(tool("crmctl"))
        run([crmctl, "init", str(workspace), "--example", EXAMPLE], tmp, env)
        start = time.perf_counter()
        key = fill(db, args.records)
        filled = time.perf_counter() - start
        want = expected(db, key)
        column, value = LIST_WHERE
        show_args = ["record", "show", key]
        list_args = ["record", "list", FORM, "--where", f"{column}={value}", "--limit", str(LIST_LIMIT)]

        card = json.loads(run([crmctl, *show_args, "--format", "json"], workspace, env).stdout)
        problems = check_card(card, want, key)
        listed = json.loads(run([crmctl, *list_args, "--format", "json"], workspace, env).stdout)
        if [r.get("key") for r in listed] != want["listed"]:
            problems.append(f"record list: {[r.get('key') for r in listed]}, the database has {want['listed']}")
        problems += [
            f"record list: {r.get('key')} has {column} {r.get(column)!r}" for r in listed if r.get(column) != value
        ]
        if problems:
            raise CommandFailed("crmctl does not print what the database holds:\n  " + "\n  ".join(problems))

        statements = {}
        for name, cmd_args in (("show", show_args), ("list", list_args)):
            statements[name] = tmp / f"{name}.json"
            trace(python, cmd_args, statements[name], workspace, env)

        row = want["row"]
        mine = {
            "show": Case(
                "crmctl record show",
                [[crmctl, *show_args]],
                checker([key, *want["comments"]], first_line=f"{key}  {row['name']}"),
            ),
            "list": Case("crmctl record list", [[crmctl, *list_args]], checker(want["listed"])),
        }
        same = {
            name: Case(f"bare {name}", [[python, "-c", BARE, str(db), str(statements[name])]], check)
            for name, check in (("show", checker([f"'{key}'"])), ("list", checker(want["listed"])))
        }
        minimal = {
            "show": Case("one SELECT (show)", [[python, "-c", MINIMAL, str(db), SHOW_SQL, key]], checker([f"'{key}'"])),
            "list": Case(
                "one SELECT (list)",
                [[python, "-c", MINIMAL, str(db), LIST_SQL.format(column=column), value, str(LIST_LIMIT)]],
                checker(want["listed"]),
            ),
        }
        what = {
            "show": f"record show {key}",
            "list": f"record list {FORM} --where {column}={value} --limit {LIST_LIMIT}",
        }
        counts = {name: len(json.loads(path.read_text(encoding="utf-8"))) for name, path in statements.items()}
        figures = [
            Figure(f"{what['show']} / its {counts['show']} statements", mine["show"], same["show"], SHOW_GOAL),
            Figure(f"{what['show']} / one SELECT of the row", mine["show"], minimal["show"]),
            Figure(f"{what['list']} / its {counts['list']} statements", mine["list"], same["list"]),
            Figure(f"{what['list']} / one SELECT", mine["list"], minimal["list"]),
        ]

        import duckdb

        print(
            f"crmctl records benchmark: {args.records:,} {FORM} records and {args.records // 10 * 2:,} deals "
            f"({db.stat().st_size / 1e6:.1f} MB, filled in {filled:.2f}s); median of {args.runs} runs"
        )
        print(f"crmctl {version('crmctl')}, duckdb {duckdb.__version__}, typer {version('typer')}; {machine()}")
        print(
            f"checked: the card of {key} and the listing match the database; the bare script runs the same "
            f"{counts['show']} (show) and {counts['list']} (list) statements as crmctl"
        )
        print()
        measure(figures, workspace, env, args.runs)
        print(table(figures))
        print()
        print(
            "crmctl s: the command as a process; reference s: python -c 'import duckdb', open the file, then the "
            "statements crmctl runs\n(replayed with their parameters) or only the one SELECT that fetches what "
            "is asked; ratio = crmctl / reference, medians of wall-clock seconds"
        )
        if args.imports:
            print()
            print("import time of record show by top-level package (python -X importtime, self times summed):")
            ours = import_costs(python, mine["show"].commands[0], workspace, env)
            theirs = import_costs(python, same["show"].commands[0], workspace, env)
            print(f"  {'package':<24} {'crmctl ms':>10} {'bare ms':>10}")
            for name, micros in ours.most_common(15):
                print(f"  {name:<24} {micros / 1000:10.1f} {theirs.get(name, 0) / 1000:10.1f}")
            print(f"  {'(all)':<24} {sum(ours.values()) / 1000:10.1f} {sum(theirs.values()) / 1000:10.1f}")
    except CommandFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workspace} (the statements crmctl runs: {tmp}/show.json, {tmp}/list.json)", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
