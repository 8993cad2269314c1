"""Open work as a TaskJuggler project (tj3), the reference scheduler the schedule is compared with.

Each person becomes a resource with the working hours of their calendar and its holidays and their absences
as leaves (whole local days); each task the schedule could place becomes a task with its remaining effort
(rounded up to TaskJuggler's 5-minute resolution), its open dependencies, its start bound (start_after) as a
start where the bound is what holds it back, and a priority that keeps each person's queue order. Tasks the
schedule cannot place, and so every task waiting on them, are left out and named in the header comment with
crmctl's reason. The project starts on the whole hour at or before now (tj3
wants its start aligned to an hour) and the tasks that wait for nothing start at now, rounded up to the
resolution. The file ends with a CSV report of every task's start and end, so `tj3 crmctl.tjp` writes
crmctl_schedule.csv.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from crmctl.domain.schedule import DEFAULT_ORDER, Schedule, queue_key
from crmctl.domain.worktime import WorkCalendar, from_us, to_us

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RESOLUTION = 5  # minutes: the finest timingresolution tj3 accepts
HOUR = 60
TIMEFORMAT = "%Y-%m-%d %H:%M"  # of the times in the project and in its report


def task_id(tid: str) -> str:
    return "t" + re.sub(r"[^A-Za-z0-9_]", "_", tid.lower().removeprefix("t-"))


def resource_id(person: str) -> str:
    """A tj3 id of letters, digits and _ that no other person shares: each other character (and _ itself) is
    written as its code point in hex between two _, so ann-a, ann_a and анна stay apart."""
    return "p_" + re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group()):x}_", person)


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M-%z")


def aligned(moment: dt.datetime, minutes: int, *, up: bool) -> dt.datetime:
    """The instant on a multiple of `minutes` since the epoch at or before (or, with up, at or after) moment,
    as tj3 wants its dates: a zone with a :30 or :45 offset has its local whole hours off that grid."""
    step = minutes * 60_000_000
    us = to_us(moment)
    return from_us((-(-us // step) if up else us // step) * step, moment.tzinfo or dt.UTC)


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _text(value: str) -> str:
    """A quoted string as tj3 reads it: \\" is a quote and any other backslash is itself (so one at the end
    is kept off the closing quote by a space); ${name} (a macro) and $(NAME) (an environment variable) are
    expanded even inside quotes, and the file refused when there is no such thing, so a space parts a $ from
    what follows."""
    value = re.sub(r"\$(?=[{(])", "$ ", value.replace('"', '\\"').replace("\n", " "))
    return f'"{value} "' if value.endswith("\\") else f'"{value}"'


def _leaves(calendar: WorkCalendar) -> list[str]:
    """Days off as leaves of whole local days, consecutive days of one kind joined, the end date excluded:
    'leaves holiday 2027-03-08 - 2027-03-09'. A span of days counted in 24 hours would end an hour early or
    late across a daylight-saving change."""
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
        lines.append(f"  leaves {kind} {days[i].isoformat()} - {(days[j] + dt.timedelta(days=1)).isoformat()}")
        i = j + 1
    return lines


def project(
    tasks: Sequence[Mapping[str, Any]],
    calendars: Mapping[str, WorkCalendar],
    schedule: Schedule,
    now: dt.datetime,
    *,
    timezone: str,
    horizon_days: int = 366,
    order: Sequence[str] = DEFAULT_ORDER,
    title: str = "crmctl",
    report: str = "crmctl_schedule",
    resolution: int = RESOLUTION,
) -> str:
    """The .tjp text. tasks: open work rows (id, title, assignee, depends_on, status, priority, project_priority,
    due_at, created_at, number); schedule: crmctl's schedule of them (domain.schedule.build), which says what
    is left of each task and which tasks cannot be scheduled; calendars: the assignee of each task it placed."""
    left_out = [(t["id"], schedule.slots[t["id"]].problem) for t in tasks if schedule.slots[t["id"]].problem]
    exported = {t["id"] for t in tasks} - {tid for tid, _ in left_out}
    start = aligned(now, resolution, up=True)
    out = [f"# crmctl's open work at {now:%Y-%m-%d %H:%M %z}, for TaskJuggler: tj3 FILE"]
    if left_out:
        out.append("# left out, as crmctl cannot schedule them (and so neither the tasks that wait for them):")
        out.extend(f"# {tid} cannot be scheduled: {problem}" for tid, problem in left_out)
    out += [
        # the project's start is read before timingresolution, at the default of an hour; its end leaves a day
        # beyond crmctl's horizon for TaskJuggler's rounding up to its slots
        f"project crm {_text(title)} {_when(aligned(now, HOUR, up=False))} +{horizon_days + 1}d {{",
        f"  timezone {_text(timezone)}",
        f"  timingresolution {resolution}min",
        f"  now {_when(start)}",
        f'  timeformat "{TIMEFORMAT}"',
        "}",
        "",
    ]
    out.extend(_resources(calendars))
    out.extend(_tasks(tasks, exported, schedule, order, resolution, start))
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


def _resources(calendars: Mapping[str, WorkCalendar]) -> list[str]:
    """A resource per person, with their working hours and leaves."""
    out = []
    for person in sorted(calendars):
        calendar = calendars[person]
        out.append(f"resource {resource_id(person)} {_text(person)} {{")
        for day, name in enumerate(DAYS):
            hours = calendar.week.get(day, ())
            spans = ", ".join(f"{_clock(a)} - {_clock(b)}" for a, b in hours) if hours else "off"
            out.append(f"  workinghours {name} {spans}")
        out.extend(_leaves(calendar))
        out.append("}")
    return [*out, ""]


def _tasks(
    tasks: Sequence[Mapping[str, Any]],
    exported: set[str],
    schedule: Schedule,
    order: Sequence[str],
    resolution: int,
    start: dt.datetime,
) -> list[str]:
    """A task per exported task, in each person's queue order (its priority), with what is left of it."""
    queues: dict[str, list[Mapping[str, Any]]] = {}
    for task in tasks:
        if task["id"] in exported:
            queues.setdefault(task["assignee"], []).append(task)
    out = []
    for person, queue in sorted(queues.items()):
        for position, task in enumerate(sorted(queue, key=lambda t: queue_key(t, order))):
            remaining = schedule.slots[task["id"]].remaining
            effort = max(resolution, -(-remaining // resolution) * resolution)
            lines = [
                f"task {task_id(task['id'])} {_text(task['id'] + ' ' + task['title'])} {{",
                f"  effort {effort}min",
                f"  allocate {resource_id(person)}",
                f"  priority {max(1, 1000 - position)}",
            ]
            deps = [d for d in task.get("depends_on") or () if d in exported]
            if deps:
                lines.append(f"  depends {', '.join(task_id(d) for d in deps)}")
            bound = _bound(task, deps, schedule, resolution, start)
            if bound is not None or not deps:
                lines.append(f"  start {_when(bound or start)}")
            out.extend([*lines, "}"])
    return out


def _bound(
    task: Mapping[str, Any], deps: Sequence[str], schedule: Schedule, resolution: int, start: dt.datetime
) -> dt.datetime | None:
    """A task's start bound (start_after) as tj3's start, rounded up to its resolution: where the bound is what
    holds the task back, at or after the project's now and the finish of everything it depends on. tj3 refuses a
    start before a dependency's end, and such a bound holds nothing back anyway."""
    bound = task.get("start_after")
    if bound is None:
        return None
    bound = aligned(bound, resolution, up=True)
    finishes = [schedule.slots[d].finish for d in deps]
    if bound <= start or any(f is None or f > bound for f in finishes):
        return None
    return bound


def read_report(text: str) -> dict[str, tuple[str, str]]:
    """What tj3 wrote to the project's CSV report: each task's id (as task_id gives it) -> its start and end,
    as TIMEFORMAT in the project's time zone."""
    import csv
    import io

    return {row["Id"]: (row["Start"], row["End"]) for row in csv.DictReader(io.StringIO(text), delimiter=";")}


def minute(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """An instant as the report writes it: TIMEFORMAT in the project's time zone."""
    return moment.astimezone(tz).strftime(TIMEFORMAT)
