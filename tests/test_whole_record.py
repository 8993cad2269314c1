"""Issue 24, section 4: seeing the whole of a record. History with the related records, subprojects' tasks on
the card, one project per stage entry, simulate to the end, definitions listed, tasks bounded by dates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import WIDE, Run, ok
from tests.dbstate import dump

DB = "crmctl.duckdb"


@pytest.fixture
def client_work(workspace: Path, cli: Callable[..., Run]) -> Path:
    """CL-1 with deal DL-1 and its payment PM-1; projects Клиенты (P-1) / Ромашка (P-2, for CL-1) / Сайт (P-3),
    with a task in each of the last two; CL-2 with a deal of its own."""
    ok(cli, "record", "create", "client", "--set", "name=Ромашка")
    ok(cli, "record", "create", "client", "--set", "name=Лютик")
    ok(cli, "record", "create", "deal", "--set", "title=Сайт", "--set", "client=CL-1", "--set", "amount=100")
    ok(cli, "record", "create", "deal", "--set", "title=Чужая", "--set", "client=CL-2")
    ok(cli, "record", "create", "payment", "--set", "deal=DL-1", "--set", "amount=50")
    ok(cli, "project", "create", "Клиенты")
    ok(cli, "project", "create", "ООО Ромашка", "--parent", "P-1", "--for", "CL-1")
    ok(cli, "project", "create", "Сайт", "--parent", "P-2")
    ok(cli, "task", "add", "Созвон", "--project", "P-2")  # T-1
    ok(cli, "task", "add", "Макет", "--project", "P-3", "--assignee", "anna")  # T-2
    ok(cli, "task", "done", "T-2")
    ok(cli, "comment", "PM-1", "Оплачено")
    return workspace


def test_the_card_lists_the_tasks_of_subprojects_at_every_level(client_work: Path, cli: Callable[..., Run]) -> None:
    card = json.loads(ok(cli, "record", "show", "CL-1", "-f", "json"))
    assert [(t["id"], t["record"]) for t in card["tasks"]] == [("T-1", "CL-1"), ("T-2", None)]
    text = ok(cli, "record", "show", "CL-1")
    assert "  T-2  done         Макет  (anna)\n" in text
    other = json.loads(ok(cli, "record", "show", "CL-2", "-f", "json"))
    assert other["tasks"] == []


def test_history_related_interleaves_referring_records_and_tasks(
    client_work: Path, cli: Callable[..., Run], snapshot
) -> None:
    text = ok(cli, "record", "history", "CL-1", "--related", env=WIDE)
    assert text == snapshot
    events = json.loads(ok(cli, "record", "history", "CL-1", "--related", "-f", "json"))
    assert [(e["record"], e["action"]) for e in events] == [
        ("CL-1", "record.created"),
        ("DL-1", "record.created"),
        ("DL-1", "stage.entered"),
        ("PM-1", "record.created"),
        ("CL-1", "project.created"),
        (None, "project.created"),
        ("CL-1", "task.created"),
        (None, "task.created"),
        (None, "task.status"),
        ("PM-1", "comment.added"),
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    # without --related: its own events only, as before
    plain = json.loads(ok(cli, "record", "history", "CL-1", "-f", "json"))
    assert [e["action"] for e in plain] == ["record.created", "project.created", "task.created"]
    assert "record" not in plain[0]


def test_history_related_leaves_out_what_the_person_may_not_read(client_work: Path, cli: Callable[..., Run]) -> None:
    team = client_work / "team.yaml"
    team.write_text(
        team.read_text("utf-8").replace(
            "permissions: [records.read, records.create",
            "permissions: [records.read:client, records.create",
        ),
        "utf-8",
    )
    ok(cli, "apply")
    events = json.loads(ok(cli, "--as", "anna", "record", "history", "CL-1", "--related", "-f", "json"))
    assert {e["record"] for e in events} <= {"CL-1", None}
    assert ("T-2" in json.dumps(events)) is True  # her own task
    assert "T-1" not in {e["data"].get("task") for e in events if e["record"] is None}


CLIENTS = """kind: Process
name: clients
form: client
stages:
  - {id: new, transitions: [active]}
  - id: active
    on_enter:
      - launch: {template: cards, params: {run: 100}REPEAT}
    transitions: [new]
"""


@pytest.mark.parametrize("repeat", [False, True])
def test_entering_a_stage_again_launches_its_template_once_unless_it_repeats(
    workspace: Path, cli: Callable[..., Run], repeat: bool
) -> None:
    (workspace / "clients.yaml").write_text(CLIENTS.replace("REPEAT", ", repeat: true" if repeat else ""), "utf-8")
    ok(cli, "apply")
    ok(cli, "record", "create", "client", "--set", "name=Ромашка")
    ok(cli, "advance", "CL-1", "--to", "active")
    ok(cli, "advance", "CL-1", "--to", "new")
    before = dump(workspace / DB)
    ok(cli, "advance", "CL-1", "--to", "active")
    projects = json.loads(ok(cli, "project", "list", "-f", "json"))
    assert [(p["id"], p["record"], p["template"]) for p in projects] == [
        ("P-1", "CL-1", "cards"),
        *([("P-2", "CL-1", "cards")] if repeat else []),
    ]
    if not repeat:
        after = dump(workspace / DB)
        assert after["crm.tasks"] == before["crm.tasks"]
    ok(cli, "record", "create", "client", "--set", "name=Лютик")
    ok(cli, "advance", "CL-2", "--to", "active")  # another record gets its own
    assert [p["record"] for p in json.loads(ok(cli, "project", "list", "-f", "json"))][-1] == "CL-2"


# -- simulate: the whole way, from the files alone --------------------------------------------------------------


def test_simulate_follows_the_whole_path_to_an_end_stage_without_a_database(
    tmp_path: Path, cli: Callable[..., Run], snapshot
) -> None:
    root = tmp_path / "desk"
    assert cli("init", str(root), "--example", "service-desk-leads").exit_code == 0
    for leftover in root.glob("crmctl.duckdb*"):
        leftover.unlink()  # the files alone: no database at all
    result = cli("--workspace", str(root), "simulate", "incident", "--set", "priority=critical", env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == snapshot
    steps = json.loads(ok(cli, "--workspace", str(root), "simulate", "incident", "-f", "json"))
    assert [s["stage"] for s in steps] == ["registered", "in_progress", "waiting", "resolved", "closed"]
    assert steps[3]["skipped"] == "no approval group applies"  # not critical: the owner need not confirm
    assert not list(root.glob("crmctl.duckdb*"))


def test_simulate_takes_the_path_given(tmp_path: Path, cli: Callable[..., Run]) -> None:
    root = tmp_path / "desk"
    assert cli("init", str(root), "--example", "service-desk-leads").exit_code == 0
    here = ("--workspace", str(root), "simulate", "incident")
    path = "in_progress,resolved,in_progress,waiting,resolved"
    steps = json.loads(ok(cli, *here, "--set", "priority=critical", "--path", path, "-f", "json"))
    assert [s["stage"] for s in steps] == [
        "registered",
        "in_progress",
        "resolved",
        "in_progress",
        "waiting",
        "resolved",
        "closed",
    ]
    assert [s["stage"] for s in steps if s["approvers"]] == ["resolved", "resolved"]
    rejected = json.loads(ok(cli, *here, "--path", "rejected", "-f", "json"))
    assert [s["stage"] for s in rejected] == ["registered", "rejected"]
    wrong = cli(*here, "--path", "closed")
    assert (wrong.exit_code, wrong.stderr) == (
        1,
        "crmctl: error: stage registered cannot go to closed (it goes to in_progress, rejected)\n",
    )
    unknown = cli(*here, "--path", "in_progress,nowhere")
    assert unknown.exit_code == 1 and "process incident has no stage nowhere" in unknown.stderr
    past = cli(*here, "--path", "rejected,closed")
    assert past.exit_code == 1
    assert past.stderr == "crmctl: error: the path goes on to closed after stage rejected, where it ends\n"


# -- template, process and form: list and show ------------------------------------------------------------------


def test_template_list_and_show_give_parameters_types_values_and_defaults(
    tmp_path: Path, cli: Callable[..., Run], snapshot
) -> None:
    root = tmp_path / "fo"
    assert cli("init", str(root), "--example", "freshoffice-templates").exit_code == 0
    for leftover in root.glob("crmctl.duckdb*"):
        leftover.unlink()  # the files alone
    here = ("--workspace", str(root))
    listed = json.loads(ok(cli, *here, "template", "list", "-f", "json"))
    assert [(t["name"], t["form"]) for t in listed] == [("business-cards", "card_order"), ("flower-delivery", None)]
    assert listed[0]["parameters"][:3] == ["print_run", "colour", "sides"]
    shown = json.loads(ok(cli, *here, "template", "show", "business-cards", "-f", "json"))
    colour = next(p for p in shown["parameters"] if p["id"] == "colour")
    assert (colour["type"], colour["default"], colour["options"]) == ("list", "4+0", ["4+0", "4+4", "1+0", "1+1"])
    assert shown["tasks"][0].startswith("brief: ")
    assert ok(cli, *here, "template", "show", "business-cards", env=WIDE) == snapshot
    missing = cli(*here, "template", "show", "visit")
    assert (missing.exit_code, missing.stderr) == (
        3,
        "crmctl: error: no template 'visit' (templates: business-cards, flower-delivery)\n",
    )
    assert not list(root.glob("crmctl.duckdb*"))


def test_process_and_form_list_and_show(tmp_path: Path, cli: Callable[..., Run], snapshot) -> None:
    root = tmp_path / "desk"
    assert cli("init", str(root), "--example", "service-desk-leads").exit_code == 0
    here = ("--workspace", str(root))
    processes = json.loads(ok(cli, *here, "process", "list", "-f", "json"))
    assert [(p["name"], p["form"], p["initial"]) for p in processes] == [
        ("incident", "incident", "registered"),
        ("interest", "prospect", "new"),
    ]
    incident = json.loads(ok(cli, *here, "process", "show", "incident", "-f", "json"))
    resolved = next(s for s in incident["stages"] if s["id"] == "resolved")
    assert resolved["transitions"] == ["closed", "in_progress"]
    assert resolved["approvers"][0].startswith("role:process_admin (") and resolved["approvers"][0].endswith("when ...")
    assert ok(cli, *here, "process", "show", "incident", env=WIDE) == snapshot
    forms = json.loads(ok(cli, *here, "form", "list", "-f", "json"))
    assert {f["name"]: f["unique"] for f in forms} == {
        "client": [],
        "contact": ["email"],
        "incident": [],
        "prospect": [],
    }
    contact = json.loads(ok(cli, *here, "form", "show", "contact", "-f", "json"))
    prospect = next(f for f in contact["fields"] if f["id"] == "prospect")
    assert (prospect["type"], prospect["options"]) == ("ref", ["ref prospect"])
    assert ok(cli, *here, "form", "list", "-f", "csv").startswith("name,title,key_prefix,fields,unique\n")
    assert cli(*here, "form", "show", "deal").exit_code == 3
