"""init, plan and apply: definition changes never lose data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.store.migrations import SCHEMA_VERSION

from .conftest import ROOT, Run
from .dbstate import dump, query


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def create(cli, *args: str) -> str:
    result = cli("--as", "anna", "record", "create", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_init_minimal_workspace(cli, tmp_path: Path, monkeypatch) -> None:
    result = cli("--as", "olga", "init", str(tmp_path / "crm"), "--timezone", "Europe/Moscow")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "crm" / "crmctl.duckdb").is_file()
    assert cli("validate", str(tmp_path / "crm")).exit_code == 0
    monkeypatch.chdir(tmp_path / "crm")
    assert cli("--as", "olga", "record", "create", "client", "--set", "name=Acme").stdout == "CL-1\n"


@pytest.mark.parametrize("example", ["crm-orders", "freshoffice-templates", "pyrus-client-crm", "service-desk-leads"])
def test_init_from_each_example(cli, tmp_path: Path, example: str) -> None:
    result = cli("init", str(tmp_path / example), "--example", example)
    assert result.exit_code == 0, result.stderr
    tables = {
        t
        for (t,) in query(
            tmp_path / example / "crmctl.duckdb",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'",
        )
    }
    forms = {p.stem for p in (ROOT / "examples" / "processes" / example / "forms").glob("*.yaml")}
    assert tables >= {f.replace("-", "_") for f in forms} or tables >= forms


def test_init_lists_examples(cli) -> None:
    assert cli("init", "x", "--list-examples").stdout.split() == [
        "crm-orders",
        "freshoffice-templates",
        "pyrus-client-crm",
        "service-desk-leads",
    ]


def test_init_refuses_a_non_empty_folder_and_unknown_examples(cli, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = cli("init", str(tmp_path / "full"))
    assert result.exit_code == 1 and "is not an empty folder" in result.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    result = cli("init", str(tmp_path / "new"), "--example", "nope")
    assert result.exit_code == 2 and "unknown example 'nope'" in result.stderr
    assert not (tmp_path / "new").exists()


def test_apply_twice_changes_nothing(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    before = dump(db)
    result = cli("apply")
    assert result.stdout == "no changes: the database is at version 1\n"
    assert dump(db) == before


def test_plan_lists_changes_and_apply_keeps_versions(cli, workspace: Path, snapshot) -> None:
    edit(
        workspace / "forms.yaml",
        "  - {id: manager, type: person}\n",
        "  - {id: manager, type: person}\n  - {id: source, type: list, options: [web, call], default: web}\n",
    )
    edit(workspace / "process.yaml", "  - id: lost\n", "  - id: archive\n    terminal: true\n  - id: lost\n")
    edit(workspace / "process.yaml", "transitions: [approval, lost]", "transitions: [approval, lost, archive]")
    plan = cli("plan")
    assert plan.exit_code == 0
    assert plan.stdout == snapshot
    as_json = json.loads(cli("plan", "-f", "json").stdout)
    assert as_json["current_version"] == 1 and as_json["next_version"] == 2 and as_json["refusals"] == []
    applied = cli("--as", "boris", "apply")
    assert applied.exit_code == 0
    assert applied.stdout.endswith("applied: the database is at version 2\n")
    rows = query(
        workspace / "crmctl.duckdb",
        "SELECT version, actor, json_array_length(changes) FROM crm.definitions ORDER BY version",
    )
    assert rows == [(1, None, 10), (2, "boris", 2)]


def test_records_remember_their_definition_version(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=Old")
    edit(
        workspace / "forms.yaml",
        "  - {id: email, type: email}\n",
        "  - {id: email, type: email}\n  - {id: city, type: text, default: Москва}\n",
    )
    assert cli("apply").exit_code == 0
    create(cli, "client", "--set", "name=New")
    rows = query(workspace / "crmctl.duckdb", 'SELECT key, def_version, city FROM "client" ORDER BY number')
    assert rows == [("CL-1", 1, "Москва"), ("CL-2", 2, "Москва")]  # the default is filled into existing rows


def test_invalid_yaml_is_not_applied(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    before = dump(db)
    edit(workspace / "process.yaml", "initial: draft", "initial: drafts")
    result = cli("apply")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "process.yaml:4:10: error P401 initial stage 'drafts' does not exist (did you mean 'draft'?)",
        "crmctl: error: the workspace has 1 problem; nothing was applied",
    ]
    assert dump(db) == before


def test_removing_a_field_with_data_is_refused(cli, workspace: Path, snapshot) -> None:
    db = workspace / "crmctl.duckdb"
    create(cli, "client", "--set", "name=A", "--set", "email=a@a.ru")
    create(cli, "client", "--set", "name=B")
    before = dump(db)
    edit(workspace / "forms.yaml", "  - {id: email, type: email}\n", "")
    plan = cli("plan")
    assert plan.exit_code == 1
    assert plan.stdout == snapshot
    assert plan.stderr == "crmctl: error: 1 change would lose data (see the plan)\n"
    result = cli("apply")
    assert result.exit_code == 1
    assert "refused: field client.email is removed but 1 record holds a value: CL-1 ('a@a.ru')" in result.stderr
    assert dump(db) == before


def test_renamed_field_keeps_its_data(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=A", "--set", "email=a@a.ru")
    edit(
        workspace / "forms.yaml", "  - {id: email, type: email}\n", "  - {id: mail, type: email, renamed_from: email}\n"
    )
    result = cli("apply")
    assert result.exit_code == 0, result.stderr
    assert "~ field client.mail (renamed from email)" in result.stdout
    assert query(workspace / "crmctl.duckdb", 'SELECT mail FROM "client"') == [("a@a.ru",)]


def test_archive_sets_removed_data_aside(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=A", "--set", "email=a@a.ru")
    edit(workspace / "forms.yaml", "  - {id: email, type: email}\n", "")
    assert cli("apply", "--archive").exit_code == 0
    rows = query(workspace / "crmctl.duckdb", "SELECT version, form, record, what, name, value FROM crm.archive")
    assert rows == [(2, "client", "CL-1", "field", "email", "a@a.ru")]
    columns = {
        c
        for (c,) in query(
            workspace / "crmctl.duckdb",
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'client'",
        )
    }
    assert "email" not in columns


def test_type_change_converts_or_names_what_does_not_fit(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    edit(
        workspace / "forms.yaml",
        "  - {id: title, type: text, required: true}\n",
        "  - {id: title, type: text, required: true}\n  - {id: pages, type: text}\n",
    )
    assert cli("apply").exit_code == 0
    create(cli, "deal", "--set", "title=A", "--set", "pages=12")
    create(cli, "deal", "--set", "title=B", "--set", "pages=twelve")
    create(cli, "deal", "--set", "title=C")
    edit(workspace / "forms.yaml", "{id: pages, type: text}", "{id: pages, type: number}")
    before = dump(db)
    result = cli("apply")
    assert result.exit_code == 1
    assert "field deal.pages (type text -> number): 1 record holds values that do not fit: DL-2 ('twelve')" in (
        result.stderr
    )
    assert dump(db) == before
    assert cli("record", "update", "DL-2", "--set", "pages=").exit_code == 0
    assert cli("apply").exit_code == 0
    assert query(db, 'SELECT key, pages FROM "deal" ORDER BY number') == [
        ("DL-1", 12.0),
        ("DL-2", None),
        ("DL-3", None),
    ]


def test_narrower_options_are_refused(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=A", "--set", "status=lost")
    edit(workspace / "forms.yaml", "options: [new, active, lost]", "options: [new, active]")
    result = cli("apply")
    assert result.exit_code == 1
    assert "CL-1 ('lost')" in result.stderr


def test_new_required_field_needs_a_default_when_records_exist(cli, workspace: Path) -> None:
    create(cli, "client", "--set", "name=A")
    edit(
        workspace / "forms.yaml",
        "  - {id: email, type: email}\n",
        "  - {id: email, type: email}\n  - {id: inn, type: text, required: true}\n",
    )
    result = cli("apply")
    assert result.exit_code == 1
    assert "new field client.inn is required but 1 records exist: CL-1 (give it a default)" in result.stderr
    edit(
        workspace / "forms.yaml",
        "{id: inn, type: text, required: true}",
        "{id: inn, type: text, required: true, default: unknown}",
    )
    assert cli("apply").exit_code == 0


def test_removing_a_stage_with_records_needs_a_migration(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    create(cli, "deal", "--set", "title=A")
    create(cli, "deal", "--set", "title=B")
    process = workspace / "process.yaml"
    edit(process, "initial: draft\n", "initial: start\n")
    edit(process, "  - id: draft\n", "  - id: start\n")
    edit(process, "on_reject: draft", "on_reject: start")
    before = dump(db)
    result = cli("apply")
    assert result.exit_code == 1
    assert "stage deals.draft is removed but 2 records are in it: DL-1, DL-2" in result.stderr
    assert dump(db) == before
    edit(process, "form: deal\n", "form: deal\nmigrate:\n  draft: start\n")
    result = cli("apply")
    assert result.exit_code == 0, result.stderr
    assert "- stage deals.draft (records move to start)" in result.stdout
    assert query(db, 'SELECT key, stage FROM "deal" ORDER BY number') == [("DL-1", "start"), ("DL-2", "start")]


def test_renamed_stage_moves_its_records(cli, workspace: Path) -> None:
    create(cli, "deal", "--set", "title=A")
    process = workspace / "process.yaml"
    edit(process, "initial: draft\n", "initial: start\n")
    edit(process, "  - id: draft\n", "  - id: start\n    renamed_from: draft\n")
    edit(process, "on_reject: draft", "on_reject: start")
    assert cli("apply").exit_code == 0
    assert query(workspace / "crmctl.duckdb", 'SELECT stage FROM "deal"') == [("start",)]


def test_removing_a_form_with_records(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    create(cli, "client", "--set", "name=A")
    create(cli, "deal", "--set", "title=T", "--set", "client=CL-1")
    create(cli, "payment", "--set", "deal=DL-1", "--set", "amount=10")
    forms = workspace / "forms.yaml"
    edit(
        forms,
        "---\nkind: Form\nname: payment\nkey_prefix: PM\nfields:\n  - {id: deal, type: ref, form: deal, "
        "required: true}\n  - {id: amount, type: money, required: true}\n",
        "",
    )
    result = cli("apply")
    assert result.exit_code == 1
    assert "form payment is removed but holds 1 records: PM-1" in result.stderr
    assert cli("apply", "--archive").exit_code == 0
    assert query(db, "SELECT key, amount FROM crm.archived_payment_v2") == [("PM-1", 10)]
    # crm.records still knows the key and its form; the record itself is gone from the commands
    assert query(db, "SELECT key, form, number FROM crm.records ORDER BY form") == [
        ("CL-1", "client", 1),
        ("DL-1", "deal", 1),
        ("PM-1", "payment", 1),
    ]
    result = cli("record", "show", "PM-1")
    assert (result.exit_code, result.stderr) == (3, "crmctl: error: no record PM-1\n")
    # a new form taking the removed form's prefix never gives a key that crm.records knows already
    with forms.open("a") as out:
        out.write("---\nkind: Form\nname: invoice\nkey_prefix: PM\nfields:\n  - {id: amount, type: money}\n")
    assert cli("apply").exit_code == 0
    assert create(cli, "invoice", "--set", "amount=5") == "PM-2"
    (workspace / "invoices.csv").write_text("amount\n6\n", encoding="utf-8")
    assert cli("import", "invoice", "invoices.csv", "--quiet").exit_code == 0
    assert query(db, "SELECT key, form FROM crm.records WHERE key LIKE 'PM-%' ORDER BY key") == [
        ("PM-1", "payment"),
        ("PM-2", "invoice"),
        ("PM-3", "invoice"),
    ]
    assert json.loads(cli("record", "show", "PM-2", "-f", "json").stdout)["fields"] == {"amount": "5.00"}


def test_a_schema_3_database_is_brought_up_to_date(cli, workspace: Path) -> None:
    """Before schema 4, crm.records was a table holding a second copy of every key; the first command that
    writes on such a file replaces it with the view over the form tables, and the keys stay as they were. A
    command that only reads opens the file read-only: it says what to do and changes nothing."""
    import duckdb

    db = workspace / "crmctl.duckdb"
    create(cli, "client", "--set", "name=A")
    create(cli, "client", "--set", "name=B")
    create(cli, "deal", "--set", "title=T", "--set", "client=CL-2")
    conn = duckdb.connect(str(db))
    conn.execute("DROP VIEW crm.records")
    conn.execute(
        "CREATE TABLE crm.records (key VARCHAR PRIMARY KEY, form VARCHAR NOT NULL, number BIGINT NOT NULL, "
        "created_at TIMESTAMPTZ NOT NULL)"
    )
    conn.execute("INSERT INTO crm.records SELECT key, 'client', number, created_at FROM client")
    conn.execute("INSERT INTO crm.records SELECT key, 'deal', number, created_at FROM deal")
    conn.execute("UPDATE crm.meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    before = query(db, "SELECT key, form, number, created_at FROM crm.records ORDER BY key")
    untouched = dump(db)

    result = cli("record", "show", "DL-1", "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == (
        f"crmctl: error: {db} was written by an older crmctl and needs updating, which a command that only reads "
        "cannot do: run a command that writes (or `crmctl apply`) once\n"
    )
    assert dump(db) == untouched
    assert create(cli, "client", "--set", "name=C") == "CL-3"
    result = cli("record", "show", "DL-1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["fields"]["client"] == "CL-2"
    assert query(db, "SELECT table_type FROM information_schema.tables WHERE table_name = 'records'") == [("VIEW",)]
    assert query(db, "SELECT value FROM crm.meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    after = query(db, "SELECT key, form, number, created_at FROM crm.records ORDER BY key")
    assert [row for row in after if row[0] != "CL-3"] == before
    assert query(db, "SELECT key FROM crm.records WHERE form = 'client' ORDER BY number") == [
        ("CL-1",),
        ("CL-2",),
        ("CL-3",),
    ]


def test_apply_refuses_a_foreign_duckdb_file(cli, base_workspace: Path, monkeypatch) -> None:
    import duckdb

    conn = duckdb.connect(str(base_workspace / "crmctl.duckdb"))
    conn.execute("CREATE TABLE mine (x INTEGER)")
    conn.close()
    monkeypatch.chdir(base_workspace)
    result = cli("apply")
    assert result.exit_code == 1
    assert "is a DuckDB file of something else" in result.stderr


def test_a_file_that_is_not_duckdb(cli, base_workspace: Path, monkeypatch) -> None:
    (base_workspace / "crmctl.duckdb").write_bytes(b"this is not a database" * 300)
    monkeypatch.chdir(base_workspace)
    for args in (["apply"], ["record", "list", "client"]):
        result = cli(*args)
        assert result.exit_code == 1
        assert result.stderr.endswith("crmctl.duckdb is not a DuckDB database file\n")
    assert (base_workspace / "crmctl.duckdb").read_bytes() == b"this is not a database" * 300


def test_commands_before_apply(cli, base_workspace: Path, monkeypatch) -> None:
    monkeypatch.chdir(base_workspace)
    result = cli("record", "list", "client")
    assert result.exit_code == 3
    assert "no database at" in result.stderr


def test_db_option_works_without_a_workspace(cli, workspace: Path, tmp_path: Path, monkeypatch) -> None:
    create(cli, "client", "--set", "name=A")
    monkeypatch.chdir(tmp_path)
    result = cli("--db", str(workspace / "crmctl.duckdb"), "record", "list", "client", "-f", "json")
    assert [r["key"] for r in json.loads(result.stdout)] == ["CL-1"]


def _while_held(cli, holding: str, path: Path, *args: str) -> tuple[Run, float, int]:
    """Run a command with a busy timeout of 0.5 s while another process runs `holding` (Python that takes
    a lock on `path`, then prints `held`); (the result, the seconds it took, the holder's pid)."""
    import subprocess
    import sys
    import time

    code = f"import sys, time\n{holding}\nprint('held', flush=True)\ntime.sleep(30)"
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        result = cli(*args, env={"CRMCTL_BUSY_TIMEOUT": "0.5"})
        return result, time.monotonic() - started, holder.pid
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_busy_database(cli, workspace: Path) -> None:
    holding = "import duckdb\nc = duckdb.connect(sys.argv[1])"
    result, waited, pid = _while_held(cli, holding, workspace / "crmctl.duckdb", "record", "list", "client")
    assert result.exit_code == 4
    assert f"process {pid}" in result.stderr and "is busy" in result.stderr
    assert 0.4 < waited < 5


def test_commands_take_turns(cli, workspace: Path) -> None:
    """A crmctl command holds the lock file beside the database from before it opens the database until
    after it has closed it; the next command waits for its turn, up to the busy timeout."""
    holding = (
        "import fcntl, os\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, b'%d\\n' % os.getpid())"
    )
    before = dump(workspace / "crmctl.duckdb")
    args = ("record", "create", "client", "--set", "name=A")
    result, waited, pid = _while_held(cli, holding, workspace / "crmctl.duckdb.lock", *args)
    assert result.exit_code == 4
    assert result.stderr == (
        f"crmctl: error: database {workspace / 'crmctl.duckdb'} is busy: crmctl process {pid} holds it "
        "(waited 0.5s; set CRMCTL_BUSY_TIMEOUT to wait longer)\n"
    )
    assert 0.4 < waited < 5
    assert dump(workspace / "crmctl.duckdb") == before
    assert cli(*args).exit_code == 0  # the holder is gone, and its turn with it


def test_turns_of_another_users_lock_file_and_through_a_symlink(cli, workspace: Path, tmp_path: Path, monkeypatch):
    """A lock file this user may not write is locked read-only; a symlink to the database leads to the same
    lock file; a file that is not a database gets no lock file beside it."""
    import os

    real_open = os.open

    def no_write(path, flags, *args):  # the lock file belongs to someone else (root ignores modes)
        if str(path).endswith(".lock") and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    holding = "import fcntl, os\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)"
    link = tmp_path / "elsewhere" / "crm.duckdb"
    link.parent.mkdir()
    link.symlink_to(workspace / "crmctl.duckdb")
    monkeypatch.setattr(os, "open", no_write)
    for args in (("record", "list", "client"), ("--db", str(link), "record", "list", "client")):
        result, _, _ = _while_held(cli, holding, workspace / "crmctl.duckdb.lock", *args)
        assert result.exit_code == 4, (args, result.stderr)
        assert "is busy: another command holds it (waited 0.5s" in result.stderr
    monkeypatch.undo()
    assert not (link.parent / "crm.duckdb.lock").exists()
    (tmp_path / "notes.txt").write_text("not a database")
    result = cli("--db", str(tmp_path / "notes.txt"), "record", "list", "client")
    assert result.exit_code == 1 and "is not a DuckDB database file" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "notes.txt", "ws"]


@pytest.mark.parametrize("name", ["projects", "records", "events"])
def test_a_form_may_be_named_like_a_system_table(cli, workspace: Path, name: str) -> None:
    with (workspace / "forms.yaml").open("a") as out:
        out.write(f"---\nkind: Form\nname: {name}\nkey_prefix: XX\nfields:\n  - {{id: title, type: text}}\n")
    result = cli("apply")
    assert result.exit_code == 0, result.stderr
    assert create(cli, name, "--set", "title=A") == "XX-1"
    assert create(cli, "client", "--set", "name=B") == "CL-1"
    assert json.loads(cli("record", "show", "XX-1", "-f", "json").stdout)["fields"] == {"title": "A"}
    assert query(workspace / "crmctl.duckdb", "SELECT key, form FROM crm.records ORDER BY key") == [
        ("CL-1", "client"),
        ("XX-1", name),
    ]


def test_records_of_an_archived_stage_leave_the_process(cli, workspace: Path) -> None:
    db = workspace / "crmctl.duckdb"
    create(cli, "client", "--set", "name=A")
    key = create(cli, "deal", "--set", "title=T", "--set", "client=CL-1", "--set", "amount=2000000")
    assert cli("--as", "boris", "advance", key, "--to", "approval").exit_code == 0
    assert query(db, "SELECT count(*) FROM crm.approvals WHERE decision IS NULL") == [(2,)]
    edit(workspace / "process.yaml", "    on_reject: draft\n", "")
    edit(workspace / "process.yaml", "transitions: [approval, lost]", "transitions: [won, lost]")
    text = (workspace / "process.yaml").read_text()
    start = text.index("  - id: approval")
    (workspace / "process.yaml").write_text(text[:start] + text[text.index("  - id: won"):])
    refused = cli("apply")
    assert refused.exit_code == 1 and key in refused.stderr + refused.stdout
    assert cli("apply", "--archive").exit_code == 0, cli("plan").stdout
    assert query(db, 'SELECT process, stage, stage_since, stage_due, responsible FROM "deal"') == [
        (None, None, None, None, None)]
    assert query(db, "SELECT count(*) FROM crm.approvals WHERE decision IS NULL") == [(0,)]
    assert query(db, "SELECT what, name, value FROM crm.archive") == [("stage", "deals", "approval")]
    result = cli("--as", "boris", "advance", key)
    assert result.stderr == f"crmctl: error: {key} is not in any process\n"
