"""Reports on a small fixed data set, checked against figures computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .browser import assert_not_blank, screenshot
from .conftest import WIDE, ok
from .dbstate import dump

BOSS = ("--as", "grigoriev")  # director: every permission


# (assignee, type, estimate, logged, finished at); the last one stays open
WORK = [
    ("pavlova", "design", "2h", "3h", "2027-03-02T12:00:00+03:00"),
    ("pavlova", "design", "1h", "30m", "2027-03-03T12:00:00+03:00"),
    ("tikhonov", "prepress", "1h", "1h", "2027-03-03T12:00:00+03:00"),
    ("tikhonov", "prepress", None, "2h", "2027-03-04T12:00:00+03:00"),
    ("pavlova", "design", "4h", "2h", "2027-03-09T12:00:00+03:00"),
    ("tikhonov", "prepress", "1h", "30m", None),
]
NOW = ("--now", "2027-03-10T12:00:00+03:00")


@pytest.fixture
def worked(example, cli) -> Path:
    root = example("freshoffice-templates")
    for n, (who, kind, estimate, logged, finished) in enumerate(WORK, start=1):
        extra = ["--estimate", estimate] if estimate else []
        ok(cli, *BOSS, "task", "add", f"Задача {n}", "--assignee", who, "--type", kind, *extra)
        at = (finished or "2027-03-10T12:00:00+03:00")[:10] + "T09:00"
        ok(cli, "--as", who, *NOW, "time", "log", f"T-{n}", logged, "--at", at)
        if finished:
            ok(cli, "--as", who, "--now", finished, "task", "done", f"T-{n}")
    return root


def efficiency(cli, *args: str) -> list[dict]:
    return json.loads(ok(cli, *BOSS, *NOW, "report", "efficiency", *args, "-f", "json"))


def test_efficiency_by_person(cli, worked) -> None:
    rows = {r["person"]: r for r in efficiency(cli)}
    assert rows["pavlova"] == {
        "person": "pavlova",
        "tasks": 3,
        "unestimated": 0,
        "estimated_hours": 7.0,
        "actual_hours": 5.5,
        "ratio": 1.27,
        "mean_hours": 1.83,
        "median_hours": 2.0,
        "p90_hours": 2.8,
    }
    # the task without an estimate is counted apart and kept out of the ratio
    assert rows["tikhonov"] == {
        "person": "tikhonov",
        "tasks": 2,
        "unestimated": 1,
        "estimated_hours": 1.0,
        "actual_hours": 1.0,
        "ratio": 1.0,
        "mean_hours": 1.5,
        "median_hours": 1.5,
        "p90_hours": 1.9,
    }


def test_efficiency_by_week_type_and_open_work(cli, worked) -> None:
    rows = efficiency(cli, "--by", "person", "--period", "week", "--person", "pavlova")
    assert [(r["period"], r["tasks"], r["estimated_hours"], r["actual_hours"], r["ratio"]) for r in rows] == [
        ("2027-W09", 2, 3.0, 3.5, 0.86),
        ("2027-W10", 1, 4.0, 2.0, 2.0),
    ]
    by_type = efficiency(cli, "--by", "type", "--period", "month")
    assert [(r["period"], r["type"], r["tasks"]) for r in by_type] == [
        ("2027-03", "design", 3),
        ("2027-03", "prepress", 2),
    ]
    both = efficiency(cli, "--by", "person,type")
    assert [(r["person"], r["type"]) for r in both] == [("pavlova", "design"), ("tikhonov", "prepress")]
    with_open = {r["person"]: r for r in efficiency(cli, "--include-open")}
    assert (with_open["tikhonov"]["tasks"], with_open["tikhonov"]["actual_hours"]) == (3, 1.5)
    window = efficiency(cli, "--from", "2027-03-03", "--to", "2027-03-04")
    assert [(r["person"], r["tasks"]) for r in window] == [("pavlova", 1), ("tikhonov", 1)]
    csv = ok(cli, *BOSS, *NOW, "report", "efficiency", "-f", "csv")
    assert csv.splitlines()[0] == (
        "person,tasks,unestimated,estimated_hours,actual_hours,ratio,mean_hours,median_hours,p90_hours"
    )


def test_efficiency_table(cli, worked, snapshot) -> None:
    report = ok(cli, *BOSS, *NOW, "report", "efficiency", "--by", "person,type", "--period", "week", env=WIDE)
    assert report == snapshot  # the words, not the fit to 100 columns


def test_report_mistakes(cli, worked) -> None:
    db = worked / "crmctl.duckdb"
    before = dump(db)
    cases = [
        (["report", "efficiency", "--from", "2027-03-05", "--to", "2027-03-01"], 1, "is not before --to"),
        (["report", "efficiency", "--person", "nobody"], 3, "no person 'nobody' in the team"),
        (["report", "efficiency", "--type", "painting"], 3, "no tasks of type 'painting' (types: design, prepress)"),
        (["report", "efficiency", "--by", "colour"], 2, "--by takes person, type, project, record, form or several"),
        (["report", "efficiency", "--period", "day"], 2, "--period takes week, month, quarter"),
        (["report", "efficiency", "--from", "tomorrow"], 2, "--from:"),
        (["report", "estimates", "--min-tasks", "0"], 2, "--min-tasks must be at least 1"),
        (["report", "funnel", "nope"], 3, "no process 'nope'"),
    ]
    for args, code, message in cases:
        result = cli(*BOSS, *NOW, *args)
        assert (result.exit_code, result.stderr.count("\n")) == (code, 1), (args, result.stderr)
        assert message in result.stderr, result.stderr
    denied = cli("--as", "egorov", "report", "efficiency")
    assert denied.exit_code == 1
    assert "egorov may not view reports: permission reports.view is missing" in denied.stderr
    empty = cli(*BOSS, *NOW, "report", "efficiency", "--from", "2026-01-01", "--to", "2026-02-01")
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "(none)\n", "crmctl: note: no finished tasks match\n")
    assert dump(db) == before


def test_estimate_revision(cli, worked) -> None:
    rows = {
        (r["type"], r["subtype"]): r
        for r in json.loads(ok(cli, *BOSS, "report", "estimates", "--min-tasks", "3", "-f", "json"))
    }
    design = rows[("design", "-")]
    assert (design["tasks"], design["median_minutes"], design["suggested_minutes"], design["enough"]) == (
        3,
        120.0,
        120,
        True,
    )
    assert (design["p25_minutes"], design["p75_minutes"]) == (75.0, 150.0)
    prepress = rows[("prepress", "-")]
    assert (prepress["tasks"], prepress["suggested_minutes"], prepress["enough"]) == (2, None, False)
    layout = rows[("design", "layout")]  # from the business-cards template, never done yet
    assert (layout["template_minutes"], layout["tasks"], layout["enough"]) == ([180], 0, False)
    table = ok(cli, *BOSS, "report", "estimates", "--min-tasks", "3", env=WIDE)  # the words, not the fit to 100 columns
    assert "too few tasks (2 < 3)" in table


def test_funnel(cli, example, snapshot) -> None:
    example("service-desk-leads")
    me = ("--as", "petrov")

    def at(hour: str) -> tuple[str, str]:
        return ("--now", f"2027-03-01T{hour}:00+03:00")

    keys = []
    for name in ("A", "B", "C"):
        keys.append(
            ok(
                cli,
                *me,
                *at("10:00"),
                "record",
                "create",
                "prospect",
                "--set",
                f"name={name}",
                "--set",
                "refusal_reason=price",
            ).strip()
        )
    a, b, c = keys
    ok(cli, *me, *at("12:00"), "advance", a, "--to", "choice")
    ok(cli, *me, *at("15:00"), "advance", a, "--to", "refused")
    ok(cli, *me, *at("11:00"), "advance", b, "--to", "refused")
    ok(cli, *me, *at("10:30"), "advance", c, "--to", "choice")
    ok(
        cli,
        *me,
        *at("11:00"),
        "record",
        "update",
        c,
        "--set",
        "manager=romanov",
        "--set",
        "invoice_number=1",
        "--set",
        "invoice_amount=100",
    )
    ok(cli, *me, *at("14:30"), "advance", c, "--to", "invoicing")
    rows = {
        r["stage"]: r
        for r in json.loads(ok(cli, "--as", "petrov", *at("16:00"), "report", "funnel", "interest", "-f", "json"))
    }
    new = rows["new"]
    assert (new["entered"], new["here"], new["median_hours"], new["p90_hours"]) == (3, 0, 1.0, 1.8)
    assert (new["next"], new["ended"], new["lost"]) == ({"choice": 2, "refused": 1}, {"refused": 2, "open": 1}, 2)
    choice = rows["choice"]
    assert (choice["entered"], choice["median_hours"], choice["p90_hours"]) == (2, 3.5, 3.9)
    assert (choice["next"], choice["ended"]) == ({"invoicing": 1, "refused": 1}, {"refused": 1, "open": 1})
    assert (rows["invoicing"]["here"], rows["invoicing"]["median_hours"]) == (1, None)
    assert (rows["refused"]["entered"], rows["refused"]["here"]) == (2, 2)
    assert ok(cli, "--as", "petrov", *at("16:00"), "report", "funnel", "interest", env=WIDE) == snapshot  # the words


@pytest.mark.slow  # headless Chromium
def test_efficiency_page_in_a_real_browser(cli, worked, tmp_path: Path) -> None:
    page = tmp_path / "efficiency.html"
    ok(cli, *BOSS, *NOW, "report", "efficiency", "--period", "week", "-f", "html", "--out", str(page))
    html = page.read_text()
    assert html.count('<svg class="chart"') == 2 and html.count("<polyline") == 4  # 2 people, 2 types
    assert "2027-W09" in html and "http" not in html.replace("http-equiv", "")
    assert_not_blank(screenshot(page, tmp_path, "1000,1400"))


def test_efficiency_by_project_record_and_form(cli, example) -> None:
    example("crm-orders")
    boss = chief_of(cli)
    ok(cli, "--as", boss, "record", "create", "client", "--set", "name=ООО Ромашка")
    ok(cli, "--as", boss, "project", "create", "Сайт")
    ok(cli, "--as", boss, "task", "add", "Макет", "--project", "P-1", "--for", "CL-1", "--estimate", "2h")
    ok(cli, "--as", boss, "task", "add", "Без проекта", "--estimate", "1h")
    for n, spent in ((1, "3h"), (2, "30m")):
        ok(cli, "--as", boss, *NOW, "time", "log", f"T-{n}", spent, "--at", f"2027-03-0{n + 3}T09:00")  # apart
        ok(cli, "--as", boss, *NOW, "task", "done", f"T-{n}")
    run = ("--as", boss, *NOW, "report", "efficiency", "-f", "json")
    by_project = json.loads(ok(cli, *run, "--by", "project"))
    assert [(r["project"], r["estimated_hours"], r["actual_hours"], r["ratio"]) for r in by_project] == [
        ("-", 1.0, 0.5, 2.0),
        ("P-1", 2.0, 3.0, 0.67),
    ]
    by_record = json.loads(ok(cli, *run, "--by", "record"))
    assert [(r["record"], r["tasks"]) for r in by_record] == [("-", 1), ("CL-1", 1)]
    both = json.loads(ok(cli, *run, "--by", "form,project"))
    assert [(r["form"], r["project"]) for r in both] == [("-", "-"), ("client", "P-1")]
    page = ok(cli, "--as", boss, *NOW, "report", "efficiency", "--by", "project", "-f", "html")
    assert "Each project&#39;s ratio" in page or "Each project's ratio" in page


def chief_of(cli) -> str:
    from tests.conftest import chief

    found = chief(Path.cwd())
    assert found is not None
    return found


def test_a_task_type_brings_its_default_estimate(cli, example) -> None:
    example("crm-orders")
    boss = chief_of(cli)
    made = json.loads(ok(cli, "--as", boss, "task", "add", "Макет", "--type", "design", "-f", "json"))
    assert made["estimate_minutes"] == 240  # design: 4h in crmctl.yaml
    given = json.loads(ok(cli, "--as", boss, "task", "add", "Макет", "--type", "design", "-e", "1h", "-f", "json"))
    assert given["estimate_minutes"] == 60
    other = json.loads(ok(cli, "--as", boss, "task", "add", "Печать", "--type", "printing", "-f", "json"))
    assert other["estimate_minutes"] is None
    for n in range(3, 6):  # three design tasks done in 2 hours each: the default of 4h is too much
        ok(cli, "--as", boss, "task", "add", f"Дизайн {n}", "--type", "design")
        ok(cli, "--as", boss, *NOW, "time", "log", f"T-{n + 1}", "2h", "--at", f"2027-03-0{n - 1}T09:00")  # apart
        ok(cli, "--as", boss, *NOW, "task", "done", f"T-{n + 1}")
    rows = {
        (r["type"], r["subtype"]): r
        for r in json.loads(ok(cli, "--as", boss, "report", "estimates", "--min-tasks", "3", "-f", "json"))
    }
    design = rows[("design", "-")]
    assert (design["default_minutes"], design["suggested_minutes"], design["update_default"]) == (240, 120, True)
    testing = rows[("testing", "-")]  # a default, but no task done yet
    assert (testing["default_minutes"], testing["tasks"], testing["update_default"]) == (240, 0, False)
    table = ok(cli, "--as", boss, "report", "estimates", "--min-tasks", "3", env=WIDE)
    assert "2h (update the default)" in table
