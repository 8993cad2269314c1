"""crmctl import and export: bulk checks, all-or-nothing writes, upserts, round trips and bad files."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ROOT, ok
from tests.dbstate import dump, query

CLIENTS = (
    "name,phone,email,status\n"
    "ООО Ромашка,+79123456789,info@romashka.example,active\n"
    "ИП Васильев,,,\n"
    "АО Вектор,+79001112233,office@vector.example,lost\n"
)


@pytest.fixture
def db(workspace: Path) -> Path:
    return workspace / "crmctl.duckdb"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clients(db: Path) -> list[tuple]:
    return query(db, "SELECT key, name, phone, email, status, author FROM client ORDER BY number")


def test_import_creates_every_row_with_defaults_and_history(cli, db: Path, workspace: Path) -> None:
    write(workspace / "clients.csv", CLIENTS)
    refused = cli("--as", "anna", "import", "client", "clients.csv")
    assert refused.stderr == "crmctl: error: anna may not import client records: permission records.import is missing\n"
    result = cli("--as", "boris", "import", "client", "clients.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "clients.csv: 3 rows: created 3, updated 0, unchanged 0, rejected 0\n"
    assert clients(db) == [
        ("CL-1", "ООО Ромашка", "+79123456789", "info@romashka.example", "active", "boris"),
        ("CL-2", "ИП Васильев", None, None, "new", "boris"),  # an empty cell takes the field's default
        ("CL-3", "АО Вектор", "+79001112233", "office@vector.example", "lost", "boris"),
    ]
    history = json.loads(ok(cli, "record", "history", "CL-2", "--format", "json"))
    assert [(e["action"], e["data"]) for e in history] == [("record.imported", {"import": 1, "source": "clients.csv"})]
    assert query(db, "SELECT key FROM crm.records ORDER BY number") == [("CL-1",), ("CL-2",), ("CL-3",)]
    # numbering goes on after an import
    assert ok(cli, "record", "create", "client", "--set", "name=Next").strip() == "CL-4"


def test_columns_by_label_semicolons_bom_and_cp1251(cli, db: Path, workspace: Path) -> None:
    text = "Название;STATUS\nООО Ромашка;active\nИП Васильев;new\n"
    write(workspace / "bom.csv", "\ufeff" + text)
    ok(cli, "import", "client", "bom.csv")
    write(workspace / "ansi.csv", text.replace("Ромашка", "Ромашка 2"), encoding="cp1251")
    assert "created 2" in ok(cli, "import", "client", "ansi.csv")
    assert [r[1] for r in clients(db)] == ["ООО Ромашка", "ИП Васильев", "ООО Ромашка 2", "ИП Васильев"]


def test_tabs_a_given_delimiter_and_a_given_encoding(cli, db: Path, workspace: Path) -> None:
    write(workspace / "tabs.csv", "name\tstatus\nООО Таб\tactive\n")
    write(workspace / "pipes.csv", "name|status\nООО Труба, и Ко|lost\n")  # a comma in a cell, no quotes
    write(workspace / "koi.csv", "name,status\nООО Кои,\n", encoding="koi8-r")
    ok(cli, "import", "client", "tabs.csv")
    ok(cli, "import", "client", "pipes.csv", "--delimiter", "|")
    ok(cli, "import", "client", "koi.csv", "--encoding", "koi8-r")
    assert [(r[1], r[4]) for r in clients(db)] == [
        ("ООО Таб", "active"),
        ("ООО Труба, и Ко", "lost"),
        ("ООО Кои", "new"),
    ]


def test_a_wrong_encoding_given_is_refused(cli, db: Path, workspace: Path) -> None:
    write(workspace / "ansi.csv", "name\nООО Ромашка\n", encoding="cp1251")
    before = sha(db)
    result = cli("import", "client", "ansi.csv", "--encoding", "utf-8")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "crmctl: error: ansi.csv is not valid utf-8 (give the file's encoding with --encoding)"
    )
    assert sha(db) == before
    result = cli("import", "client", "ansi.csv", "--encoding", "klingon")
    assert result.exit_code == 2 and "unknown encoding 'klingon'" in result.stderr


def test_a_map_file_renames_and_leaves_out_columns(cli, db: Path, workspace: Path) -> None:
    write(workspace / "export.csv", "Клиент,Телефон,Комментарий\nООО Ромашка,+79123456789,звонить утром\n")
    write(workspace / "map.yaml", "Клиент: name\nТелефон: phone\nКомментарий: ~\n")
    result = cli("import", "client", "export.csv")
    assert result.exit_code == 1
    assert "no field for column 'Клиент', 'Телефон', 'Комментарий'" in result.stderr
    ok(cli, "import", "client", "export.csv", "--map", "map.yaml")
    assert clients(db) == [("CL-1", "ООО Ромашка", "+79123456789", None, "new", "boris")]


def test_a_bad_row_in_the_middle_leaves_the_file_byte_for_byte(cli, db: Path, workspace: Path, snapshot) -> None:
    rows = [f"Клиент {i},+7912{i:07d},c{i}@example.com,new" for i in range(1, 200)]
    rows[99] = "Клиент 100,12345,not-an-address,maybe"
    write(workspace / "big.csv", "name,phone,email,status\n" + "\n".join(rows) + "\n")
    before = sha(db)
    result = cli("import", "client", "big.csv")
    assert result.exit_code == 1
    assert result.stderr == snapshot
    assert sha(db) == before


def test_problems_as_json_with_row_column_and_value(cli, db: Path, workspace: Path) -> None:
    write(workspace / "bad.csv", "name,email\n,x@example.com\nОК,broken\n")
    result = cli("import", "client", "bad.csv", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["problems"] == [
        {"row": 2, "column": "name", "value": None, "problem": "field 'name' is required"},
        {"row": 3, "column": "email", "value": "broken", "problem": "'broken' is not an e-mail address"},
    ]
    assert (report["created"], report["rejected"]) == (0, 2)


def test_rows_with_too_many_or_too_few_columns(cli, db: Path, workspace: Path) -> None:
    write(workspace / "ragged.csv", 'name,status\nA,new\nB\n"C, with comma",new,extra\nD,active\n')
    before = dump(db)
    result = cli("import", "client", "ragged.csv")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "row 3: 'B': has 1 column where the header has 2"
    assert lines[1] == "row 4: '\"C, with comma\",new,extra': has 3 columns where the header has 2"
    assert dump(db) == before
    result = cli("import", "client", "ragged.csv", "--on-error", "skip", "--report", "rejected.csv")
    assert result.exit_code == 0
    assert result.stdout == "ragged.csv: 4 rows: created 2, updated 0, unchanged 0, rejected 2\n"
    assert [r[1] for r in clients(db)] == ["A", "D"]
    report = (workspace / "rejected.csv").read_text(encoding="utf-8").splitlines()
    assert report[0] == "row,column,value,problem"
    assert [line.split(",")[0] for line in report[1:]] == ["3", "4"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty.csv is empty (0 bytes): nothing to import"),
        (b"\n\n", "empty.csv has no header row"),
    ],
)
def test_empty_files(cli, db: Path, workspace: Path, content: bytes, message: str) -> None:
    (workspace / "empty.csv").write_bytes(content)
    result = cli("import", "client", "empty.csv")
    assert result.exit_code == 1
    assert result.stderr == f"crmctl: error: {message}\n"


def test_missing_file_and_unknown_form(cli, db: Path, workspace: Path) -> None:
    assert cli("import", "client", "nope.csv").exit_code == 3
    write(workspace / "c.csv", CLIENTS)
    result = cli("import", "clients", "c.csv")
    assert result.exit_code == 3 and "unknown form 'clients'" in result.stderr
    result = cli("import", "client", "c.xlsx")
    assert result.exit_code == 3


def test_sql_and_formulas_are_values(cli, db: Path, workspace: Path) -> None:
    hostile = "x'); DROP TABLE client; --"
    write(workspace / "h.csv", f'name,status\n"{hostile}",new\n=HYPERLINK("http://evil"),new\n@SUM(A1),new\n')
    ok(cli, "import", "client", "h.csv")
    assert [r[1] for r in clients(db)] == [hostile, '=HYPERLINK("http://evil")', "@SUM(A1)"]
    exported = ok(cli, "export", "client", "--format", "csv")
    assert '\'=HYPERLINK(""http://evil"")' in exported and "'@SUM(A1)" in exported
    # and a guarded cell comes back as it was
    (workspace / "back.csv").write_text(exported, encoding="utf-8")
    assert "unchanged 3" in ok(cli, "import", "client", "back.csv")


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "json as .json"])
def test_export_import_round_trip_changes_nothing(cli, db: Path, workspace: Path, fmt: str) -> None:
    write(workspace / "c.csv", CLIENTS)
    ok(cli, "import", "client", "c.csv")
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
        "amount=1500000.5",
        "--set",
        "signed_on=2027-02-01",
        "--set",
        "manager=anna",
    )
    suffix = {"csv": "csv", "json": "jsonl", "parquet": "parquet", "json as .json": "json"}[fmt]
    for form in ("client", "deal"):  # JSON is written as JSON Lines, whatever the file's ending
        ok(cli, "export", form, "--format", fmt.split()[0], "--out", f"{form}.{suffix}")
    before = dump(db)
    for form in ("client", "deal"):
        result = cli("import", form, f"{form}.{suffix}", "--quiet")  # no bar; the summary all the same
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        assert result.stdout.startswith(f"{form}.{suffix}: ") and "created 0, updated 0" in result.stdout
    after = dump(db)
    assert {k: v for k, v in after.items() if not k.startswith("crm.import")} == {
        k: v for k, v in before.items() if not k.startswith("crm.import")
    }


def test_export_into_a_fresh_database_keeps_keys(cli, db: Path, workspace: Path, tmp_path: Path) -> None:
    write(workspace / "c.csv", CLIENTS)
    ok(cli, "import", "client", "c.csv")
    ok(cli, "export", "client", "--out", str(tmp_path / "all.csv"))
    other = tmp_path / "other.duckdb"
    ok(cli, "--db", str(other), "apply")
    ok(cli, "--db", str(other), "import", "client", str(tmp_path / "all.csv"))
    assert clients(other) == clients(db)


def test_upsert_by_key_field_updates_with_history_and_twice_is_unchanged(cli, db: Path, workspace: Path) -> None:
    write(workspace / "c.csv", CLIENTS)
    ok(cli, "import", "client", "c.csv", "--key", "email")
    assert "created 0, updated 0, unchanged 3" in ok(cli, "import", "client", "c.csv", "--key", "name")
    write(workspace / "c2.csv", "name,status\nООО Ромашка,lost\nАО Вектор,lost\nНовый,new\n")
    result = ok(cli, "--as", "boris", "import", "client", "c2.csv", "--key", "name")
    assert result == "c2.csv: 3 rows: created 1, updated 1, unchanged 1, rejected 0\n"
    assert clients(db)[0][4] == "lost" and clients(db)[0][2] == "+79123456789"  # absent columns stay
    history = json.loads(ok(cli, "record", "history", "CL-1", "--format", "json"))
    assert history[-1]["action"] == "record.updated"
    assert history[-1]["actor"] == "boris"
    assert history[-1]["data"] == {"changes": {"status": ["active", "lost"]}}
    before = dump(db)
    assert "unchanged 3" in ok(cli, "import", "client", "c2.csv", "--key", "name")
    assert dump(db) == before


def test_an_empty_cell_of_an_update_means_what_it_means_for_a_new_record(cli, db: Path, workspace: Path) -> None:
    ok(cli, "record", "create", "client", "--set", "name=ООО Альфа", "--set", "status=active", "--set", "email=a@x.ru")
    write(workspace / "u.csv", "name,status,email\nООО Альфа,,\nООО Бета,,\n")
    assert "created 1, updated 1" in ok(cli, "import", "client", "u.csv", "--key", "name")
    assert [(r[1], r[3], r[4]) for r in clients(db)] == [("ООО Альфа", None, "new"), ("ООО Бета", None, "new")]
    assert "unchanged 2" in ok(cli, "import", "client", "u.csv", "--key", "name")


def test_duplicate_keys_in_the_file_and_a_key_matching_two_records(cli, db: Path, workspace: Path) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Двойник")
    ok(cli, "record", "create", "client", "--set", "name=Двойник")
    write(workspace / "k.csv", "name,status\nДвойник,active\nОдин,new\nОдин,active\n")
    before = dump(db)
    result = cli("import", "client", "k.csv", "--key", "name")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "row 2, column name: 'Двойник': the key matches 2 records of form client",
        "row 3, column name: 'Один': the key appears 2 times in the file",
        "row 4, column name: 'Один': the key appears 2 times in the file",
    ]
    assert dump(db) == before


def test_dry_run_counts_but_writes_nothing(cli, db: Path, workspace: Path) -> None:
    write(workspace / "c.csv", CLIENTS)
    before = sha(db)
    result = ok(cli, "import", "client", "c.csv", "--dry-run")
    assert (
        result
        == "c.csv: 3 rows: would be created 3, would be updated 0, unchanged 0, rejected 0 (dry run: nothing written)\n"
    )
    assert sha(db) == before


def test_json_lines_and_yaml(cli, db: Path, workspace: Path) -> None:
    lines = [{"name": "A", "status": "active"}, {"name": "B"}, {"name": "C", "email": "c@example.com"}]
    write(workspace / "c.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    ok(cli, "import", "client", "c.jsonl")
    write(
        workspace / "d.yaml", "- {title: Сайт, client: A, amount: 1500000, signed_on: 2027-02-01}\n- {title: Визитки}\n"
    )
    ok(cli, "import", "deal", "d.yaml")
    assert query(db, "SELECT key, title, client, amount, signed_on::VARCHAR FROM deal ORDER BY number") == [
        ("DL-1", "Сайт", "CL-1", 1500000, "2027-02-01"),  # a ref by the client's name
        ("DL-2", "Визитки", None, None, None),
    ]
    write(workspace / "bad.jsonl", '{"name": "A"}\nnot json\n[1, 2]\n')
    result = cli("import", "client", "bad.jsonl")
    assert result.exit_code == 1
    assert "row 2: 'not json': is not a JSON object" in result.stderr
    assert "row 3: '[1, 2]': is not a JSON object" in result.stderr


def test_refs_by_key_or_title_and_unknown_refs(cli, db: Path, workspace: Path) -> None:
    write(workspace / "c.csv", CLIENTS)
    ok(cli, "import", "client", "c.csv")
    write(workspace / "d.csv", "title,client\nA,cl-2\nB,АО Вектор\nC,Нет такого\n")
    result = cli("import", "deal", "d.csv")
    assert result.exit_code == 1
    assert "row 4, column client: no client record with key or name 'Нет такого'" in result.stderr
    ok(cli, "import", "deal", "d.csv", "--on-error", "skip")
    assert query(db, "SELECT title, client FROM deal ORDER BY number") == [("A", "CL-2"), ("B", "CL-3")]


def test_imported_records_enter_their_process(cli, db: Path, workspace: Path) -> None:
    write(workspace / "d.csv", "title,amount\nA,100\nB,2000000\n")
    ok(cli, "import", "deal", "d.csv")
    assert query(db, "SELECT key, stage, responsible FROM deal ORDER BY number") == [
        ("DL-1", "draft", "boris"),  # responsible: author
        ("DL-2", "draft", "boris"),
    ]
    actions = [e["action"] for e in json.loads(ok(cli, "record", "history", "DL-2", "--format", "json"))]
    assert actions == ["record.imported", "stage.entered"]


ONBOARDING = """
---
kind: Process
name: onboarding
form: client
initial: screening
stages:
  - id: screening
    skip_when: {not: {field: email, eq: stay@x.ru}}
    transitions: [intake]
  - id: intake
    responsible: role:manager
    due_in: 4h
    approvals:
      - name: check
        approvers: [author]
      - name: boss
        approvers: [boris]
        when: {field: status, eq: active}
    on_enter:
      - set: {field: status, value: active}
      - launch: {template: cards, name: "Cards {{ record.name }}", params: {run: 100}}
      - remind: {in: 1d, text: Call, for: author}
    transitions: [done]
  - id: done
    terminal: true
"""


def _entered(db: Path) -> dict[str, list]:
    """What entering the first stage wrote, without ids and without the one event only record create writes."""
    return {
        "client": query(db, "SELECT * EXCLUDE (created_at, updated_at) FROM client ORDER BY number"),
        "updated": query(db, "SELECT DISTINCT updated_at FROM client"),
        "events": query(
            db,
            "SELECT occurred_at, actor, action, record, form, data FROM crm.events "
            "WHERE action <> 'record.created' ORDER BY id",
        ),
        "approvals": query(db, "SELECT * EXCLUDE (id) FROM crm.approvals ORDER BY id"),
        "inbox": query(db, "SELECT * EXCLUDE (id) FROM crm.inbox ORDER BY id"),
        "reminders": query(db, "SELECT * FROM crm.reminders ORDER BY id"),
        "projects": query(db, "SELECT * FROM crm.projects ORDER BY number"),
        "tasks": query(db, "SELECT * FROM crm.tasks ORDER BY number"),
    }


def test_imported_records_enter_a_busy_first_stage_as_created_ones_do(cli, tmp_path: Path, monkeypatch) -> None:
    """An import puts its records through entering the first stage (skipped stages, the least busy person of a
    role, a deadline in working time, approvals with conditions, on_enter set and remind, inbox notices) with
    one statement per table at the end; the result is what `record create` of the same rows one by one makes."""
    import shutil

    rows = [("ООО Альфа", "a@x.ru", ""), ("ООО Бета", "stay@x.ru", "lost"), ("ИП Гамма", "", "active")] * 3
    found = {}
    for way in ("create", "import"):
        ws = tmp_path / way
        shutil.copytree(ROOT / "tests" / "data" / "base", ws)
        with (ws / "process.yaml").open("a", encoding="utf-8") as out:
            out.write(ONBOARDING)
        team = (ws / "team.yaml").read_text(encoding="utf-8")
        (ws / "team.yaml").write_text(
            team.replace("people:\n", "people:\n  - {id: vera, name: Вера, roles: [manager]}\n"), encoding="utf-8"
        )
        monkeypatch.chdir(ws)
        ok(cli, "apply")
        if way == "create":
            for name, email, status in rows:
                sets = [f"name={name}"] + [f"{k}={v}" for k, v in (("email", email), ("status", status)) if v]
                ok(cli, "--as", "boris", "record", "create", "client", *[a for s in sets for a in ("--set", s)])
        else:
            write(ws / "c.csv", "name,email,status\n" + "".join(f"{n},{e},{s}\n" for n, e, s in rows))
            assert ok(cli, "--as", "boris", "import", "client", "c.csv").startswith("c.csv: 9 rows: created 9")
        found[way] = _entered(ws / "crmctl.duckdb")
    assert found["import"] == found["create"]
    created = found["create"]
    assert [(r[0], r[4], r[5], r[8]) for r in created["client"]][:5] == [
        ("CL-1", "onboarding", "intake", "anna"),  # anna and vera take turns, the least busy first
        ("CL-2", "onboarding", "screening", None),
        ("CL-3", "onboarding", "intake", "vera"),
        ("CL-4", "onboarding", "intake", "anna"),
        ("CL-5", "onboarding", "screening", None),
    ]
    assert sum(1 for e in created["events"] if e[2] == "stage.skipped") == 6
    assert len(created["approvals"]) == 6 + 3 and len(created["reminders"]) == 6
    assert len(created["projects"]) == 6 and len(created["tasks"]) == 12


def test_columns_of_an_import_never_clash_with_a_forms_own(cli, workspace: Path) -> None:
    """A field may be named like a column the import adds for itself (bad#, default#), and a form like a
    table it makes on the way."""
    with (workspace / "forms.yaml").open("a", encoding="utf-8") as out:
        out.write(
            "---\nkind: Form\nname: crm_moves\nkey_prefix: MV\nfields:\n  - {id: name, type: text}\n"
            "  - {id: status, type: list, options: [new, done], default: new}\n"
            "  - {id: d_status, type: text}\n  - {id: bad_status, type: text}\n"
            "---\nkind: Process\nname: moves\nform: crm_moves\ninitial: open\nstages:\n"
            "  - {id: open, responsible: author, on_enter: [{set: {field: status, value: done}}],"
            " transitions: [shut]}\n"
            "  - {id: shut, terminal: true}\n"
        )
    ok(cli, "apply")
    write(workspace / "m.csv", "name,status,d_status,bad_status\nA,,один,два\nB,new,три,четыре\n")
    ok(cli, "--as", "boris", "import", "crm_moves", "m.csv")
    assert query(
        workspace / "crmctl.duckdb",
        "SELECT key, status, d_status, bad_status, process, stage, responsible FROM crm_moves ORDER BY number",
    ) == [
        ("MV-1", "done", "один", "два", "moves", "open", "boris"),  # the default is not given: set changes it
        ("MV-2", "new", "три", "четыре", "moves", "open", "boris"),
    ]


def test_tasks_and_time_import_with_dependencies_by_their_own_ids(cli, db: Path, workspace: Path) -> None:
    write(
        workspace / "tasks.csv",
        "id,title,project,assignee,estimate,priority,depends_on,due\n"
        "A1,Макет,Сайт / Дизайн,anna,2h,2,,2027-03-10\n"
        "A2,Вёрстка,Сайт / Дизайн,anna,1d,,A1,\n"
        "A3,Тесты,Сайт / Дизайн,boris,90m,,A1 A2,\n",
    )
    assert (
        ok(cli, "--as", "boris", "import", "tasks", "tasks.csv")
        == "tasks.csv: 3 rows: created 3, updated 0, unchanged 0, rejected 0\n"
    )
    assert query(db, "SELECT id, external_id, assignee, estimate_minutes, priority FROM crm.tasks ORDER BY number") == [
        ("T-1", "A1", "anna", 120, 2),
        ("T-2", "A2", "anna", 480, 3),
        ("T-3", "A3", "boris", 90, 3),
    ]
    assert query(db, "SELECT task, depends_on FROM crm.task_dependencies ORDER BY 1, 2") == [
        ("T-2", "T-1"),
        ("T-3", "T-1"),
        ("T-3", "T-2"),
    ]
    before = dump(db)
    assert "unchanged 3" in ok(cli, "--as", "boris", "import", "tasks", "tasks.csv")
    ok(cli, "export", "tasks", "--out", "all.csv")
    assert "unchanged 3" in ok(cli, "--as", "boris", "import", "tasks", "all.csv")
    assert {k: v for k, v in dump(db).items() if not k.startswith("crm.import")} == {
        k: v for k, v in before.items() if not k.startswith("crm.import")
    }
    write(
        workspace / "time.csv",
        "task,person,started_at,ended_at,note\nA1,anna,2027-02-26T10:00,2027-02-26T11:30,макет\n",
    )
    ok(cli, "--as", "boris", "import", "time", "time.csv")
    ok(cli, "--as", "boris", "import", "time", "time.csv")
    assert query(
        db, "SELECT task, person, source, date_diff('minute', started_at, ended_at) FROM crm.time_intervals"
    ) == [("T-1", "anna", "import", 90)]
    ok(cli, "export", "time", "--format", "json", "--out", "time.jsonl")
    assert "unchanged 1" in ok(cli, "--as", "boris", "import", "time", "time.jsonl")


def test_bad_task_rows_and_cycles(cli, db: Path, workspace: Path) -> None:
    write(
        workspace / "tasks.csv",
        "id,title,assignee,estimate,depends_on\nA1,One,nobody,xx,A9\nA2,Two,,,A3\nA3,Three,,,A2\nA4,Four,,,\n",
    )
    before = dump(db)
    result = cli("--as", "boris", "import", "tasks", "tasks.csv")
    assert result.exit_code == 1
    assert "row 2, column assignee: no person 'nobody' in the team" in result.stderr
    assert "row 2, column depends_on: 'A9': no task with this id in the file or the database" in result.stderr
    assert "dependency cycle: T-2 -> T-3 -> T-2" in result.stderr
    assert dump(db) == before
    ok(cli, "--as", "boris", "import", "tasks", "tasks.csv", "--on-error", "skip")
    assert query(db, "SELECT external_id FROM crm.tasks") == [("A4",)]


def test_money_cells_are_read_as_record_create_reads_them(cli, db: Path, workspace: Path) -> None:
    cells = ["1e3", "1.5E+06", "1.234e1", "1.5e-1", "1e-3", "1E+20", "٣", "12.5", "1.500", "+5", ".5", "1_000", "e3"]
    created = {}
    for n, cell in enumerate(cells):
        result = cli("record", "create", "deal", "--set", f"title=c{n}", "--set", f"amount={cell}")
        assert result.exit_code in (0, 1), result.stderr
        if result.exit_code == 0:
            created[f"c{n}"] = query(db, "SELECT amount FROM deal WHERE key = ?", [result.stdout.strip()])[0][0]
    assert sorted(created.values()) == sorted(
        Decimal(v) for v in ("1000", "1500000", "12.34", "0.15", "12.5", "5", "0.5", "1000")
    )
    write(workspace / "deals.csv", "title,amount\n" + "".join(f"i{n},{cell}\n" for n, cell in enumerate(cells)))
    result = cli("import", "deal", "deals.csv", "--on-error", "skip")
    assert result.exit_code == 0, result.stderr
    imported = dict(query(db, "SELECT title, amount FROM deal WHERE title LIKE 'i%'"))
    assert {"c" + t[1:]: v for t, v in imported.items()} == created


def test_task_rows_name_their_records_by_key(cli, db: Path, workspace: Path) -> None:
    ok(cli, "record", "create", "client", "--set", "name=ООО Альфа")
    write(workspace / "tasks.csv", "id,title,record\nA1,Звонок,cl-1\nA2,Письмо,CL-9\nA3,Встреча,\n")
    before = dump(db)
    result = cli("--as", "boris", "import", "tasks", "tasks.csv")
    assert result.exit_code == 1
    assert "row 3, column record: 'CL-9': no record CL-9" in result.stderr
    assert dump(db) == before
    ok(cli, "--as", "boris", "import", "tasks", "tasks.csv", "--on-error", "skip")
    assert query(db, "SELECT external_id, record FROM crm.tasks ORDER BY number") == [("A1", "CL-1"), ("A3", None)]


def test_time_rows_in_the_future_or_backwards(cli, db: Path, workspace: Path) -> None:
    ok(cli, "--as", "boris", "task", "add", "Звонок")
    write(
        workspace / "time.csv",
        "task,person,started_at,ended_at\nT-1,anna,2027-03-01T09:00,2027-03-01T08:00\nT-1,anna,2027-03-01T09:00,2027-03-02T08:00\nT-9,anna,2027-03-01T08:00,2027-03-01T09:00\n",
    )
    result = cli("--as", "boris", "import", "time", "time.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "row 2, column ended_at: '2027-03-01T08:00': ends before it starts",
        "row 3, column ended_at: '2027-03-02T08:00': time cannot be logged in the future",
        "row 4, column task: 'T-9': no task with this id",
    ]


def test_export_formats_and_bad_targets(cli, db: Path, workspace: Path) -> None:
    write(workspace / "c.csv", CLIENTS)
    ok(cli, "import", "client", "c.csv")
    lines = ok(cli, "export", "client", "--format", "json").splitlines()
    assert json.loads(lines[0])["key"] == "CL-1" and len(lines) == 3
    result = cli("export", "client", "--format", "parquet")
    assert result.exit_code == 2 and "--format parquet needs --out FILE" in result.stderr
    result = cli("export", "client", "--out", "no/such/folder/c.csv")
    assert result.exit_code == 1 and "no folder no/such/folder" in result.stderr
    assert cli("export", "nothing").exit_code == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- &a {name: A}\n- *a\n", "anchors and aliases (&, *) are not read in import files"),
        ("- !!python/object/apply:os.system [echo hi]\n", "is not valid YAML"),
        ("name: A\n", "must hold a list of mappings, one per record"),
        ("- [1, 2\n", "is not valid YAML"),
    ],
)
def test_hostile_or_wrong_yaml(cli, db: Path, workspace: Path, text: str, message: str) -> None:
    write(workspace / "rows.yaml", text)
    before = sha(db)
    result = cli("import", "client", "rows.yaml")
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert sha(db) == before


def test_the_progress_bar_draws_rows_per_second(tmp_path: Path, capsys) -> None:
    from crmctl.cli.transfer import Bar

    data = tmp_path / "rows.csv"
    write(data, "name\n" + "x\n" * 999)
    bar = Bar(data)
    bar("reading rows.csv", 50.0)
    bar.close()
    err = capsys.readouterr().err
    assert "reading rows.csv" in err and "[###############...............]  50.0%" in err and "rows/s" in err
    assert err.endswith("\r\x1b[K")


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("name,email", ","), ("name;email;phone", ";"), ("name\temail", "\t"), ("a|b", "|"), ("name", ","),
     ('name,"a;b;c"', ","), ('"x;y";"z,w";q', ";"), ('name,"say ""a;b"" now",z', ",")],
)
def test_the_delimiter_is_counted_outside_quotes(header: str, delimiter: str) -> None:
    from crmctl.domain.imports import delimiter_of

    assert delimiter_of(header) == delimiter


def test_the_progress_line_keeps_moving_in_a_phase_it_cannot_measure(tmp_path: Path, capsys) -> None:
    import time

    from crmctl.cli.transfer import Bar

    data = tmp_path / "rows.csv"
    write(data, "name\nx\n")
    bar = Bar(data)
    bar("committing", -1.0)
    time.sleep(0.9)
    bar.close()
    frames = capsys.readouterr().err.split("\r")
    drawn = [f for f in frames if f.startswith("committing")]
    assert len(drawn) >= 3  # redrawn by itself while the phase lasts
    assert len({f.split()[1] for f in drawn}) >= 2  # the spinner turns
    elapsed = drawn[-1].split()[2].removesuffix("\x1b[K")
    assert elapsed.endswith("s") and float(elapsed[:-1]) >= 0.4  # the phase's time


def test_an_import_shows_its_phases(cli, workspace: Path, monkeypatch) -> None:
    from crmctl.cli import transfer

    seen: list[tuple[str, float]] = []

    class Recorder:
        def __init__(self, path: Path) -> None:
            pass

        def __call__(self, what: str, percent: float) -> None:
            seen.append((what, percent))

        def close(self) -> None:
            seen.append(("closed", 0.0))

    monkeypatch.setattr(transfer, "Bar", Recorder)
    monkeypatch.setattr(transfer, "progress_wanted", lambda quiet: True)  # as on a terminal
    write(workspace / "deals.csv", "title,amount\nСайт,100\nВизитки,200\n")
    result = cli("import", "deal", "deals.csv", "--process", "deals")
    assert result.exit_code == 0, result.stderr
    phases = list(dict.fromkeys(what for what, _ in seen))
    assert phases[-3:] == ["launching stage actions", "committing", "closed"]
    assert "writing" in phases and any(p.startswith("reading") for p in phases)


@pytest.mark.parametrize("quiet", [True, False])
def test_quiet_or_a_pipe_draws_no_progress(monkeypatch, quiet: bool) -> None:
    from crmctl.cli import transfer
    from crmctl.cli.base import Settings, use_settings

    monkeypatch.setattr(transfer.sys.stderr, "isatty", lambda: True, raising=False)
    use_settings(Settings(quiet=quiet))  # the global --quiet
    assert transfer.progress_wanted(quiet=False) is not quiet
    assert transfer.progress_wanted(quiet=True) is False
    monkeypatch.setattr(transfer.sys.stderr, "isatty", lambda: False, raising=False)
    assert transfer.progress_wanted(quiet=False) is False
    use_settings(Settings())
