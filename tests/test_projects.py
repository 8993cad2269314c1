"""Projects, template launches, tasks, dependencies, the timer, the unblock notice and the client card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import WIDE, ok
from .dbstate import dump, query


def refused(cli, db: Path, code: int, message: str, *args: str) -> None:
    before = dump(db)
    result = cli(*args)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert dump(db) == before


def tasks_of(cli, *filters: str) -> list[dict]:
    return json.loads(ok(cli, "task", "list", *filters, "-f", "json"))


def card_order(cli, **values: str) -> str:
    fields = {"title": "Визитки директора", "client": "CL-1", "print_run": "500", "colour": "4+4",
              "sides": "two_sided", "paper": "matte_350", "amount": "3000", "needs_layout": "true", **values}
    sets = [x for k, v in fields.items() for x in ("--set", f"{k}={v}")]
    return ok(cli, "--as", "grigoriev", "record", "create", "card_order", *sets).strip()


@pytest.fixture
def freshoffice(example, cli) -> Path:
    root = example("freshoffice-templates")
    ok(cli, "--as", "grigoriev", "record", "create", "client", "--set", "name=ООО Ромашка")
    return root


def test_business_cards_launch_end_to_end(cli, freshoffice, snapshot) -> None:
    key = card_order(cli)
    launched = json.loads(ok(cli, "--as", "grigoriev", "project", "launch", "business-cards", "--for", key,
                             "-p", "print_run=500", "-p", "colour=4+4", "-p", "sides=two_sided",
                             "-p", "needs_layout=true", "-f", "json"))
    assert launched["project"] == "P-1" and launched["left_out"] == []
    chain = [(t["id"], t["assignee"], t["estimate_minutes"], t["depends_on"]) for t in launched["tasks"]]
    assert chain == [
        ("T-1", "grigoriev", 30, []),
        ("T-2", "pavlova", 180, ["T-1"]),
        ("T-3", "tikhonov", 60, ["T-1", "T-2"]),
        ("T-4", "egorov", 120, ["T-3"]),
        ("T-5", "egorov", 60, ["T-4"]),  # role:printer: rybakov, with none queued, is on holiday until 12 March
        ("T-6", "egorov", 60, ["T-4", "T-5"]),
        ("T-7", "grigoriev", 15, ["T-6"]),
    ]
    assert all(t["record"] == key and t["status"] == "todo" for t in launched["tasks"])
    assert [t["id"] for t in tasks_of(cli, "--ready")] == ["T-1"]
    assert ok(cli, "project", "show", "P-1", env=WIDE) == snapshot  # the words, not the fit to 100 columns


def test_a_task_left_out_passes_its_dependencies_on(cli, freshoffice) -> None:
    key = card_order(cli, needs_layout="false", sides="one_sided")
    launched = json.loads(ok(cli, "--as", "grigoriev", "project", "launch", "business-cards", "--for", key,
                             "-p", "print_run=100", "-f", "json"))
    assert [x["task"] for x in launched["left_out"]] == ["design", "print_back"]
    assert "when does not hold" in launched["left_out"][0]["why"]
    by_template = {t["template_task"]: t for t in launched["tasks"]}
    assert by_template["prepress"]["depends_on"] == [by_template["brief"]["id"]]
    # packing waited for the front and the back; the back is left out, so it waits for the front only
    assert by_template["cutting"]["depends_on"] == [by_template["print"]["id"]]


def test_flower_delivery_launch(cli, freshoffice, snapshot) -> None:
    out = ok(cli, "--as", "grigoriev", "project", "launch", "flower-delivery",
             "-p", "delivery_address=ул. Ленина, 1", "-p", "delivery_date=2027-03-08",
             "-p", "price_range=from_3000_to_5000",
             "-p", "flowers=тюльпаны", "-p", "recipient_phone=+7 (900) 000-00-00", "-p", "card_text=С 8 марта!",
             env=WIDE)  # the words, not the fit to 100 columns
    assert out == snapshot
    tasks = tasks_of(cli, "--project", "P-1")
    assert 5 <= len(tasks) <= 7
    assert all(t["assignee"] for t in tasks)


def test_parameters_are_checked_all_at_once(cli, freshoffice) -> None:
    db = freshoffice / "crmctl.duckdb"
    refused(cli, db, 1, "parameter 'delivery_address' is required", "--as", "grigoriev", "project", "launch",
            "flower-delivery", "-p", "price_range=gold", "-p", "recipient_phone=+7 (900) 000-00-00")
    result = cli("--as", "grigoriev", "project", "launch", "flower-delivery", "-p", "price_range=gold",
                 "-p", "colour=red")
    for part in ("template flower-delivery has no parameter 'colour'", "parameter 'delivery_address' is required",
                 "parameter 'delivery_date' is required", "parameter 'price_range': 'gold' is not one of the options"):
        assert part in result.stderr
    key = card_order(cli)
    refused(cli, db, 1, "parameter 'print_run': 10 is less than the minimum 50", "--as", "grigoriev", "project",
            "launch", "business-cards", "--for", key, "-p", "print_run=10")
    refused(cli, db, 2, "give --for KEY", "--as", "grigoriev", "project", "launch", "business-cards",
            "-p", "print_run=100")
    refused(cli, db, 3, "no template 'nope'", "--as", "grigoriev", "project", "launch", "nope")


def test_parameter_values_are_data_not_templates(cli, freshoffice) -> None:
    ok(cli, "--as", "grigoriev", "project", "launch", "flower-delivery",
       "-p", "delivery_address={{ ''.__class__ }}", "-p", "delivery_date=2027-03-08",
       "-p", "price_range=from_3000_to_5000",
       "-p", "recipient_phone=+7 (900) 000-00-00")
    project = json.loads(ok(cli, "project", "list", "-f", "json"))[0]
    assert project["title"] == "Доставка цветов 2027-03-08: {{ ''.__class__ }}"
    assert any(t["title"].endswith("по адресу: {{ ''.__class__ }}") for t in tasks_of(cli))


def test_the_sandbox_and_strict_undefined() -> None:
    from crmctl.domain.projects import plan
    from crmctl.errors import InputError

    def template(title: str) -> dict:
        return {"name": "t", "parameters": [{"id": "x", "type": "text"}], "tasks": [{"id": "a", "title": title}]}

    with pytest.raises(InputError, match=r"template tried something not allowed|template error"):
        plan(template("{{ ''.__class__.__mro__[1].__subclasses__() }}"), {"x": "1"}, None, None, 8)
    with pytest.raises(InputError, match="task a, title: template error: 'y' is undefined"):
        plan(template("{{ y }}"), {"x": "1"}, None, None, 8)
    assert plan(template("[{{ x }}]"), {}, None, None, 8).tasks[0].title == "[]"  # empty, not 'None'


def test_order_stage_launches_its_chain(cli, example, snapshot) -> None:
    example("crm-orders")
    me = ("--as", "sergeeva")
    ok(cli, *me, "record", "create", "client", "--set", "name=ООО Альфа")
    ok(cli, *me, "record", "create", "deal", "--set", "title=Сайт", "--set", "client=CL-1", "--set", "amount=300000")
    ok(cli, *me, "record", "create", "order", "--set", "title=Корпоративный сайт", "--set", "deal=DL-1",
       "--set", "order_type=website", "--set", "budget=200000", "--set", "due_date=2027-04-01",
       "--set", "specification=ТЗ", "--set", "pages=12")
    ok(cli, *me, "advance", "ORD-1", "--to", "planning")
    assert tasks_of(cli) == []
    ok(cli, *me, "advance", "ORD-1", "--to", "website_production")
    tasks = tasks_of(cli, "--for", "ORD-1")
    assert len(tasks) >= 5
    assert all(t["project"] == "P-1" for t in tasks)
    rows = "\n".join(f"{t['id']} {t['title']} | {t['assignee']} | {t['estimate_minutes']} | {t['depends_on']}"
                     for t in tasks)
    assert rows == snapshot
    history = ok(cli, "record", "history", "ORD-1")
    assert "project.launched" in history and "from website-order" in history


def test_dependencies_cycles_and_blocking(cli, freshoffice) -> None:
    db = freshoffice / "crmctl.duckdb"
    me = ("--as", "grigoriev")
    for title in ("Макет", "Печать", "Доставка"):
        ok(cli, *me, "task", "add", title, "--assignee", "pavlova", "--estimate", "1h")
    ok(cli, *me, "task", "depend", "T-2", "--on", "T-1")
    ok(cli, *me, "task", "depend", "T-3", "--on", "T-2")
    refused(cli, db, 1, "dependency cycle: T-1 -> T-3 -> T-2 -> T-1", *me, "task", "depend", "T-1", "--on", "T-3")
    refused(cli, db, 1, "T-1 cannot depend on itself", *me, "task", "depend", "T-1", "--on", "1")
    refused(cli, db, 3, "no task T-99", *me, "task", "depend", "T-1", "--on", "T-99")
    refused(cli, db, 3, "no task T-99", *me, "task", "add", "X", "--depends-on", "T-99")
    assert [t["id"] for t in tasks_of(cli, "--blocked")] == ["T-2", "T-3"]
    assert [t["id"] for t in tasks_of(cli, "--ready")] == ["T-1"]
    refused(cli, db, 1, "T-2 waits for T-1 to be done", "--as", "pavlova", "task", "start", "T-2")
    refused(cli, db, 1, "T-3 waits for T-2 to be done", "--as", "pavlova", "task", "done", "T-3")
    ok(cli, *me, "task", "depend", "T-3", "--on", "T-2", "--remove")
    assert [t["id"] for t in tasks_of(cli, "--blocked")] == ["T-2"]


def test_timer_time_log_and_the_unblock_notice(cli, freshoffice) -> None:
    db = freshoffice / "crmctl.duckdb"
    me = ("--as", "pavlova")
    ok(cli, "--as", "grigoriev", "task", "add", "Макет", "--assignee", "pavlova", "--estimate", "2h")
    ok(cli, "--as", "grigoriev", "task", "add", "Спуск полос", "--assignee", "tikhonov", "--depends-on", "T-1")
    ok(cli, "--as", "grigoriev", "task", "add", "Другое", "--assignee", "pavlova")
    assert ok(cli, *me, "task", "start", "T-1") == "timer started on T-1\n"
    assert ok(cli, *me, "--now", "2027-03-01T10:45:00+03:00", "task", "start", "T-3") == (
        "timer started on T-3 (stopped T-1 after 45m)\n"
    )  # one running timer per person
    assert ok(cli, *me, "--now", "2027-03-01T11:00:00+03:00", "task", "stop") == "timer stopped on T-3 after 15m\n"
    refused(cli, db, 1, "no timer is running for pavlova", *me, "task", "stop")
    assert ok(cli, *me, "time", "log", "T-1", "1h30m", "--at", "2027-02-28T14:00", "--note", "эскизы") == (
        "1h30m logged on T-1 from 2027-02-28 14:00 to 2027-02-28 15:30\n"
    )
    refused(cli, db, 1, "'-3h' is not a duration", *me, "time", "log", "T-1", "--", "-3h")
    refused(cli, db, 1, "'abc' is not a duration", *me, "time", "log", "T-1", "abc")
    refused(cli, db, 1, "time cannot be logged in the future", *me, "time", "log", "T-1", "2h", "--at",
            "2027-03-01T09:00")
    task = tasks_of(cli, "--assignee", "pavlova")[0]
    assert (task["id"], task["status"], task["actual_minutes"]) == ("T-1", "in_progress", 135.0)
    times = json.loads(ok(cli, "time", "list", "--person", "pavlova", "-f", "json"))
    assert [(t["task"], t["minutes"], t["source"]) for t in times] == [
        ("T-1", 90.0, "log"), ("T-1", 45.0, "timer"), ("T-3", 15.0, "timer")]
    assert ok(cli, *me, "--now", "2027-03-01T12:00:00+03:00", "task", "done", "T-1") == (
        "T-1 done\nready: T-2 Спуск полос (tikhonov)\n"
    )
    inbox = json.loads(ok(cli, "inbox", "tikhonov", "-f", "json"))
    assert inbox[-1]["kind"] == "task.ready"
    assert inbox[-1]["text"] == "T-2 «Спуск полос» is ready: T-1 «Макет» done by pavlova"
    refused(cli, db, 1, "T-1 is done already", *me, "task", "done", "T-1")
    ok(cli, *me, "task", "reopen", "T-1")
    ok(cli, *me, "task", "cancel", "T-1", "-m", "не нужно")
    assert query(db, "SELECT status FROM crm.tasks WHERE id = 'T-1'") == [("cancelled",)]
    history = ok(cli, "task", "show", "T-1")
    assert "task.status" in history and "T-1: не нужно" in history


def test_permissions_and_people(cli, freshoffice) -> None:
    db = freshoffice / "crmctl.duckdb"
    refused(cli, db, 1, "egorov may not add tasks: permission tasks.add is missing", "--as", "egorov", "task", "add",
            "X")
    ok(cli, "--as", "grigoriev", "task", "add", "X")
    refused(cli, db, 1, "--assignee: no person 'nobody'", "--as", "grigoriev", "task", "add", "Y", "--assignee",
            "nobody")
    refused(cli, db, 1, "egorov may not assign tasks", "--as", "egorov", "task", "assign", "T-1", "egorov")
    assert ok(cli, "--as", "grigoriev", "task", "assign", "T-1", "egorov") == "T-1 -> egorov\n"
    assert json.loads(ok(cli, "inbox", "egorov", "-f", "json"))[-1]["text"].startswith("T-1 «X» is yours")
    refused(cli, db, 2, "--status is one of todo, in_progress, done, cancelled", "task", "list", "--status", "open")


def test_project_hierarchy(cli, freshoffice) -> None:
    assert ok(cli, "--as", "grigoriev", "project", "create", "Клиенты / ООО Ромашка", "--for", "CL-1") == "P-2\n"
    assert ok(cli, "--as", "grigoriev", "project", "create", "Клиенты / ООО Лютик") == "P-3\n"  # Клиенты reused
    projects = json.loads(ok(cli, "project", "list", "-f", "json"))
    assert [(p["id"], p["title"], p["parent"], p["record"]) for p in projects] == [
        ("P-1", "Клиенты", None, None), ("P-2", "ООО Ромашка", "P-1", "CL-1"), ("P-3", "ООО Лютик", "P-1", None)]
    ok(cli, "--as", "grigoriev", "task", "add", "Позвонить", "--project", "P-2")
    assert [t["record"] for t in tasks_of(cli, "--project", "P-1")] == ["CL-1"]  # subprojects count
    shown = json.loads(ok(cli, "project", "show", "P-1", "-f", "json"))
    assert shown["subprojects"] == ["P-2", "P-3"] and len(shown["tasks"]) == 1


def test_client_card_shows_orders_payments_and_tasks(cli, example, snapshot) -> None:
    example("crm-orders")
    me = ("--as", "sergeeva")
    ok(cli, *me, "record", "create", "client", "--set", "name=ООО Альфа")
    ok(cli, *me, "record", "create", "deal", "--set", "title=Сайт", "--set", "client=CL-1", "--set", "amount=300000")
    for title, kind in (("Сайт", "website"), ("Визитки", "print")):
        ok(cli, *me, "record", "create", "order", "--set", f"title={title}", "--set", "deal=DL-1",
           "--set", f"order_type={kind}", "--set", "budget=100000", "--set", "due_date=2027-04-01",
           "--set", "specification=ТЗ")
    ok(cli, *me, "advance", "ORD-1", "--to", "planning")
    ok(cli, *me, "advance", "ORD-1", "--to", "website_production")
    ok(cli, *me, "record", "create", "payment", "--set", "deal=DL-1", "--set", "order=ORD-1",
       "--set", "amount=100000", "--set", "paid_on=2027-03-01")
    ok(cli, *me, "record", "create", "payment", "--set", "deal=DL-1", "--set", "amount=50000",
       "--set", "paid_on=2027-03-01")
    ok(cli, *me, "task", "add", "Позвонить клиенту", "--for", "DL-1", "--assignee", "sergeeva",
       "--due", "2027-02-28T18:00")
    ok(cli, "--as", "sergeeva", "task", "done", "T-1")
    card = json.loads(ok(cli, "record", "show", "DL-1", "-f", "json"))
    assert card["rollups"]["paid"] == "150000.00" and card["rollups"]["payments_count"] == 2
    assert card["fields"]["amount"] == "300000.00"
    orders = [(r["key"], r["tasks_done"], r["tasks"]) for r in card["related"] if r["form"] == "order"]
    assert orders[0][0] == "ORD-1" and orders[0][1] == 1 and orders[0][2] >= 5
    assert orders[1] == ("ORD-2", 0, 0)
    overdue = [t["id"] for t in card["tasks"] if t["overdue"]]
    assert overdue == [card["tasks"][-1]["id"]]
    assert ok(cli, "record", "show", "DL-1") == snapshot


def test_due_tasks_are_on_the_agenda(cli, freshoffice) -> None:
    ok(cli, "--as", "grigoriev", "task", "add", "Позвонить", "--assignee", "pavlova", "--due", "2027-02-28T18:00")
    ok(cli, "--as", "grigoriev", "task", "add", "Позже", "--assignee", "pavlova", "--due", "2027-03-20T18:00")
    items = json.loads(ok(cli, "agenda", "pavlova", "-f", "json"))
    assert [(i["kind"], i["id"], i["overdue"]) for i in items] == [("task", "task:T-1", True)]
    ok(cli, "--as", "pavlova", "task", "done", "T-1")
    assert json.loads(ok(cli, "agenda", "pavlova", "-f", "json")) == []
    assert [i["id"] for i in json.loads(ok(cli, "agenda", "pavlova", "--days", "30", "-f", "json"))] == ["task:T-2"]


def test_csv_keeps_negative_numbers_and_joins_lists(cli, freshoffice) -> None:
    from decimal import Decimal

    from crmctl.render.tables import as_csv

    text = as_csv([{"a": Decimal("-100.00"), "b": "-x", "c": ["T-1", "T-2"], "d": ["=1"]}],
                  [("a", "a"), ("b", "b"), ("c", "c"), ("d", "d")])
    assert text.splitlines()[1] == "-100.00,'-x,\"T-1, T-2\",'=1"
    ok(cli, "--as", "grigoriev", "task", "add", "A", "--estimate", "1h")
    ok(cli, "--as", "grigoriev", "task", "add", "B", "--depends-on", "T-1")
    rows = ok(cli, "task", "list", "-f", "csv").splitlines()
    assert rows[2].split(",")[rows[0].split(",").index("depends_on")] == "T-1"


def test_a_due_date_alone_means_the_end_of_that_day(cli, freshoffice) -> None:
    ok(cli, "--as", "grigoriev", "task", "add", "X", "--due", "2027-03-05")
    assert tasks_of(cli)[0]["due_at"] == "2027-03-05T23:59:00+03:00"
