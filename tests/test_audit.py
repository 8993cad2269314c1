"""The event log's hash chain (`crmctl audit verify`), consistent copies (`crmctl backup`), and the Team
changes apply makes: no one hands out a permission they do not hold, and each change is an event."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Cli, ok
from tests.dbstate import dump, query
from tests.test_duckdb_cli import duckdb_cli

NOW = ("--now", "2027-03-01T10:00")
FIELDS = ("--set", "name=Ромашка", "--set", "contact_person=Иван", "--set", "phone=+7 (900) 123-45-67")


@pytest.fixture
def ws(example: Callable[[str], Path], cli: Cli) -> Path:
    path = example("pyrus-client-crm")
    ok(cli, *NOW, "apply")
    for _ in range(3):
        ok(cli, *NOW, "--as", "belov", "record", "create", "client", *FIELDS)
    ok(cli, *NOW, "--as", "belov", "approve", "CL-1")
    return path


def _db(ws: Path) -> Path:
    return ws / "crmctl.duckdb"


def _write(ws: Path, sql: str) -> None:
    conn = duckdb.connect(str(_db(ws)))
    try:
        conn.execute(sql)
    finally:
        conn.close()


def test_every_event_is_sealed_and_the_chain_verifies(ws: Path, cli: Cli) -> None:
    events = query(_db(ws), "SELECT count(*) FROM crm.events")[0][0]
    assert events > 5
    assert query(_db(ws), "SELECT count(*) FROM crm.event_hashes")[0][0] == events
    done = cli("audit", "verify")
    assert done.exit_code == 0, done.stderr
    assert re.fullmatch(rf"event log intact: {events} events, head [0-9a-f]{{64}}\n", done.stdout)
    report = json.loads(ok(cli, "audit", "verify", "-f", "json"))
    assert report["events"] == events and report["head"] in done.stdout


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        ("UPDATE crm.events SET actor = 'sokolov' WHERE id = 3", "event 3 was changed after it was written"),
        ("UPDATE crm.events SET data = '{}' WHERE id = 2", "event 2 was changed after it was written"),
        ("DELETE FROM crm.events WHERE id = 2", "event 2 was deleted after it was written"),
        (
            "INSERT INTO crm.events (id, occurred_at, action) VALUES (100000, now(), 'record.created')",
            "event 100000 is not in the chain",
        ),
    ],
)
def test_a_tampered_log_names_the_first_broken_event(ws: Path, cli: Cli, tamper: str, said: str) -> None:
    _write(ws, tamper)
    before = dump(_db(ws), refusals=True)
    done = cli("audit", "verify")
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr
    assert dump(_db(ws), refusals=True) == before  # verifying reads only


def test_later_writes_do_not_hide_a_change(ws: Path, cli: Cli) -> None:
    _write(ws, "UPDATE crm.events SET actor = 'kuznetsova' WHERE id = 2")
    ok(cli, *NOW, "--as", "belov", "record", "create", "client", *FIELDS)
    done = cli("audit", "verify")
    assert done.exit_code == 1 and "event 2 was changed" in done.stderr
    assert "more event" not in done.stderr  # the events after it still chain to its stored hash


def test_a_backup_is_a_private_consistent_copy_duckdb_opens(ws: Path, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "copy.duckdb"
    done = cli("--as", "sokolov", "backup", str(target))
    assert done.exit_code == 0, done.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    events = query(_db(ws), "SELECT count(*) FROM crm.events")[0][0]
    read = duckdb_cli(tmp_path, "-readonly", "-csv", "-noheader", str(target), "SELECT count(*) FROM crm.events")
    assert (read.returncode, read.stdout.strip()) == (0, str(events)), read.stderr
    assert dump(target) == dump(_db(ws))
    here, there = (ok(cli, *db, "audit", "verify") for db in ((), ("--db", str(target))))
    assert here == there


def test_a_backup_refuses_an_existing_file_and_needs_team_manage(ws: Path, cli: Cli, tmp_path: Path) -> None:
    before = dump(_db(ws))
    existing = tmp_path / "there.duckdb"
    existing.write_text("keep me", encoding="utf-8")
    done = cli("--as", "sokolov", "backup", str(existing))
    assert (done.exit_code, existing.read_text(encoding="utf-8")) == (2, "keep me")
    refused = cli("--as", "belov", "backup", str(tmp_path / "new.duckdb"))
    assert refused.exit_code == 1 and "permission team.manage is missing" in refused.stderr
    assert not (tmp_path / "new.duckdb").exists()
    assert dump(_db(ws)) == before


def _team(ws: Path, old: str, new: str) -> None:
    team = ws / "team.yaml"
    text = team.read_text(encoding="utf-8")
    assert old in text
    team.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_no_one_hands_out_a_permission_they_do_not_hold(ws: Path, cli: Cli) -> None:
    """The sales head may manage processes, but may not make herself CEO with apply."""
    _team(ws, "    roles: [sales_head, manager]", "    roles: [ceo]")
    before = dump(_db(ws))
    planned = cli(*NOW, "--as", "kuznetsova", "plan")
    assert "kuznetsova would get *, which the person applying does not hold" in planned.stdout + planned.stderr
    done = cli(*NOW, "--as", "kuznetsova", "apply")
    assert done.exit_code == 1
    assert "kuznetsova may not hand out permissions they do not hold" in done.stderr
    assert "refused: kuznetsova would get *" in done.stderr
    assert dump(_db(ws)) == before
    refusals = query(_db(ws), "SELECT actor, data->>'permission' FROM crm.events WHERE action = 'permission.refused'")
    assert refusals == [("kuznetsova", "team.manage")]
    assert cli(*NOW, "--as", "sokolov", "apply").exit_code == 0  # the CEO holds everything


def test_a_team_change_within_ones_own_permissions_is_an_event_with_its_diff(ws: Path, cli: Cli) -> None:
    _team(ws, "      - records.import:client\n", "      - records.import\n")  # kuznetsova holds records.import
    done = cli(*NOW, "--as", "kuznetsova", "apply")
    assert done.exit_code == 0, done.stderr
    rows = query(_db(ws), "SELECT actor, data FROM crm.events WHERE action = 'team.changed'")
    assert len(rows) == 1 and rows[0][0] == "kuznetsova"
    data = json.loads(rows[0][1])
    assert (data["target"], data["name"], data["action"]) == ("role", "manager", "change")
    assert "records.import:client" in data["before"] and "records.import" in data["after"]
    assert ok(cli, "audit", "verify").startswith("event log intact")
