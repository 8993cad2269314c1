"""The team server mails notices through a real SMTP server (aiosmtpd on a free port of 127.0.0.1): each
notice once, to the person's address, never again after a restart; failures are retried and listed."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.test_server import CRMCTL, FIELDS, _env, _free_port, _stop, _wait, run

pytestmark = pytest.mark.slow

REFUSED = "p.zaitsev@example.ru"  # the SMTP server refuses this mailbox


class Sink:
    """An SMTP server's handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self) -> list[str]:
        return sorted(str(m["To"]).rsplit("<", 1)[-1].rstrip(">") for m in self.messages)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler, port = Sink(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _workspace(tmp: Path, smtp_port: int) -> tuple[Path, dict[str, str]]:
    env = _env(tmp)
    assert run(tmp, env, "init", "w", "--example", "pyrus-client-crm").returncode == 0
    ws = tmp / "w"
    settings = ws / "crmctl.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + f"smtp:\n  host: 127.0.0.1\n  port: {smtp_port}\n  security: none\n  from: crm@example.ru\n",
        encoding="utf-8",
    )
    team = ws / "team.yaml"
    text = team.read_text(encoding="utf-8").replace(
        "    roles: [manager]\n    absences:", "    roles: [manager]\n    mail_notices: false\n    absences:", 1
    )  # orlova reads her notices in the inbox only
    team.write_text(text, encoding="utf-8")
    assert run(ws, env, "--as", "sokolov", "apply").returncode == 0
    tokens = {}
    for person in ("sokolov", "belov"):
        made = run(ws, env, "--as", "sokolov", "token", "create", person)
        assert made.returncode == 0, made.stderr
        tokens[person] = made.stdout.strip()
    return ws, tokens


def _serve(ws: Path, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [CRMCTL, "serve", "--port", str(port), "--every", "0.2"], cwd=ws, env=_env(tmp),
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _wait(url, process)
    return process, url


def _until(check: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _failed(home: Path, env: dict[str, str]) -> list[str]:
    listed = run(home, env, "notices", "--all", "--failed", "-f", "json")
    return [d["address"] for d in json.loads(listed.stdout)] if listed.returncode == 0 else []


def test_notices_are_mailed_once_each_even_across_a_restart(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    handler, smtp_port = sink
    ws, tokens = _workspace(tmp_path, smtp_port)
    home = tmp_path / "home"
    home.mkdir()
    process, url = _serve(ws, tmp_path)
    try:
        env = _env(home, CRMCTL_SERVER=url, CRMCTL_TOKEN=tokens["belov"])
        assert run(home, env, "record", "create", "client", *FIELDS).returncode == 0  # belov: stage, approval
        _until(lambda: len(handler.messages) == 2, "two notices mailed to belov")
        boss = {**env, "CRMCTL_TOKEN": tokens["sokolov"]}
        for person in ("orlova", "zaitsev"):  # orlova opted out; zaitsev's mailbox is refused
            assert run(home, boss, "task", "add", f"Позвонить ({person})", "--assignee", person).returncode == 0
        _until(lambda: _failed(home, boss) == [REFUSED], "the refused delivery listed")
    finally:
        _stop(process)
    assert handler.to() == ["i.belov@example.ru", "i.belov@example.ru"]
    first = handler.messages[0]
    assert first["From"] == "crm@example.ru" and first["Auto-Submitted"] == "auto-generated"
    assert "CL-1" in str(make_header(decode_header(first["Subject"])))
    assert "CL-1 Ромашка entered stage" in first.get_payload(decode=True).decode()
    process, url = _serve(ws, tmp_path)  # a restart: nothing is sent twice, what comes later is sent once
    try:
        env = _env(home, CRMCTL_SERVER=url, CRMCTL_TOKEN=tokens["sokolov"])
        assert run(home, env, "task", "add", "Встреча", "--assignee", "belov").returncode == 0
        _until(lambda: len(handler.messages) == 3, "the new notice mailed")
        time.sleep(1)  # five more rounds of the scheduler
        listed = json.loads(run(home, env, "notices", "--all", "-f", "json").stdout)
        failed = run(home, env, "notices", "--all", "--failed")
    finally:
        _stop(process)
    assert handler.to() == ["i.belov@example.ru"] * 3
    assert len({m["Message-ID"] for m in handler.messages}) == 3
    assert [(d["person"], d["status"]) for d in listed] == [
        ("belov", "sent"), ("belov", "sent"), ("zaitsev", "failed"), ("belov", "sent")
    ]  # fmt: skip
    refused = listed[2]
    assert refused["attempts"] == 1 and refused["next_at"] is not None and "550" in refused["error"]
    assert refused["error"] == "550 5.1.1 no such mailbox"
    assert failed.returncode == 0 and "zaitsev" in failed.stdout and "belov" not in failed.stdout


def test_a_person_sees_their_own_deliveries_and_others_need_team_manage(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    ws, tokens = _workspace(tmp_path, sink[1])
    home = tmp_path / "home"
    home.mkdir()
    process, url = _serve(ws, tmp_path)
    try:
        env = _env(home, CRMCTL_SERVER=url, CRMCTL_TOKEN=tokens["belov"])
        assert run(home, env, "notices", "-f", "json").stdout == "[]\n"
        refused = run(home, env, "notices", "--all")
        assert refused.returncode == 1 and "team.manage" in refused.stderr
    finally:
        _stop(process)
