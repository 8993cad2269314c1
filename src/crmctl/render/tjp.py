"""Open work as a TaskJuggler project (tj3), the reference scheduler the schedule is compared with.

Each person becomes a resource with the working hours of their calendar and its holidays and their absences
as leaves; each open task with an assignee and an estimate becomes a task with its remaining effort (rounded
up to TaskJuggler's 5-minute resolution), its open dependencies, and a priority that keeps each person's
queue order. The file ends with a CSV report of every task's start and end, so `tj3 crmctl.tjp` writes
crmctl_schedule.csv.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from crmctl.domain.schedule import DEFAULT_ORDER, queue_key
from crmctl.domain.worktime import WorkCalendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RESOLUTION = 5
TIMEFORMAT = "%Y-%m-%d %H:%M"  # of the times in the project and in its report


def task_id(tid: str) -> str:
    return "t" + re.sub(r"[^A-Za-z0-9_]", "_", tid.lower().removeprefix("t-"))


def resource_id(person: str) -> str:
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", person)


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M-%z")


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _leaves(calendar: WorkCalendar) -> list[str]:
    """Days off as leaves, consecutive days of one kind joined: 'leaves holiday 2027-03-08 +1d'."""
    lines = []
    days = sorted(calendar.reasons)
    i = 0
    while i < len(days):
        kind = "annual" if calendar.reasons[days[i]].startswith("absence") else "holiday"
        j = i
        while (
            j + 1 < len(days)
            and days[j + 1] - days[j] == dt.timedelta(days=1)
            and ("annual" if calendar.reasons[days[j + 1]].startswith("absence") else "holiday") == kind
        ):
            j += 1
        lines.append(f"  leaves {kind} {days[i].isoformat()} +{j - i + 1}d")
        i = j + 1
    return lines


def project(
    tasks: Sequence[Mapping[str, Any]],
    calendars: Mapping[str, WorkCalendar],
    now: dt.datetime,
    *,
    timezone: str,
    horizon_days: int = 366,
    order: Sequence[str] = DEFAULT_ORDER,
    title: str = "crmctl",
    report: str = "crmctl_schedule",
    resolution: int = RESOLUTION,
) -> str:
    """The .tjp text. tasks: open work rows (id, title, assignee, estimate_minutes, actual_minutes, depends_on,
    status, priority, project_priority, due_at, created_at, number); calendars: each assignee's calendar."""
    open_ids = {t["id"] for t in tasks}
    out = [
        f"project crm {_text(title)} {_when(now)} +{horizon_days}d {{",
        f"  timezone {_text(timezone)}",
        f"  timingresolution {resolution}min",
        f"  now {_when(now)}",
        f'  timeformat "{TIMEFORMAT}"',
        "}",
        "",
    ]
    for person in sorted(calendars):
        calendar = calendars[person]
        out.append(f"resource {resource_id(person)} {_text(person)} {{")
        for day, name in enumerate(DAYS):
            hours = calendar.week.get(day, ())
            spans = ", ".join(f"{_clock(a)} - {_clock(b)}" for a, b in hours) if hours else "off"
            out.append(f"  workinghours {name} {spans}")
        out.extend(_leaves(calendar))
        out.append("}")
    out.append("")
    queues: dict[str, list[Mapping[str, Any]]] = {}
    skipped = []
    for task in tasks:
        if task["assignee"] is None or task["estimate_minutes"] is None or task["assignee"] not in calendars:
            skipped.append(task["id"])
            continue
        queues.setdefault(task["assignee"], []).append(task)
    for person, queue in sorted(queues.items()):
        for position, task in enumerate(sorted(queue, key=lambda t: queue_key(t, order))):
            remaining = max(0, (task["estimate_minutes"] or 0) - float(task.get("actual_minutes") or 0))
            effort = max(resolution, -(-round(remaining) // resolution) * resolution)
            lines = [
                f"task {task_id(task['id'])} {_text(task['id'] + ' ' + task['title'])} {{",
                f"  effort {effort}min",
                f"  allocate {resource_id(person)}",
                f"  priority {max(1, 1000 - position)}",
            ]
            deps = [task_id(d) for d in task.get("depends_on") or () if d in open_ids and d not in skipped]
            if deps:
                lines.append(f"  depends {', '.join(deps)}")
            out.extend([*lines, "}"])
    if skipped:
        out.append(f"# left out (no assignee or no estimate): {', '.join(skipped)}")
    out += [
        "",
        f"taskreport {re.sub(r'[^A-Za-z0-9_]', '_', report)} {_text(report)} {{",
        "  formats csv",
        "  columns id, start, end",
        f'  timeformat "{TIMEFORMAT}"',
        "}",
        "",
    ]
    return "\n".join(out)


def read_report(text: str) -> dict[str, tuple[str, str]]:
    """What tj3 wrote to the project's CSV report: each task's id (as task_id gives it) -> its start and end,
    as TIMEFORMAT in the project's time zone."""
    import csv
    import io

    return {row["Id"]: (row["Start"], row["End"]) for row in csv.DictReader(io.StringIO(text), delimiter=";")}


def minute(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """An instant as the report writes it: TIMEFORMAT in the project's time zone."""
    return moment.astimezone(tz).strftime(TIMEFORMAT)
