"""Nobody reads or changes what their role does not allow.

The table of command x permission in docs/permissions.md is checked against the code: every row is run once
by a person holding the permission (exit 0) and once by a person holding everything else the command needs
but that permission (exit 1, one line on stderr, a `permission.refused` event, nothing else changed)."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, Cli, ok
from tests.dbstate import dump, query

WORKSPACE = """\
kind: Workspace
name: bounds
timezone: Europe/Moscow
---
kind: Form
name: client
key_prefix: CL
fields:
  - {id: name, type: text, required: true}
---
kind: Form
name: deal
key_prefix: DL
fields:
  - {id: title, type: text, required: true}
  - {id: client, type: ref, form: client}
---
kind: Process
name: clients
form: client
stages:
  - {id: new, transitions: [active]}
  - {id: active, terminal: true}
---
kind: ProjectTemplate
name: onboarding
project: {title: Подключение}
tasks:
  - {id: call, title: Позвонить}
---
kind: IntakeRule
name: mail
address: crm@bounds.example
creates: task
task: {title: "{{ subject }}"}
"""
EML = (
    "Message-ID: <m1@client.example>\nFrom: a@client.example\nTo: crm@bounds.example\nSubject: Вопрос\n"
    "Date: Fri, 26 Feb 2027 10:00:00 +0300\nContent-Type: text/plain; charset=utf-8\n\nТекст\n"
)


@dataclass
class Row:
    """One row of the docs' table: the command line, what else it needs, and what to make first (as the boss:
    a function of the person about to run, giving the values the command line is formatted with)."""

    args: list[str]
    also: set[str] = field(default_factory=set)
    setup: Callable[[Cli, str], dict[str, str]] | None = None


def new_file(cli: Cli, who: str) -> dict[str, str]:
    """A path where no file is yet (a backup writes only a new file)."""
    return {"file": str(Path(tempfile.mkdtemp()) / "copy.duckdb")}


def own_task(cli: Cli, who: str) -> dict[str, str]:
    """A task given to the person about to run the command."""
    task = json.loads(ok(cli, "--as", "boss", "task", "add", "Моя", "--assignee", who, "-f", "json"))
    return {"task": task["id"]}


def own_timer(cli: Cli, who: str) -> dict[str, str]:
    """A timer of theirs running on their task (started by the boss, who may work on others' tasks)."""
    made = own_task(cli, who)
    ok(cli, "--as", "boss", "task", "start", made["task"])
    return made


def boss_timer(cli: Cli, who: str) -> dict[str, str]:
    """The boss's timer on T-1 (still running on the second turn: the refusal stopped nothing)."""
    if not query(Path("crmctl.duckdb"), "SELECT 1 FROM crm.time_intervals WHERE ended_at IS NULL"):
        ok(cli, "--as", "boss", "task", "start", "T-1")
    return {}


def boss_announcement(cli: Cli, who: str) -> dict[str, str]:
    """An announcement of the boss's, to withdraw."""
    made = json.loads(ok(cli, "--as", "boss", "announce", "Внимание", "-f", "json"))
    return {"announcement": str(made[0]["id"])}


def recurring_task(cli: Cli, who: str) -> dict[str, str]:
    """A weekly task of the boss's, whose series to stop."""
    made = ok(cli, "--as", "boss", "task", "add", "Отчёт", "--due", "2027-03-05T17:00", "--every", "1w")
    return {"task": made.strip()}


def own_interval(cli: Cli, who: str) -> dict[str, str]:
    """Half an hour of theirs logged on T-2 (nobody's) by the boss."""
    ok(cli, "--as", "boss", "time", "log", "T-2", "30m", "--at", "2027-02-27T11:00", "--for", who)
    return {"interval": str(query(Path("crmctl.duckdb"), "SELECT max(id) FROM crm.time_intervals")[0][0])}


def boss_interval(cli: Cli, who: str) -> dict[str, str]:
    """Half an hour of the boss's on T-1 (still there on the second turn: the refusal changed nothing)."""
    found = query(Path("crmctl.duckdb"), "SELECT id FROM crm.time_intervals WHERE person = 'boss'")
    if not found:
        ok(cli, "--as", "boss", "time", "log", "T-1", "30m", "--at", "2027-02-27T12:00")
        found = query(Path("crmctl.duckdb"), "SELECT id FROM crm.time_intervals WHERE person = 'boss'")
    return {"interval": str(found[0][0])}


def boss_token(cli: Cli, who: str) -> dict[str, str]:
    """A token of the boss's (so that the workspace's first token is made: the next needs team.manage)."""
    made = ok(cli, "--as", "boss", "token", "create", "boss", "--name", "laptop")
    return {"token": made.split("_")[1]}


def deleted_deal(cli: Cli, who: str) -> dict[str, str]:
    """DL-1 deleted by the boss (still deleted on the second turn: the refusal restored nothing)."""
    if not query(Path("crmctl.duckdb"), "SELECT 1 FROM crm.deleted_records WHERE restored_at IS NULL"):
        ok(cli, "--as", "boss", "record", "delete", "DL-1")
    return {}


READ = {"tasks.read"}
EXECUTE = {"tasks.execute"}
# The fixture's data: CL-1 (a client, stage new) and DL-1 (a deal of CL-1); P-1 with T-1 (the boss's, for CL-1);
# T-2 (nobody's, for DL-1); T-3 (nobody's, done); T-4 (the boss's, done); sprint S1; reminder 1 for the boss;
# file 1 (clients.csv) on DL-1.
# docs/permissions.md's table, row by row: (command as the docs write it, permission) -> how to try it
ROWS: dict[tuple[str, str], Row] = {
    ("`record create`", "records.create"): Row(["record", "create", "client", "--set", "name=Гамма"]),
    ("`record update`", "records.update"): Row(["record", "update", "CL-1", "--set", "name=Альфа 2"]),
    ("`record show`", "records.read"): Row(["record", "show", "CL-1"]),
    ("`record list`", "records.read"): Row(["record", "list", "client"]),
    ("`files` of a record", "records.read"): Row(["files", "DL-1"]),
    ("`file get` of a record's file", "records.read"): Row(["file", "get", "1"]),
    ("`attach` to a record", "records.update"): Row(["attach", "DL-1", "tasks.csv"]),
    ("`attach` to a project", "tasks.add"): Row(["attach", "P-1", "tasks.csv"]),
    ("`file delete`", "files.delete"): Row(["file", "delete", "1"], {"records.update"}),
    ("`record history`", "records.read"): Row(["record", "history", "CL-1"]),
    ("`board`", "records.read"): Row(["board", "clients"]),
    ("`eta RECORD`", "records.read"): Row(["eta", "CL-1"], READ),
    ("`comment`", "records.comment"): Row(["comment", "CL-1", "Позвонить"]),
    ("`remind`", "records.comment"): Row(["remind", "CL-1", "Перезвонить", "--at", "2027-03-02T10:00"]),
    ("`remind --done` of someone else's reminder", "records.read"): Row(["remind", "--done", "1"], {"records.update"}),
    ("`remind --done` of someone else's reminder", "records.update"): Row(["remind", "--done", "1"], {"records.read"}),
    ("`advance`", "records.advance"): Row(["advance", "CL-1", "--to", "active"]),
    ("`announce`", "announcements.manage"): Row(["announce", "Внимание"]),
    ("`announce --withdraw`", "announcements.manage"): Row(
        ["announce", "--withdraw", "{announcement}"], setup=boss_announcement
    ),
    ("`remind --list --for PERSON` of someone else", "tasks.view_others"): Row(["remind", "--list", "--for", "boss"]),
    ("`task stop-series`", "tasks.add"): Row(["task", "stop-series", "{task}"], setup=recurring_task),
    ("`record assign`", "records.assign"): Row(["record", "assign", "CL-1", "boss"]),
    ("`import FORM`", "records.import"): Row(["import", "client", "clients.csv"]),
    ("`export FORM`", "records.export"): Row(["export", "client"]),
    ("`record delete`", "records.delete"): Row(["record", "delete", "DL-1"]),
    ("`record restore`", "records.delete"): Row(["record", "restore", "DL-1"], setup=deleted_deal),
    ("`task show` of one's own task", "tasks.read"): Row(["task", "show", "{task}"], setup=own_task),
    ("`task list`", "tasks.read"): Row(["task", "list"]),
    ("`task comment` on one's own task", "tasks.read"): Row(["task", "comment", "{task}", "Готово"], setup=own_task),
    ("`project list`", "tasks.read"): Row(["project", "list"]),
    ("`project show`", "tasks.read"): Row(["project", "show", "P-1"]),
    ("`sprint show`", "tasks.read"): Row(["sprint", "show", "S1"]),
    ("`sprint list`", "tasks.read"): Row(["sprint", "list"]),
    ("`queue`", "tasks.read"): Row(["queue"]),
    ("`eta PROJECT`, `eta TASK` of one's own task", "tasks.read"): Row(["eta", "P-1"]),
    ("`time list`", "tasks.read"): Row(["time", "list"]),
    ("`load`", "tasks.read"): Row(["load"], {"tasks.view_others"}),
    ("`task show` of someone else's task", "tasks.view_others"): Row(["task", "show", "T-1"], READ),
    ("`task list --assignee PERSON`", "tasks.view_others"): Row(["task", "list", "--assignee", "boss"], READ),
    ("`task comment` on someone else's task", "tasks.view_others"): Row(["task", "comment", "T-1", "Ок"], READ),
    ("`queue PERSON`", "tasks.view_others"): Row(["queue", "boss"], READ),
    ("`eta TASK` of someone else's task", "tasks.view_others"): Row(["eta", "T-1"], READ),
    ("`time list --person PERSON`", "tasks.view_others"): Row(["time", "list", "--person", "boss"], READ),
    ("`inbox PERSON`", "tasks.view_others"): Row(["inbox", "boss"]),
    ("`load`", "tasks.view_others"): Row(["load"], READ),
    ("`token create` for someone else, once a token exists", "team.manage"): Row(
        ["token", "create", "boss"], setup=boss_token
    ),
    ("`token list --all`, or `token list PERSON` of someone else", "team.manage"): Row(["token", "list", "--all"]),
    ("`token revoke` of someone else's token", "team.manage"): Row(["token", "revoke", "{token}"], setup=boss_token),
    ("`backup`", "team.manage"): Row(["backup", "{file}"], setup=new_file),
    ("`notices --all`, or `notices PERSON` of someone else", "team.manage"): Row(["notices", "--all"]),
    ("`agenda PERSON`", "tasks.view_others"): Row(["agenda", "boss"]),
    ("`export tasks`", "tasks.view_others"): Row(["export", "tasks"]),
    ("`export time`", "tasks.view_others"): Row(["export", "time"]),
    ("`export tjp`", "tasks.view_others"): Row(["export", "tjp"]),
    ("`task list --unassigned`", "tasks.view_unassigned"): Row(["task", "list", "--unassigned"], READ),
    ("`task show` of a task given to nobody", "tasks.view_unassigned"): Row(["task", "show", "T-2"], READ),
    ("`task add`", "tasks.add"): Row(["task", "add", "Ещё одна"]),
    ("`task depend`", "tasks.add"): Row(["task", "depend", "T-2", "--on", "T-1"]),
    ("`project create`", "tasks.add"): Row(["project", "create", "Новый"]),
    ("`project launch`", "tasks.add"): Row(["project", "launch", "onboarding"]),
    ("`task update` of one's own task or nobody's", "tasks.add"): Row(["task", "update", "T-2", "--priority", "1"]),
    ("`task update` of someone else's task", "tasks.manage_others"): Row(
        ["task", "update", "T-1", "--priority", "1"], {"tasks.add"}
    ),
    ("`project update`", "tasks.add"): Row(["project", "update", "P-1", "--priority", "1"]),
    ("`import tasks`", "tasks.add"): Row(["import", "tasks", "tasks.csv"]),
    ("`task start` of one's own task or nobody's", "tasks.execute"): Row(["task", "start", "T-2"]),
    ("`task stop` of one's own timer", "tasks.execute"): Row(["task", "stop"], setup=own_timer),
    ("`task done` of one's own task or nobody's", "tasks.execute"): Row(["task", "done", "T-2"]),
    ("`task reopen` of one's own task or nobody's", "tasks.execute"): Row(["task", "reopen", "T-3"]),
    ("`task cancel` of one's own task or nobody's", "tasks.execute"): Row(["task", "cancel", "T-2"]),
    ("`time log` on one's own task or nobody's", "tasks.execute"): Row(
        ["time", "log", "T-2", "30m", "--at", "2027-02-28T10:00"]
    ),
    ("`import time` of one's own time on one's own task or nobody's", "tasks.execute"): Row(
        ["import", "time", "time.csv"]
    ),
    ("`time edit` of one's own interval", "tasks.execute"): Row(
        ["time", "edit", "{interval}", "--minutes", "20"], setup=own_interval
    ),
    ("`time delete` of one's own interval", "tasks.execute"): Row(["time", "delete", "{interval}"], setup=own_interval),
    ("`time edit` of someone else's interval", "tasks.manage_others"): Row(
        ["time", "edit", "{interval}", "--minutes", "20"], EXECUTE, setup=boss_interval
    ),
    ("`time delete` of someone else's interval", "tasks.manage_others"): Row(
        ["time", "delete", "{interval}"], EXECUTE, setup=boss_interval
    ),
    ("`task start` of someone else's task", "tasks.manage_others"): Row(["task", "start", "T-1"], EXECUTE),
    ("`task stop --for PERSON`", "tasks.manage_others"): Row(
        ["task", "stop", "--for", "boss"], EXECUTE, setup=boss_timer
    ),
    ("`task done` of someone else's task", "tasks.manage_others"): Row(["task", "done", "T-1"], EXECUTE),
    ("`task reopen` of someone else's task", "tasks.manage_others"): Row(["task", "reopen", "T-4"], EXECUTE),
    ("`task cancel` of someone else's task", "tasks.manage_others"): Row(["task", "cancel", "T-1"], EXECUTE),
    ("`time log` on someone else's task, or `--for PERSON`", "tasks.manage_others"): Row(
        ["time", "log", "T-1", "30m", "--at", "2027-02-28T10:00"], EXECUTE
    ),
    ("`import time` of others' time or on others' tasks", "tasks.manage_others"): Row(
        ["import", "time", "boss-time.csv"], EXECUTE
    ),
    ("`task assign`", "tasks.assign"): Row(["task", "assign", "T-2", "boss"]),
    ("`sprint create`", "sprints.manage"): Row(
        ["sprint", "create", "S2", "--from", "2027-03-08", "--to", "2027-03-12"]
    ),
    ("`sprint add`", "sprints.manage"): Row(["sprint", "add", "S1", "T-2"]),
    ("`intake mail`", "mail.evaluate"): Row(["intake", "mail", "m.eml", "--rule", "mail"]),
    ("`report efficiency`", "reports.view"): Row(["report", "efficiency"]),
    ("`report estimates`", "reports.view"): Row(["report", "estimates"]),
    ("`report funnel`", "reports.view"): Row(["report", "funnel", "clients"]),
    ("`apply` on a database that has definitions", "processes.manage"): Row(["apply"]),
    ("`plan` on a database that has definitions", "processes.manage"): Row(["plan"]),
}


def person(permissions: set[str]) -> str:
    """The person of the test Team who holds exactly these permissions."""
    return "p_" + "_".join(sorted(p.replace(".", "_") for p in permissions)) if permissions else "p_none"


def team() -> str:
    every = sorted({p for (_, p), row in ROWS.items() for p in {p, *row.also}})
    sets = {frozenset(row.also) for row in ROWS.values()} | {frozenset({p, *r.also}) for (_, p), r in ROWS.items()}
    roles = "".join(f"  - {{id: {p.replace('.', '_')}, permissions: [{p}]}}\n" for p in every)
    people = ""
    for held in sorted(sets, key=sorted):
        who, roles_of = person(set(held)), ", ".join(sorted(p.replace(".", "_") for p in held))
        people += f"  - {{id: {who}, name: {who}, roles: [{roles_of}]}}\n"
    return (
        "kind: Team\nname: staff\nroles:\n  - {id: everything, permissions: ['*']}\n"
        + roles
        + "people:\n  - {id: boss, name: Boss, roles: [everything]}\n"
        + people
    )


def docs_table() -> dict[tuple[str, str], str]:
    """docs/permissions.md's table of command x permission: (command, permission) -> the row's text."""
    text = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    section = text.split("## What each command needs", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("Command", "---"):
            continue
        for permission in re.findall(r"`([a-z_]+\.[a-z_]+)`", cells[1]):
            rows[(cells[0], permission)] = line
    return rows


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace with its data, made once; each test works on a copy."""
    import os

    root = tmp_path_factory.mktemp("bounds") / "ws"
    root.mkdir()
    (root / "crmctl.yaml").write_text(WORKSPACE + "---\n" + team(), encoding="utf-8")
    (root / "clients.csv").write_text("name\nБета\n", encoding="utf-8")
    (root / "tasks.csv").write_text("id,title\nx1,Из файла\n", encoding="utf-8")
    (root / "time.csv").write_text("task,started_at,minutes\nT-2,2027-02-27T10:00,30\n", encoding="utf-8")
    (root / "boss-time.csv").write_text(
        "task,person,started_at,minutes\nT-1,boss,2027-02-27T10:00,30\n", encoding="utf-8"
    )
    (root / "m.eml").write_text(EML, encoding="utf-8")
    cli = Cli()
    cli.actor = "boss"
    here = Path.cwd()
    os.chdir(root)
    try:
        ok(cli, "apply")
        ok(cli, "record", "create", "client", "--set", "name=Альфа")
        ok(cli, "record", "create", "deal", "--set", "title=Сайт", "--set", "client=CL-1")
        ok(cli, "project", "create", "Внедрение", "--for", "CL-1")
        ok(cli, "task", "add", "Чужая", "--assignee", "boss", "--project", "P-1", "--estimate", "2h")  # T-1
        ok(cli, "task", "add", "Ничья", "--for", "DL-1", "--estimate", "1h")  # T-2
        ok(cli, "task", "add", "Готовая")  # T-3
        ok(cli, "task", "add", "Готовая чужая", "--assignee", "boss")  # T-4
        ok(cli, "task", "done", "T-3")
        ok(cli, "task", "done", "T-4")
        ok(cli, "sprint", "create", "S1", "--from", "2027-03-01", "--to", "2027-03-05")
        ok(cli, "remind", "CL-1", "Позвонить", "--at", "2027-03-02T10:00", "--for", "boss")
        ok(cli, "attach", "DL-1", "clients.csv")  # file 1
    finally:
        os.chdir(here)
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    return root


def refusals(db: Path) -> list[tuple[str, dict]]:
    rows = query(db, "SELECT actor, data FROM crm.events WHERE action = 'permission.refused' ORDER BY id")
    return [(actor, json.loads(data)) for actor, data in rows]


def test_the_docs_table_is_the_tested_one() -> None:
    assert sorted(docs_table()) == sorted(ROWS)


@pytest.mark.parametrize("row", sorted(ROWS), ids=lambda r: f"{r[1]}:{r[0]}")
def test_each_row_of_the_table_allows_and_refuses(cli: Cli, ws: Path, row: tuple[str, str]) -> None:
    permission = row[1]
    spec = ROWS[row]
    db = ws / "crmctl.duckdb"
    for who, allowed in ((person(spec.also), False), (person({permission, *spec.also}), True)):
        values = spec.setup(cli, who) if spec.setup else {}
        args = [a.format(**values) for a in spec.args]
        before, refused_before = dump(db), refusals(db)
        result = cli("--as", who, *args)
        if allowed:
            assert result.exit_code == 0, (args, result.stderr)
            assert refusals(db) == refused_before
            continue
        assert result.exit_code == 1, (args, result.stdout)
        assert result.stderr.startswith("crmctl: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.endswith(f"permission {permission} is missing\n"), result.stderr
        assert dump(db) == before
        written = refusals(db)
        assert len(written) == len(refused_before) + 1
        assert written[-1][0] == who and written[-1][1]["permission"] == permission


def events(db: Path, action: str) -> list[tuple[str | None, dict]]:
    rows = query(db, "SELECT actor, data FROM crm.events WHERE action = ? ORDER BY id", [action])
    return [(actor, json.loads(data)) for actor, data in rows]


def test_a_refusal_inside_a_transaction_is_written_after_the_rollback(ws: Path) -> None:
    from crmctl.errors import InputError
    from crmctl.ops.session import Options, open_session

    db = ws / "crmctl.duckdb"
    before = dump(db)
    with (
        open_session(Options(db=db, actor="p_none", now="2027-03-01T10:00")) as session,
        pytest.raises(InputError, match=r"permission tasks\.add is missing"),
        session.transaction() as conn,
    ):
        conn.execute("UPDATE crm.tasks SET title = 'changed'")
        session.require("tasks.add", "add tasks")
    assert dump(db) == before
    assert refusals(db) == [("p_none", {"permission": "tasks.add", "doing": "add tasks"})]


def test_inbox_without_a_person_acts_for_nobody(cli: Cli, ws: Path) -> None:
    db = ws / "crmctl.duckdb"
    before = dump(db, refusals=True)
    result = cli("inbox", "--mark-read")
    assert (result.exit_code, result.stderr) == (
        1,
        "crmctl: error: nobody (give --as or CRMCTL_USER) may not read others' inboxes: "
        "permission tasks.view_others is missing\n",
    )
    after = dump(db, refusals=True)
    assert after["crm.inbox"] == before["crm.inbox"]
    assert refusals(db) == [(None, {"permission": "tasks.view_others", "doing": "read others' inboxes"})]


def test_mark_read_marks_only_the_actors_own_notices(cli: Cli, ws: Path) -> None:
    db = ws / "crmctl.duckdb"
    me = person({"tasks.view_others"})
    ok(cli, "--as", "boss", "task", "add", "Для меня", "--assignee", me)
    unread = "SELECT person, count(*) FROM crm.inbox WHERE read_at IS NULL GROUP BY person ORDER BY person"
    assert query(db, unread) == [("boss", 2), (me, 1)]
    before = dump(db)
    for args in (["inbox", "boss", "--mark-read"], ["inbox", "--mark-read", "boss", "-f", "json"]):
        result = cli("--as", me, *args)
        assert (result.exit_code, result.stderr) == (
            1,
            "crmctl: error: --mark-read marks your own notices only, not boss's: leave it out\n",
        )
    assert dump(db) == before
    assert [n["person"] for n in json.loads(ok(cli, "--as", me, "inbox", "boss", "-f", "json"))] == ["boss", "boss"]
    ok(cli, "--as", me, "inbox", "--mark-read")
    assert query(db, unread) == [("boss", 2)]


def test_ones_own_reminder_is_done_without_more_permissions(cli: Cli, ws: Path) -> None:
    ok(cli, "--as", "boss", "remind", "CL-1", "Мне", "--at", "2027-03-02T11:00", "--for", "p_none")
    assert ok(cli, "--as", "p_none", "remind", "--done", "2") == "reminder 2 done (Мне)\n"
    refused = cli("--as", "p_none", "remind", "--done", "1")
    assert refused.stderr == "crmctl: error: p_none may not read client records: permission records.read is missing\n"


def test_work_on_someone_elses_task_is_the_assignees(cli: Cli, ws: Path) -> None:
    db = ws / "crmctl.duckdb"
    manager = person({"tasks.execute", "tasks.manage_others"})
    assert ok(cli, "--as", manager, "task", "start", "T-1") == "timer started on T-1\n"
    ok(cli, "--as", manager, "time", "log", "T-1", "30m", "--at", "2027-02-26T10:00")
    ok(cli, "--as", manager, "time", "log", "T-2", "1h", "--at", "2027-02-26T11:00", "--for", "boss")
    ok(cli, "--as", manager, "time", "log", "T-2", "15m", "--at", "2027-02-26T12:00")  # nobody's task: the actor's
    assert ok(cli, "--as", manager, "task", "done", "T-1") == "T-1 done\n"
    intervals = "SELECT task, person, ended_at IS NULL FROM crm.time_intervals ORDER BY started_at"
    assert query(db, intervals) == [
        ("T-1", "boss", False),  # logged by the manager on the boss's task
        ("T-2", "boss", False),  # --for boss
        ("T-2", manager, False),
        ("T-1", "boss", False),  # the timer, stopped by done
    ]
    assert events(db, "timer.started") == [(manager, {"task": "T-1", "person": "boss"})]
    logged = [(actor, data["task"], data["person"]) for actor, data in events(db, "time.logged")]
    assert logged == [(manager, "T-1", "boss"), (manager, "T-2", "boss"), (manager, "T-2", manager)]
    status = [(actor, data["task"], data["to"], data["assignee"]) for actor, data in events(db, "task.status")]
    assert status[-2:] == [(manager, "T-1", "in_progress", "boss"), (manager, "T-1", "done", "boss")]
    refused = cli("--as", person({"tasks.execute"}), "time", "log", "T-2", "1h", "--for", "boss")
    assert refused.stderr == (
        "crmctl: error: p_tasks_execute may not work on others' tasks: permission tasks.manage_others is missing\n"
    )


def test_a_manager_stops_someone_elses_timer(cli: Cli, ws: Path) -> None:
    manager = person({"tasks.execute", "tasks.manage_others"})
    ok(cli, "--as", manager, "task", "start", "T-1")
    refused = cli("--as", manager, "task", "stop")
    assert refused.stderr == f"crmctl: error: no timer is running for {manager}\n"
    assert ok(cli, "--as", manager, "task", "stop", "--for", "boss") == "timer stopped on T-1 after 0m\n"


def test_cards_show_only_what_the_person_may_read(cli: Cli, ws: Path, snapshot) -> None:
    crm = (ws / "crmctl.yaml").read_text(encoding="utf-8")
    crm = crm.replace(
        "roles:\n", "roles:\n  - {id: clients_only, permissions: ['records.read:client', tasks.read]}\n", 1
    )
    crm = crm.replace("people:\n", "people:\n  - {id: reader, name: Reader, roles: [clients_only]}\n", 1)
    (ws / "crmctl.yaml").write_text(crm, encoding="utf-8")
    ok(cli, "--as", "boss", "apply")
    card = json.loads(ok(cli, "--as", "reader", "record", "show", "CL-1", "-f", "json"))
    assert (card["related"], card["tasks"], card["hidden"]) == ([], [], {"related": 1, "tasks": 2})
    boss_card = json.loads(ok(cli, "--as", "boss", "record", "show", "CL-1", "-f", "json"))
    assert [r["key"] for r in boss_card["related"]] == ["DL-1"]
    assert [t["id"] for t in boss_card["tasks"]] == ["T-1", "T-2"] and boss_card["hidden"] == {"related": 0, "tasks": 0}
    project = json.loads(ok(cli, "--as", "reader", "project", "show", "P-1", "-f", "json"))
    assert (project["tasks"], project["hidden"]) == ([], {"tasks": 1})
    eta = json.loads(ok(cli, "--as", "reader", "eta", "P-1", "-f", "json"))
    assert (eta["tasks"], eta["hidden"], eta["last_task"]) == ([], {"tasks": 1}, None)
    assert eta["ready"] is not None and eta["reason"] == "a task not yours to read finishes last"
    shown = {
        "record show": ok(cli, "--as", "reader", "record", "show", "CL-1"),
        "project show": ok(cli, "--as", "reader", "project", "show", "P-1"),
        "eta": ok(cli, "--as", "reader", "eta", "CL-1"),
    }
    assert shown == snapshot


def test_whether_someone_elses_timer_runs_is_not_told_without_the_permission(cli: Cli, ws: Path) -> None:
    refused = cli("--as", person({"tasks.execute"}), "task", "stop", "--for", "boss")
    assert refused.stderr.endswith("permission tasks.manage_others is missing\n")


def test_imported_time_without_a_person_is_the_assignees(cli: Cli, ws: Path) -> None:
    db = ws / "crmctl.duckdb"
    (ws / "mine.csv").write_text("task,started_at,minutes\nT-1,2027-02-26T10:00,30\nT-2,2027-02-26T11:00,15\n")
    refused = cli("--as", person({"tasks.execute"}), "import", "time", "mine.csv")
    assert refused.stderr.endswith("permission tasks.manage_others is missing\n")
    manager = person({"tasks.execute", "tasks.manage_others"})
    ok(cli, "--as", manager, "import", "time", "mine.csv")
    assert query(db, "SELECT task, person FROM crm.time_intervals ORDER BY task") == [("T-1", "boss"), ("T-2", manager)]
