"""Every permission, allowed and refused: each person of this Team holds one permission (the boss all)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ok
from tests.dbstate import dump, query

PERMISSIONS = [
    "tasks.read",
    "tasks.add",
    "tasks.execute",
    "tasks.view_others",
    "tasks.view_unassigned",
    "tasks.assign",
    "processes.manage",
    "reports.view",
    "sprints.manage",
    "records.read",
    "records.create",
    "records.update",
    "records.comment",
    "records.advance",
    "records.import",
    "records.export",
]


def person(permission: str) -> str:
    return permission.replace(".", "_")


TEAM = (
    "kind: Team\nname: staff\nroles:\n  - {id: boss, permissions: ['*']}\n"
    + "".join(f"  - {{id: {person(p)}, permissions: [{p}]}}\n" for p in PERMISSIONS)
    + "  - {id: reader, permissions: [tasks.read]}\n"
    + "people:\n  - {id: boss, name: Boss, roles: [boss]}\n"
    + "".join(f"  - {{id: {person(p)}, name: {p}, roles: [{person(p)}]}}\n" for p in PERMISSIONS)
    + "".join(
        f"  - {{id: {person(p)}_reader, name: {p} and read, roles: [{person(p)}, reader]}}\n" for p in PERMISSIONS
    )
)
FORMS = """\
kind: Workspace
name: perms
timezone: Europe/Moscow
---
kind: Form
name: client
key_prefix: CL
fields:
  - {id: name, type: text, required: true}
---
kind: Process
name: clients
form: client
stages:
  - {id: new, transitions: [active]}
  - {id: active, terminal: true}
"""


@pytest.fixture
def ws(tmp_path: Path, cli, monkeypatch) -> Path:
    root = tmp_path / "perms"
    root.mkdir()
    (root / "crmctl.yaml").write_text(FORMS + "---\n" + TEAM, encoding="utf-8")
    monkeypatch.chdir(root)
    cli.actor = "boss"
    ok(cli, "apply")
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    ok(cli, "task", "add", "Своя", "--assignee", "tasks_read")  # T-1, the reader's own
    ok(cli, "task", "add", "Чужая", "--assignee", "boss")  # T-2
    ok(cli, "task", "add", "Ничья")  # T-3, given to nobody
    ok(cli, "sprint", "create", "S1", "--from", "2027-03-01", "--to", "2027-03-05")
    (root / "clients.csv").write_text("name\nБета\n", encoding="utf-8")
    return root


# permission -> a command that needs it (run by a holder, then by someone without it)
CASES = {
    "records.read": ["record", "show", "CL-1"],
    "records.create": ["record", "create", "client", "--set", "name=Гамма"],
    "records.update": ["record", "update", "CL-1", "--set", "name=Альфа 2"],
    "records.comment": ["comment", "CL-1", "Позвонить"],
    "tasks.read": ["task", "show", "T-1"],
    "tasks.add": ["task", "add", "Ещё одна"],
    "tasks.execute": ["time", "log", "T-3", "30m", "--at", "2027-02-28T10:00"],
    "tasks.view_others": ["queue", "boss"],
    "tasks.view_unassigned": ["task", "list", "--unassigned"],
    "tasks.assign": ["task", "assign", "T-3", "boss"],
    "processes.manage": ["apply"],
    "reports.view": ["report", "efficiency"],
    "sprints.manage": ["sprint", "add", "S1", "T-2"],
    "records.advance": ["advance", "CL-1", "--to", "active"],
    "records.import": ["import", "client", "clients.csv"],
    "records.export": ["export", "client"],
}
# what reading needs besides, for a holder to get through
ALSO_READS = {"tasks.view_others", "tasks.view_unassigned"}


@pytest.mark.parametrize("permission", sorted(CASES))
def test_each_permission_allows_and_refuses(cli, ws: Path, permission: str) -> None:
    db = ws / "crmctl.duckdb"
    args = CASES[permission]
    holder = person(permission) + ("_reader" if permission in ALSO_READS else "")
    lacking = "tasks_read" if permission != "tasks.read" else "records_read"
    before = dump(db)
    refused = cli("--as", lacking, *args)
    assert refused.exit_code == 1
    assert refused.stderr.endswith(f"permission {permission} is missing\n")
    assert refused.stderr.count("\n") == 1
    assert dump(db) == before  # nothing but the refusal
    events = query(db, "SELECT actor, data FROM crm.events WHERE action = 'permission.refused' ORDER BY id")
    assert events[-1][0] == lacking and json.loads(events[-1][1])["permission"] == permission
    allowed = cli("--as", holder, *args)
    assert allowed.exit_code == 0, allowed.stderr


def test_a_record_permission_can_be_scoped_to_one_form(cli, ws: Path) -> None:
    crm = (ws / "crmctl.yaml").read_text(encoding="utf-8")
    crm = crm.replace(
        "  - {id: reader, permissions: [tasks.read]}",
        "  - {id: reader, permissions: [tasks.read]}\n  - {id: deals_only, permissions: ['records.update:deal']}",
    )
    crm = crm.replace("people:\n", "people:\n  - {id: dealer, name: Dealer, roles: [deals_only]}\n")
    crm += "---\nkind: Form\nname: deal\nkey_prefix: DL\nfields:\n  - {id: title, type: text}\n"
    (ws / "crmctl.yaml").write_text(crm, encoding="utf-8")
    ok(cli, "apply")
    ok(cli, "record", "create", "deal", "--set", "title=Сайт")
    ok(cli, "--as", "dealer", "record", "update", "DL-1", "--set", "title=Сайт и визитки")
    refused = cli("--as", "dealer", "record", "update", "CL-1", "--set", "name=Другое")
    assert (
        refused.stderr == "crmctl: error: dealer may not change client records: permission records.update is missing\n"
    )


def test_without_view_others_a_person_sees_their_own_tasks(cli, ws: Path) -> None:
    mine = json.loads(ok(cli, "--as", "tasks_read", "task", "list", "--format", "json"))
    assert [t["id"] for t in mine] == ["T-1"]
    everyone = json.loads(ok(cli, "--as", "tasks_view_others_reader", "task", "list", "--format", "json"))
    assert [t["id"] for t in everyone] == ["T-1", "T-2", "T-3"]
    nobodys = json.loads(ok(cli, "--as", "tasks_view_unassigned_reader", "task", "list", "--unassigned", "-f", "json"))
    assert [t["id"] for t in nobodys] == ["T-3"]
    refused = cli("--as", "tasks_read", "task", "list", "--assignee", "boss")
    assert (
        refused.stderr
        == "crmctl: error: tasks_read may not view others' tasks: permission tasks.view_others is missing\n"
    )
    assert cli("--as", "tasks_read", "task", "show", "T-2").exit_code == 1
    assert cli("--as", "tasks_view_unassigned_reader", "task", "show", "T-3").exit_code == 0


def test_nobody_may_do_anything_in_a_team_workspace(cli, ws: Path) -> None:
    result = cli("task", "add", "Без автора", env={"CRMCTL_USER": ""})
    assert result.stderr == (
        "crmctl: error: nobody (give --as or CRMCTL_USER) may not add tasks: permission tasks.add is missing\n"
    )
    result = cli("--as", "stranger", "task", "list")
    assert (result.exit_code, result.stderr) == (3, "crmctl: error: --as 'stranger' is not a person of the team\n")


def test_a_workspace_without_a_team_is_single_user(cli, tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "solo"
    root.mkdir()
    (root / "crmctl.yaml").write_text(FORMS, encoding="utf-8")
    monkeypatch.chdir(root)
    cli.actor = None
    ok(cli, "apply")
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    ok(cli, "task", "add", "Дело")
    ok(cli, "report", "efficiency")
    ok(cli, "apply")
    assert query(root / "crmctl.duckdb", "SELECT count(*) FROM crm.events WHERE action = 'permission.refused'") == [
        (0,)
    ]
