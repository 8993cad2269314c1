"""Announcements (Pyrus: «объявления… с датой окончания показа»): made and withdrawn with
announcements.manage, shown at the top of their audience's agenda and inbox until they end."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ok
from .dbstate import dump, query


def test_an_announcement_tops_the_agenda_and_inbox_of_its_audience_until_it_ends(cli, workspace: Path) -> None:
    made = ok(cli, "announce", "Офис закрыт 8 марта", "--until", "2027-03-08", "--to", "role:manager")
    assert made == "announcement 1 for role:manager until 2027-03-09 00:00\n"
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    ok(cli, "remind", "CL-1", "Позвонить", "--at", "+1h", "--for", "anna")
    agenda = json.loads(ok(cli, "--as", "anna", "agenda", "-f", "json"))
    assert [(i["kind"], i["id"]) for i in agenda] == [("announcement", "announcement:1"), ("reminder", "reminder:1")]
    assert agenda[0]["text"] == "Офис закрыт 8 марта (until 2027-03-09 00:00)"
    inbox = json.loads(ok(cli, "--as", "anna", "inbox", "-f", "json"))
    assert (inbox[0]["kind"], inbox[0]["id"], inbox[0]["text"]) == ("announcement", 1, "Офис закрыт 8 марта")
    table = ok(cli, "--as", "anna", "inbox")
    first = table.splitlines()[2]
    assert "announcement" in first and "Офис закрыт 8 марта" in first
    # boris is no manager: not his
    assert json.loads(ok(cli, "--as", "boris", "agenda", "-f", "json")) == []
    # the day after it ends, it is gone
    later = json.loads(ok(cli, "--now", "2027-03-09T00:00", "--as", "anna", "agenda", "-f", "json"))
    assert [i["kind"] for i in later] == ["reminder"]


def test_tick_marks_an_announcement_expired_once(cli, workspace: Path) -> None:
    ok(cli, "announce", "Сдать отчёты", "--until", "2027-03-01T18:00")
    db = workspace / "crmctl.duckdb"
    assert ok(cli, "tick", "--now", "2027-03-01T17:59") == "nothing was due\n"
    out = json.loads(ok(cli, "tick", "--now", "2027-03-01T18:00", "-f", "json"))
    assert out == [{"kind": "expired", "subject": "announcement 1", "text": "Сдать отчёты"}]
    before = dump(db)
    assert ok(cli, "tick", "--now", "2027-03-01T18:00") == "nothing was due\n"
    assert dump(db) == before
    actions = query(db, "SELECT action FROM crm.events WHERE action LIKE 'announcement.%' ORDER BY id")
    assert actions == [("announcement.made",), ("announcement.expired",)]


def test_withdraw_and_list(cli, workspace: Path, snapshot) -> None:
    ok(cli, "announce", "Для всех")
    ok(cli, "announce", "Для Анны", "--to", "anna")
    assert ok(cli, "announce", "--withdraw", "1") == "announcement 1 withdrawn\n"
    assert ok(cli, "announce", "--list") == snapshot  # boris manages them: he sees them all
    mine = json.loads(ok(cli, "--as", "anna", "announce", "--list", "-f", "json"))
    assert [(a["id"], a["to"]) for a in mine] == [(2, ["anna"])]
    db = workspace / "crmctl.duckdb"
    assert query(db, "SELECT id, withdrawn_by FROM crm.announcements ORDER BY id") == [(1, "boris"), (2, None)]


def test_refusals_and_bad_input_change_nothing(cli, workspace: Path) -> None:
    ok(cli, "announce", "Первое")
    db = workspace / "crmctl.duckdb"
    before = dump(db)
    cases = [
        (["--as", "anna", "announce", "Нет прав"], 1, "permission announcements.manage is missing"),
        (["--as", "anna", "announce", "--withdraw", "1"], 1, "permission announcements.manage is missing"),
        (["announce", "x", "--to", "role:nobody"], 1, "--to: no role 'nobody' in the team"),
        (["announce", "x", "--to", "zoe"], 1, "--to: no person 'zoe' in the team"),
        (["announce", "x", "--until", "2027-02-01"], 1, "has passed already"),
        (["announce", "x", "--until", "someday"], 2, "'someday' is not a date-time"),
        (["announce", "--withdraw", "9"], 3, "no announcement 9"),
        (["announce", "--list", "x"], 2, "--list takes nothing else"),
        (["announce"], 2, "give the announcement's TEXT"),
        (["announce", "   "], 2, "give the announcement's TEXT"),
        (["announce", "x" * 2001], 1, "at most 2000 characters"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert (result.exit_code, len(result.stderr.splitlines())) == (code, 1), (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert dump(db) == before
    ok(cli, "announce", "--withdraw", "1")
    result = cli("announce", "--withdraw", "1")
    assert (result.exit_code, result.stderr) == (1, "crmctl: error: announcement 1 is withdrawn already\n")
