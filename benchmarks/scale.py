"""Every read command and the common writes on a big workspace, each beside the one query that fetches what
it shows (issue 21).

Makes a throw-away workspace with `crmctl init --example pyrus-client-crm` and fills its database in bulk
(one INSERT ... SELECT per table, as records.py's `fill` does, which makes the clients, their deals, history,
pending approvals and stage reminders): RECORDS clients in the client-work process (stage deadlines passed,
reminders, approvals pending), TASKS tasks in projects of ten (each project a client's, each task but a
chain's first depending on the one before; a quarter of the projects open, the rest done), INTERVALS closed
time intervals on them (none overlapping another of the same person) and events up to EVENTS (the fill's
history, a `task.created` per task, `record.updated` for the rest).

Then it times, as processes taking turns (benchlib), every read command beside a bare Python process that
imports duckdb, opens the same file and runs the one SELECT that fetches what the command shows (the ratio
crmctl / query; goal at most 2x), and the common writes beside `crmctl --version`, the start-up floor (goal:
at most 0.1 s above it). Each write run acts on a record, task or time slot of its own (chosen untimed before
it). Every run's output is checked. A command that takes longer than --limit seconds is stopped and not run
again (shown as `> N`).

    .venv/bin/python benchmarks/scale.py [--records 100000] [--tasks 100000] [--intervals 1000000]
                                         [--events 1000000] [--runs 3] [--limit 120] [--only WORD] [--keep]

Exit status: 0 when every command ran and printed what it should (whether or not a goal was met), 1 when not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    Case,
    CommandFailed,
    Figure,
    Result,
    clean_env,
    laid_out,
    machine,
    measure,
    run,
    scratch,
    table,
    tool,
)
from records import EXAMPLE, MINIMAL, fill

NOW = "2027-03-01T10:00:00+03:00"
ME = "kuznetsova"  # the sales head, a manager too: reads everything, has clients, adds and does tasks
READ_GOAL = 2.0
WRITE_GOAL = 0.1  # seconds above the start-up floor
# the people of the example's team, in the order tasks are given to them (task t: PEOPLE[(t - 1) % 9])
PEOPLE = ["sokolov", "kuznetsova", "belov", "orlova", "zaitsev", "morozova", "volkov", "lebedeva", "nikitina"]
TYPES = ["communication", "document", "meeting", "analysis"]
CHAIN = 10  # tasks per project, each waiting for the one before it
SLOT = 1800  # seconds between the starts of a person's intervals; each lasts 25 minutes

FILL = [
    # a project per ten tasks, the client with the project's number times ten (when there is one)
    """INSERT INTO crm.projects (id, number, title, record, priority, created_at, created_by)
       SELECT 'P-' || n, n, 'Клиенты / проект ' || n, CASE WHEN n * 10 <= $records THEN 'CL-' || (n * 10) END,
              1 + n % 5, TIMESTAMPTZ '2025-01-01 09:00:00+03', 'belov'
       FROM range(1, $projects + 1) p(n)""",
    # a quarter of the projects open (every fourth), the others done; in an open project nothing is started
    """INSERT INTO crm.tasks (id, number, project, record, title, type, assignee, priority, estimate_minutes,
                             status, created_at, created_by, finished_at)
       SELECT 'T-' || t, t, 'P-' || n, CASE WHEN n * 10 <= $records THEN 'CL-' || (n * 10) END,
              'Задача ' || t || ' проекта ' || n, $types[1 + t % 4], $people[1 + (t - 1) % 9], 1 + t % 5,
              30 + (t % 8) * 30, CASE WHEN n % 4 = 0 THEN 'todo' ELSE 'done' END,
              TIMESTAMPTZ '2025-01-01 09:00:00+03',  'belov',
              CASE WHEN n % 4 <> 0 THEN TIMESTAMPTZ '2026-01-05 18:00:00+03' + to_days(CAST(t % 300 AS INTEGER)) END
       FROM (SELECT t, 1 + (t - 1) // 10 AS n FROM range(1, $tasks + 1) r(t))""",
    """INSERT INTO crm.task_dependencies
       SELECT 'T-' || t, 'T-' || (t - 1) FROM range(2, $tasks + 1) r(t) WHERE (t - 1) % 10 <> 0""",
    # interval i: person p = i % 9, on a task of theirs; the k-th of a person starts k slots after the first
    """INSERT INTO crm.time_intervals (task, person, started_at, ended_at, source)
       SELECT 'T-' || (1 + p + 9 * (k % $per_person)), $people[1 + p],
              TIMESTAMPTZ '2019-01-01 09:00:00+03' + to_seconds(k * $slot),
              TIMESTAMPTZ '2019-01-01 09:00:00+03' + to_seconds(k * $slot + 1500), 'log'
       FROM (SELECT i, i % 9 AS p, i // 9 AS k FROM range(0, $intervals) r(i)) ORDER BY i""",
    """INSERT INTO crm.events (occurred_at, actor, action, record, form, data)
       SELECT TIMESTAMPTZ '2025-01-01 09:00:00+03', 'belov', 'task.created', record, CASE WHEN record IS NOT NULL
              THEN 'client' END, json_object('task', id, 'title', title, 'assignee', assignee)
       FROM crm.tasks ORDER BY number""",
    # the rest of the events: field changes of the clients, round and round
    """INSERT INTO crm.events (occurred_at, actor, action, record, form, data)
       SELECT TIMESTAMPTZ '2025-06-01 09:00:00+03' + to_minutes(e), 'belov', 'record.updated',
              'CL-' || (1 + e % $records), 'client',
              json_object('changes', json_object('notes', json_object('before', NULL, 'after', 'заметка ' || e)))
       FROM range(0, greatest($events - (SELECT count(*) FROM crm.events), 0)) r(e)""",
]


def fill_work(db: Path, sizes: dict[str, int], shown: str) -> None:
    """Projects, tasks, dependencies, time intervals and events, in one transaction; the shown record's
    project open."""
    import duckdb

    values: dict[str, Any] = {
        **sizes,
        "projects": (sizes["tasks"] + CHAIN - 1) // CHAIN,
        "per_person": max(sizes["tasks"] // 9, 1),
        "slot": SLOT,
        "people": PEOPLE,
        "types": TYPES,
    }
    conn: Any = duckdb.connect(str(db))
    try:
        conn.execute("BEGIN TRANSACTION")
        for sql in FILL:
            conn.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
        conn.execute("UPDATE crm.tasks SET status = 'todo', finished_at = NULL WHERE record = ?", [shown])
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise CommandFailed(f"filling {db} failed: {exc}") from None
    finally:
        conn.close()


def picks(db: Path, shown: str) -> dict[str, Any]:
    """What the commands are run on, and the pools of records and tasks the writes take one each run from."""
    import duckdb

    conn: Any = duckdb.connect(str(db), read_only=True)

    def column(sql: str, *params: Any) -> list[Any]:
        return [r[0] for r in conn.execute(sql, list(params)).fetchall()]

    try:
        project = column("SELECT project FROM crm.tasks WHERE record = ? LIMIT 1", shown)[0]
        return {
            "project": project,
            "task": column("SELECT id FROM crm.tasks WHERE project = ? ORDER BY number LIMIT 1", project)[0],
            "search": column("SELECT name FROM client WHERE number = (SELECT max(number) // 3 FROM client)")[0],
            "approve": column(
                "SELECT key FROM client WHERE stage = 'first_contact' AND author = ? ORDER BY number", ME
            ),
            "advance": column("SELECT key FROM client WHERE stage = 'active' AND author = ? ORDER BY number", ME),
            "update": column("SELECT key FROM client WHERE author = ? ORDER BY number LIMIT 1000", ME),
            # open tasks of mine that wait for nothing: the first of each open chain
            "done": column(
                "SELECT id FROM crm.tasks t WHERE assignee = ? AND status = 'todo' AND NOT EXISTS "
                "(SELECT 1 FROM crm.task_dependencies d WHERE d.task = t.id) ORDER BY number",
                ME,
            ),
            "last_interval": column("SELECT max(ended_at) FROM crm.time_intervals WHERE person = ?", ME)[0],
        }
    finally:
        conn.close()


# -- the references: the one SELECT that fetches what each command shows ----------------------------------
AGENDA_SQL = """
SELECT * FROM (
  SELECT due_at AS due, record, text FROM crm.reminders
  WHERE done_at IS NULL AND (person = $1 OR (person IS NULL AND created_by = $1)) AND due_at < $2
  UNION ALL
  SELECT stage_due, key, stage FROM client WHERE responsible = $1 AND stage_due < $2
  UNION ALL
  SELECT next_contact, key, 'contact' FROM client
  WHERE coalesce(responsible, author) = $1 AND next_contact <= CAST(CAST($2 AS TIMESTAMPTZ) AS DATE)
  UNION ALL
  SELECT due_at, record, title FROM crm.tasks WHERE assignee = $1 AND status IN ('todo', 'in_progress')
    AND due_at < $2
) ORDER BY due, record
"""
QUEUE_SQL = """
SELECT t.id, t.title, t.status, t.estimate_minutes, t.priority, t.due_at
FROM crm.tasks t LEFT JOIN crm.projects p ON p.id = t.project
WHERE t.assignee = $1 AND t.status IN ('todo', 'in_progress')
  AND NOT EXISTS (SELECT 1 FROM crm.task_dependencies d JOIN crm.tasks b ON b.id = d.depends_on
                  WHERE d.task = t.id AND b.status IN ('todo', 'in_progress'))
ORDER BY t.status <> 'in_progress', coalesce(p.priority, 3), t.priority, t.due_at NULLS LAST, t.created_at, t.number
"""
REFERENCES: dict[str, str] = {
    "record show": "SELECT * FROM client WHERE key = $1",
    "record list": "SELECT * FROM client WHERE status = $1 ORDER BY number LIMIT 20",
    "record list ~": "SELECT * FROM client WHERE name ILIKE '%' || $1 || '%' ORDER BY number",
    "record history": "SELECT * FROM crm.events WHERE record = $1 ORDER BY occurred_at, id",
    "agenda": AGENDA_SQL,
    "inbox": "SELECT * FROM crm.inbox WHERE person = $1 ORDER BY created_at, id",
    # what the board shows by default: each stage's 50 records longest in it, and every stage's count
    "board": """
        SELECT * FROM (SELECT key, name, stage, responsible, stage_since, stage_due,
                              row_number() OVER (PARTITION BY stage ORDER BY stage_since, number) AS place,
                              count(*) OVER (PARTITION BY stage) AS count
                       FROM client WHERE process = $1) WHERE place <= 50 ORDER BY stage, place""",
    "queue": QUEUE_SQL,
    "eta": """SELECT * FROM crm.tasks WHERE record = $1 AND status IN ('todo', 'in_progress')
              ORDER BY number""",
    "load": """SELECT assignee, count(*), sum(estimate_minutes) FROM crm.tasks
               WHERE status IN ('todo', 'in_progress') GROUP BY assignee ORDER BY assignee""",
    "report funnel": """
        SELECT data->>'stage' AS stage, count(*) AS entered,
               median(epoch(occurred_at)) AS median_at
        FROM crm.events WHERE action = 'stage.entered' AND data->>'process' = $1 GROUP BY 1 ORDER BY 1""",
    "report efficiency": """
        SELECT assignee, count(*), sum(estimate_minutes) / 60.0, sum(actual_minutes) / 60.0,
               median(actual_minutes), quantile_cont(actual_minutes, 0.9)
        FROM crm.task_times WHERE status = 'done' GROUP BY assignee ORDER BY assignee""",
    "report estimates": """
        SELECT type, subtype, count(*), median(actual_minutes), quantile_cont(actual_minutes, [0.25, 0.75])
        FROM crm.task_times WHERE status = 'done' GROUP BY ALL ORDER BY ALL""",
    "task list": "SELECT * FROM crm.tasks WHERE project = $1 ORDER BY number",
    "task list --assignee": "SELECT * FROM crm.tasks WHERE assignee = $1 AND status = 'todo' ORDER BY number",
    "task show": """SELECT * FROM crm.tasks t LEFT JOIN crm.time_intervals i ON i.task = t.id
                    WHERE t.id = $1 ORDER BY i.started_at""",
    "project show": "SELECT * FROM crm.tasks WHERE project = $1 ORDER BY number",
    "time list": "SELECT * FROM crm.time_intervals WHERE task = $1 ORDER BY started_at",
}


def contains(*words: str) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        missing = [w for w in words if w not in result.stdout]
        return f"it does not print {', '.join(missing)}" if missing else None

    return check


@dataclass
class Read:
    """A read command, the reference's name in REFERENCES and its parameters, and what its output must hold."""

    args: list[str]
    reference: str
    params: list[str]
    must: tuple[str, ...] = ()


def reads(key: str, got: dict[str, Any], process: str) -> list[Read]:
    project, task = got["project"], got["task"]
    return [
        Read(["record", "show", key], "record show", [key], (key,)),
        Read(["record", "list", "client", "--where", "status=active", "--limit", "20"], "record list", ["active"]),
        Read(["record", "list", "client", "--where", f"name~{got['search']}"], "record list ~", [got["search"]]),
        Read(["record", "history", key], "record history", [key], ("record.created",)),
        Read(["agenda", ME], "agenda", [ME, NOW], ("overdue",)),
        Read(["inbox", ME], "inbox", [ME]),
        Read(["board", process], "board", [process]),
        Read(["queue", ME], "queue", [ME]),
        Read(["eta", key], "eta", [key], (key,)),
        Read(["load"], "load", [], (ME,)),
        Read(["report", "funnel", process], "report funnel", [process]),
        Read(["report", "efficiency", "--by", "person"], "report efficiency", [], (ME,)),
        Read(["report", "estimates"], "report estimates", []),
        Read(["task", "list", "--project", project], "task list", [project], (task,)),
        Read(["task", "list", "--assignee", ME, "--status", "todo"], "task list --assignee", [ME]),
        Read(["task", "show", task], "task show", [task], (task,)),
        Read(["project", "show", project], "project show", [project], (task,)),
        Read(["time", "list", "--task", task], "time list", [task]),
    ]


# -- the writes: each run on a thing of its own -----------------------------------------------------------
def _setting(cmd: list[str], places: list[int], values: Iterator[tuple[str, ...]], what: str) -> Callable[[], None]:
    """Before each run, put the next values into the command at these places (untimed)."""

    def prepare() -> None:
        try:
            chosen = next(values)
        except StopIteration:
            raise CommandFailed(f"{what}: nothing left to act on; give a larger workspace or fewer --runs") from None
        for place, value in zip(places, chosen, strict=True):
            cmd[place] = value

    return prepare


def writes(crmctl: str, got: dict[str, Any]) -> list[tuple[str, Case]]:
    """The writes, each with the values it takes in turn: (what, arguments, places of the values, values, what
    its output must hold)."""
    numbers = itertools.count(1)
    slot = got["last_interval"]
    made: list[tuple[str, list[str], list[int], Iterator[tuple[str, ...]] | None, str]] = [
        ("record create", ["record", "create", "client", "--set", "name=", "--set", "contact_person=Иван Петров",
                           "--set", "phone=+7 (495) 100-00-00"], [4], ((f"name=ООО «Новый {n}»",) for n in numbers),
         "CL-"),
        ("record update", ["record", "update", "KEY", "--set", "notes="], [2, 4],
         ((k, f"notes=заметка {n}") for n, k in enumerate(itertools.cycle(got["update"]))), "notes"),
        ("advance", ["advance", "KEY", "--to", "needs"], [1], ((k,) for k in got["advance"]), "-> needs"),
        ("approve", ["approve", "KEY"], [1], ((k,) for k in got["approve"]), "approved"),
        ("task add", ["task", "add", "Позвонить клиенту", "--project", got["project"], "-a", ME, "-e", "30m"], [],
         None, "T-"),
        ("task done", ["task", "done", "TASK"], [2], ((t,) for t in got["done"]), "done"),
        ("time log", ["time", "log", got["task"], "30m", "--at", "WHEN"], [5],
         ((f"{slot + dt.timedelta(hours=2 * (n + 1)):%Y-%m-%dT%H:%M%z}",) for n in itertools.count()), "logged"),
    ]  # fmt: skip
    cases = []
    for what, args, places, values, must in made:
        cmd = [crmctl, *args]
        prepare = None if values is None else _setting(cmd, [p + 1 for p in places], values, what)
        cases.append((what, Case(f"crmctl {what}", [cmd], contains(must), prepare=prepare)))
    return cases


def write_table(rows: list[tuple[str, Case]], floor: Case) -> str:
    header = ("write", "crmctl s", "floor s", "above s", "goal", "met?", "CPU above s")
    body = []
    for what, case in rows:
        above = case.wall - floor.wall
        body.append(
            (
                what,
                case.seconds(),
                f"{floor.wall:.3f}",
                "-" if case.over else f"{above:.3f}",
                f"<= {WRITE_GOAL:g} s",
                "NO" if case.over or above > WRITE_GOAL else "yes",
                "-" if case.over else f"{case.cpu - floor.cpu:.3f}",
            )
        )
    return laid_out(header, body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--intervals", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=120, help="seconds a command may take (default 120)")
    parser.add_argument("--only", action="append", default=[], help="measure only commands with this word")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away folder and print where it is")
    args = parser.parse_args()
    if args.records < 100 or args.tasks < 100 or args.runs < 1:
        parser.error("--records and --tasks must be at least 100, --runs at least 1")

    with scratch("scale", args.keep) as folder:
        env = {**clean_env(folder / "pycache"), "CRMCTL_NOW": NOW, "CRMCTL_USER": ME, "NO_COLOR": "1"}
        env["COLUMNS"] = "200"
        crmctl, python = str(tool("crmctl")), sys.executable
        root = folder / "ws"
        db = root / "crmctl.duckdb"
        run([crmctl, "init", str(root), "--example", EXAMPLE], folder, env)
        start = time.perf_counter()
        key = fill(db, args.records)
        sizes = {k: getattr(args, k) for k in ("records", "tasks", "intervals", "events")}
        fill_work(db, sizes, key)
        got = picks(db, key)
        print(
            f"crmctl scale benchmark: {args.records:,} clients, {args.tasks:,} tasks, {args.intervals:,} intervals, "
            f"{args.events:,} events ({db.stat().st_size / 1e6:.0f} MB, filled in {time.perf_counter() - start:.1f}s)"
        )
        print(f"{machine()}\nmedian of {args.runs} runs; record {key}, project {got['project']}, task {got['task']}\n")
        sys.stdout.flush()

        wanted = [w.lower() for w in args.only]

        def chosen(what: str) -> bool:
            return not wanted or any(w in what for w in wanted)

        figures = []
        for read in reads(key, got, "client-work"):
            what = " ".join(read.args)
            if not chosen(what):
                continue
            mine = Case(f"crmctl {what}", [[crmctl, *read.args]], contains(*read.must), limit=args.limit)
            sql = " ".join(REFERENCES[read.reference].split())
            ref = Case(f"query {read.reference}", [[python, "-c", MINIMAL, str(db), sql, *read.params]])
            figures.append(Figure(what, mine, ref, READ_GOAL))
        floor = Case("crmctl --version", [[crmctl, "--version"]])
        done = [(what, case) for what, case in writes(crmctl, got) if chosen(what)]
        for _, case in done:
            case.limit = args.limit
        everything = [*figures, *(Figure(what, case, floor) for what, case in done)]
        measure(everything, root, env, args.runs)
        if figures:
            print(table(figures))
            print("\nreads: crmctl / a python -c that imports duckdb, opens the file and runs the one SELECT\n")
        if done:
            print(write_table(done, floor))
            print(f"\nwrites: crmctl's wall seconds above `crmctl --version` ({floor.wall:.3f} s)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
