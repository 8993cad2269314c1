"""Definition changes never lose or strand data: type changes, people who leave, approvers, renamed stages,
and who may see a plan."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import WIDE
from .dbstate import dump, query
from .test_apply import create, edit


def _with_field(cli, workspace: Path, field: str) -> None:
    edit(
        workspace / "forms.yaml",
        "  - {id: title, type: text, required: true}\n",
        "  - {id: title, type: text, required: true}\n  - " + field + "\n",
    )
    assert cli("apply").exit_code == 0


def test_a_type_change_that_alters_values_is_refused_until_archived(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    _with_field(cli, workspace, "{id: inn, type: text}")
    create(cli, "deal", "--set", "title=A", "--set", "inn=0012345678")
    create(cli, "deal", "--set", "title=B", "--set", "inn=42")
    create(cli, "deal", "--set", "title=C", "--set", "inn=7.50")
    create(cli, "deal", "--set", "title=D")
    edit(workspace / "forms.yaml", "{id: inn, type: text}", "{id: inn, type: number}")
    before = dump(db)
    plan = cli("plan")
    assert plan.exit_code == 1
    assert plan.stdout == snapshot
    assert plan.stderr == "crmctl: error: 1 change would lose data (see the plan)\n"
    refused = cli("apply")
    assert refused.exit_code == 1
    assert (
        "refused: field deal.inn (type text -> number): 2 records hold values that would change: "
        "DL-1 ('0012345678' -> '12345678'), DL-3 ('7.50' -> '7.5') (apply with --archive" in refused.stderr
    )
    assert dump(db) == before
    applied = cli("apply", "--archive")
    assert applied.exit_code == 0, applied.stderr
    assert query(db, 'SELECT key, inn FROM "deal" ORDER BY number') == [
        ("DL-1", 12345678.0),
        ("DL-2", 42.0),
        ("DL-3", 7.5),
        ("DL-4", None),
    ]
    assert query(db, "SELECT version, form, record, what, name, value FROM crm.archive ORDER BY record") == [
        (3, "deal", "DL-1", "field", "inn", "0012345678"),
        (3, "deal", "DL-2", "field", "inn", "42"),
        (3, "deal", "DL-3", "field", "inn", "7.50"),
    ]


def test_exact_type_changes_go_through(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    _with_field(cli, workspace, "{id: pages, type: number}")
    create(cli, "deal", "--set", "title=A", "--set", "pages=12")
    create(cli, "deal", "--set", "title=B", "--set", "pages=0.25")
    create(cli, "client", "--set", "name=A", "--set", "status=lost")
    edit(workspace / "forms.yaml", "{id: pages, type: number}", "{id: pages, type: text}")
    edit(workspace / "forms.yaml", "{id: status, type: list, options: [new, active, lost], default: new}",
         "{id: status, type: text}")
    result = cli("apply")
    assert result.exit_code == 0, result.stderr
    assert query(db, 'SELECT key, pages FROM "deal" ORDER BY number') == [("DL-1", "12"), ("DL-2", "0.25")]
    assert query(db, 'SELECT status FROM "client"') == [("lost",)]
    assert query(db, "SELECT count(*) FROM crm.archive") == [(0,)]
    # and back again: the text of a number converts back to the same number
    edit(workspace / "forms.yaml", "{id: pages, type: text}", "{id: pages, type: number}")
    assert cli("apply").exit_code == 0
    assert query(db, 'SELECT pages FROM "deal" ORDER BY number') == [(12.0,), (0.25,)]


def test_plan_needs_processes_manage_and_shows_counts_to_who_may_not_read(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    edit(
        workspace / "team.yaml",
        "people:\n",
        "  - id: architect\n    permissions: [processes.manage]\npeople:\n"
        "  - id: vera\n    name: Вера\n    roles: [architect]\n",
    )
    assert cli("--as", "boris", "apply").exit_code == 0
    create(cli, "client", "--set", "name=A", "--set", "email=a@a.ru")
    edit(workspace / "forms.yaml", "  - {id: email, type: email}\n", "")
    before = dump(db, refusals=True)
    anna = cli("--as", "anna", "plan")
    assert (anna.exit_code, anna.stdout) == (1, "")
    assert anna.stderr == (
        "crmctl: error: anna may not manage processes and stages: permission processes.manage is missing\n"
    )
    after = dump(db, refusals=True)
    refusal = [e for e in after["crm.events"] if e not in before["crm.events"]]
    assert [(e[2], e[3], json.loads(e[6])["permission"]) for e in refusal] == [
        ("anna", "permission.refused", "processes.manage")
    ]
    log = ("crm.events", "crm.event_hashes")  # the refusal and its link in the event log's chain
    assert dump(db) == dump(db, refusals=False) and {k: v for k, v in after.items() if k not in log} == {
        k: v for k, v in before.items() if k not in log
    }
    vera = cli("--as", "vera", "plan")
    assert vera.exit_code == 1
    assert vera.stdout == snapshot
    assert "CL-1" not in vera.stdout and "a@a.ru" not in vera.stdout
    vera_apply = cli("--as", "vera", "apply")
    assert vera_apply.exit_code == 1 and "a@a.ru" not in vera_apply.stderr
    assert "field client.email is removed but 1 record holds a value (add renamed_from" in vera_apply.stderr
    assert "CL-1 ('a@a.ru')" in cli("--as", "boris", "plan").stdout


def test_a_workspace_without_a_team_plans_for_anyone(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "crmctl.yaml").write_text("kind: Workspace\nname: solo\n")
    form = "kind: Form\nname: client\nkey_prefix: CL\nfields:\n  - {id: name, type: text}\n"
    (tmp_path / "client.yaml").write_text(form + "  - {id: email, type: email}\n")
    monkeypatch.chdir(tmp_path)
    assert cli("apply").exit_code == 0
    assert cli("record", "create", "client", "--set", "name=A", "--set", "email=a@a.ru").exit_code == 0
    (tmp_path / "client.yaml").write_text(form)
    result = cli("plan")
    assert result.exit_code == 1 and "CL-1 ('a@a.ru')" in result.stdout


def test_a_renamed_stage_keeps_its_history(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    create(cli, "client", "--set", "name=A")
    first = create(cli, "deal", "--set", "title=A", "--set", "client=CL-1", "--set", "amount=2000000")
    assert cli("--as", "boris", "advance", first, "--to", "approval").exit_code == 0
    create(cli, "deal", "--set", "title=B")
    process = workspace / "process.yaml"
    edit(process, "initial: draft\n", "initial: start\n")
    edit(process, "  - id: draft\n", "  - id: start\n    renamed_from: draft\n")
    edit(process, "on_reject: draft", "on_reject: review")
    edit(process, "transitions: [approval, lost]", "transitions: [review, lost]")
    edit(process, "  - id: approval\n", "  - id: review\n    renamed_from: approval\n")
    since = query(db, 'SELECT stage_since, stage_due FROM "deal" ORDER BY number')
    assert cli("apply").exit_code == 0
    edit(process, "  - id: review\n    renamed_from: approval\n", "  - id: check\n    renamed_from: review\n")
    edit(process, "on_reject: review", "on_reject: check")
    edit(process, "transitions: [review, lost]", "transitions: [check, lost]")
    assert cli("apply").exit_code == 0
    create(cli, "deal", "--set", "title=C")
    # records moved with the stage, and so did their stay and pending approvals
    assert query(db, 'SELECT key, stage FROM "deal" ORDER BY number') == [
        ("DL-1", "check"),
        ("DL-2", "start"),
        ("DL-3", "start"),
    ]
    assert query(db, 'SELECT stage_since, stage_due FROM "deal" ORDER BY number')[:2] == since
    assert query(db, "SELECT DISTINCT stage FROM crm.approvals") == [("check",)]
    assert cli("--as", "boris", "approve", first).exit_code == 0
    funnel = cli("report", "funnel", "deals")
    assert funnel.exit_code == 0, funnel.stderr
    assert funnel.stdout == snapshot
    rows = {r["stage"]: r for r in json.loads(cli("report", "funnel", "deals", "-f", "json").stdout)}
    assert (rows["start"]["entered"], rows["check"]["entered"]) == (3, 1)
    assert rows["start"]["next"] == {"check": 1}


def test_pending_approvals_follow_changed_approvers(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    create(cli, "client", "--set", "name=A")
    big = create(cli, "deal", "--set", "title=Big", "--set", "client=CL-1", "--set", "amount=2000000")
    small = create(cli, "deal", "--set", "title=Small", "--set", "client=CL-1", "--set", "amount=100")
    for key in (big, small):
        assert cli("--as", "boris", "advance", key, "--to", "approval").exit_code == 0
    edit(workspace / "process.yaml", "approvers: [boris]", "approvers: [anna]")
    plan = cli("plan")
    assert plan.exit_code == 0
    assert plan.stdout == snapshot
    before = query(db, "SELECT count(*) FROM crm.inbox WHERE person = 'anna'")[0][0]
    assert cli("apply").exit_code == 0
    assert query(db, "SELECT record, approval_group, approver, decision FROM crm.approvals ORDER BY id") == [
        (big, "manager", "role:manager", None),
        (big, "ceo", "boris", "withdrawn"),
        (small, "manager", "role:manager", None),
        (big, "ceo", "anna", None),
    ]
    notices = query(db, "SELECT person, record, text FROM crm.inbox WHERE person = 'anna' ORDER BY id")
    assert len(notices) == before + 1
    assert notices[-1] == ("anna", big, f"{big} Big waits for your approval at stage 'Согласование' (ceo)")
    history = cli("record", "history", big, env=WIDE)
    assert "approvers of approval changed; withdrawn boris; asked anna" in history.stdout, history.stdout
    assert cli("--as", "boris", "approve", big).exit_code == 1
    assert cli("--as", "anna", "approve", big).exit_code == 0
    assert query(db, 'SELECT stage FROM "deal" WHERE key = ?', [big]) == [("won",)]


ANNA = "  - id: anna\n    name: Анна Петрова\n    email: anna@example.com\n    roles: [manager]\n"


def test_a_person_who_leaves_hands_over_their_work(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    team, process = workspace / "team.yaml", workspace / "process.yaml"
    edit(team, "records.comment, tasks.read]", "records.comment, tasks.read, tasks.execute]")
    edit(team, ANNA, ANNA + "  - id: carl\n    name: Карл\n    roles: [manager]\n")
    edit(process, "approvers: [boris]", "approvers: [author]")
    assert cli("apply").exit_code == 0
    create(cli, "client", "--set", "name=A")
    big = create(cli, "deal", "--set", "title=Big", "--set", "client=CL-1", "--set", "amount=2000000")
    assert cli("--as", "boris", "advance", big, "--to", "approval").exit_code == 0
    draft = create(cli, "deal", "--set", "title=Draft")
    task = cli("--as", "boris", "task", "add", "Call the client", "--for", draft, "--assignee", "anna").stdout.strip()
    assert cli("--as", "anna", "task", "start", task).exit_code == 0
    edit(team, ANNA, "")
    edit(workspace / "template.yaml", "assignee: anna", "assignee: carl")
    before = dump(db)
    plan = cli("plan")
    assert plan.exit_code == 1
    assert plan.stdout == snapshot
    refused = cli("apply")
    assert refused.exit_code == 1
    assert "refused: person anna is removed but leaves work behind: pending approval of 1 record: DL-1;" in (
        refused.stderr
    )
    assert dump(db) == before

    edit(team, "people:\n", "successors:\n  anna: anya\npeople:\n")
    invalid = cli("apply")
    assert invalid.exit_code == 1
    assert invalid.stderr.splitlines()[0] == "team.yaml:11:9: error R001 unknown person 'anya'"
    edit(team, "  anna: anya\n", "  anna: carl\n  boris: carl\n")
    invalid = cli("validate")
    r005 = "team.yaml:12:3: error R005 'boris' is a person of the team: a successor is named for someone who left it"
    assert r005 in invalid.stdout
    edit(team, "  boris: carl\n", "")
    assert dump(db) == before

    plan = cli("plan")
    assert plan.exit_code == 0
    assert plan.stdout == snapshot
    applied = cli("apply")
    assert applied.exit_code == 0, applied.stderr
    assert query(db, "SELECT record, approval_group, approver, decision FROM crm.approvals ORDER BY id") == [
        (big, "manager", "role:manager", None),
        (big, "ceo", "carl", None),
    ]
    assert query(db, 'SELECT key, responsible FROM "deal" ORDER BY number') == [(big, None), (draft, "carl")]
    assert query(db, "SELECT id, assignee FROM crm.tasks") == [(task, "carl")]
    assert query(db, "SELECT person, ended_at IS NOT NULL FROM crm.time_intervals") == [("anna", True)]
    moved = query(
        db,
        "SELECT action, record, data->>'from', data->>'to', data->>'reason' FROM crm.events "
        "WHERE data->>'reason' = 'anna left the team' ORDER BY id",
    )
    assert moved == [
        ("approval.moved", big, "anna", "carl", "anna left the team"),
        ("responsible.changed", draft, "anna", "carl", "anna left the team"),
        ("task.assigned", draft, "anna", "carl", "anna left the team"),
        ("timer.stopped", draft, None, None, "anna left the team"),
    ]
    assert cli("--as", "carl", "approve", big).exit_code == 0
    assert query(db, 'SELECT stage FROM "deal" WHERE key = ?', [big]) == [("won",)]


def test_a_long_list_of_altered_values_shows_the_first_ten_and_a_count(cli, workspace: Path) -> None:
    _with_field(cli, workspace, "{id: inn, type: text}")
    rows = "".join(f"Deal {i},00{i}\n" for i in range(1, 13))
    (workspace / "deals.csv").write_text("title,inn\n" + rows + "Exact,77\n", encoding="utf-8")
    assert cli("import", "deal", "deals.csv", "--quiet").exit_code == 0
    edit(workspace / "forms.yaml", "{id: inn, type: text}", "{id: inn, type: number}")
    result = cli("plan", "-f", "json")
    assert result.exit_code == 1
    shown = ", ".join(f"DL-{i} ('00{i}' -> '{i}')" for i in range(1, 11))
    assert json.loads(result.stdout)["refusals"] == [
        f"field deal.inn (type text -> number): 12 records hold values that would change: {shown} and 2 more "
        "(apply with --archive to keep the old values in the archive)"
    ]
