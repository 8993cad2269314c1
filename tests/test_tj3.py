"""The schedule against TaskJuggler (tj3), a scheduler no one here wrote, on generated scenarios.

The generator keeps to scenarios where both must agree to the minute: TaskJuggler may split a task around
higher-priority work that becomes ready later, and crmctl never interrupts work (docs/scheduling.md), so
each person's work is either a chain of their own tasks (any dependencies on other people's tasks) or a set
of tasks with no dependencies and distinct priorities. Efforts and working hours are whole quarters of an hour,
so TaskJuggler can count in 15-minute slots. All scenarios go into one project with their own people, and tj3
schedules them in one run.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmctl.domain.schedule import build
from crmctl.domain.worktime import WorkCalendar
from crmctl.render.tjp import project, task_id
from tests import tj3

pytestmark = pytest.mark.slow  # 220 scenarios scheduled by tj3

TZ = "Europe/Moscow"
NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo(TZ))
SCENARIOS = 220
HORIZON = 75  # days; the longest generated scenario ends well before
HOURS = [
    {"mon-fri": ["09:00-13:00", "14:00-18:00"]},
    {"mon-thu": ["08:00-12:00", "12:30-17:00"], "fri": ["08:00-14:00"]},
    {"tue-sat": ["10:00-14:00", "15:00-19:00"]},
    {"mon-fri": ["09:00-11:00", "11:15-13:00", "14:00-16:30"]},
]


def scenario(k: int, rng: random.Random) -> tuple[list[dict], dict[str, WorkCalendar]]:
    doc = {
        "name": f"c{k}",
        "timezone": TZ,
        "hours": rng.choice(HOURS),
        "holidays": sorted(
            {(NOW.date() + dt.timedelta(days=rng.randrange(1, 21))).isoformat() for _ in range(rng.randrange(0, 3))}
        ),
    }
    people = [f"s{k}_p{i}" for i in range(rng.randrange(2, 6))]
    calendars = {}
    for person in people:
        absences = []
        if rng.random() < 0.4:
            start = NOW.date() + dt.timedelta(days=rng.randrange(0, 15))
            end = start + dt.timedelta(days=rng.randrange(0, 5))
            absences.append({"from": start.isoformat(), "to": end.isoformat()})
        calendars[person] = WorkCalendar.from_definition(doc, TZ, absences)
    tasks: list[dict] = []
    chained = {p: rng.random() < 0.7 for p in people}
    for person in people:
        count = rng.randrange(1, 5)
        priorities = rng.sample(range(1, 6), count)
        previous = None
        for n in range(count):
            number = len(tasks) + 1
            deps = []
            if chained[person]:
                if previous:
                    deps.append(previous)
                others = [t["id"] for t in tasks if t["assignee"] != person and chained[t["assignee"]]]
                if others and rng.random() < 0.6:
                    deps.append(rng.choice(others))
            tasks.append(
                {
                    "id": f"T-{k}_{number}",
                    "number": number,
                    "title": f"{person} #{n}",
                    "status": "todo",
                    "assignee": person,
                    "estimate_minutes": 15 * rng.randrange(1, 41),
                    "actual_minutes": 0,
                    "priority": priorities[n] if not chained[person] else 3,
                    "project_priority": None,
                    "due_at": None,
                    "created_at": NOW,
                    "depends_on": deps,
                }
            )
            previous = tasks[-1]["id"]
    return tasks, calendars


def test_schedule_agrees_with_taskjuggler(tmp_path: Path) -> None:
    tj3.tj3()
    rng = random.Random(20271101)
    tasks: list[dict] = []
    calendars: dict[str, WorkCalendar] = {}
    for k in range(SCENARIOS):
        more, cals = scenario(k, rng)
        tasks += more
        calendars.update(cals)
    ours = build(tasks, calendars.__getitem__, NOW, horizon_days=HORIZON)
    text = project(tasks, calendars, ours, NOW, timezone=TZ, horizon_days=HORIZON, report="out", resolution=15)
    (tmp_path / "all.tjp").write_text(text)
    theirs = tj3.run(tmp_path, "all.tjp", "out")
    differences = []
    for task in tasks:
        slot = ours.slots[task["id"]]
        assert slot.problem is None, (task["id"], slot.problem)
        mine = (tj3.minute(slot.start, NOW.tzinfo), tj3.minute(slot.finish, NOW.tzinfo))
        if theirs[task_id(task["id"])] != mine:
            differences.append((task["id"], mine, theirs[task_id(task["id"])]))
    assert len(tasks) > 1000
    assert differences == []
