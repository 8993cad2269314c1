"""The team server for real: `crmctl serve` on a free port of 127.0.0.1 (and with TLS from a certificate made
here), driven by the real `crmctl` client in subprocesses, each person with their own token."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.dbstate import dump

pytestmark = pytest.mark.slow

CRMCTL = str(Path(sys.executable).with_name("crmctl"))
NOW = "2027-03-01T10:00:00+03:00"
FIELDS = ("--set", "name=Ромашка", "--set", "contact_person=Иван Петров", "--set", "phone=+7 (900) 123-45-67")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update({"COLUMNS": "100", "NO_COLOR": "1", "XDG_CONFIG_HOME": str(home / "config"), "CRMCTL_NOW": NOW})
    env.update(extra)
    return env


def run(cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CRMCTL, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    workspace: Path
    home: Path  # the people's machine: no workspace here, its own config folder
    tokens: dict[str, str]
    process: subprocess.Popen[str]

    def client(self, person: str | None, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = _env(self.home, CRMCTL_SERVER=self.url, **extra)
        if person is not None:
            env["CRMCTL_TOKEN"] = self.tokens[person]
        return run(self.home, env, *args)


def _workspace(tmp: Path) -> tuple[Path, dict[str, str]]:
    """The pyrus-client-crm example with one client, and tokens for the CEO and a manager (one expired)."""
    env = _env(tmp)
    assert run(tmp, env, "init", "w", "--example", "pyrus-client-crm").returncode == 0
    ws = tmp / "w"
    assert run(ws, env, "--as", "sokolov", "apply").returncode == 0
    assert run(ws, env, "--as", "belov", "record", "create", "client", *FIELDS).stdout == "CL-1\n"
    tokens = {}
    for person, extra in (("sokolov", ()), ("belov", ()), ("kuznetsova", ()), ("orlova", ("--expires", "1d"))):
        made = run(ws, {**env, "CRMCTL_NOW": "2027-01-01T10:00"}, "--as", "sokolov", "token", "create", person, *extra)
        assert made.returncode == 0, made.stderr
        tokens[person] = made.stdout.strip()
    return ws, tokens


def _wait(url: str, process: subprocess.Popen[str], context: object = None, rounds: int = 0) -> None:
    """Until the server answers /healthz (and its scheduler has finished `rounds` rounds)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2, context=context) as answer:  # type: ignore[arg-type]
                health = json.loads(answer.read())
                if health["status"] == "ok" and health.get("scheduler_rounds", 0) >= rounds:
                    return
                time.sleep(0.1)
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not come up")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    if process.stderr:
        process.stderr.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The workspace and tokens, made once per module (a token takes scrypt's time), copied for each test."""
    return _workspace(tmp_path_factory.mktemp("template"))


@pytest.fixture
def served(tmp_path: Path, template: tuple[Path, dict[str, str]]) -> Iterator[Served]:
    ws = tmp_path / "w"
    shutil.copytree(template[0], ws)
    (ws / "crmctl.duckdb.lock").unlink(missing_ok=True)
    tokens = template[1]
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port)], cwd=ws, env=_env(tmp_path), stderr=subprocess.PIPE, text=True
    )
    try:
        _wait(f"http://127.0.0.1:{port}", process)
        yield Served(f"http://127.0.0.1:{port}", ws, home, tokens, process)
    finally:
        _stop(process)


def test_each_person_acts_as_their_token_says(served: Served) -> None:
    assert served.client("belov", "whoami").stdout == "belov (manager)\n"
    assert served.client("sokolov", "whoami").stdout == "sokolov (ceo)\n"
    approved = served.client("belov", "approve", "CL-1")
    assert (approved.returncode, approved.stdout) == (0, "CL-1: approved; stage 'first_contact' passed -> needs\n")
    refused = served.client("sokolov", "approve", "CL-1")  # the approver of 'needs' is belov, not the CEO
    assert refused.returncode == 1, refused.stdout
    inbox = served.client("sokolov", "inbox", "--format", "json")
    assert inbox.returncode == 0 and isinstance(json.loads(inbox.stdout), list)


def test_as_is_refused_against_a_server(served: Served) -> None:
    done = served.client("belov", "--as", "sokolov", "inbox")
    assert done.returncode == 2
    assert "--as (and CRMCTL_USER) cannot be used against a server" in done.stderr
    assert served.client("belov", "inbox", CRMCTL_USER="sokolov").returncode == 2


def test_permissions_are_checked_by_the_server(served: Served) -> None:
    refused = served.client("belov", "token", "list", "--all")
    assert refused.returncode == 1
    missing = "belov may not manage the team's tokens: permission team.manage is missing"
    assert refused.stderr == f"crmctl: error: {missing}\n"
    listed = served.client("sokolov", "token", "list", "--all", "--format", "json")
    assert [t["person"] for t in json.loads(listed.stdout)] == ["sokolov", "belov", "kuznetsova", "orlova"]
    assert all("token" not in t and "hash" not in t for t in json.loads(listed.stdout))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("crm_2_" + "x" * 43, "the server does not accept this token"),
        ("nonsense", "the server does not accept this token"),
        ("crm_99_" + "x" * 43, "the server does not accept this token"),
    ],
)
def test_a_wrong_token_is_refused_with_exit_code_7(served: Served, token: str, message: str) -> None:
    done = served.client(None, "whoami", CRMCTL_TOKEN=token)
    assert done.returncode == 7 and message in done.stderr


def test_no_token_expired_and_revoked_tokens_are_refused(served: Served) -> None:
    none = served.client(None, "whoami")
    assert none.returncode == 7 and "no token for" in none.stderr
    expired = served.client("orlova", "whoami")
    assert expired.returncode == 7 and "this token expired at 2027-01-02 10:00" in expired.stderr
    revoked = served.client("sokolov", "token", "revoke", "2")
    assert revoked.stdout == "token 2 of belov (default) revoked\n"
    assert served.client("belov", "whoami").returncode == 7


def test_the_server_holds_the_database_and_events_carry_the_person(served: Served) -> None:
    local = run(served.workspace, _env(served.home, CRMCTL_BUSY_TIMEOUT="0.5"), "--as", "belov", "inbox")
    assert local.returncode == 4  # busy: the server is the only one that opens the file
    assert served.client("belov", "approve", "CL-1").returncode == 0
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn hands the signal back, once done
    assert not (served.workspace / "crmctl.duckdb.wal").exists()  # closed: the log is checkpointed into the file
    history = run(served.workspace, _env(served.home), "--as", "sokolov", "record", "history", "CL-1", "-f", "json")
    events = json.loads(history.stdout)
    given = [i for i, e in enumerate(events) if e["action"] == "approval.given"]
    assert len(given) == 1  # the approval made through the server, and all that followed it, are belov's
    assert {e["actor"] for e in events[given[0] :]} == {"belov"}
    assert "stage.entered" in {e["action"] for e in events[given[0] :]}


def test_two_people_write_at_once_and_nothing_is_lost(served: Served) -> None:
    def mark(person: str) -> int:
        return served.client(person, "inbox", "--mark-read").returncode

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(mark, ["belov", "sokolov"] * 4))
    assert codes == [0] * 8
    assert served.client("belov", "inbox", "--unread", "--format", "json").stdout.strip() == "[]"


def test_login_keeps_the_token_private_and_refuses_a_readable_file(served: Served) -> None:
    env = _env(served.home)
    signed = run(served.home, env, "login", served.url, "--token-stdin", stdin=served.tokens["belov"] + "\n")
    assert (signed.returncode, signed.stdout) == (0, f"signed in to {served.url} as belov\n"), signed.stderr
    credentials = served.home / "config" / "crmctl" / "credentials.json"
    assert credentials.stat().st_mode & 0o777 == 0o600
    assert served.tokens["belov"] in credentials.read_text()
    assert run(served.home, env, "whoami").stdout == "belov (manager)\n"  # outside a workspace: the server
    credentials.chmod(0o644)
    refused = run(served.home, env, "whoami")
    assert refused.returncode == 1 and "may be read by others (mode 644): chmod 600 it" in refused.stderr
    credentials.chmod(0o600)
    assert run(served.home, env, "logout").stdout == f"signed out of {served.url}\n"
    assert served.tokens["belov"] not in credentials.read_text()


def test_a_bad_login_changes_nothing(served: Served) -> None:
    env = _env(served.home)
    done = run(served.home, env, "login", served.url, "--token-stdin", stdin="crm_1_" + "y" * 43 + "\n")
    assert done.returncode == 7
    assert not (served.home / "config" / "crmctl" / "credentials.json").exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test's certificate")
def test_tls_with_a_certificate_made_here(tmp_path: Path, template: tuple[Path, dict[str, str]]) -> None:
    ws, tokens = tmp_path / "w", template[1]
    shutil.copytree(template[0], ws)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
        cwd=ws, env=_env(tmp_path), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        import ssl

        url = f"https://127.0.0.1:{port}"
        _wait(url, process, ssl.create_default_context(cafile=str(cert)))
        home = tmp_path / "home"
        home.mkdir()
        env = _env(home)
        untrusted = run(home, env, "login", url, "--token-stdin", stdin=tokens["belov"])
        assert untrusted.returncode == 6 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        signed = run(home, env, "login", url, "--token-stdin", "--ca-file", str(cert), stdin=tokens["belov"])
        assert signed.returncode == 0, signed.stderr
        assert run(home, env, "whoami").stdout == "belov (manager)\n"
    finally:
        _stop(process)


def test_the_log_names_person_and_operation_but_never_the_token(served: Served) -> None:
    served.client("belov", "whoami")
    served.client(None, "whoami", CRMCTL_TOKEN="crm_2_" + "z" * 43)
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=60)
    log = served.process.stderr.read() if served.process.stderr else ""
    assert "belov whoami 200" in log
    assert "- whoami 401" in log
    assert all(token not in log for token in served.tokens.values()) and "z" * 43 not in log


def test_after_sigkill_every_acknowledged_write_is_there(served: Served) -> None:
    acknowledged: list[str] = []

    def make(n: int) -> None:
        done = served.client("sokolov", "token", "create", "belov", "--name", f"n{n}")
        if done.returncode == 0:
            acknowledged.append(f"n{n}")

    make(0)
    make(1)
    assert acknowledged == ["n0", "n1"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(make, n) for n in range(2, 14)]
        time.sleep(1.5)
        served.process.send_signal(signal.SIGKILL)
        concurrent.futures.wait(futures)
    served.process.wait(timeout=60)
    listed = run(served.workspace, _env(served.home), "--as", "sokolov", "token", "list", "--all", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    names = {t["name"] for t in json.loads(listed.stdout)}
    assert set(acknowledged) <= names


def test_files_a_command_reads_are_sent_with_it(served: Served) -> None:
    (served.home / "clients.csv").write_text(
        "name,contact_person,phone\nБета,Анна,+7 (900) 000-00-01\n", encoding="utf-8"
    )
    done = served.client("sokolov", "import", "client", "clients.csv")
    assert done.returncode == 0 and "clients.csv: 1 row" in done.stdout + done.stderr, done.stderr
    assert "Бета" in served.client("sokolov", "record", "show", "CL-2").stdout
    missing = served.client("sokolov", "import", "client", "nowhere.csv")
    assert missing.returncode == 3 and "nowhere.csv" in missing.stderr
    # the server reads no path of its own machine for a client that names one without sending it
    import urllib.error

    body = json.dumps({"what": "client", "path": "/etc/passwd"}).encode()
    request = urllib.request.Request(
        served.url + "/api/v1/ops/import", data=body, method="POST",
        headers={"Authorization": f"Bearer {served.tokens['sokolov']}"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert "was not sent with the request" in json.loads(refused.value.read())["error"]["message"]


def test_the_client_imports_neither_duckdb_nor_the_server_stack(served: Served) -> None:
    env = _env(served.home, CRMCTL_SERVER=served.url, CRMCTL_TOKEN=served.tokens["belov"])
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crmctl", "inbox"], cwd=served.home, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "crmctl" in imported
    assert not imported & {"duckdb", "starlette", "uvicorn", "jinja2", "jsonschema"}


SAME = [
    ["record", "show", "CL-1", "-f", "json"],
    ["record", "show", "CL-1"],
    ["record", "list", "client", "-f", "json"],
    ["record", "history", "CL-1", "-f", "csv"],
    ["board", "client-work", "-f", "json"],
    ["board", "client-work"],
    ["agenda", "--days", "30", "-f", "json"],
    ["queue", "-f", "json"],
    ["eta", "CL-1"],
    ["report", "funnel", "client-work", "-f", "json"],
    ["export", "client"],
    ["whoami", "-f", "json"],
]


def test_a_command_gives_the_same_output_from_the_server_as_here(
    tmp_path: Path, template: tuple[Path, dict[str, str]]
) -> None:
    ws = tmp_path / "w"
    shutil.copytree(template[0], ws)
    env = _env(tmp_path)
    here = [run(ws, env, "--as", "sokolov", *args) for args in SAME]
    assert all(r.returncode == 0 for r in here), [r.stderr for r in here]
    port = _free_port()
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port)], cwd=ws, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait(f"http://127.0.0.1:{port}", process)
        remote = _env(tmp_path, CRMCTL_SERVER=f"http://127.0.0.1:{port}", CRMCTL_TOKEN=template[1]["sokolov"])
        there = [run(tmp_path, remote, *args) for args in SAME]
    finally:
        _stop(process)
    for args, a, b in zip(SAME, here, there, strict=True):
        assert (b.returncode, b.stdout) == (0, a.stdout), (args, b.stderr)


DRY = [
    ["record", "create", "client", *FIELDS, "--dry-run"],
    ["record", "create", "client", *FIELDS, "--dry-run", "-f", "json"],
    ["approve", "CL-1", "--dry-run"],
    ["record", "update", "CL-404", "--set", "name=x", "--dry-run"],  # refused the same way: exit 3
]


def _serve_once(ws: Path, env: dict[str, str], work: Any = None) -> Any:
    """Serve the workspace until the scheduler's first round is done, do the work against it, stop."""
    port = _free_port()
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port)], cwd=ws, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait(f"http://127.0.0.1:{port}", process, rounds=1)
        return work(f"http://127.0.0.1:{port}") if work else None
    finally:
        _stop(process)


def test_a_dry_run_through_the_server_says_what_it_says_here_and_writes_nothing(
    tmp_path: Path, template: tuple[Path, dict[str, str]]
) -> None:
    ws, quiet = tmp_path / "w", tmp_path / "quiet"
    for folder in (ws, quiet):
        shutil.copytree(template[0], folder, ignore=shutil.ignore_patterns("*.lock"))
    env = _env(tmp_path)
    before = dump(ws / "crmctl.duckdb")
    here = [run(ws, env, "--as", "belov", *args) for args in DRY]
    assert [r.returncode for r in here] == [0, 0, 0, 3], [r.stderr for r in here]
    assert here[0].stdout.startswith("dry run of crmctl record create: nothing was written; it would write:")
    assert dump(ws / "crmctl.duckdb") == before

    def client(url: str) -> list[subprocess.CompletedProcess[str]]:
        remote = _env(tmp_path, CRMCTL_SERVER=url, CRMCTL_TOKEN=template[1]["belov"])
        return [run(tmp_path, remote, *args) for args in DRY]

    there = _serve_once(ws, env, client)
    for args, a, b in zip(DRY, here, there, strict=True):
        assert (b.returncode, b.stdout, b.stderr) == (a.returncode, a.stdout, a.stderr), args
    # the database holds what a server that was sent nothing holds (its scheduler's round), but for when the
    # token was last used
    _serve_once(quiet, env)
    unused = {table: rows for table, rows in dump(quiet / "crmctl.duckdb").items() if table != "crm.tokens"}
    assert {table: rows for table, rows in dump(ws / "crmctl.duckdb").items() if table != "crm.tokens"} == unused


def test_a_workspace_that_names_its_server_works_against_it(served: Served) -> None:
    checkout = served.home / "definitions"
    checkout.mkdir()
    (checkout / "crmctl.yaml").write_text(
        f"kind: Workspace\nname: shop\ntimezone: Europe/Moscow\nserver: {served.url}\n", encoding="utf-8"
    )
    env = _env(served.home, CRMCTL_TOKEN=served.tokens["belov"])
    assert run(checkout, env, "whoami").stdout == "belov (manager)\n"
    assert run(checkout, env, "validate").returncode == 0  # validate stays local: it checks these files
    env["CRMCTL_BUSY_TIMEOUT"] = "0.5"
    local = run(checkout, env, "--db", str(served.workspace / "crmctl.duckdb"), "whoami")  # named: worked on here
    assert local.returncode == 4  # ... and busy, as the server holds it


def _checkout(served: Served) -> Path:
    """The workspace's YAML files, without its database, on a person's machine: a checkout of the definitions."""
    checkout = served.home / "definitions"
    shutil.copytree(served.workspace, checkout, ignore=shutil.ignore_patterns("*.duckdb*"))
    return checkout


def test_plan_and_apply_send_the_workspace_to_the_server(served: Served) -> None:
    checkout = _checkout(served)
    team = checkout / "team.yaml"
    text = team.read_text(encoding="utf-8")
    env = _env(served.home, CRMCTL_SERVER=served.url, CRMCTL_TOKEN=served.tokens["kuznetsova"])
    # the sales head may change the team within what she holds herself ...
    team.write_text(text.replace("      - records.import:client\n", "      - records.import\n", 1), encoding="utf-8")
    planned = run(checkout, env, "plan")
    assert planned.returncode == 0 and "role manager" in planned.stdout, planned.stderr
    applied = run(checkout, env, "apply")
    assert applied.returncode == 0, applied.stderr
    # ... but not make herself CEO (the server decides, as the token's person)
    team.write_text(text.replace("    roles: [sales_head, manager]", "    roles: [ceo]", 1), encoding="utf-8")
    refused = run(checkout, env, "apply")
    assert refused.returncode == 1 and "kuznetsova would get *" in refused.stderr
    belov = run(checkout, {**env, "CRMCTL_TOKEN": served.tokens["belov"]}, "apply")
    assert belov.returncode == 1 and "permission processes.manage is missing" in belov.stderr
    assert run(checkout, env, "--as", "sokolov", "apply").returncode == 2
    broken = checkout / "forms" / "broken.yaml"
    broken.write_text("kind: Form\nname: 1bad\n", encoding="utf-8")
    invalid = run(checkout, env, "apply")
    assert invalid.returncode == 1 and "forms/broken.yaml:" in invalid.stderr  # named as in the checkout
    broken.unlink()
    assert run(checkout, env, "audit", "verify").returncode == 0
    _stop(served.process)
    db = str(served.workspace / "crmctl.duckdb")
    conn = duckdb.connect(db, read_only=True)
    try:
        changes = conn.execute("SELECT actor, data->>'name' FROM crm.events WHERE action = 'team.changed'").fetchall()
        refusals = conn.execute(
            "SELECT actor, data->>'permission' FROM crm.events WHERE action = 'permission.refused' ORDER BY id"
        ).fetchall()
        roles = conn.execute("SELECT roles FROM crm.people WHERE id = 'kuznetsova'").fetchone()
    finally:
        conn.close()
    assert changes == [("kuznetsova", "manager")]
    assert refusals == [("kuznetsova", "team.manage"), ("belov", "processes.manage")]
    assert roles == (["sales_head", "manager"],)


def test_backup_through_the_server_downloads_a_private_copy(served: Served) -> None:
    target = served.home / "copy.duckdb"
    assert served.client("belov", "backup", str(target)).returncode == 1  # team.manage
    done = served.client("sokolov", "backup", str(target))
    assert done.returncode == 0, done.stderr
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    conn = duckdb.connect(str(target), read_only=True)
    try:
        assert conn.execute("SELECT key FROM main.client").fetchall() == [("CL-1",)]
    finally:
        conn.close()
    verified = served.client("sokolov", "audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("event log intact")
