"""`crmctl export tjp` as TaskJuggler (tj3) reads it: accepted whatever the clock and the time zone, time off
counted in whole local days across daylight-saving changes, and the tasks crmctl cannot schedule left out
with everything that waits for them. Where tj3 schedules, every task ends at the minute `eta` says
(docs/scheduling.md, "TaskJuggler as a reference").

Each case is a workspace made through the CLI, exported with `--now`, scheduled by tj3 (one run per export,
about two dozen in this module) and compared with `eta --format json` at the same clock, rounded up to tj3's
5-minute slots (the one difference the docs describe for a clock between two slots). The work is kept to
what both schedulers must agree on: each person's tasks are a chain, efforts are whole 5-minute slots.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmctl.config.yamlload import load_file
from crmctl.render.tjp import task_id
from tests import tj3
from tests.conftest import Run, chief

pytestmark = pytest.mark.slow  # every test runs tj3 on its exports

SLOT = dt.timedelta(minutes=5)
HOUR = dt.timedelta(hours=1)
EXAMPLES = ["crm-orders", "freshoffice-templates", "pyrus-client-crm", "service-desk-leads"]


def workspace(
    root: Path,
    zone: str,
    hours: dict,
    holidays: Sequence[str] = (),
    absences: Sequence[dict] = (),
    people: Sequence[str] = ("anna", "boris", "vera"),
) -> Path:
    """A workspace in `zone` with one calendar and these people (the last has the absences)."""
    root.mkdir()
    # a horizon of 60 days: tj3's run time grows with the project's length
    (root / "crmctl.yaml").write_text(
        f"kind: Workspace\nname: tz\ntimezone: {zone}\ncalendar: office\nhorizon_days: 60\n"
    )
    calendar = {"kind": "Calendar", "name": "office", "timezone": zone, "hours": hours, "holidays": list(holidays)}
    (root / "calendars.yaml").write_text(json.dumps(calendar))  # JSON is YAML
    team = {
        "kind": "Team",
        "name": "staff",
        "roles": [{"id": "boss", "title": "Boss", "permissions": ["*"]}],
        "people": [
            {"id": who, "name": who.title(), "roles": ["boss"], "absences": list(absences) if who == people[-1] else []}
            for who in people
        ],
    }
    (root / "team.yaml").write_text(json.dumps(team))
    return root


def add_work(cli: Callable[..., Run], people: Sequence[str], efforts: Sequence[str]) -> str:
    """A project with a chain of tasks for each person, each task but the first of a person waiting for the
    previous one of theirs and, every other one, for a task of the person before; returns the project's id."""
    made = cli("project", "create", "Work")
    assert made.exit_code == 0, made.stderr
    project = made.stdout.split()[0]
    last: dict[str, str] = {}
    for n, effort in enumerate(efforts):
        person = people[n % len(people)]
        waits = [last[person]] if person in last else []
        other = people[(n - 1) % len(people)]
        if n % 2 and other in last and other != person:
            waits.append(last[other])
        args = ["task", "add", f"step {n}", "--project", project, "--assignee", person, "--estimate", effort]
        added = cli(*args, *[x for w in waits for x in ("--depends-on", w)])
        assert added.exit_code == 0, added.stderr
        last[person] = added.stdout.strip()
    return project


def eta(cli: Callable[..., Run], now: str, projects: Sequence[str]) -> dict[str, dict]:
    """Every task of these projects as `eta --format json` gives it at this clock, by task id."""
    found = {}
    for key in projects:
        result = cli("--now", now, "eta", key, "--format", "json")
        assert result.exit_code == 0, result.stderr
        found.update({t["id"]: t for t in json.loads(result.stdout)["tasks"]})
    return found


def export(cli: Callable[..., Run], folder: Path, now: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    result = cli("--now", now, "export", "tjp", "--out", str(folder / "plan.tjp"))
    assert result.exit_code == 0, result.stderr
    return (folder / "plan.tjp").read_text()


def on_slot(now: str) -> str:
    """The clock rounded up to tj3's 5-minute slots: the instant tj3 starts the work that waits for nothing."""
    moment = dt.datetime.fromisoformat(now)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (epoch + -((epoch - moment) // SLOT) * SLOT).astimezone(moment.tzinfo).isoformat()


def compare(cli: Callable[..., Run], folder: Path, now: str, zone: str, projects: Sequence[str]) -> dict[str, dict]:
    """Export at `now`, schedule with tj3, and check that every task crmctl can schedule ends where `eta` says
    (at the clock on tj3's slot) and that tj3 sees no other task. The tasks as eta gives them."""
    export(cli, folder, now)
    theirs = tj3.run(folder, "plan.tjp", "plan_schedule")
    ours = eta(cli, on_slot(now), projects)
    tz = ZoneInfo(zone)
    placed = {t["id"]: t for t in ours.values() if t["problem"] is None}
    assert placed, "nothing to compare"
    assert set(theirs) == {task_id(tid) for tid in placed}
    differences = []
    for tid, task in placed.items():
        mine = tuple(tj3.minute(dt.datetime.fromisoformat(task[k]), tz) for k in ("start", "finish"))
        if theirs[task_id(tid)] != mine:
            differences.append((tid, mine, theirs[task_id(tid)]))
    assert differences == []
    return ours


@pytest.fixture
def made(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """made(zone, hours, ...) -> the workspace, applied, as the current folder."""

    def make(zone: str, hours: dict, holidays: Sequence[str] = (), absences: Sequence[dict] = (), **more) -> Path:
        root = workspace(tmp_path / "ws", zone, hours, holidays, absences, **more)
        monkeypatch.chdir(root)
        result = cli("apply")
        assert result.exit_code == 0, result.stderr
        cli.actor = chief(root)
        return root

    return make


OFFICE = {"mon-fri": ["09:00-13:00", "14:00-18:00"]}
EFFORTS = ["95m", "3h", "6h40m", "25m", "2h", "7h", "45m", "1h5m", "4h"]


@pytest.mark.parametrize(
    ("zone", "clocks"),
    [
        # local whole hours that are not whole hours of UTC, a clock between slots, one on a slot
        ("Asia/Kolkata", ["2027-03-04T09:00:00+05:30", "2027-03-04T09:31:00+05:30", "2027-03-04T17:45:00+05:30"]),
        ("Asia/Kathmandu", ["2027-03-04T09:00:00+05:45", "2027-03-04T12:47:00+05:45"]),
        # the clock of the issue, given in another offset than the workspace's
        ("Europe/Moscow", ["2027-03-04T17:45:00+05:00", "2027-03-05T09:35:00+03:00"]),
    ],
)
def test_tj3_accepts_an_export_made_at_any_minute_in_any_zone(cli, made, tmp_path, zone, clocks) -> None:
    made(zone, OFFICE, holidays=["2027-03-08"])
    project = add_work(cli, ["anna", "boris", "vera"], EFFORTS)
    for n, now in enumerate(clocks):
        text = export(cli, tmp_path / f"at{n}", now)
        line = next(line for line in text.splitlines() if line.startswith("project "))
        begins = dt.datetime.strptime(line.split()[3], "%Y-%m-%d-%H:%M-%z")
        assert begins.timestamp() % 3600 == 0 and dt.timedelta(0) <= dt.datetime.fromisoformat(now) - begins < HOUR
        slot = f"{dt.datetime.fromisoformat(on_slot(now)).astimezone(ZoneInfo(zone)):%Y-%m-%d-%H:%M-%z}"
        assert f"  now {slot}\n" in text and f"  start {slot}\n" in text
        compare(cli, tmp_path / f"at{n}", now, zone, [project])


NIGHTS = {"mon-sun": ["00:00-02:00", "22:00-24:00"]}


@pytest.mark.parametrize(
    ("now", "holidays", "absences", "leave"),
    [
        # spring forward: 2027-03-28 has 23 hours; the holidays end at midnight of 03-29, not at 01:00
        ("2027-03-26T12:00:00+01:00", ["2027-03-27", "2027-03-28"], [], "leaves holiday 2027-03-27 - 2027-03-29"),
        # fall back: 2027-10-31 has 25 hours; vera's absence ends at midnight of 11-01, not at 23:00 the day before
        (
            "2027-10-29T12:00:00+02:00",
            [],
            [{"from": "2027-10-30", "to": "2027-10-31"}],
            "leaves annual 2027-10-30 - 2027-11-01",
        ),
    ],
)
def test_time_off_across_a_daylight_saving_change_is_whole_local_days(
    cli, made, tmp_path, now, holidays, absences, leave
) -> None:
    made("Europe/Berlin", NIGHTS, holidays=holidays, absences=absences)
    project = add_work(cli, ["anna", "vera"], ["3h", "2h", "1h", "4h", "3h", "2h"])
    ours = compare(cli, tmp_path / "plan", now, "Europe/Berlin", [project])
    assert f"  {leave}\n" in (tmp_path / "plan" / "plan.tjp").read_text()
    after = dt.date.fromisoformat(leave.split()[-1])  # the work goes on past the time off
    assert any(dt.datetime.fromisoformat(t["finish"]).date() > after for t in ours.values())


def test_tasks_waiting_for_what_crmctl_cannot_schedule_are_left_out_and_named(cli, made, tmp_path) -> None:
    made("Europe/Moscow", OFFICE)
    project = cli("project", "create", "Work").stdout.split()[0]

    def add(title: str, *args: str) -> str:
        result = cli("task", "add", title, "--project", project, *args)
        assert result.exit_code == 0, result.stderr
        return result.stdout.strip()

    unknown = add("no estimate", "--assignee", "anna")
    direct = add("after it", "--assignee", "boris", "--estimate", "1h", "--depends-on", unknown)
    indirect = add("after that", "--assignee", "vera", "--estimate", "2h", "--depends-on", direct)
    nobody = add("no assignee", "--estimate", "1h")
    waiting = add("after nobody's", "--assignee", "anna", "--estimate", "30m", "--depends-on", nobody)
    # tj3 would expand ${...} and $(...) even in a quoted name, and refuse the file
    free = add('pay ${amount} from $(ACCOUNT) "now" \\', "--assignee", "boris", "--estimate", "3h")
    done = add("done first", "--assignee", "vera", "--estimate", "1h")
    after_done = add("after a done one", "--assignee", "vera", "--estimate", "1h", "--depends-on", done)
    too_long = add("beyond the horizon", "--assignee", "anna", "--estimate", "600h")
    after_it = add("after that one", "--assignee", "boris", "--estimate", "1h", "--depends-on", too_long)
    assert cli("task", "done", done).exit_code == 0
    assert cli("time", "log", free, "50m").exit_code == 0  # 2h10m left
    now = "2027-03-01T10:00:00+03:00"
    ours = compare(cli, tmp_path / "plan", now, "Europe/Moscow", [project])
    left_out = [unknown, direct, indirect, nobody, waiting, too_long, after_it]
    assert {tid for tid, t in ours.items() if t["problem"]} == set(left_out)
    assert {tid for tid, t in ours.items() if not t["problem"]} == {free, after_done}
    text = (tmp_path / "plan" / "plan.tjp").read_text()
    header = [line.removeprefix("# ") for line in text.splitlines() if line.startswith("# ")]
    for tid in left_out:  # named as `eta TASK` names them
        reason = json.loads(cli("eta", tid, "--format", "json").stdout)["reason"]
        assert reason in header, (reason, header)
    assert f"{indirect} cannot be scheduled: it waits for {direct}, which cannot be scheduled" in header
    assert f"{too_long} cannot be scheduled: it would finish after the horizon (60 days)" in header
    assert ours[free]["remaining_minutes"] == 130
    for tid in left_out:
        assert f"task {task_id(tid)} " not in text


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_exports_what_tj3_accepts_and_agrees_with(cli, tmp_path, monkeypatch, name) -> None:
    root = tmp_path / name
    assert cli("init", str(root), "--example", name).exit_code == 0
    monkeypatch.chdir(root)
    cli.actor = chief(root)
    documents = [doc.data for path in sorted(root.rglob("*.yaml")) for doc in load_file(path).documents]
    people = [p["id"] for doc in documents if doc.get("kind") == "Team" for p in doc["people"]]
    project = add_work(cli, people, [EFFORTS[n % len(EFFORTS)] for n in range(2 * len(people) + 3)])
    nobody = cli("task", "add", "unassigned", "--project", project, "--estimate", "1h").stdout.strip()
    waits = cli(
        "task",
        "add",
        "waits",
        "--project",
        project,
        "--assignee",
        people[0],
        "--estimate",
        "1h",
        "--depends-on",
        nobody,
    )
    assert waits.exit_code == 0, waits.stderr
    clocks = [
        "2027-03-04T17:45:00+05:00",  # the clock
        "2027-04-29T12:31:00+03:00",  # between slots, before the May holidays
        "2027-12-28T16:05:00+03:00",  # before the new year holidays
    ]
    for n, now in enumerate(clocks):
        ours = compare(cli, tmp_path / f"at{n}", now, "Europe/Moscow", [project])
        assert {tid for tid, t in ours.items() if t["problem"]} >= {nobody, waits.stdout.strip()}


def test_people_whose_ids_differ_only_in_punctuation_stay_apart(cli, made, tmp_path) -> None:
    made("Europe/Moscow", OFFICE, people=["ann-a", "ann_a", "anna"])
    project = add_work(cli, ["ann-a", "ann_a", "anna"], ["2h", "3h", "1h", "4h"])
    compare(cli, tmp_path / "plan", "2027-03-01T10:00:00+03:00", "Europe/Moscow", [project])
    assert "resource p_ann_2d_a " in (tmp_path / "plan" / "plan.tjp").read_text()
