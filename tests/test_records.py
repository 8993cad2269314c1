"""Records through the command line: create, update, show, list, history, comments, reminders, agenda."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .dbstate import dump, query


@pytest.fixture
def db(workspace: Path) -> Path:
    return workspace / "crmctl.duckdb"


def create(cli, *args: str, actor: str = "anna") -> str:
    result = cli("--as", actor, "record", "create", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_create_prints_the_key_and_fills_defaults(cli, db: Path) -> None:
    assert create(cli, "client", "--set", "name=ООО Ромашка") == "CL-1"
    assert create(cli, "client", "--set", "name=ИП Васильев", "--set", "status=active") == "CL-2"
    rows = query(db, 'SELECT key, name, status, author FROM "client" ORDER BY number')
    assert rows == [("CL-1", "ООО Ромашка", "new", "anna"), ("CL-2", "ИП Васильев", "active", "anna")]


def test_create_json_prints_the_whole_record(cli, workspace: Path, snapshot) -> None:
    result = cli(
        "--as",
        "anna",
        "record",
        "create",
        "deal",
        "--set",
        "title=Сайт",
        "--set",
        "amount=1500000.5",
        "--format",
        "json",
    )
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["fields"]["amount"] == "1500000.50"
    assert record["stage"] == "draft"
    assert record == snapshot


def test_values_are_typed_in_the_database(cli, db: Path) -> None:
    from datetime import date
    from decimal import Decimal

    client = create(cli, "client", "--set", "name=Acme")
    create(
        cli,
        "deal",
        "--set",
        "title=T",
        "--set",
        f"client={client.lower()}",
        "--set",
        "amount=1 000 000",
        "--set",
        "signed_on=2027-02-28",
        "--set",
        "manager=boris",
    )
    assert query(db, 'SELECT client, amount, signed_on, manager FROM "deal"') == [
        ("CL-1", Decimal("1000000.00"), date(2027, 2, 28), "boris")
    ]
    types = dict(query(db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'deal'"))
    assert types["amount"] == "DECIMAL(18,2)"
    assert types["signed_on"] == "DATE"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"


def test_create_from_a_file(cli, workspace: Path) -> None:
    (workspace / "new.yaml").write_text("name: ООО Файл\nemail: a@b.ru\n")
    assert create(cli, "client", "--file", "new.yaml", "--set", "status=lost") == "CL-1"
    shown = json.loads(cli("record", "show", "CL-1", "-f", "json").stdout)
    assert shown["fields"] == {"name": "ООО Файл", "phone": None, "email": "a@b.ru", "status": "lost"}


BAD_CREATES = [
    (["client", "--set", "status=active"], 1, "field 'name' is required"),
    (
        ["client", "--set", "name=X", "--set", "status=vip"],
        1,
        "field 'status': 'vip' is not one of the options: new, active, lost",
    ),
    (["client", "--set", "name=X", "--set", "phone=8912"], 1, "field 'phone': '8912' does not match the mask"),
    (["client", "--set", "name=X", "--set", "email=nope"], 1, "field 'email': 'nope' is not an e-mail address"),
    (["client", "--set", "name=X", "--set", "colour=red"], 1, "form client has no field 'colour'"),
    (["deal", "--set", "title=T", "--set", "amount=much"], 1, "field 'amount': expected a number, got 'much'"),
    (["deal", "--set", "title=T", "--set", "amount=-5"], 1, "field 'amount': -5 is less than the minimum 0"),
    (["deal", "--set", "title=T", "--set", "amount=1.005"], 1, "has more than 2 decimal places"),
    (["deal", "--set", "title=T", "--set", "signed_on=2027-02-30"], 1, "is not a date"),
    (["deal", "--set", "title=T", "--set", "client=CL-404"], 1, "field 'client': no client record CL-404"),
    (["deal", "--set", "title=T", "--set", "manager=nobody"], 1, "field 'manager': no person 'nobody' in the team"),
    (["invoice", "--set", "x=1"], 3, "unknown form 'invoice'"),
    (["client", "--set", "noequals"], 1, "--set takes field=value"),
    (["client", "--set", 'name"; DROP TABLE client; --=x'], 1, "has no field"),
    (
        ["client", "--set", 'name=x\'); DROP TABLE "client"; --', "--set", "status=new' OR '1'='1"],
        1,
        "is not one of the options",
    ),
    (["client", "--file", "missing.yaml"], 3, "no such file"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_CREATES, ids=[m for _, _, m in BAD_CREATES])
def test_bad_create_changes_nothing(cli, db: Path, args: list[str], code: int, message: str) -> None:
    create(cli, "client", "--set", "name=Existing")
    before = dump(db)
    result = cli("--as", "anna", "record", "create", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("crmctl: error: ")
    assert result.stdout == ""
    assert dump(db) == before


def test_sql_in_values_is_just_text(cli, db: Path) -> None:
    evil = 'x\'); DROP TABLE "client"; --'
    key = create(cli, "client", "--set", f"name={evil}")
    assert query(db, 'SELECT name FROM "client" WHERE key = ?', [key]) == [(evil,)]


def test_update_records_old_and_new_values(cli, db: Path, snapshot) -> None:
    create(cli, "client", "--set", "name=Acme", "--set", "email=a@acme.ru")
    result = cli("--as", "boris", "record", "update", "CL-1", "--set", "status=active", "--set", "email=")
    assert result.exit_code == 0
    assert result.stdout == "CL-1 status: new -> active\nCL-1 email: a@acme.ru -> -\n"
    again = cli("--as", "boris", "record", "update", "CL-1", "--set", "status=active")
    assert again.stdout == "CL-1: no changes\n"
    (data,) = query(db, "SELECT data FROM crm.events WHERE action = 'record.updated'")[0]
    assert json.loads(data) == {"changes": {"status": ["new", "active"], "email": ["a@acme.ru", None]}}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["CL-99", "--set", "status=active"], 3, "no record CL-99"),
        (["CL-1", "--set", "name="], 1, "field 'name' is required and cannot be cleared"),
        (["CL-1", "--set", "status=gone"], 1, "is not one of the options"),
        (["CL-1"], 2, "nothing to change"),
    ],
)
def test_bad_update_changes_nothing(cli, db: Path, args: list[str], code: int, message: str) -> None:
    create(cli, "client", "--set", "name=Acme")
    before = dump(db)
    result = cli("--as", "anna", "record", "update", *args)
    assert (result.exit_code, result.stdout) == (code, "")
    assert message in result.stderr
    assert dump(db) == before


def test_show_text(cli, workspace: Path, snapshot) -> None:
    create(cli, "client", "--set", "name=ООО Ромашка", "--set", "phone=+79123456789")
    create(cli, "deal", "--set", "title=Сайт", "--set", "client=CL-1", "--set", "amount=250000")
    cli("--as", "anna", "comment", "DL-1", "Ждём подписи")
    cli("--as", "anna", "remind", "DL-1", "--at", "+2d", "Позвонить")
    result = cli("record", "show", "dl-1")
    assert result.exit_code == 0
    assert result.stdout == snapshot


def test_show_unknown_key(cli, workspace: Path) -> None:
    result = cli("record", "show", "ZZ-1")
    assert (result.exit_code, result.stderr) == (3, "crmctl: error: no record ZZ-1\n")


def test_list_filters_sorts_and_limits(cli, workspace: Path, snapshot) -> None:
    for name, status in [("Бета", "active"), ("Альфа", "active"), ("Гамма", "lost"), ("Дельта", "new")]:
        create(cli, "client", "--set", f"name={name}", "--set", f"status={status}")
    result = cli("record", "list", "client", "--where", "status=active", "--sort", "name")
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == ["CL-2", "CL-1"]
    assert result.stdout == snapshot
    limited = cli("record", "list", "client", "--sort", "-name", "--limit", "2", "-f", "json")
    assert [r["name"] for r in json.loads(limited.stdout)] == ["Дельта", "Гамма"]
    contains = cli("record", "list", "client", "--where", "name~ЛЬ", "-f", "json")
    assert [r["name"] for r in json.loads(contains.stdout)] == ["Альфа", "Дельта"]
    not_lost = cli("record", "list", "client", "--where", "status!=lost", "--where", "name>Б", "-f", "csv")
    assert not_lost.stdout.splitlines()[1:] == [
        "CL-1,,,anna,2027-03-01T10:00:00+03:00,2027-03-01T10:00:00+03:00,Бета,,,active",
        "CL-4,,,anna,2027-03-01T10:00:00+03:00,2027-03-01T10:00:00+03:00,Дельта,,,new",
    ]


def test_list_by_stage_and_money(cli, workspace: Path) -> None:
    create(cli, "deal", "--set", "title=A", "--set", "amount=100")
    create(cli, "deal", "--set", "title=B", "--set", "amount=2000000")
    big = cli("record", "list", "deal", "--where", "amount>=1000000", "--stage", "draft", "-f", "json")
    assert [r["title"] for r in json.loads(big.stdout)] == ["B"]
    assert cli("record", "list", "deal", "--stage", "won", "-f", "json").stdout == "[]\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["client", "--where", "colour=red"], 1, "form client has no field 'colour'"),
        (["client", "--where", "status"], 2, "--where takes field=value"),
        (["client", "--sort", "colour"], 1, "cannot sort by 'colour'"),
        (["client", "--stage", "won"], 1, "no stage 'won'"),
        (["deal", "--where", "amount>lots"], 1, "expected a number"),
        (["nope"], 3, "unknown form 'nope'"),
        (["client", "--format", "xml"], 2, "--format must be one of: table, json, csv"),
    ],
)
def test_bad_list(cli, workspace: Path, args: list[str], code: int, message: str) -> None:
    result = cli("record", "list", *args)
    assert result.exit_code == code
    assert message in result.stderr


def test_csv_neutralises_formulas(cli, workspace: Path) -> None:
    create(cli, "client", "--set", 'name==HYPERLINK("http://evil")')
    out = cli("record", "list", "client", "-f", "csv").stdout
    assert "'=HYPERLINK" in out


def test_history_is_the_whole_story(cli, workspace: Path, snapshot) -> None:
    create(cli, "client", "--set", "name=Acme")
    cli("--as", "boris", "--now", "2027-03-02T09:30:00+03:00", "record", "update", "CL-1", "--set", "status=active")
    cli("--as", "anna", "--now", "2027-03-02T11:00:00+03:00", "comment", "CL-1", "Договорились о встрече")
    cli("--as", "anna", "--now", "2027-03-02T11:05:00+03:00", "remind", "CL-1", "--at", "2027-03-05T15:00", "Встреча")
    result = cli("record", "history", "CL-1")
    assert result.exit_code == 0
    assert result.stdout == snapshot
    events = json.loads(cli("record", "history", "CL-1", "-f", "json").stdout)
    assert [e["action"] for e in events] == ["record.created", "record.updated", "comment.added", "reminder.added"]
    assert [e["actor"] for e in events] == ["anna", "boris", "anna", "anna"]


def test_comment_needs_text_and_a_record(cli, workspace: Path) -> None:
    assert cli("comment", "CL-1", "hello").exit_code == 3
    create(cli, "client", "--set", "name=Acme")
    assert cli("comment", "CL-1", "  ").exit_code == 1


def test_agenda_today_overdue_and_ahead(cli, workspace: Path, snapshot) -> None:
    create(cli, "client", "--set", "name=Acme")
    cli("--as", "anna", "remind", "CL-1", "--at", "2027-02-27T12:00", "Overdue call")
    cli("--as", "anna", "remind", "CL-1", "--at", "+2h", "Today")
    cli("--as", "anna", "remind", "CL-1", "--at", "2027-03-04", "In three days")
    cli("--as", "anna", "remind", "CL-1", "--at", "+1d", "For Boris", "--for", "boris")
    today = cli("--as", "anna", "agenda")
    assert today.stdout == snapshot
    assert "\x1b[" not in today.stdout  # no colour when not on a terminal
    ahead = json.loads(cli("--as", "anna", "agenda", "--days", "3", "-f", "json").stdout)
    assert [(i["text"], i["overdue"]) for i in ahead] == [
        ("Overdue call", True),
        ("Today", False),
        ("In three days", False),
    ]
    boris = json.loads(cli("--as", "boris", "agenda", "--days", "1", "-f", "json").stdout)
    assert [i["text"] for i in boris] == ["For Boris"]
    refused = cli("--as", "anna", "agenda", "boris")
    assert refused.stderr.endswith("may not read others' agendas: permission tasks.view_others is missing\n")
    everyone = json.loads(cli("--as", "boris", "agenda", "--days", "5", "-f", "json").stdout)
    assert len(everyone) == 1  # boris's own
    nobody = cli("agenda", "--days", "5", env={"CRMCTL_USER": ""})  # everyone's agenda
    assert (nobody.exit_code, "permission tasks.view_others is missing" in nobody.stderr) == (1, True)


def test_reminder_done_leaves_the_agenda(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=Acme")
    cli("--as", "anna", "remind", "CL-1", "--at", "+1h", "Call")
    assert cli("--as", "anna", "remind", "--done", "1").exit_code == 0
    assert json.loads(cli("--as", "anna", "agenda", "-f", "json").stdout) == []
    assert cli("--as", "anna", "remind", "--done", "1").exit_code == 1
    assert cli("--as", "anna", "remind", "--done", "7").exit_code == 3


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["CL-1", "Call", "--at", "tomorrow"], 2, "'tomorrow' is not a date-time"),
        (["CL-1", "Call", "--at", "+1d", "--for", "nobody"], 1, "--for 'nobody' is not a person of the team"),
        (["CL-9", "Call", "--at", "+1d"], 3, "no record CL-9"),
        (["CL-1", "Call"], 2, "give KEY, TEXT and --at"),
    ],
)
def test_bad_reminders(cli, db: Path, args: list[str], code: int, message: str) -> None:
    create(cli, "client", "--set", "name=Acme")
    before = dump(db)
    result = cli("--as", "anna", "remind", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert dump(db) == before


def test_agenda_as_icalendar(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=ООО Ромашка, Москва")
    cli("--as", "anna", "remind", "CL-1", "--at", "2027-03-01T15:30", "Позвонить; обсудить счёт")
    result = cli("--as", "anna", "agenda", "--ics", "agenda.ics")
    assert result.exit_code == 0
    text = (workspace / "agenda.ics").read_bytes().decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert "DUE:20270301T123000Z\r\n" in text
    assert "SUMMARY:CL-1: Позвонить\\; обсудить счёт\r\n" in text
    assert "DESCRIPTION:ООО Ромашка\\, Москва\r\n" in text
    assert text.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def test_unknown_actor_is_refused(cli, workspace: Path) -> None:
    result = cli("--as", "mallory", "record", "create", "client", "--set", "name=X")
    assert result.exit_code == 3
    assert "--as 'mallory' is not a person of the team" in result.stderr


def test_write_is_one_transaction(cli, db: Path, monkeypatch) -> None:
    from crmctl.store import records as store

    create(cli, "client", "--set", "name=Acme")
    before = dump(db)

    def fail(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "add_event", fail)
    result = cli("--as", "anna", "record", "create", "client", "--set", "name=Half")
    assert result.exit_code == 5
    assert "internal error: RuntimeError: disk on fire" in result.stderr
    assert "Traceback" not in result.stderr
    assert dump(db) == before
