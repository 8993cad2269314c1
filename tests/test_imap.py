"""E-mail intake from a real mailbox: an intake rule's `mailbox:` on a real IMAP server (dovecot), fetched
once by `crmctl intake mail --rule NAME` and polled by the team server's scheduler; each message taken once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli, ok
from tests.dbstate import dump, query
from tests.imapserver import PASSWORD, USER, Imap, imap_fixture  # noqa: F401  (the fixture `imap`)
from tests.test_server import CRMCTL, _env, _free_port, _stop, _wait, run

pytestmark = pytest.mark.slow
NOW = ("--now", "2027-03-01T10:00")
ENV = {"CRMCTL_IMAP_PASSWORD": PASSWORD, "CRMCTL_USER": "alekseeva"}  # the dispatcher evaluates mail


def mail(n: int, to: str = "crm@sd.example.ru", subject: str = "Нужна консультация") -> str:
    return (
        f"Message-ID: <m{n}@client.example>\nFrom: Пётр <petr{n}@client.example>\nTo: {to}\n"
        f"Subject: {subject} {n}\nDate: Mon, 01 Mar 2027 09:00:00 +0300\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nДобрый день!\n"
    )


def _rule(ws: Path, imap: Imap, extra: str = "") -> None:
    intake = ws / "intake.yaml"
    text = intake.read_text(encoding="utf-8")
    anchor = "address: crm@sd.example.ru\n"
    settings = (
        f"mailbox: imaps://{USER}@127.0.0.1:{imap.port}/INBOX\npassword_env: CRMCTL_IMAP_PASSWORD\n"
        f"ca_file: {imap.cert}\n{extra}"
    )
    intake.write_text(text.replace(anchor, anchor + settings, 1), encoding="utf-8")


@pytest.fixture
def desk(example: Callable[[str], Path], cli: Cli, imap: Imap) -> tuple[Path, Imap]:
    ws = example("service-desk-leads")
    _rule(ws, imap)
    ok(cli, *NOW, "apply")
    return ws, imap


def test_a_fetch_takes_each_message_once_and_marks_it_in_the_mailbox(desk: tuple[Path, Imap], cli: Cli) -> None:
    ws, imap = desk
    imap.append(mail(1))
    imap.append(mail(2))
    imap.append(mail(3, to="someone@else.example"))  # not for this rule: skipped, and marked all the same
    before = dump(ws / "crmctl.duckdb")
    dry = cli(*NOW, "intake", "mail", "--rule", "crm-mail", "--dry-run", env=ENV)
    assert dry.exit_code == 0, dry.stderr
    assert "would create 2, duplicates 0, skipped 1" in dry.stderr
    assert dump(ws / "crmctl.duckdb") == before and len(imap.uids("UNKEYWORD $CrmctlTaken")) == 3
    done = cli(*NOW, "intake", "mail", "--rule", "crm-mail", "-f", "json", env=ENV)
    assert done.exit_code == 0, done.stderr
    taken = json.loads(done.stdout)
    assert [t["outcome"] for t in taken] == ["created", "created", "skipped"]
    assert taken[0]["source"].startswith(f"imaps://{USER}@127.0.0.1:{imap.port}/INBOX#")
    assert imap.uids("UNKEYWORD $CrmctlTaken") == [] and len(imap.uids("KEYWORD $CrmctlTaken SEEN")) == 3
    again = cli(*NOW, "intake", "mail", "--rule", "crm-mail", env=ENV)
    assert again.exit_code == 0 and "0 messages" in again.stderr
    imap.append(mail(4))
    ok(cli, *NOW, "intake", "mail", "--rule", "crm-mail", env=ENV)
    subjects = query(ws / "crmctl.duckdb", "SELECT subject FROM crm.mail_messages ORDER BY subject")
    assert subjects == [("Нужна консультация 1",), ("Нужна консультация 2",), ("Нужна консультация 4",)]


def test_taken_messages_can_be_moved_to_a_folder(example: Callable[[str], Path], cli: Cli, imap: Imap) -> None:
    ws = example("service-desk-leads")
    _rule(ws, imap, "move_to: Taken\n")
    ok(cli, *NOW, "apply")
    imap.create("Taken")
    imap.append(mail(1))
    ok(cli, *NOW, "intake", "mail", "--rule", "crm-mail", env=ENV)
    assert imap.uids("ALL") == [] and len(imap.uids("ALL", folder="Taken")) == 1


def test_a_mailbox_that_refuses_is_one_line_and_changes_nothing(desk: tuple[Path, Imap], cli: Cli) -> None:
    ws, imap = desk
    imap.append(mail(1))
    before = dump(ws / "crmctl.duckdb")
    wrong = cli(*NOW, "intake", "mail", "--rule", "crm-mail", env={**ENV, "CRMCTL_IMAP_PASSWORD": "wrong"})
    assert wrong.exit_code == 6 and wrong.stderr.count("\n") == 1 and "crm-mail" in wrong.stderr, wrong.stderr
    unset = cli(*NOW, "intake", "mail", "--rule", "crm-mail", env={"CRMCTL_USER": "alekseeva"})
    assert unset.exit_code == 1 and "CRMCTL_IMAP_PASSWORD" in unset.stderr
    nobox = cli(*NOW, "intake", "mail", "--rule", "support-mail", env=ENV)
    assert nobox.exit_code == 1 and "names no mailbox" in nobox.stderr
    assert dump(ws / "crmctl.duckdb") == before and len(imap.uids("UNKEYWORD $CrmctlTaken")) == 1
    assert PASSWORD not in wrong.stderr + unset.stderr


def test_the_server_polls_the_mailbox(desk: tuple[Path, Imap], tmp_path: Path) -> None:
    ws, imap = desk
    port = _free_port()
    env = _env(tmp_path, CRMCTL_IMAP_PASSWORD=PASSWORD)
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port), "--every", "0.2"], cwd=ws, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait(f"http://127.0.0.1:{port}", process)
        imap.append(mail(7))
        deadline = time.monotonic() + 60
        while imap.uids("UNKEYWORD $CrmctlTaken"):
            assert time.monotonic() < deadline, "the server did not take the message in"
            time.sleep(0.2)
        _wait(f"http://127.0.0.1:{port}", process, rounds=3)  # /healthz counts the rounds as they turn
    finally:
        process.send_signal(signal.SIGTERM)
        log = process.communicate(timeout=60)[1]
    assert query(ws / "crmctl.duckdb", "SELECT subject, task IS NOT NULL FROM crm.mail_messages") == [
        ("Нужна консультация 7", True)
    ]
    assert "intake rule crm-mail took 1 messages, 1 new" in log and PASSWORD not in log


def test_the_client_fetches_through_the_server(desk: tuple[Path, Imap], tmp_path: Path) -> None:
    """`intake mail --rule R` names no file, so a server runs it (with files it is refused: they are the
    client's)."""
    ws, imap = desk
    port = _free_port()
    token = run(ws, _env(tmp_path), "token", "create", "alekseeva").stdout.strip()
    env = _env(tmp_path, CRMCTL_IMAP_PASSWORD=PASSWORD)
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port), "--every", "600"], cwd=ws, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait(f"http://127.0.0.1:{port}", process, rounds=1)  # the first round, as it starts, found nothing
        imap.append(mail(8))
        home = tmp_path / "home"
        home.mkdir()
        client = _env(home, CRMCTL_SERVER=f"http://127.0.0.1:{port}", CRMCTL_TOKEN=token)
        done = run(home, client, "intake", "mail", "--rule", "crm-mail")
        assert done.returncode == 0 and "created 1" in done.stderr, done.stderr
    finally:
        _stop(process)
