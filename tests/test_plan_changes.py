"""Changing what was planned (issue 17 §1): task update, project update, each change in the history as
`field: before -> after`, and a project's priority bound to a field of its record, so that an urgent order
moves everyone's queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.domain.events import Event
from crmctl.render.records import describe_event

from .conftest import WIDE, ok
from .dbstate import dump, query


def refused(cli, db: Path, code: int, message: str, *args: str) -> None:
    before = dump(db)
    result = cli(*args)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert dump(db) == before


def order(cli, title: str, **values: str) -> str:
    """An order of DL-1 in production: its website project launched."""
    fields = {
        "title": title,
        "deal": "DL-1",
        "order_type": "website",
        "budget": "200000",
        "due_date": "2027-03-20",
        "specification": "ТЗ",
        **values,
    }
    key = ok(cli, "record", "create", "order", *[x for k, v in fields.items() for x in ("--set", f"{k}={v}")]).strip()
    ok(cli, "advance", key, "--to", "planning")
    ok(cli, "advance", key, "--to", "website_production")
    return key


@pytest.fixture
def orders(example, cli) -> Path:
    """crm-orders with a client, a deal and one order in production (P-1, tasks T-1..T-8), acting as sergeeva."""
    root = example("crm-orders")
    cli.actor = "sergeeva"
    ok(cli, "record", "create", "client", "--set", "name=ООО Альфа")
    ok(cli, "record", "create", "deal", "--set", "title=Сайт", "--set", "client=CL-1")
    order(cli, "Сайт компании")
    return root


MSK = "strftime(timezone('Europe/Moscow', due_at), '%Y-%m-%d %H:%M')"  # a due time as the workspace reads it


def db(root: Path) -> Path:
    return root / "crmctl.duckdb"


def test_task_update_changes_several_things_at_once_each_an_event(cli, orders, snapshot) -> None:
    out = ok(
        cli,
        "task",
        "update",
        "T-1",
        "--priority",
        "1",
        "--estimate",
        "5h",
        "--due",
        "2027-03-05",
        "--title",
        "Бриф",
        "--watcher",
        "kovalev",
        "--type",
        "research",
        "--subtype",
        "",
        "-d",
        "Подробно",
    )
    assert out == snapshot
    row = query(
        db(orders),
        f"SELECT title, priority, estimate_minutes, {MSK}, watchers, type, subtype, "
        "description FROM crm.tasks WHERE id = 'T-1'",
    )
    assert row == [("Бриф", 1, 300, "2027-03-05 23:59", ["kovalev"], "research", None, "Подробно")]
    assert ok(cli, "task", "update", "T-1", "--priority", "1") == "T-1: no changes\n"
    ok(cli, "task", "update", "T-1", "--no-watcher", "kovalev", "--due", "")
    changes = query(db(orders), "SELECT data->'changes' FROM crm.events WHERE action = 'task.updated' ORDER BY id")
    assert [json.loads(c) for (c,) in changes][1] == {
        "watchers": [["kovalev"], []],
        "due_at": ["2027-03-05T23:59:00+03:00", None],
    }
    history = ok(cli, "task", "show", "T-1", env=WIDE)
    assert "task.updated  T-1 title: Бриф и структура сайта: Сайт компании -> Бриф, description: ТЗ: " in history
    assert "task.updated  T-1 due_at: 2027-03-05 23:59 -> -, watchers: kovalev -> -" in history
    record = ok(cli, "record", "history", "ORD-1", "-f", "csv")  # CSV: the whole line, unclipped
    assert "priority: 2 -> 1, estimate_minutes: 240 -> 300, due_at: - -> 2027-03-05 23:59" in record
    assert "{" not in record


def test_task_update_json_holds_the_changes_and_the_task(cli, orders) -> None:
    data = json.loads(ok(cli, "task", "update", "T-2", "--priority", "4", "-f", "json"))
    assert data["id"] == "T-2" and data["changes"] == [{"field": "priority", "before": 2, "after": 4}]
    assert data["task"]["priority"] == 4 and data["task"]["id"] == "T-2"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("T-1", "--priority", "9"), 1, "--priority is 1 (highest) to 5, not 9"),
        (("T-1", "--estimate", "soon"), 1, "--estimate:"),
        (("T-1", "--due", "tomorrowish"), 2, "--due:"),
        (("T-1", "--title", "  "), 1, "a task needs a title"),
        (("T-1", "--watcher", "nobody"), 1, "nobody"),
        (("T-99", "--priority", "1"), 3, "no task T-99"),
        (("T-1",), 2, "nothing to change"),
    ],
)
def test_task_update_refuses_bad_input_and_changes_nothing(cli, orders, args, code, message) -> None:
    refused(cli, db(orders), code, message, "task", "update", *args)


def test_task_update_needs_the_permission_to_add_tasks(cli, orders) -> None:
    refused(
        cli,
        db(orders),
        1,
        "lisitsyna may not change tasks: permission tasks.add is missing",
        "--as",
        "lisitsyna",
        "task",
        "update",
        "T-3",
        "--priority",
        "1",
    )
    ok(cli, "--as", "pankratov", "task", "update", "T-3", "--priority", "1")  # a manager


def test_project_update_title_priority_due(cli, orders, snapshot) -> None:
    out = ok(cli, "project", "update", "P-1", "--priority", "1", "--due", "2027-03-30", "--title", "Сайт Альфы")
    assert out == snapshot
    assert query(db(orders), f"SELECT title, priority, {MSK} FROM crm.projects") == [
        ("Сайт Альфы", 1, "2027-03-30 23:59")
    ]
    shown = ok(cli, "project", "show", "P-1")
    assert "priority  1" in shown and "due       2027-03-30 23:59" in shown
    assert json.loads(ok(cli, "project", "show", "P-1", "-f", "json"))["due_at"] == "2027-03-30T23:59:00+03:00"
    history = ok(cli, "record", "history", "ORD-1", env=WIDE)
    assert (
        "project.updated   P-1 title: Сайт ORD-1: Сайт компании -> Сайт Альфы, priority: 2 -> 1, due_at: - -> "
        "2027-03-30 23:59" in history
    )
    refused(cli, db(orders), 1, "--priority is 1 (highest) to 5, not 0", "project", "update", "P-1", "--priority", "0")
    refused(cli, db(orders), 3, "no project P-7", "project", "update", "P-7", "--priority", "1")
    refused(cli, db(orders), 2, "nothing to change", "project", "update", "P-1")
    refused(
        cli,
        db(orders),
        1,
        "permission tasks.add is missing",
        "--as",
        "antonov",
        "project",
        "update",
        "P-1",
        "--priority",
        "3",
    )


def _queue(cli, person: str) -> list[str]:
    return [row["id"] for row in json.loads(ok(cli, "queue", person, "-f", "json"))]


def test_an_urgent_order_moves_everyones_queue(cli, orders) -> None:
    order(cli, "Лендинг")  # ORD-2: P-2, its brief T-9 for sergeeva after ORD-1's T-1
    assert _queue(cli, "sergeeva") == ["T-1", "T-9"]
    out = ok(cli, "record", "update", "ORD-2", "--set", "urgent=yes")
    assert out == "ORD-2 urgent: no -> yes\nP-2 priority: 2 -> 1\n"
    assert _queue(cli, "sergeeva") == ["T-9", "T-1"]
    assert query(db(orders), "SELECT id, priority FROM crm.projects ORDER BY id") == [("P-1", 2), ("P-2", 1)]
    history = ok(cli, "record", "history", "ORD-2", env=WIDE)
    assert "project.updated   P-2 priority: 2 -> 1 (ORD-2 urgent changed)" in history
    assert (
        ok(cli, "record", "update", "ORD-2", "--set", "urgent=no") == "ORD-2 urgent: yes -> no\nP-2 priority: 1 -> 2\n"
    )
    assert _queue(cli, "sergeeva") == ["T-1", "T-9"]
    ok(cli, "record", "update", "ORD-2", "--set", "budget=1")  # another field: the priority stays
    assert query(db(orders), "SELECT count(*) FROM crm.events WHERE action = 'project.updated'") == [(2,)]


def test_an_order_urgent_from_the_start_launches_a_first_priority_project(cli, orders) -> None:
    order(cli, "Срочный", urgent="yes")
    assert query(db(orders), "SELECT id, priority FROM crm.projects ORDER BY id") == [("P-1", 2), ("P-2", 1)]


def _bind(root: Path, binding: str) -> None:
    """Give orders a number field `priority` and bind the website template's project priority as told."""
    form = root / "forms" / "order.yaml"
    form.write_text(
        form.read_text(encoding="utf-8").replace(
            "  - id: urgent\n", "  - id: priority\n    type: number\n    label: Приоритет\n  - id: urgent\n"
        ),
        encoding="utf-8",
    )
    template = root / "templates" / "website-order.yaml"
    text = template.read_text(encoding="utf-8")
    start = text.index("  priority:\n    field: urgent")
    end = text.index("parameters:")
    template.write_text(text[:start] + binding + text[end:], encoding="utf-8")


def test_a_number_field_is_the_priority_itself(cli, orders) -> None:
    _bind(orders, "  priority: {field: priority, default: 3}\n")
    ok(cli, "--as", "kovalev", "apply")
    order(cli, "По приоритету")  # ORD-2, P-2: no priority given, the default
    assert query(db(orders), "SELECT priority FROM crm.projects WHERE id = 'P-2'") == [(3,)]
    assert (
        ok(cli, "record", "update", "ORD-2", "--set", "priority=1") == "ORD-2 priority: - -> 1\nP-2 priority: 3 -> 1\n"
    )
    assert ok(cli, "record", "update", "ORD-2", "--set", "priority=9").endswith("P-2 priority: 1 -> 3\n")  # not 1-5
    assert "P-2" not in ok(cli, "record", "update", "ORD-2", "--set", "priority=")  # empty: the default, 3 already


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        (
            "  priority: {field: urgnt, map: {'yes': 1}}\n",
            "templates/website-order.yaml:9:21: error R001 unknown field 'urgnt' (did you mean 'urgent'?)\n",
        ),
        (
            "  priority: {field: urgent}\n",
            "templates/website-order.yaml:9:21: error C501 field 'urgent' is bool, not a number: give a map from its "
            "values to priorities\n",
        ),
        (
            "  priority: {field: urgent, map: {'true': 1}}\n",
            "templates/website-order.yaml:9:35: error C502 'true' is not a value of bool field 'urgent' (values: yes, "
            "no)\n",
        ),
        ("  priority: {field: urgent, map: {'yes': 7}}\n", "S004"),
    ],
)
def test_a_binding_is_checked_with_its_place(cli, example, binding, expected) -> None:
    root = example("crm-orders")
    _bind(root, binding)
    result = cli("validate")
    assert result.exit_code == 1
    assert expected in result.stdout, result.stdout


def test_no_history_line_prints_a_python_dict() -> None:
    nested = {
        "task": "T-1",
        "project": "P-1",
        "changes": {"priority": [3, 1], "watchers": [["a"], []]},
        "source": "tasks.csv",
        "extra": {"inner": {"deep": 1}},
        "items": [{"a": 1}],
    }
    for event in Event:
        line = describe_event({"action": str(event), "data": nested})
        assert "{" not in line and "[" not in line, (event, line)
    line = describe_event(
        {"action": "task.updated", "data": {"task": "T-3", "changes": {"priority": [3, 1]}, "source": "tasks.csv"}}
    )
    assert line == "T-3 priority: 3 -> 1 (from tasks.csv)"
    assert describe_event({"action": "some.future", "data": {"a": {"b": 2}}}) == "a=(b=2)"
