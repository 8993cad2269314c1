"""The schedule: when every open task starts and finishes, simulated from now (docs/scheduling.md).

Policy:
- Each person works their own queue, one task at a time, inside their working hours (their calendar,
  holidays and absences). The queue is ordered by the workspace's `queue_order` (default: project
  priority, task priority, hard due date, creation), with tasks in progress first.
- A task starts when its person is free and every open task it depends on has finished, whoever does it.
  When the first task of a queue is not ready, the person takes the first one that is: blocked work never
  holds a person idle while other queued work is ready.
- Work is not interrupted: a higher-priority task that becomes ready waits until the current one is
  finished. Remaining work is the estimate less the time already logged, never below zero.
- Done and cancelled tasks no longer hold anyone up.
- A task cannot be scheduled without an assignee or an estimate, inside a dependency cycle, when its
  person's calendar has no working time within the horizon, or after a task that cannot be; the reason
  says which. Tasks that would finish after the horizon are reported beyond it.

The cost is O((n + e) log n) for n tasks and e dependencies, plus the calendar walk of each task.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.worktime import NoWorkingTime, WorkCalendar

OPEN = ("todo", "in_progress")
FAR = dt.datetime.max.replace(tzinfo=dt.UTC)
DEFAULT_ORDER = ("project_priority", "priority", "due", "created")


@dataclass(slots=True)
class Slot:
    task: str
    person: str | None
    start: dt.datetime | None = None
    finish: dt.datetime | None = None
    remaining: int = 0
    reason: str = ""
    at_risk: bool = False
    problem: str | None = None  # why the task cannot be scheduled


@dataclass
class Schedule:
    slots: dict[str, Slot] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)  # person -> task ids in queue order

    def ready_date(self, task_ids: Sequence[str]) -> tuple[dt.datetime | None, str | None, list[str]]:
        """When the last of these tasks finishes, which task that is, and the tasks that cannot be scheduled."""
        latest: tuple[dt.datetime, str] | None = None
        problems = []
        for tid in task_ids:
            slot = self.slots.get(tid)
            if slot is None:
                continue
            if slot.problem:
                problems.append(tid)
            elif slot.finish is not None and (latest is None or slot.finish > latest[0]):
                latest = (slot.finish, tid)
        return (latest[0], latest[1], problems) if latest else (None, None, problems)


def queue_key(task: Mapping[str, Any], order: Sequence[str]) -> tuple:
    """Tasks in progress first, then the workspace's order, then the task number."""
    parts: list[Any] = [0 if task["status"] == "in_progress" else 1]
    for name in order:
        if name == "project_priority":
            parts.append(task.get("project_priority") or 3)
        elif name == "priority":
            parts.append(task.get("priority") or 3)
        elif name == "due":
            parts.append(task["due_at"] or FAR)
        elif name == "created":
            parts.append(task["created_at"])
    parts.append(task["number"])
    return tuple(parts)


def _off_reason(calendar: WorkCalendar, moment: dt.datetime) -> str:
    day = moment.astimezone(calendar.tz).date()
    return calendar.reason_off(day) or "outside working hours"


def build(
    tasks: Sequence[Mapping[str, Any]],
    calendar_of: Callable[[str], WorkCalendar],
    now: dt.datetime,
    *,
    order: Sequence[str] = DEFAULT_ORDER,
    horizon_days: int = 366,
) -> Schedule:
    """Simulate the open work of everyone. tasks: every task with id, number, status, assignee, estimate_minutes,
    actual_minutes, priority, project_priority, due_at, created_at and depends_on (ids)."""
    open_tasks = {t["id"]: t for t in tasks if t["status"] in OPEN}
    horizon = now + dt.timedelta(days=horizon_days)
    schedule = Schedule()
    slots = schedule.slots
    deps: dict[str, list[str]] = {}
    dependents: dict[str, list[str]] = {tid: [] for tid in open_tasks}
    for tid, task in open_tasks.items():
        deps[tid] = [d for d in task.get("depends_on") or () if d in open_tasks]
        for d in deps[tid]:
            dependents[d].append(tid)
        remaining = max(0, round((task["estimate_minutes"] or 0) - float(task.get("actual_minutes") or 0)))
        slots[tid] = Slot(tid, task["assignee"], remaining=remaining)
        if task["assignee"] is None:
            slots[tid].problem = "it has no assignee"
        elif task["estimate_minutes"] is None:
            slots[tid].problem = "it has no estimate"

    # Kahn's order finds the tasks caught in, or waiting on, a dependency cycle.
    waiting = {tid: len(deps[tid]) for tid in open_tasks}
    queue = [tid for tid, n in waiting.items() if n == 0]
    seen = 0
    pending = dict(waiting)
    while queue:
        tid = queue.pop()
        seen += 1
        for d in dependents[tid]:
            pending[d] -= 1
            if pending[d] == 0:
                queue.append(d)
    if seen < len(open_tasks):
        for tid, n in pending.items():
            if n > 0 and not slots[tid].problem:
                slots[tid].problem = "it is in, or waits for, a dependency cycle"

    # Problems travel down the chains.
    stack = [tid for tid, slot in slots.items() if slot.problem]
    while stack:
        tid = stack.pop()
        for d in dependents[tid]:
            if not slots[d].problem:
                slots[d].problem = f"it waits for {tid}, which cannot be scheduled"
                stack.append(d)

    keys = {tid: queue_key(open_tasks[tid], order) for tid in open_tasks}
    ranks: dict[str, int] = {}  # the position in queue order: cheap to compare in the heaps
    for tid in sorted(open_tasks, key=keys.__getitem__):
        ranks[tid] = len(ranks)
        person = open_tasks[tid]["assignee"]
        if person is not None:
            schedule.order.setdefault(person, []).append(tid)

    calendars: dict[str, WorkCalendar] = {}
    released: dict[str, list[tuple[dt.datetime, int, str]]] = {}
    available: dict[str, list[tuple[int, str]]] = {}
    free_at: dict[str, tuple[dt.datetime, str | None]] = {}  # when, after which task
    ready_at = {tid: (now, None) for tid in open_tasks}  # when, because of which dependency
    events: list[tuple[dt.datetime, str]] = []
    wake: dict[str, dt.datetime] = {}  # each person's next event; older entries in the heap are stale

    def wake_at(person: str, moment: dt.datetime) -> None:
        if person not in wake or moment < wake[person]:
            wake[person] = moment
            heapq.heappush(events, (moment, person))

    def release(tid: str) -> None:
        """The task's dependencies are all scheduled: its person may take it from ready_at on."""
        person = open_tasks[tid]["assignee"]
        at = ready_at[tid][0]
        heapq.heappush(released.setdefault(person, []), (at, ranks[tid], tid))
        wake_at(person, max(at, free_at.get(person, (now, None))[0]))

    for tid in open_tasks:
        if waiting[tid] == 0 and not slots[tid].problem:
            release(tid)

    while events:
        moment, person = heapq.heappop(events)
        if wake.get(person) != moment:
            continue  # stale: a sooner event of this person was taken already
        del wake[person]
        pool = released.get(person, [])
        ready = available.setdefault(person, [])
        while pool and pool[0][0] <= moment:
            _, rank, tid = heapq.heappop(pool)
            heapq.heappush(ready, (rank, tid))
        if not ready:
            if pool:
                wake_at(person, pool[0][0])
            continue
        _, tid = heapq.heappop(ready)
        slot = slots[tid]
        calendar = calendars.get(person) or calendars.setdefault(person, calendar_of(person))
        start: dt.datetime | None = None
        finish = FAR
        try:
            start = calendar.next_working(moment, horizon_days)
            finish = calendar.add(start, slot.remaining, horizon_days) if slot.remaining else start
        except NoWorkingTime:
            if start is None:
                slot.problem = f"{person} has no working time within {horizon_days} days"
            else:
                slot.problem = f"it would finish after the horizon ({horizon_days} days)"
                start = None
        if start is not None:
            slot.start, slot.finish = start, finish
            slot.reason = _reason(moment, start, ready_at[tid], free_at.get(person), now, person, calendar)
            due = open_tasks[tid]["due_at"]
            slot.at_risk = due is not None and finish > due
            if finish > horizon:
                slot.problem = f"it would finish after the horizon ({horizon_days} days)"
        free_at[person] = (finish if start is not None else moment, tid if start is not None else None)
        wake_at(person, free_at[person][0])
        for d in dependents[tid]:
            waiting[d] -= 1
            if slot.problem and not slots[d].problem:
                slots[d].problem = f"it waits for {tid}, which cannot be scheduled"
            if start is not None and finish >= ready_at[d][0]:
                ready_at[d] = (finish, tid)
            if waiting[d] == 0 and not slots[d].problem:
                release(d)
    return schedule


def _reason(
    moment: dt.datetime,
    start: dt.datetime,
    ready: tuple[dt.datetime, str | None],
    before: tuple[dt.datetime, str | None] | None,
    now: dt.datetime,
    person: str,
    calendar: WorkCalendar,
) -> str:
    if ready[1] is not None and ready[0] == moment:
        text = f"waits for {ready[1]}"
    elif before is not None and before[1] is not None and before[0] == moment:
        text = f"after {before[1]} in {person}'s queue"
    else:
        text = "can start now" if moment == now else "starts when ready"
    if start > moment:
        until = start.astimezone(now.tzinfo)
        text += f"; {person} is off ({_off_reason(calendar, moment)}) until {until:%Y-%m-%d %H:%M}"
    return text
