"""crmctl load: the team at a glance, from the one schedule, with figures worked out by hand.

The freshoffice example's office calendar works 09:00-13:00 and 14:00-18:00 on weekdays; 8 March 2027 is a
holiday; rybakov is away from 1 to 12 March. The clock stands at Monday 1 March 2027, 10:00 (Moscow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ok
from .dbstate import dump, query

BOSS = ("--as", "grigoriev")
WORK = [  # (title, assignee, estimate)
    ("Макет каталога", "pavlova", "30h"),
    ("Спуск полос", "tikhonov", "3h"),
    ("Без оценки", "tikhonov", None),
    ("Печать", "rybakov", "2h"),
]


@pytest.fixture
def team(example, cli) -> Path:
    root = example("freshoffice-templates")
    for title, who, estimate in WORK:
        extra = ["--estimate", estimate] if estimate else []
        ok(cli, *BOSS, "task", "add", title, "--assignee", who, *extra)
    return root


def load(cli, *args: str) -> dict[str, dict]:
    return {r["person"]: r for r in json.loads(ok(cli, *BOSS, "load", *args, "-f", "json"))}


def test_two_days_of_load_person_by_person(cli, team) -> None:
    rows = load(cli, "--from", "2027-03-01", "--to", "2027-03-03")
    # Monday from 10:00 (7h) and Tuesday (8h)
    pavlova = rows["pavlova"]
    assert (pavlova["tasks"], pavlova["queued_hours"], pavlova["available_hours"]) == (1, 30.0, 15.0)
    # 30h from Monday 10:00: 7 + 8 + 8 on Mon-Wed, the last 7 on Thursday until 17:00 (lunch 13-14)
    assert pavlova["empties_at"] == "2027-03-04T17:00:00+03:00"
    assert (pavlova["demand_hours"], pavlova["utilisation"], pavlova["overloaded"]) == (30.0, 200, True)
    tikhonov = rows["tikhonov"]  # 3h from 10:00, and a task the schedule cannot place
    assert (tikhonov["tasks"], tikhonov["queued_hours"], tikhonov["unscheduled"]) == (2, 3.0, 1)
    assert (tikhonov["empties_at"], tikhonov["utilisation"], tikhonov["overloaded"]) == (
        "2027-03-01T13:00:00+03:00",
        20,
        False,
    )
    rybakov = rows["rybakov"]  # away: no hours in the period, so any work is too much; back on Monday 15th
    assert (rybakov["available_hours"], rybakov["utilisation"], rybakov["overloaded"]) == (0.0, None, True)
    assert rybakov["empties_at"] == "2027-03-15T11:00:00+03:00"
    idle = rows["egorov"]  # everyone of the team is listed, idle or not
    assert (idle["tasks"], idle["queued_hours"], idle["empties_at"], idle["utilisation"]) == (0, 0.0, None, 0)
    assert idle["name"] == "Виктор Егоров"


def test_a_later_period_counts_only_the_work_left_when_it_starts(cli, team) -> None:
    pavlova = load(cli, "--from", "2027-03-02", "--to", "2027-03-04")["pavlova"]
    # 7h are done on Monday: 23h are left for Tuesday and Wednesday's 16h
    assert (pavlova["demand_hours"], pavlova["available_hours"]) == (23.0, 16.0)
    assert (pavlova["utilisation"], pavlova["overloaded"]) == (144, True)
    after = load(cli, "--from", "2027-03-05", "--to", "2027-03-06")["pavlova"]
    assert (after["demand_hours"], after["utilisation"], after["overloaded"]) == (0.0, 0, False)


def test_the_default_period_is_the_next_two_weeks(cli, team) -> None:
    rows = load(cli)
    # Monday from 10:00 (7h), Tuesday to Friday (32h), 8 March a holiday, 9 to 12 March (32h)
    assert rows["pavlova"]["available_hours"] == 71.0
    assert (rows["pavlova"]["utilisation"], rows["pavlova"]["overloaded"]) == (42, False)
    assert rows["rybakov"]["available_hours"] == 0.0
    assert rows["gusev"]["available_hours"] == 110.0  # the flower shop: Wednesday to Sunday, 10h a day


def test_the_table_the_csv_and_the_page(cli, team, tmp_path: Path, snapshot) -> None:
    table = ok(cli, *BOSS, "load", "--from", "2027-03-01", "--to", "2027-03-03")  # fits 100 columns
    assert table == snapshot
    csv = ok(cli, *BOSS, "load", "-f", "csv").splitlines()
    assert csv[0].split(",") == [
        "person", "name", "tasks", "queued_hours", "unscheduled", "empties_at", "demand_hours", "available_hours",
        "utilisation", "overloaded",
    ]  # fmt: skip
    assert len(csv) == 1 + 11  # the whole team
    page = tmp_path / "load.html"
    ok(cli, *BOSS, "load", "--from", "2027-03-01", "--to", "2027-03-03", "-f", "html", "--out", str(page))
    html = page.read_text()
    assert html.count('<svg class="chart"') == 1 and html.count("<rect") == 2 * 11  # two bars a person
    assert html.count('fill="#dc2626"') == 2  # pavlova's and rybakov's work in red: they are overloaded
    assert html.count('style="color: #dc2626"') == 2 and "2027-03-01 to 2027-03-02" in html
    assert "http" not in html


def test_load_reads_and_writes_nothing(cli, team) -> None:
    before = dump(Path("crmctl.duckdb"))
    ok(cli, *BOSS, "load")
    assert dump(Path("crmctl.duckdb")) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--from", "2027-03-10", "--to", "2027-03-03"], 1, "--from 2027-03-10 is not before --to 2027-03-03"),
        (["--from", "2027-03-03", "--to", "2027-03-03"], 1, "is not before"),
        (["--from", "March"], 2, "--from: 'March' is not a date"),
        (["--to", "2027-13-01"], 2, "--to: '2027-13-01' is not a date"),
        (["-f", "ics"], 2, "ics"),
    ],
)
def test_bad_periods_are_refused(cli, team, args, code, message) -> None:
    before = dump(Path("crmctl.duckdb"))
    result = cli(*BOSS, "load", *args)
    assert (result.exit_code, result.stdout) == (code, "")
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert dump(Path("crmctl.duckdb")) == before


def test_only_who_may_view_others_tasks_sees_the_load(cli, team) -> None:
    before = dump(Path("crmctl.duckdb"))
    result = cli("--as", "pavlova", "load")  # a designer reads her own tasks only
    assert (result.exit_code, result.stdout) == (1, "")
    message = "crmctl: error: pavlova may not view others' tasks: permission tasks.view_others is missing\n"
    assert result.stderr == message
    assert dump(Path("crmctl.duckdb")) == before  # nothing but the refusal's event
    refused = query(Path("crmctl.duckdb"), "SELECT actor FROM crm.events WHERE action = 'permission.refused'")
    assert refused == [("pavlova",)]


# -- watchers ---------------------------------------------------------------------------------------------------
def inbox(cli, person: str) -> list[tuple[str, str | None, str]]:
    items = json.loads(ok(cli, "--as", person, "inbox", "-f", "json"))
    return [(i["kind"], i["record"], i["text"]) for i in items if i["kind"] == "task.watch"]


def test_watchers_hear_of_a_task_done_reassigned_commented_and_moved(cli, example) -> None:
    example("freshoffice-templates")
    ok(cli, *BOSS, "record", "create", "client", "--set", "name=ООО Ромашка")
    ok(cli, *BOSS, "task", "add", "Макет", "--for", "CL-1", "--assignee", "pavlova", "--estimate", "2h",
       "--watcher", "smirnov", "--watcher", "tikhonov", "--watcher", "grigoriev")  # fmt: skip
    db = Path("crmctl.duckdb")
    before = query(db, "SELECT count(*) FROM crm.inbox")[0][0]
    ok(cli, "--as", "smirnov", "task", "comment", "T-1", "Бумага пришла")
    ok(cli, *BOSS, "task", "assign", "T-1", "tikhonov")
    ok(cli, "--as", "tikhonov", "task", "done", "T-1")
    Path("due.csv").write_text("id,title,due\nT-1,Макет,2027-03-05\n")
    ok(cli, *BOSS, "import", "tasks", "due.csv")
    due = "T-1 «Макет» due 2027-03-05 23:59 (was none), by grigoriev"
    assert inbox(cli, "smirnov") == [  # oldest first
        ("task.watch", "CL-1", "T-1 «Макет» reassigned from pavlova to tikhonov by grigoriev"),
        ("task.watch", "CL-1", "T-1 «Макет» done by tikhonov"),
        ("task.watch", "CL-1", due),
    ]
    # who did it is not told of it, nor the new assignee of being given the task (their own notice says so)
    assert [t for _, _, t in inbox(cli, "tikhonov")] == ["T-1 «Макет» commented by smirnov: Бумага пришла", due]
    assert [t for _, _, t in inbox(cli, "grigoriev")] == [
        "T-1 «Макет» commented by smirnov: Бумага пришла",
        "T-1 «Макет» done by tikhonov",
    ]
    assert inbox(cli, "pavlova") == []  # not a watcher
    assert query(db, "SELECT count(*) FROM crm.inbox")[0][0] == before + 3 + 2 + 2 + 1  # + tikhonov's `task`
    # an import that leaves the due date alone tells nobody
    ok(cli, *BOSS, "import", "tasks", "due.csv")
    assert len(inbox(cli, "smirnov")) == 3


# -- a roll-up that counts with a condition ---------------------------------------------------------------------
def test_an_order_counts_its_items_and_those_ready(cli, example) -> None:
    example("crm-orders")
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    ok(cli, "record", "create", "deal", "--set", "title=Сделка", "--set", "client=CL-1")
    ok(cli, "record", "create", "order", "--set", "title=Буклеты", "--set", "deal=DL-1", "--set", "order_type=print")
    ok(cli, "record", "create", "order_item", "--set", "order=ORD-1", "--set", "product=Буклет", "--set", "ready=true")
    ok(cli, "record", "create", "order_item", "--set", "order=ORD-1", "--set", "product=Плакат")
    card = json.loads(ok(cli, "record", "show", "ORD-1", "-f", "json"))
    assert (card["rollups"]["items_count"], card["rollups"]["items_ready"]) == (2, 1)
    assert "Позиций готово                1 of 2\n" in ok(cli, "record", "show", "ORD-1")
    ok(cli, "record", "update", "OI-2", "--set", "ready=true")
    assert "Позиций готово                2 of 2\n" in ok(cli, "record", "show", "ORD-1")
    ok(cli, "record", "create", "order", "--set", "title=Сайт", "--set", "deal=DL-1", "--set", "order_type=website")
    assert "Позиций готово                0 of 0\n" in ok(cli, "record", "show", "ORD-2")


@pytest.mark.parametrize(
    ("where", "code", "message"),
    [
        ("{field: redy, eq: true}", "R001", "unknown field 'redy'"),
        ("{field: product, gt: a}", "C501", "operator 'gt' does not apply to text field 'product'"),
        ("{field: quantity, eq: many}", "C502", "value for 'quantity' (number)"),
        ("{field: ready, equals: true}", "S", ""),  # not a condition: the schema says so
    ],
)
def test_a_roll_up_condition_is_checked_against_the_form_it_counts(cli, example, where, code, message) -> None:
    root = example("crm-orders")
    form = root / "forms" / "order.yaml"
    text = form.read_text()
    form.write_text(text.replace("where: {field: ready, eq: true}", f"where: {where}"))
    result = cli("validate", "-f", "json")
    assert result.exit_code == 1, result.stdout
    problems = json.loads(result.stdout)
    assert len(problems) == 1 and problems[0]["code"].startswith(code) and message in problems[0]["message"]
    assert (
        problems[0]["file"].endswith("order.yaml")
        and problems[0]["line"] == text.splitlines().index("    where: {field: ready, eq: true}") + 1
    )


# -- board columns holding several stages -----------------------------------------------------------------------
COLUMNS = """
board_columns:
  - {id: billing, title: Счёт и оплата, stages: [invoicing, paid]}
  - {id: after_sale, title: После продажи, stages: [awaiting_documents, client, contract_work], show: false}
"""
PROSPECT = [
    "name=ООО Заявка", "email=lead@example.com", "manager=romanov", "invoice_number=СЧ-1", "invoice_amount=1000",
    "paid_on=2027-03-01", "documents_received=true", "contract_number=Д-7", "contract_until=2028-03-01",
]  # fmt: skip


def prospect(cli, *path: str) -> str:
    key = ok(cli, "--as", "petrov", "record", "create", "prospect", *[x for p in PROSPECT for x in ("--set", p)])
    for stage in path:
        ok(cli, "--as", "petrov", "advance", key.strip(), "--to", stage)
    return key.strip()


def test_a_board_column_can_hold_several_stages(cli, example, snapshot) -> None:
    root = example("service-desk-leads")
    process = root / "processes" / "interest.yaml"
    process.write_text(process.read_text() + COLUMNS)
    ok(cli, "apply")
    prospect(cli)
    prospect(cli, "choice", "invoicing", "paid")
    ok(cli, "--now", "2027-03-01T11:00:00+03:00", "--as", "petrov", "record", "create", "prospect",
       *[x for p in PROSPECT for x in ("--set", p)])  # fmt: skip
    ok(cli, "--now", "2027-03-01T11:00:00+03:00", "--as", "petrov", "advance", "PC-3", "--to", "choice")
    ok(cli, "--now", "2027-03-01T11:00:00+03:00", "--as", "petrov", "advance", "PC-3", "--to", "invoicing")
    prospect(cli, "choice", "invoicing", "paid", "awaiting_documents")  # in a hidden column
    later = "2027-03-01T12:00:00+03:00"
    board = json.loads(ok(cli, "--now", later, "board", "interest", "-f", "json"))
    assert [(c["stage"], c["title"], c["stages"], c["count"]) for c in board["stages"]] == [
        ("new", "Новый", ["new"], 1),
        ("choice", "Выбор", ["choice"], 0),
        ("billing", "Счёт и оплата", ["invoicing", "paid"], 2),
    ]  # refused has board: false; after_sale is hidden
    assert [(c["key"], c["stage"]) for c in board["stages"][2]["cards"]] == [("PC-2", "paid"), ("PC-3", "invoicing")]
    assert ok(cli, "--now", later, "board", "interest") == snapshot
    html = ok(cli, "--now", later, "board", "interest", "-f", "html")
    assert 'data-stage="billing"' in html and "После продажи" not in html


@pytest.mark.parametrize(
    ("columns", "code", "message"),
    [
        ("  - {id: billing, stages: [invoicing, payd]}\n", "R001", "unknown stage 'payd' (did you mean 'paid'?)"),
        ("  - {id: a, stages: [invoicing]}\n  - {id: b, stages: [paid, invoicing]}\n", "R002",
         "duplicate stage in board columns 'invoicing'"),
        ("  - {id: choice, stages: [invoicing, paid]}\n", "R002", "duplicate board column 'choice'"),
        ("  - {id: billing, stages: []}\n", "S004", ""),
    ],
)  # fmt: skip
def test_board_columns_are_checked(cli, example, columns, code, message) -> None:
    root = example("service-desk-leads")
    process = root / "processes" / "interest.yaml"
    process.write_text(process.read_text() + "board_columns:\n" + columns)
    result = cli("validate", "-f", "json")
    assert result.exit_code == 1, result.stdout
    (problem,) = json.loads(result.stdout)
    assert (problem["code"], problem["file"]) == (code, "processes/interest.yaml")
    assert message in problem["message"]


# -- tasks by process ---------------------------------------------------------------------------------------------
def test_task_list_keeps_the_tasks_of_one_process(cli, example) -> None:
    example("service-desk-leads")
    lead = prospect(cli)
    ok(cli, "--as", "petrov", "record", "create", "incident", "--set", "subject=Не работает почта",
       "--set", "reporter_email=petrov@example.com")  # fmt: skip
    ok(cli, "task", "add", "Перезвонить", "--for", lead, "--assignee", "petrov")
    ok(cli, "task", "add", "Починить почту", "--for", "INC-1", "--assignee", "petrov")
    ok(cli, "task", "add", "Починить принтер", "--for", "INC-1")
    ok(cli, "task", "add", "Без записи", "--assignee", "petrov")

    def ids(*args: str) -> list[str]:
        return [t["id"] for t in json.loads(ok(cli, "task", "list", *args, "-f", "json"))]

    assert ids("--process", "incident") == ["T-2", "T-3"]
    assert ids("--process", "interest") == ["T-1"]
    assert ids("--process", "incident", "--assignee", "petrov") == ["T-2"]
    ok(cli, "task", "done", "T-2")
    assert ids("--process", "incident", "--status", "todo") == ["T-3"]
    before = dump(Path("crmctl.duckdb"))
    result = cli("task", "list", "--process", "incidents")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == "crmctl: error: no process 'incidents' (processes: incident, interest)\n"
    assert dump(Path("crmctl.duckdb")) == before
