"""Processes in motion: transitions, conditional approvals, skipped stages, deadlines, board, simulate, inbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .browser import assert_not_blank, screenshot
from .conftest import ROOT, WIDE
from .conftest import ok as run_ok
from .dbstate import dump, query

EXAMPLES = ROOT / "examples" / "processes"

# The 1C Service Desk seed's "Проявление интереса" graph, as the seed states it.
SEED_GRAPH = {
    "new": {"choice", "refused"},
    "choice": {"invoicing", "refused"},
    "invoicing": {"paid", "refused"},
    "paid": {"awaiting_documents"},
    "awaiting_documents": {"client"},
    "client": {"contract_work"},
    "contract_work": {"invoicing"},
    "refused": set(),
}
# A path from the initial stage to each stage.
PATHS = {
    "new": [],
    "choice": ["choice"],
    "invoicing": ["choice", "invoicing"],
    "paid": ["choice", "invoicing", "paid"],
    "awaiting_documents": ["choice", "invoicing", "paid", "awaiting_documents"],
    "client": ["choice", "invoicing", "paid", "awaiting_documents", "client"],
    "contract_work": ["choice", "invoicing", "paid", "awaiting_documents", "client", "contract_work"],
    "refused": ["refused"],
}
PROSPECT = [
    "name=ООО Заявка",
    "email=lead@example.com",
    "manager=romanov",
    "invoice_number=СЧ-1",
    "invoice_amount=1000",
    "paid_on=2027-03-01",
    "documents_received=true",
    "contract_number=Д-7",
    "contract_until=2028-03-01",
    "refusal_reason=other",  # entering 'refused' requires it
]


def new_prospect(cli) -> str:
    sets = [x for pair in PROSPECT for x in ("--set", pair)]
    return run_ok(cli, "--as", "petrov", "record", "create", "prospect", *sets).strip()


def stage_of(cli, key: str) -> str:
    return json.loads(run_ok(cli, "record", "show", key, "-f", "json"))["stage"]


def test_the_example_follows_the_seed_graph(example) -> None:
    from crmctl.config.workspace import Unit, load_unit, workspace_files
    from crmctl.domain.model import Definitions

    root = EXAMPLES / "service-desk-leads"
    defs = Definitions.build([d.data for d in load_unit(Unit(root, workspace_files(root))).documents])
    process = defs.processes["interest"]
    assert {sid: set(s.transitions) for sid, s in process.stages.items()} == SEED_GRAPH
    assert [s.title for s in process.stages.values()] == [
        "Новый",
        "Выбор",
        "Выставление счета",
        "Оплачен",
        "Ожидание документов",
        "Клиент",
        "Работа по договору",
        "Отказ",
    ]


def test_every_transition_of_the_seed_graph(cli, example) -> None:
    db = example("service-desk-leads") / "crmctl.duckdb"
    for source, path in PATHS.items():
        key = new_prospect(cli)
        for step in path:
            run_ok(cli, "--as", "petrov", "advance", key, "--to", step)
        assert stage_of(cli, key) == source
        for target in SEED_GRAPH:
            if target in SEED_GRAPH[source]:
                continue
            before = dump(db)
            result = cli("--as", "petrov", "advance", key, "--to", target)
            assert result.exit_code == 1, (source, target)
            assert result.stderr.count("\n") == 1
            assert dump(db) == before
        for target in sorted(SEED_GRAPH[source]):
            moving = new_prospect(cli)
            for step in path:
                run_ok(cli, "--as", "petrov", "advance", moving, "--to", step)
            assert run_ok(cli, "--as", "petrov", "advance", moving, "--to", target) == f"{moving} -> {target}\n"
            assert stage_of(cli, moving) == target


def test_refusals_say_why(cli, example) -> None:
    example("service-desk-leads")
    cli.actor = None  # the commands below act as nobody unless they say --as
    key = run_ok(cli, "--as", "petrov", "record", "create", "prospect", "--set", "name=Без менеджера").strip()
    cases = [
        (["--as", "petrov", "advance", key], 1, f"{key} can go from 'new' to choice, refused: choose one with --to"),
        (
            ["--as", "petrov", "advance", key, "--to", "paid"],
            1,
            f"{key} cannot go from 'new' to 'paid': allowed are choice, refused",
        ),
        (["--as", "petrov", "advance", key, "--to", "nowhere"], 1, "process interest has no stage 'nowhere'"),
        (
            ["--as", "makarov", "advance", key, "--to", "choice"],
            1,
            "makarov may not advance prospect records: permission records.advance is missing",
        ),
        (["advance", key, "--to", "choice"], 1, "nobody (give --as or CRMCTL_USER) may not advance"),
        (["--as", "petrov", "advance", "PR-999", "--to", "choice"], 3, "no record PR-999"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert result.exit_code == code, args
        assert message in result.stderr, result.stderr
    run_ok(cli, "--as", "petrov", "advance", key, "--to", "choice")
    result = cli("--as", "petrov", "advance", key, "--to", "invoicing")
    assert "cannot leave 'choice' before these fields are filled: manager" in result.stderr
    result = cli("--as", "petrov", "advance", key, "--to", "refused")
    assert "cannot enter 'refused' without Причина отказа (refusal_reason)" in result.stderr
    run_ok(cli, "--as", "petrov", "record", "update", key, "--set", "refusal_reason=price")
    run_ok(cli, "--as", "petrov", "advance", key, "--to", "refused")
    result = cli("--as", "petrov", "advance", key)
    assert "is in 'refused', a terminal stage" in result.stderr


def test_a_record_without_a_process(cli, example) -> None:
    example("service-desk-leads")
    key = run_ok(
        cli,
        "--as",
        "petrov",
        "record",
        "create",
        "contact",
        "--set",
        "full_name=Иван",
        "--set",
        "email=ivan@example.com",
    ).strip()
    for verb in ("advance", "approve"):
        result = cli("--as", "petrov", verb, key)
        assert (result.exit_code, result.stderr) == (1, f"crmctl: error: {key} is not in any process\n")


def deal(cli, amount: str, purchase: str) -> str:
    key = run_ok(
        cli,
        "--as",
        "belov",
        "record",
        "create",
        "deal",
        "--set",
        "subject=Поставка",
        "--set",
        "client=CL-1",
        "--set",
        f"amount={amount}",
        "--set",
        f"purchase_amount={purchase}",
    ).strip()
    run_ok(cli, "--as", "belov", "advance", key)
    run_ok(cli, "--as", "kuznetsova", "approve", key)
    return key


def test_conditional_approval_at_one_million(cli, example) -> None:
    example("pyrus-client-crm")
    run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    at_limit = deal(cli, "1000000", "50000")
    above = deal(cli, "1000001", "50000")
    shown = json.loads(run_ok(cli, "record", "show", at_limit, "-f", "json"))
    assert (shown["stage"], shown["pending_approvers"]) == ("finance_approval", ["role:accounting"])
    shown = json.loads(run_ok(cli, "record", "show", above, "-f", "json"))
    assert (shown["stage"], shown["pending_approvers"]) == ("finance_approval", ["role:accounting", "sokolov"])
    assert "waiting for  role:accounting, sokolov" in run_ok(cli, "record", "show", above)
    assert run_ok(cli, "--as", "nikitina", "approve", at_limit) == (
        f"{at_limit}: approved; stage 'finance_approval' passed -> contract\n"
    )
    assert run_ok(cli, "--as", "nikitina", "approve", above) == f"{above}: approved; still waiting for sokolov\n"


def test_small_purchase_skips_the_tender_and_says_why(cli, example) -> None:
    example("pyrus-client-crm")
    run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    small = deal(cli, "500000", "99999")
    big = deal(cli, "500000", "100000")
    assert stage_of(cli, small) == "finance_approval"
    assert stage_of(cli, big) == "tender"
    history = run_ok(cli, "record", "history", small, env=WIDE)  # the words, not the fit to 100 columns
    assert "tender skipped: skip_when holds: (purchase_amount < 100000) and (not (needs_tender = true))" in history


def test_full_walk_history(cli, example, snapshot) -> None:
    example("pyrus-client-crm")
    run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    key = deal(cli, "1500000", "50000")
    run_ok(cli, "--as", "nikitina", "approve", key)
    run_ok(cli, "--as", "sokolov", "--now", "2027-03-01T12:00:00+03:00", "reject", key, "-m", "Дорого")
    assert stage_of(cli, key) == "manager_approval"
    run_ok(cli, "--as", "kuznetsova", "--now", "2027-03-01T13:00:00+03:00", "approve", key, "-m", "Скидка 5%")
    run_ok(cli, "--as", "nikitina", "--now", "2027-03-01T14:00:00+03:00", "approve", key)
    run_ok(cli, "--as", "sokolov", "--now", "2027-03-01T15:00:00+03:00", "approve", key)
    run_ok(
        cli,
        "--as",
        "morozova",
        "--now",
        "2027-03-02T10:00:00+03:00",
        "record",
        "update",
        key,
        "--set",
        "contract_number=Д-2027/15",
        "--set",
        "deadline=2027-04-01",
    )
    # the contract ready, the deal is approved: the author is told, not asked (tests/test_deal_notice.py)
    run_ok(cli, "--as", "morozova", "--now", "2027-03-02T10:05:00+03:00", "advance", key)
    assert stage_of(cli, key) == "approved"
    result = run_ok(cli, "record", "history", key, env=WIDE)  # the words, not the fit to 100 columns
    assert result == snapshot


def test_approval_mistakes(cli, example) -> None:
    db = example("pyrus-client-crm") / "crmctl.duckdb"
    cli.actor = None  # the commands below act as nobody unless they say --as
    run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    key = deal(cli, "1500000", "50000")
    run_ok(cli, "--as", "nikitina", "approve", key)
    before = dump(db)
    cases = [
        (["--as", "nikitina", "approve", key], f"nikitina has approved {key} at 'finance_approval' already"),
        (["--as", "belov", "approve", key], f"belov is not a pending approver of {key} (waiting for: sokolov)"),
        (["approve", key], "who is deciding? give --as PERSON or set CRMCTL_USER"),
        (["--as", "sokolov", "reject", key, "-m", " "], "a rejection needs a --comment saying why"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1
        assert result.stderr == f"crmctl: error: {message}\n"
        assert dump(db) == before


def test_stage_deadline_in_working_time_and_agenda(cli, example) -> None:
    example("service-desk-leads")
    key = new_prospect(cli)
    shown = json.loads(run_ok(cli, "record", "show", key, "-f", "json"))
    assert shown["responsible"] == "alekseeva"  # role:mail_evaluation, fewest records, ties by id
    assert shown["stage_due"] == "2027-03-01T15:00:00+03:00"  # 4h from 10:00 with a 13:00-14:00 lunch break
    later = "2027-03-02T09:00:00+03:00"
    items = json.loads(run_ok(cli, "--now", later, "agenda", "alekseeva", "-f", "json"))
    assert [(i["kind"], i["record"], i["overdue"]) for i in items] == [("stage", key, True)]
    board = json.loads(run_ok(cli, "--now", later, "board", "interest", "-f", "json"))
    card = board["stages"][0]["cards"][0]
    assert (card["key"], card["overdue"], card["in_stage_minutes"]) == (key, True, 23 * 60)
    inbox = json.loads(run_ok(cli, "--now", later, "inbox", "alekseeva", "-f", "json"))
    assert [i["kind"] for i in inbox] == ["stage", "deadline"]
    again = json.loads(run_ok(cli, "--now", later, "inbox", "alekseeva", "-f", "json"))
    assert len(again) == 2  # a deadline is announced once


def test_deadline_notices_are_told_once_per_stage_entry(cli, example) -> None:
    """Passed stage deadlines are told once, by inbox or tick, whichever comes first; a record that enters a
    stage again is told again when the new deadline passes."""
    example("service-desk-leads")
    keys = [new_prospect(cli) for _ in range(3)]
    later = "2027-03-02T09:00:00+03:00"
    shown = [json.loads(run_ok(cli, "record", "show", k, "-f", "json")) for k in keys]
    who = sorted({card["responsible"] for card in shown})

    def deadlines(now: str) -> list[tuple[str, str]]:
        inboxes = [json.loads(run_ok(cli, "--now", now, "inbox", p, "-f", "json")) for p in who]
        return sorted((i["record"], i["text"]) for inbox in inboxes for i in inbox if i["kind"] == "deadline")

    title = "Новый"
    told = [
        (
            c["key"],
            f"{c['key']}: the deadline of stage '{title}' passed at {c['stage_due'][:10]} {c['stage_due'][11:16]}",
        )
        for c in shown
    ]
    assert deadlines(later) == told
    assert deadlines(later) == told  # read again: nothing new
    assert "deadline" not in run_ok(cli, "--now", later, "tick")
    run_ok(cli, "--now", later, "--as", "petrov", "advance", keys[0], "--to", "choice")
    much_later = "2027-03-16T09:00:00+03:00"  # the 5 working days in `choice` have passed

    def ticked() -> list[str]:
        done = json.loads(run_ok(cli, "--now", much_later, "tick", "-f", "json"))
        return [a["subject"] for a in done if a["kind"] == "notice" and "deadline" in a["text"]]

    assert ticked() == [keys[0]]  # the new stage's deadline: told again
    assert ticked() == []


def test_board(cli, example, snapshot) -> None:
    example("service-desk-leads")
    keys = [new_prospect(cli) for _ in range(3)]
    run_ok(cli, "--as", "petrov", "advance", keys[0], "--to", "choice")
    run_ok(cli, "--as", "petrov", "advance", keys[1], "--to", "refused")
    board = json.loads(run_ok(cli, "board", "interest", "-f", "json"))
    assert [(s["stage"], s["count"]) for s in board["stages"]] == [
        ("new", 1),
        ("choice", 1),
        ("invoicing", 0),
        ("paid", 0),
        ("awaiting_documents", 0),
        ("client", 0),
        ("contract_work", 0),
    ]  # "refused" is hidden from the board, as the seed's kanban groups can be
    assert run_ok(cli, "board", "interest") == snapshot
    result = cli("board", "nope")
    assert result.exit_code == 3 and "no process 'nope'" in result.stderr


def test_several_processes_side_by_side(cli, example) -> None:
    example("service-desk-leads")
    new_prospect(cli)
    run_ok(
        cli,
        "--as",
        "petrov",
        "record",
        "create",
        "incident",
        "--set",
        "subject=Не работает почта",
        "--set",
        "reporter_email=petrov@example.com",
    )
    prospects = json.loads(run_ok(cli, "record", "list", "prospect", "--process", "interest", "-f", "json"))
    assert len(prospects) == 1
    incidents = json.loads(run_ok(cli, "board", "incident", "-f", "json"))
    assert sum(s["count"] for s in incidents["stages"]) == 1


def test_simulate_writes_nothing(cli, example, snapshot) -> None:
    db = example("pyrus-client-crm") / "crmctl.duckdb"
    cli.actor = None  # the commands below act as nobody unless they say --as
    before = dump(db)
    result = run_ok(
        cli,
        "--as",
        "belov",
        "simulate",
        "deal-approval",
        "--set",
        "amount=1000001",
        "--set",
        "purchase_amount=50000",
        env=WIDE,
    )  # the words, not the fit to 100 columns
    assert result == snapshot
    steps = json.loads(
        run_ok(
            cli,
            "--as",
            "belov",
            "simulate",
            "deal-approval",
            "--set",
            "amount=1000000",
            "--set",
            "purchase_amount=100000",
            "-f",
            "json",
        )
    )
    assert [s["stage"] for s in steps if s["skipped"]] == []
    assert steps[3]["approvers"] == ["role:accounting (Бухгалтерия)"]
    assert dump(db) == before
    anonymous = json.loads(run_ok(cli, "simulate", "client-work", "-f", "json"))  # no author known: "author"
    assert anonymous[0]["approvers"] == ["author (Контакт установлен)"] and not anonymous[0]["skipped"]
    bad = cli("simulate", "deal-approval", "--set", "amount=lots")
    assert bad.exit_code == 1 and "field 'amount': expected a number" in bad.stderr


def test_inbox_requests_and_mark_read(cli, example) -> None:
    example("pyrus-client-crm")
    run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    key = deal(cli, "1500000", "50000")
    items = json.loads(run_ok(cli, "inbox", "sokolov", "--unread", "-f", "json"))
    assert [(i["kind"], i["record"]) for i in items] == [("approval", key)]
    assert "waits for your approval at stage 'Финансовое согласование' (Генеральный директор)" in items[0]["text"]
    run_ok(cli, "inbox", "sokolov", "--mark-read")
    assert json.loads(run_ok(cli, "inbox", "sokolov", "--unread", "-f", "json")) == []
    assert len(json.loads(run_ok(cli, "inbox", "sokolov", "-f", "json"))) == 1


def test_condition_on_a_field_the_record_no_longer_has(cli, example) -> None:
    import duckdb

    db = example("pyrus-client-crm") / "crmctl.duckdb"
    run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=ООО Ромашка")
    key = run_ok(
        cli,
        "--as",
        "belov",
        "record",
        "create",
        "deal",
        "--set",
        "subject=S",
        "--set",
        "client=CL-1",
        "--set",
        "amount=10",
        "--set",
        "purchase_amount=10",
    ).strip()
    conn = duckdb.connect(str(db))
    conn.execute('ALTER TABLE "deal" DROP COLUMN "purchase_amount"')  # what a hand edit of the file could do
    conn.close()
    before = dump(db)
    result = cli("--as", "belov", "advance", key)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "purchase_amount" in result.stderr
    assert dump(db) == before


def test_concurrent_advances_do_not_both_succeed(cli, example) -> None:
    import subprocess
    import sys

    root = example("service-desk-leads")
    key = new_prospect(cli)
    crmctl = str(Path(sys.executable).parent / "crmctl")
    env = {"CRMCTL_NOW": "2027-03-01T10:00:00+03:00", "CRMCTL_USER": "petrov", "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [crmctl, "-w", str(root), "advance", key, "--to", target],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for target in ("choice", "choice")  # whichever runs second finds the record already in 'choice'
    ]
    outcomes = [(p.wait(), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in outcomes) == [0, 1]
    assert all("Traceback" not in err for _, _, err in outcomes)
    winner = next(out for code, out, _ in outcomes if code == 0)
    assert stage_of(cli, key) == winner.split(" -> ")[1].strip()
    entered = query(
        root / "crmctl.duckdb", "SELECT count(*) FROM crm.events WHERE record = ? AND action = 'stage.entered'", [key]
    )
    assert entered == [(2,)]


@pytest.mark.slow  # headless Chromium
def test_html_board_in_a_real_browser(cli, example, tmp_path: Path) -> None:
    example("service-desk-leads")
    for _ in range(2):
        new_prospect(cli)
    page = tmp_path / "board.html"
    run_ok(cli, "board", "interest", "-f", "html", "--out", str(page))
    html = page.read_text()
    assert html.count('class="column"') == 7 and "Выставление счета" in html
    assert_not_blank(screenshot(page, tmp_path, "1600,600"))


def test_list_by_responsible_and_stage_due(cli, example) -> None:
    example("service-desk-leads")
    key = new_prospect(cli)
    found = json.loads(run_ok(cli, "record", "list", "prospect", "--where", "responsible=alekseeva", "-f", "json"))
    assert [r["key"] for r in found] == [key]
    late = json.loads(run_ok(cli, "record", "list", "prospect", "--where", "stage_due<2027-03-01T12:00", "-f", "json"))
    assert late == []


def test_values_given_at_creation_survive_the_initial_stage(cli, example) -> None:
    example("pyrus-client-crm")
    given = run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=A", "--set", "status=active")
    plain = run_ok(cli, "--as", "belov", "record", "create", "client", "--set", "name=B")
    statuses = [
        json.loads(run_ok(cli, "record", "show", k.strip(), "-f", "json"))["fields"]["status"] for k in (given, plain)
    ]
    assert statuses == ["active", "new"]  # the initial stage's `set: status=new` fills only what was not given
