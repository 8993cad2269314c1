"""Reliability under concurrent use and faults: many writers on one database, and imports killed midway.

Two experiments on a throw-away workspace (8 people, a client form, a deal form with a process):

1. WORKERS processes write to the same database at once, OPS operations each, chosen in turn: create a
   client, create a deal and advance it, start a timer on the worker's own task then stop it, import a
   five-row CSV file. Each operation either succeeds (exit 0) or, when the database stays locked longer
   than the busy timeout, exits with the busy code 4 having changed nothing. Afterwards the database must
   hold exactly what the successes wrote (no operation lost, none applied twice) and no output may hold a
   traceback or any other exit code. Each command's wait for its turn is measured too (p50, p95, max, how
   many gave up), beside the ideal in-order wait: the same arrivals and turn lengths served one at a time
   in the order they came (goal: none gives up while the work queued ahead is under the busy timeout, and
   the p95 wait within 1.5 times the ideal).
2. KILLS imports of a CSV file of ROWS rows are killed with SIGKILL at random moments. After each, the
   database must open, and every import must be there entirely or not at all.

The test suite runs both at a size that fits CI (tests/test_reliability.py); this script runs them at full
size and prints the figures (docs/reliability.md lists them):

    .venv/bin/python benchmarks/reliability.py [--workers 8] [--ops 200] [--kills 20] [--rows 50000] [--busy-timeout 10]

A worker runs its operations in one Python process (the command line called in-process, as the shell
would run it, but without paying interpreter start-up 200 times), opening and closing the database for
each operation exactly as a `crmctl` process does.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEOPLE = [f"w{i}" for i in range(8)]
WORKSPACE = (
    """\
kind: Workspace
name: reliability
timezone: Europe/Moscow
---
kind: Team
name: staff
roles:
  - {id: all, permissions: ["*"]}
people:
"""
    + "".join(f"  - {{id: {p}, name: Worker {p}, roles: [all]}}\n" for p in PEOPLE)
    + """\
---
kind: Form
name: client
key_prefix: CL
title_field: name
fields:
  - {id: name, type: text, required: true}
  - {id: batch, type: text}
---
kind: Form
name: deal
key_prefix: DL
fields:
  - {id: title, type: text, required: true}
  - {id: amount, type: money}
---
kind: Process
name: deals
form: deal
stages:
  - {id: new, transitions: [work]}
  - {id: work, transitions: [done]}
  - {id: done, terminal: true}
"""
)
NOW = "2027-03-01T10:00:00+03:00"
KINDS = ("client", "deal", "timer", "import")


def make_workspace(folder: Path) -> Path:
    """A workspace applied to its database, with one task per worker for the timers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crmctl.yaml").write_text(WORKSPACE, encoding="utf-8")
    env = environment()
    tasks = (["--as", p, "task", "add", f"Работа {p} {n}", "--assignee", p] for p in PEOPLE for n in (1, 2))
    for args in (["apply"], *tasks):
        subprocess.run([sys.executable, "-m", "crmctl", *args], cwd=folder, env=env, check=True, capture_output=True)
    return folder


def environment(busy_timeout: float = 20.0, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    return {**env, "CRMCTL_NOW": NOW, "CRMCTL_BUSY_TIMEOUT": str(busy_timeout), **extra}


# -- a worker --------------------------------------------------------------------------------------------------


def _call(args: list[str]) -> tuple[int, str, str]:
    """One crmctl command, in this process: (exit code, stdout, stderr)."""
    from crmctl.cli import TYPERS, build, command_in

    out, err = io.StringIO(), io.StringIO()
    name = command_in(args)
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            build([name] if name in TYPERS else None)(args, prog_name="crmctl")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _watch_turns() -> list[list[float]]:
    """Note, for each command, when it asked for its turn, when it got it and when it let go (monotonic
    clock, the same in every process): [asked, got, released]; a command that gave up has only [asked]."""
    from crmctl.store import db

    turns: list[list[float]] = []
    take, end = db._take_turn, db._end_turn

    def taking(*args, **kwargs):  # type: ignore[no-untyped-def]
        turns.append([time.monotonic()])
        turn = take(*args, **kwargs)
        turns[-1].append(time.monotonic())
        return turn

    def ending(turn):  # type: ignore[no-untyped-def]
        end(turn)
        if turn is not None and len(turns[-1]) == 2:
            turns[-1].append(time.monotonic())

    db._take_turn, db._end_turn = taking, ending
    return turns


def worker(index: int, ops: int, folder: Path, run: str) -> list[dict]:
    """Run `ops` operations as person w<index>; one line of JSON per operation, on stdout. The timer goes to
    the worker's two tasks in turn, never the one started last (starting one stops the other, should a stop
    have found the lock busy)."""
    turns = _watch_turns()
    person = PEOPLE[index]
    results = []
    mine = (f"T-{2 * index + 1}", f"T-{2 * index + 2}")
    last_started = mine[1]
    for i in range(ops):
        kind = KINDS[(index + i) % len(KINDS)]
        tag = f"{run}{person}-{i}"
        task = mine[0] if last_started == mine[1] else mine[1]
        steps: list[list[str]]
        if kind == "client":
            steps = [["record", "create", "client", "--set", f"name={tag}", "--set", f"batch={tag}"]]
        elif kind == "deal":
            steps = [["record", "create", "deal", "--set", f"title={tag}", "--format", "json"]]
        elif kind == "timer":
            steps = [["task", "start", task], ["task", "stop"]]
        else:
            rows = "".join(f"{tag}-{n},{tag}\n" for n in range(5))
            path = folder / f"{tag}.csv"
            path.write_text("name,batch\n" + rows, encoding="utf-8")
            steps = [["import", "client", str(path), "--quiet"]]
        outcome = {"person": person, "op": i, "kind": kind, "tag": tag, "codes": [], "traceback": False}
        for step in steps:
            code, out, err = _call(["--as", person, *step])
            outcome["codes"].append(code)
            outcome["traceback"] = outcome["traceback"] or "Traceback" in out + err
            if code != 0:
                outcome["error"] = err.strip().splitlines()[-1] if err.strip() else ""
                break
            if step[:2] == ["task", "start"]:
                last_started = task
            if kind == "deal":
                key = json.loads(out)["key"]
                code, out, err = _call(["--as", person, "advance", key, "--to", "work"])
                outcome["codes"].append(code)
                outcome["traceback"] = outcome["traceback"] or "Traceback" in out + err
                outcome["key"] = key
        outcome["turns"] = turns[:]
        turns.clear()
        results.append(outcome)
        print(json.dumps(outcome), flush=True)
    return results


# -- experiment 1: concurrent writers --------------------------------------------------------------------------


def concurrent(folder: Path, workers: int, ops: int, busy_timeout: float = 20.0) -> dict:
    """Run the workers at once and check the database against what they say they did (what earlier runs on
    the same folder did is counted in: each run's tags are its own)."""
    import duckdb

    conn = duckdb.connect(str(folder / "crmctl.duckdb"), read_only=True)
    before = dict(conn.execute("SELECT person, count(*) FROM crm.time_intervals GROUP BY 1").fetchall())
    conn.close()
    run = f"r{time.monotonic_ns()}-"
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(i), "--ops", str(ops), "--folder", str(folder), "--run", run],
            cwd=folder,
            env=environment(busy_timeout),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    outcomes, crashes = [], []
    for proc in procs:
        out, err = proc.communicate()
        outcomes += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or "Traceback" in err:
            crashes.append(err[-2000:])
    elapsed = time.perf_counter() - started
    result = check(folder, outcomes, crashes, elapsed, workers * ops, before)
    result.update(waits([turn for o in outcomes for turn in o.get("turns", [])], busy_timeout))
    return result


def waits(turns: list[list[float]], busy_timeout: float) -> dict:
    """How long commands waited for their turn (one that gave up: the busy timeout), beside the ideal
    in-order wait: the same commands with the same arrival times and turn lengths served one at a time in
    the order they asked. Readers sharing a turn are not modelled: the harness only writes."""
    if not turns:
        return {}
    waited = sorted((t[1] - t[0]) if len(t) > 1 else busy_timeout for t in turns)
    ideal, free = [], 0.0
    for t in sorted(turns):
        held = t[2] - t[1] if len(t) == 3 else 0.0
        start = max(t[0], free)
        ideal.append(start - t[0])
        free = start + held
    ideal.sort()

    def pick(values: list[float], share: float) -> float:
        return round(values[min(len(values) - 1, int(share * len(values)))], 2)

    return {
        "commands": len(turns),
        "gave_up": sum(1 for t in turns if len(t) == 1),
        "wait_p50": pick(waited, 0.5),
        "wait_p95": pick(waited, 0.95),
        "wait_max": round(waited[-1], 2),
        "ideal_p95": pick(ideal, 0.95),
        "p95_vs_ideal": round(pick(waited, 0.95) / pick(ideal, 0.95), 2) if pick(ideal, 0.95) else None,
        "turn_p50": pick(sorted(t[2] - t[1] for t in turns if len(t) == 3) or [0.0], 0.5),
    }


def check(
    folder: Path, outcomes: list[dict], crashes: list[str], elapsed: float, planned: int, before: dict[str, int]
) -> dict:
    import duckdb

    problems = list(crashes)
    if len(outcomes) != planned:
        problems.append(f"{planned - len(outcomes)} operations never reported")
    done = [o for o in outcomes if all(c == 0 for c in o["codes"])]
    busy = [o for o in outcomes if o["codes"] and o["codes"][-1] == 4 and all(c == 0 for c in o["codes"][:-1])]
    other = [o for o in outcomes if o not in done and o not in busy]
    problems += [f"{o['tag']} {o['kind']}: exit codes {o['codes']} {o.get('error', '')}" for o in other]
    problems += [f"{o['tag']}: a traceback in the output" for o in outcomes if o["traceback"]]
    conn = duckdb.connect(str(folder / "crmctl.duckdb"), read_only=True)
    try:
        clients = dict(conn.execute("SELECT batch, count(*) FROM client GROUP BY batch").fetchall())
        deals = dict(conn.execute("SELECT title, stage FROM deal").fetchall())
        intervals = dict(
            conn.execute(
                "SELECT person, count(*) FROM crm.time_intervals WHERE ended_at IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        running = dict(
            conn.execute("SELECT person, count(*) FROM crm.time_intervals WHERE ended_at IS NULL GROUP BY 1").fetchall()
        )
        keys = conn.execute("SELECT count(*), count(DISTINCT key) FROM crm.records").fetchone()
    finally:
        conn.close()
    for o in outcomes:
        ok = o in done
        if o["kind"] == "client":
            want = 1 if ok else 0
            if clients.get(o["tag"], 0) != want:
                problems.append(f"{o['tag']}: {clients.get(o['tag'], 0)} clients, expected {want}")
        elif o["kind"] == "import":
            want = 5 if ok else 0
            if clients.get(o["tag"], 0) != want:
                problems.append(f"{o['tag']}: import left {clients.get(o['tag'], 0)} rows, expected {want}")
        elif o["kind"] == "deal":
            created = o["codes"][:1] == [0]
            if created != (o["tag"] in deals):
                problems.append(f"{o['tag']}: deal {'missing' if created else 'there without success'}")
            stage = "work" if ok else "new"
            if created and deals.get(o["tag"]) != stage:
                problems.append(f"{o['tag']}: deal in stage {deals.get(o['tag'])}, expected {stage}")
    for person in PEOPLE:  # each successful start made one interval; a person has one running at most
        starts = sum(1 for o in outcomes if o["kind"] == "timer" and o["person"] == person and o["codes"][:1] == [0])
        made = intervals.get(person, 0) + running.get(person, 0) - before.get(person, 0)
        if made != starts:
            problems.append(f"{person}: {made} intervals for {starts} timer starts")
        if running.get(person, 0) > 1:
            problems.append(f"{person}: {running[person]} timers running at once")
    if keys[0] != keys[1]:
        problems.append("a record key is registered twice")
    return {
        "operations": len(outcomes),
        "succeeded": len(done),
        "busy": len(busy),
        "seconds": round(elapsed, 1),
        "per_second": round(len(outcomes) / elapsed, 1) if elapsed else 0,
        "problems": problems,
    }


# -- experiment 2: killed imports ------------------------------------------------------------------------------


def killed_imports(folder: Path, kills: int, rows: int, seed: int = 1) -> dict:
    """Kill imports at random moments; after each the database opens and every batch is whole or absent."""
    import duckdb

    rnd = random.Random(seed)
    env = environment(CRMCTL_USER="w0")
    # how long a whole import takes, to kill within it
    sample = folder / "kill-0.csv"
    _batch(sample, "kill-0", rows)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "crmctl", "import", "client", str(sample), "--quiet"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    full = time.perf_counter() - started
    problems, survived = [], 0
    for k in range(1, kills + 1):
        tag = f"kill-{k}"
        path = folder / f"{tag}.csv"
        _batch(path, tag, rows)
        proc = subprocess.Popen(
            [sys.executable, "-m", "crmctl", "import", "client", str(path), "--quiet"],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rnd.uniform(0.05, full * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            conn = duckdb.connect(str(folder / "crmctl.duckdb"))
            counts = dict(conn.execute("SELECT batch, count(*) FROM client GROUP BY batch").fetchall())
            total, distinct = conn.execute("SELECT count(*), count(DISTINCT key) FROM client").fetchone()
            conn.close()
        except duckdb.Error as exc:
            problems.append(f"{tag}: the database does not open: {exc}")
            break
        if counts.get(tag, 0) not in (0, rows):
            problems.append(f"{tag}: {counts[tag]} of {rows} rows are there")
        if distinct != total:
            problems.append(f"{tag}: {total} client rows but {distinct} keys")
        survived += counts.get(tag, 0) == rows
    return {
        "kills": kills,
        "rows": rows,
        "import_seconds": round(full, 2),
        "finished_before_kill": survived,
        "problems": problems,
    }


def _batch(path: Path, tag: str, rows: int) -> None:
    path.write_text("name,batch\n" + "".join(f"{tag}-{n},{tag}\n" for n in range(rows)), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument(
        "--busy-timeout", type=float, default=10.0, help="Seconds a command waits for its turn (crmctl's default)."
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.ops, args.folder, args.run)
        return 0
    with tempfile.TemporaryDirectory(prefix="crmctl-reliability-") as tmp:
        folder = make_workspace(Path(tmp) / "ws")
        print(f"{args.workers} writers x {args.ops} operations on one database ...", flush=True)
        first = concurrent(folder, args.workers, args.ops, args.busy_timeout)
        print(json.dumps({k: v for k, v in first.items() if k != "problems"}), flush=True)
        print(f"{args.kills} imports of {args.rows:,} rows killed with SIGKILL ...", flush=True)
        second = killed_imports(folder, args.kills, args.rows)
        print(json.dumps({k: v for k, v in second.items() if k != "problems"}), flush=True)
        for problem in first["problems"] + second["problems"]:
            print(f"PROBLEM: {problem}")
        return 1 if first["problems"] or second["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
