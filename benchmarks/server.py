"""The team server under load: WORKERS clients at once through `crmctl serve`, beside the same work done locally.

Makes the pyrus-client-crm example, fills it with N clients in bulk (records.py's `fill`), makes a token for
each manager, and copies the workspace. Then, in turns (server, local, local, server ... for `--rounds`):

- **server**: WORKERS processes at once, each a manager with their token in CRMCTL_SERVER/CRMCTL_TOKEN,
  each doing OPS operations of a mix (record create, record update, record show, comment, inbox, queue)
  against `crmctl serve` on a free port of 127.0.0.1;
- **local**: the same mix by WORKERS processes on the copy of the database, with `--as`, no server.

A worker calls the command line in-process (as reliability.py's do), so Python's start-up is not what is
measured, and prints each operation with its latency as a line of JSON. Afterwards every create a worker
says succeeded must be in its database (counted with DuckDB once the server has stopped). Last, one
`crmctl record show KEY` as a process through the server beside the same command run locally (benchlib).

    .venv/bin/python benchmarks/server.py [--records 2000] [--workers 8] [--ops 60] [--rounds 2] [--runs 5] [--keep]

Goals: server operations per second >= 20x local; p95 latency < 0.3 s on the server; one client command's
wall time <= 0.5x the local command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchlib import Case, CommandFailed, Figure, clean_env, machine, measure, run, scratch, table, tool
from records import EXAMPLE, FORM, MANAGERS, fill

KINDS = ("create", "update", "show", "comment", "inbox", "queue")
THROUGHPUT_GOAL = 20.0
P95_GOAL = 0.3
SHOW_GOAL = 0.5
FIELDS = ["--set", "contact_person=Иван Петров", "--set", "phone=+7 (900) 123-45-67"]


# -- a worker ----------------------------------------------------------------------------------------------------


def _steps(kind: str, tag: str, key: str) -> list[str]:
    """The command line of one operation; `key` is the record the worker made last (or the filled one)."""
    return {
        "create": ["record", "create", FORM, "--set", f"name={tag}", *FIELDS],
        "update": ["record", "update", key, "--set", f"name={tag} (updated)"],
        "show": ["record", "show", key],
        "comment": ["comment", key, f"comment {tag}"],
        "inbox": ["inbox"],
        "queue": ["queue"],
    }[kind]


_BUILT: dict[str | None, Any] = {}  # the first word of a command -> its command line, built once per worker


def _call(args: list[str]) -> tuple[int, str, str]:
    """One crmctl command in this process, as reliability.py's `_call` runs it, but on a command line built
    once per first word: typer's building it (some 45 ms of CPU a command, a third of what a client spends)
    is start-up, which the benchmark leaves out as it does Python's, on both sides alike."""
    command = _command(args)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            command.main(args, prog_name="crmctl")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _command(args: list[str]) -> Any:
    import typer.main

    from crmctl.cli import TYPERS, build, command_in

    name = command_in(args)
    word = name if name in TYPERS else None
    if word not in _BUILT:
        _BUILT[word] = typer.main.get_command(build([word] if word else None))
    return _BUILT[word]


def worker(index: int, ops: int, person: str, key: str, local: bool, run_tag: str) -> None:
    """Run `ops` operations as `person`; one line of JSON per operation on stdout."""
    prefix = ["--as", person] if local else []
    _call([*prefix, "whoami"])  # untimed: the imports a first command pays
    for kind in KINDS:
        _command(_steps(kind, "", key))  # untimed too: each command line built
    for i in range(ops):
        kind = KINDS[(index + i) % len(KINDS)]
        tag = f"{run_tag}w{index}-{i}"
        began, start = time.time(), time.perf_counter()
        code, out, err = _call([*prefix, *_steps(kind, tag, key)])
        seconds = time.perf_counter() - start
        line: dict[str, Any] = {"worker": index, "person": person, "op": i, "kind": kind, "code": code}
        line.update(seconds=round(seconds, 4), began=began, ended=began + seconds)
        if code != 0:
            line["error"] = (err.strip().splitlines() or [""])[-1]
        elif kind == "create":
            key = line["key"] = out.strip()
        print(json.dumps(line, ensure_ascii=False), flush=True)


# -- the two sides -----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workspace: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # its log (a line a request) goes to a file: a pipe nobody reads while it runs fills up and stops it
    log = workspace.parent / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(tool("crmctl")), "serve", "--port", str(port)],
            cwd=workspace,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(errors="replace")
            raise CommandFailed(f"crmctl serve exited with {process.returncode}: {said.strip()[-500:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                health = json.loads(answer.read())
                # up, and its scheduler's first round done: the deadlines that passed while no server ran are
                # told then, in the writer's turn, and that catching up is not what is measured
                if health.get("status") == "ok" and health.get("scheduler_rounds", 0) >= 1:
                    return process, url
                time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise CommandFailed("crmctl serve did not come up (and finish its first round) within 600 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def side(name: str, workers: int, ops: int, key: str, cwd: Path, envs: list[dict[str, str]]) -> dict[str, Any]:
    """WORKERS worker processes at once; what they reported and how long their operations took in all."""
    run_tag = f"{name}{time.monotonic_ns()}-"
    local = ["--local"] if name == "local" else []
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(i), "--ops", str(ops), "--key", key, "--tag", run_tag, *local],
            cwd=cwd,
            env=envs[i],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    lines: list[dict[str, Any]] = []
    crashes: list[str] = []
    for proc in procs:
        out, err = proc.communicate()
        lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or "Traceback" in err:
            crashes.append(f"{name} worker exited with {proc.returncode}: {err.strip()[-500:]}")
    # from the first operation's start to the last one's end (the clock of the machine, the same in every
    # worker): the workers' start-up and first imports are not in it
    seconds = max(ln["ended"] for ln in lines) - min(ln["began"] for ln in lines) if lines else 0.0
    return {"lines": lines, "seconds": seconds, "crashes": crashes}


def person_of(index: int) -> str:
    return MANAGERS[index % len(MANAGERS)]


# -- the figures -------------------------------------------------------------------------------------------------


def pick(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def lost(db: Path, lines: list[dict[str, Any]]) -> list[str]:
    """The keys of creates that said they succeeded but are not in the database."""
    import duckdb

    keys = [line["key"] for line in lines if line["kind"] == "create" and line["code"] == 0]
    conn = duckdb.connect(str(db), read_only=True)
    try:
        there = {row[0] for row in conn.execute(f"SELECT key FROM {FORM}").fetchall()}
    finally:
        conn.close()
    return [key for key in keys if key not in there]


def throughput_table(results: dict[str, list[dict[str, Any]]], missing: dict[str, list[str]]) -> str:
    """Operations per second of each side (summed over rounds), failures and creates lost, and the ratio."""
    rows = [("side", "operations", "failed", "creates lost", "seconds", "ops/s")]
    rates = {}
    for name, rounds in results.items():
        count = sum(len(r["lines"]) for r in rounds)
        failed = sum(1 for r in rounds for line in r["lines"] if line["code"] != 0)
        seconds = sum(r["seconds"] for r in rounds)
        rates[name] = count / seconds if seconds else 0.0
        rows.append((name, str(count), str(failed), str(len(missing[name])), f"{seconds:.2f}", f"{rates[name]:.1f}"))
    ratio = rates["server"] / rates["local"] if rates["local"] else 0.0
    met = "yes" if ratio >= THROUGHPUT_GOAL else "NO"
    return _columns(rows) + f"\nserver / local: {ratio:.2f}x (goal >= {THROUGHPUT_GOAL:g}x: {met})"


def latency_table(results: dict[str, list[dict[str, Any]]]) -> str:
    """p50 and p95 latency of each operation kind on each side (successful operations), and whether the
    server's p95 is under the goal."""
    rows = [("operation", "server p50", "server p95", "local p50", "local p95", f"server p95 < {P95_GOAL:g} s")]
    for kind in KINDS:
        cells: list[str] = [kind]
        for name in ("server", "local"):
            times = [
                ln["seconds"] for r in results[name] for ln in r["lines"] if ln["kind"] == kind and ln["code"] == 0
            ]
            cells += [f"{pick(times, 0.5):.3f}", f"{pick(times, 0.95):.3f}"] if times else ["-", "-"]
        ok = cells[2] != "-" and float(cells[2]) < P95_GOAL
        rows.append((*cells, "yes" if ok else "NO"))
    return _columns(rows)


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def failures(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each distinct failure message with its count, per side."""
    counts: dict[str, int] = {}
    for name, rounds in results.items():
        for r in rounds:
            for line in r["lines"]:
                if line["code"] != 0:
                    what = f"{name} {line['kind']}: exit {line['code']} {line.get('error', '')}"
                    counts[what] = counts.get(what, 0) + 1
    return [f"{n} x {what}" for what, n in sorted(counts.items())]


# -- the whole ---------------------------------------------------------------------------------------------------


def prepare(tmp: Path, env: dict[str, str], records: int) -> tuple[Path, Path, str, dict[str, str]]:
    """The served workspace (filled, with a token per manager) and its copy for the local side."""
    crmctl = str(tool("crmctl"))
    run([crmctl, "init", "w", "--example", EXAMPLE], tmp, env)
    served = tmp / "w"
    run([crmctl, "--as", "sokolov", "apply"], served, env)
    key = fill(served / "crmctl.duckdb", records)
    # what fell due before now (the fill's stage deadlines and reminders) told before the copy: the server's
    # scheduler would tell it at its start, a local side's first inbox in its first round
    run([crmctl, "tick"], served, env)
    tokens = {p: run([crmctl, "--as", "sokolov", "token", "create", p], served, env).stdout.strip() for p in MANAGERS}
    local = tmp / "local"
    shutil.copytree(served, local)
    (local / "crmctl.duckdb.lock").unlink(missing_ok=True)
    return served, local, key, tokens


def rounds(
    args: argparse.Namespace,
    tmp: Path,
    env: dict[str, str],
    served: Path,
    local: Path,
    key: str,
    tokens: dict[str, str],
    url: str,
) -> dict[str, list[dict[str, Any]]]:
    """The two sides in turns, every other round in reverse order."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    server_envs = [
        {**env, "CRMCTL_SERVER": url, "CRMCTL_TOKEN": tokens[person_of(i)], "XDG_CONFIG_HOME": str(home)}
        for i in range(args.workers)
    ]
    local_envs = [env] * args.workers
    plan = {"server": (home, server_envs), "local": (local, local_envs)}
    results: dict[str, list[dict[str, Any]]] = {"server": [], "local": []}
    for turn in range(args.rounds):
        for name in ("server", "local") if turn % 2 == 0 else ("local", "server"):
            cwd, envs = plan[name]
            done = side(name, args.workers, args.ops, key, cwd, envs)
            results[name].append(done)
            print(f"round {turn + 1}, {name}: {len(done['lines'])} operations in {done['seconds']:.2f} s", flush=True)
    return results


def show_figure(
    args: argparse.Namespace, env: dict[str, str], local: Path, key: str, url: str, token: str, tmp: Path
) -> Figure:
    """`crmctl record show KEY` as a process through the server beside the same command on the local copy."""
    crmctl = str(tool("crmctl"))
    home = f"XDG_CONFIG_HOME={tmp / 'home'}"

    def shows(result: Any) -> str | None:
        return None if key in result.stdout else f"the card of {key} was not printed"

    client = Case(
        "client", [["env", f"CRMCTL_SERVER={url}", f"CRMCTL_TOKEN={token}", home, crmctl, "record", "show", key]], shows
    )
    alone = Case("local", [["env", f"CRMCTL_USER={MANAGERS[1]}", home, crmctl, "record", "show", key]], shows)
    figure = Figure(
        f"record show {key}: through the server / local ({args.records:,} clients)", client, alone, SHOW_GOAL
    )
    measure([figure], local, env, args.runs)
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=2000, help="client records to fill (default 2000)")
    parser.add_argument("--workers", type=int, default=8, help="client processes at once (default 8)")
    parser.add_argument("--ops", type=int, default=60, help="operations of each worker per round (default 60)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, the sides taking turns (default 2)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the single command (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspaces and print where")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    parser.add_argument("--local", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.ops, person_of(args.worker), args.key, args.local, args.tag)
        return 0
    if args.records < 10 or min(args.workers, args.ops, args.rounds, args.runs) < 1:
        parser.error("--records must be at least 10, and --workers, --ops, --rounds and --runs at least 1")
    with scratch("server", args.keep) as tmp:
        return bench(args, tmp)


def bench(args: argparse.Namespace, tmp: Path) -> int:
    env = clean_env(tmp / "pycache")
    env["NO_COLOR"] = "1"
    print(
        f"crmctl server benchmark: {args.records:,} clients, {args.workers} workers x {args.ops} operations "
        f"x {args.rounds} rounds per side; {machine()}",
        flush=True,
    )
    served, local, key, tokens = prepare(tmp, env, args.records)
    process, url = start_server(served, env)
    try:
        results = rounds(args, tmp, env, served, local, key, tokens, url)
        figure = show_figure(args, env, local, key, url, tokens[MANAGERS[1]], tmp)
    finally:
        stop_server(process)
    missing = {
        "server": lost(served / "crmctl.duckdb", [ln for r in results["server"] for ln in r["lines"]]),
        "local": lost(local / "crmctl.duckdb", [ln for r in results["local"] for ln in r["lines"]]),
    }
    print()
    print(throughput_table(results, missing))
    for line in failures(results):
        print(f"failed: {line}")
    print()
    print(latency_table(results))
    print()
    print(table([figure]))
    problems = [c for rs in results.values() for r in rs for c in r["crashes"]]
    problems += [
        f"{name}: create of {k} said it succeeded, but {k} is not in the database"
        for name, keys in missing.items()
        for k in keys
    ]
    planned = args.workers * args.ops * args.rounds
    problems += [
        f"{name}: {planned - sum(len(r['lines']) for r in rs)} operations never reported"
        for name, rs in results.items()
        if sum(len(r["lines"]) for r in rs) != planned
    ]
    if problems:
        print(
            f"benchmark failed: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
