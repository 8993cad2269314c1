"""Issue 24, section 3: clean records. Unique fields, delete and restore, --dry-run on writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import WIDE, Run, ok
from tests.dbstate import dump, query

DB = "crmctl.duckdb"


def _unique(workspace: Path, declaration: str) -> None:
    """Declare a uniqueness on the base workspace's client form (its file, not yet applied)."""
    forms = workspace / "forms.yaml"
    text = forms.read_text(encoding="utf-8")
    forms.write_text(text.replace("title_field: name\n", f"title_field: name\nunique: {declaration}\n", 1), "utf-8")


@pytest.fixture
def uniq(workspace: Path, cli: Callable[..., Run]) -> Path:
    """The base workspace with the client's e-mail unique, and client CL-1 holding anna@example.com."""
    _unique(workspace, "[email, [name, phone]]")
    ok(cli, "apply")
    ok(cli, "record", "create", "client", "--set", "name=Ромашка", "--set", "email=Anna@Example.com")
    return workspace


# -- unique fields ----------------------------------------------------------------------------------------------


def test_record_create_refuses_a_duplicate_email_whatever_its_case(uniq: Path, cli: Callable[..., Run]) -> None:
    before = dump(uniq / DB)
    result = cli("record", "create", "client", "--set", "name=Лютик", "--set", "email=anna@EXAMPLE.com")
    assert result.exit_code == 1
    assert result.stderr == (
        "crmctl: error: client CL-1 has email 'anna@EXAMPLE.com' already (unique in form client)\n"
    )
    assert dump(uniq / DB) == before
    ok(cli, "record", "create", "client", "--set", "name=Лютик", "--set", "email=boris@example.com")


def test_a_set_of_fields_is_unique_together(uniq: Path, cli: Callable[..., Run]) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Лютик", "--set", "phone=+79990000000")
    ok(cli, "record", "create", "client", "--set", "name=Лютик", "--set", "phone=+79990000001")  # another phone
    ok(cli, "record", "create", "client", "--set", "name=Василёк", "--set", "phone=+79990000000")  # another name
    result = cli("record", "create", "client", "--set", "name=лютик", "--set", "phone=+79990000000")
    assert result.exit_code == 1
    assert "client CL-2 has name 'лютик', phone '+79990000000' already" in result.stderr


def test_record_update_refuses_a_duplicate_but_not_its_own_value(uniq: Path, cli: Callable[..., Run]) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Лютик", "--set", "email=b@example.com")
    ok(cli, "record", "update", "CL-1", "--set", "email=ANNA@example.com")  # its own, in other letters
    before = dump(uniq / DB)
    result = cli("record", "update", "CL-2", "--set", "email=anna@example.com")
    assert result.exit_code == 1
    assert "client CL-1 has email 'anna@example.com' already" in result.stderr
    assert dump(uniq / DB) == before


def test_import_refuses_rows_that_duplicate_a_record_or_an_earlier_row(
    uniq: Path, cli: Callable[..., Run], tmp_path: Path
) -> None:
    source = tmp_path / "clients.csv"
    source.write_text(
        "name,email\nЛютик,new@example.com\nВасилёк,ANNA@example.com\nОдуванчик,New@Example.com\n", "utf-8"
    )
    before = dump(uniq / DB)
    result = cli("import", "client", str(source), "--format", "json")
    assert result.exit_code == 1
    assert dump(uniq / DB) == before
    assert "client CL-1 has this email already (unique in form client)" in result.stdout
    assert "row 2 has this email already (unique in form client)" in result.stdout
    result = cli("import", "client", str(source), "--on-error", "skip")
    assert query(uniq / DB, "SELECT key, email FROM client ORDER BY number") == [
        ("CL-1", "Anna@Example.com"),
        ("CL-2", "new@example.com"),
    ]


def test_validate_checks_the_declaration(base_workspace: Path, cli: Callable[..., Run]) -> None:
    _unique(base_workspace, "[emial, status, [name, name], email, [email]]")
    result = cli("validate", str(base_workspace))
    assert result.exit_code == 1
    lines = result.stdout.replace(f"{base_workspace}/", "").splitlines()
    assert lines == [
        "forms.yaml:5:10: error R001 unknown field 'emial' (did you mean 'email'?)",
        "forms.yaml:5:32: error F606 field 'name' is named twice in one unique set",
        "forms.yaml:5:46: error F606 unique set email is declared twice (first at forms.yaml:5)",
    ]


def test_validate_refuses_a_bool_field_as_unique(base_workspace: Path, cli: Callable[..., Run]) -> None:
    forms = base_workspace / "forms.yaml"
    forms.write_text(
        forms.read_text("utf-8").replace(
            "  - {id: status, type: list, options: [new, active, lost], default: new}\n",
            "  - {id: status, type: list, options: [new, active, lost], default: new}\n  - {id: vip, type: bool}\n",
            1,
        ),
        "utf-8",
    )
    _unique(base_workspace, "[vip]")
    result = cli("validate", str(base_workspace))
    assert result.exit_code == 1
    assert (
        result.stdout
        == f"{base_workspace}/forms.yaml:5:10: error F606 bool field 'vip' cannot be unique: it has two values\n"
    )


def test_apply_refuses_a_uniqueness_the_records_break(workspace: Path, cli: Callable[..., Run]) -> None:
    for name in ("Ромашка", "Лютик", "Василёк"):
        ok(cli, "record", "create", "client", "--set", f"name={name}", "--set", "email=info@example.com")
    before = dump(workspace / DB)
    _unique(workspace, "[email]")
    result = cli("apply")
    assert result.exit_code == 1
    assert "form client: 3 records share the same email: CL-1, CL-2, CL-3" in result.stderr + result.stdout
    assert dump(workspace / DB) == before
    ok(cli, "record", "update", "CL-2", "--set", "email=b@example.com")
    ok(cli, "record", "update", "CL-3", "--set", "email=c@example.com")
    assert "unique email" in ok(cli, "plan")
    ok(cli, "apply")
    assert cli("record", "create", "client", "--set", "name=X", "--set", "email=C@example.com").exit_code == 1


def test_intake_attaches_a_message_to_the_record_it_would_duplicate(
    example: Callable[[str], Path], cli: Callable[..., Run], tmp_path: Path
) -> None:
    from tests.test_mail import message

    root = example("service-desk-leads")
    prospect = root / "forms" / "prospect.yaml"
    text = prospect.read_text("utf-8").replace("title_field: name\n", "title_field: name\nunique: [email]\n", 1)
    prospect.write_text(text, "utf-8")
    (root / "leads.yaml").write_text(
        "kind: IntakeRule\nname: leads\naddress: leads@sd.example.ru\ncreates: record\nform: prospect\n"
        'fields:\n  name: "{{ sender_name or sender }}"\n  email: "{{ sender }}"\n',
        "utf-8",
    )
    ok(cli, "apply")
    ok(cli, "record", "create", "prospect", "--set", "name=АО Вектор", "--set", "email=office@vector.example")
    first, second = tmp_path / "1.eml", tmp_path / "2.eml"
    first.write_bytes(message("<a@x>", "Office@Vector.example", "leads@sd.example.ru", "Счёт"))
    second.write_bytes(message("<b@x>", "new@lead.example", "leads@sd.example.ru", "Вопрос"))
    result = cli("--as", "alekseeva", "intake", "mail", str(first), str(second), "--rule", "leads")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "1.eml from office@vector.example attached to PC-1: prospect PC-1 has email 'office@vector.example' "
        "already (unique in form prospect)\n"
        "2.eml from new@lead.example -> PC-2\n"
    )
    assert result.stderr == "2 messages: created 1, attached 1, duplicates 0, skipped 0, rejected 0\n"
    assert query(root / DB, "SELECT count(*) FROM prospect") == [(2,)]
    assert query(root / DB, "SELECT record FROM crm.events WHERE action = 'mail.received' ORDER BY id") == [
        ("PC-1",),
        ("PC-2",),
    ]


# -- delete and restore -----------------------------------------------------------------------------------------


@pytest.fixture
def linked(workspace: Path, cli: Callable[..., Run]) -> Path:
    """CL-1, its deal DL-1 (in the deals process) and the deal's payment PM-1; CL-2 alone."""
    ok(cli, "record", "create", "client", "--set", "name=Ромашка", "--set", "email=a@example.com")
    ok(cli, "record", "create", "client", "--set", "name=Лютик")
    ok(
        cli,
        "record",
        "create",
        "deal",
        "--set",
        "title=Сайт",
        "--set",
        "client=CL-1",
        "--set",
        "amount=1500.50",
        "--set",
        "signed_on=2027-02-20",
    )
    ok(cli, "record", "create", "payment", "--set", "deal=DL-1", "--set", "amount=100")
    return workspace


def test_delete_refuses_while_records_refer_to_it(linked: Path, cli: Callable[..., Run]) -> None:
    before = dump(linked / DB)
    result = cli("record", "delete", "CL-1")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "crmctl: error: CL-1 is referred to by DL-1: delete those first, or give --cascade\n"
    assert dump(linked / DB) == before


def test_delete_moves_the_record_to_the_archive_and_restore_brings_it_back(
    linked: Path, cli: Callable[..., Run]
) -> None:
    row = query(linked / DB, "SELECT * FROM deal")
    events = query(linked / DB, "SELECT count(*) FROM crm.events WHERE record = 'DL-1'")[0][0]
    assert (
        ok(cli, "record", "delete", "dl-1", "--cascade") == "DL-1 deleted with PM-1 (record restore brings it back)\n"
    )
    assert query(linked / DB, "SELECT count(*) FROM deal") == [(0,)]
    listed = json.loads(ok(cli, "record", "list", "deal", "--deleted", "-f", "json"))
    assert [(r["key"], r["amount"], r["signed_on"]) for r in listed] == [("DL-1", "1500.50", "2027-02-20")]
    assert cli("record", "show", "DL-1").exit_code == 3
    assert "DL-1" not in ok(cli, "record", "list", "deal")
    # nothing of its history is dropped: its events stay, with one more
    assert query(linked / DB, "SELECT count(*) FROM crm.events WHERE record = 'DL-1'")[0][0] == events + 1
    # a new deal never takes the deleted one's key
    assert ok(cli, "record", "create", "deal", "--set", "title=Другая") == "DL-2\n"
    # the payment refers to DL-1: it comes back after it
    refused = cli("record", "restore", "PM-1")
    assert refused.exit_code == 1 and "no deal record DL-1" in refused.stderr
    assert ok(cli, "record", "restore", "DL-1") == "DL-1 restored\n"
    assert ok(cli, "record", "restore", "PM-1") == "PM-1 restored\n"
    assert query(linked / DB, "SELECT * FROM deal WHERE key = 'DL-1'") == row
    assert ok(cli, "record", "list", "deal", "--deleted", "-f", "json") == "[]\n"
    actions = [e["action"] for e in json.loads(ok(cli, "record", "history", "DL-1", "-f", "json"))]
    assert actions[-2:] == ["record.deleted", "record.restored"]
    # the archive keeps what happened: one row per deletion, marked restored
    assert query(linked / DB, "SELECT key, restored_by FROM crm.deleted_records ORDER BY id") == [
        ("PM-1", "boris"),
        ("DL-1", "boris"),
    ]
    missing = cli("record", "restore", "DL-1")
    assert (missing.exit_code, missing.stderr) == (3, "crmctl: error: no deleted record DL-1\n")


def test_restore_refuses_a_record_whose_unique_value_was_taken(uniq: Path, cli: Callable[..., Run]) -> None:
    ok(cli, "record", "delete", "CL-1")
    ok(cli, "record", "create", "client", "--set", "name=Лютик", "--set", "email=anna@example.com")
    before = dump(uniq / DB)
    result = cli("record", "restore", "CL-1")
    assert result.exit_code == 1
    assert "client CL-2 has email 'Anna@Example.com' already" in result.stderr
    assert dump(uniq / DB) == before


def test_delete_needs_records_delete_for_every_record_it_deletes(linked: Path, cli: Callable[..., Run]) -> None:
    team = linked / "team.yaml"
    team.write_text(
        team.read_text("utf-8")
        .replace(
            "  - id: ceo\n",
            "  - id: cleaner\n    permissions: [records.read, records.delete:deal]\n  - id: ceo\n",
        )
        .replace("people:\n", "people:\n  - {id: vera, name: Вера, roles: [cleaner]}\n"),
        "utf-8",
    )
    ok(cli, "apply")
    before = dump(linked / DB)
    result = cli("--as", "vera", "record", "delete", "DL-1", "--cascade")
    assert result.exit_code == 1
    assert result.stderr == (
        "crmctl: error: vera may not delete payment records: permission records.delete is missing\n"
    )
    assert dump(linked / DB) == before
    assert cli("--as", "vera", "record", "delete", "CL-2").exit_code == 1  # a client
    ok(cli, "record", "delete", "PM-1")  # by someone who may: the payment is no longer in the way
    assert ok(cli, "--as", "vera", "record", "delete", "DL-1") == "DL-1 deleted (record restore brings it back)\n"


# -- --dry-run on writes ----------------------------------------------------------------------------------------


def _rehearsed(cli: Callable[..., Run], db: Path, *args: str) -> str:
    """Run a write with --dry-run: it succeeds and leaves the database as it was; its output."""
    before = dump(db, refusals=True)
    result = cli(*args, "--dry-run", env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert dump(db, refusals=True) == before
    return result.stdout


def test_dry_run_of_record_create_update_and_delete(linked: Path, cli: Callable[..., Run], snapshot) -> None:
    db = linked / DB
    created = _rehearsed(cli, db, "record", "create", "deal", "--set", "title=Визитки", "--set", "client=CL-2")
    assert created == snapshot
    assert "DL-2      record.created" in created and "DL-2      stage.entered   deals: draft" in created
    assert "DL-2      record.updated  amount: 1500.50 -> 7" not in created
    updated = _rehearsed(cli, db, "record", "update", "DL-1", "--set", "amount=7")
    assert "DL-1      record.updated  amount: 1500.50 -> 7" in updated
    deleted = _rehearsed(cli, db, "record", "delete", "CL-1", "--cascade")
    assert [line.split()[:2] for line in deleted.splitlines()[3:]] == [
        ["PM-1", "record.deleted"],
        ["DL-1", "record.deleted"],
        ["CL-1", "record.deleted"],
    ]
    as_json = json.loads(_rehearsed(cli, db, "record", "create", "client", "--set", "name=Х", "-f", "json"))
    assert as_json["dry_run"] == "record create"
    assert as_json["events"] == [
        {"record": "CL-3", "action": "record.created", "data": {"values": {"name": "Х", "status": "new"}}}
    ]


def test_dry_run_of_advance_and_approve_shows_the_stages_and_approvals(
    linked: Path, cli: Callable[..., Run], snapshot
) -> None:
    db = linked / DB
    ok(cli, "record", "update", "DL-1", "--set", "amount=2000000")
    advanced = _rehearsed(cli, db, "advance", "DL-1", "--to", "approval")
    assert "stage.entered  deals: approval from draft (advanced by boris); approvers role:manager, boris" in advanced
    ok(cli, "advance", "DL-1", "--to", "approval")
    approved = _rehearsed(cli, db, "--as", "anna", "approve", "DL-1")
    assert approved == snapshot
    ok(cli, "--as", "anna", "approve", "DL-1")
    last = _rehearsed(cli, db, "approve", "DL-1")
    assert [line.split()[1] for line in last.splitlines()[3:]] == [
        "approval.given",
        "stage.passed",
        "stage.entered",
        "reminder.added",  # the on_enter of the stage it enters
    ]
    assert "deals: won from approval (approved)" in last


def test_dry_run_of_project_launch_and_task_add(linked: Path, cli: Callable[..., Run], snapshot) -> None:
    db = linked / DB
    launched = _rehearsed(cli, db, "project", "launch", "cards", "--for", "CL-1", "-p", "run=100")
    assert launched == snapshot
    added = json.loads(_rehearsed(cli, db, "task", "add", "Позвонить", "--for", "CL-1", "-f", "json"))
    assert [(e["record"], e["action"], e["data"]["task"]) for e in added["events"]] == [("CL-1", "task.created", "T-1")]


def test_dry_run_still_refuses_what_the_write_would_refuse(linked: Path, cli: Callable[..., Run]) -> None:
    before = dump(linked / DB)
    result = cli("record", "delete", "CL-1", "--dry-run")
    assert (result.exit_code, result.stdout) == (1, "")
    assert "CL-1 is referred to by DL-1" in result.stderr
    refused = cli("--as", "anna", "record", "delete", "DL-1", "--dry-run")
    assert refused.exit_code == 1 and refused.stderr.endswith("permission records.delete is missing\n")
    assert dump(linked / DB) == before
    # the refusal is kept all the same, as for any refused command
    assert query(linked / DB, "SELECT count(*) FROM crm.events WHERE action = 'permission.refused'") == [(1,)]
