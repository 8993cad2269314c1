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

The cost is O((n + e) log n) for n tasks and e dependencies: a task's place on its person's calendar is a
binary search in the working intervals laid out so far (worktime.Timeline). Instants are compared as
microseconds since the epoch, so two instants of the hour that a daylight-saving change repeats are told apart.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.worktime import NoWorkingTime, Timeline, WorkCalendar, from_us, to_us

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


@dataclass(slots=True, eq=False)
class _Task:
    """A task as the simulation sees it, with instants in microseconds since the epoch; its Slot is made at
    the end."""

    id: str
    person: str | None
    p: int  # its person's place among the sorted names
    rank: int  # its place in the queue order of everyone: what the heaps compare
    remaining: int
    due: dt.datetime | None
    depends_on: Sequence[str]  # ids, as the row has them
    problem: str | None = None
    waiting: int = 0  # open dependencies not yet scheduled
    ready_at: int = 0  # when the last of them finishes
    ready_after: str | None = None  # which one that is, by id: tasks that refer to each other both ways would
    # be reference cycles, left to the garbage collector
    dependents: list[_Task] = field(default_factory=list)  # in the rows' order
    start: int | None = None
    finish: int = 0
    reason: str = ""


def _in_cycles(work: Sequence[_Task]) -> list[_Task]:
    """The tasks that Kahn's order never reaches: those in, or waiting on, a dependency cycle."""
    pending = [0] * len(work)
    for task in work:
        for d in task.dependents:
            pending[d.rank] += 1
    stack = [task for task in work if pending[task.rank] == 0]
    while stack:
        for d in stack.pop().dependents:
            pending[d.rank] -= 1
            if pending[d.rank] == 0:
                stack.append(d)
    return [task for task in work if pending[task.rank] > 0]


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
    horizon = now + dt.timedelta(days=horizon_days)
    schedule = Schedule()

    # The simulation works on tasks in queue order and on instants in integer microseconds, not on
    # dictionaries of ids and datetimes, which at 100,000 tasks cost more than the work itself. It reads what
    # it needs of the rows once, in queue order: about the order it takes the tasks in, and the rows' own
    # order when they come sorted.
    rows, keys, names = [], [], set()
    for t in tasks:
        if t["status"] in OPEN:
            rows.append(t)
            keys.append(queue_key(t, order))
            names.add(t["assignee"])
    places = sorted(range(len(rows)), key=keys.__getitem__)  # the rows, in queue order
    people = sorted(names - {None})
    place = {person: p for p, person in enumerate(people)}
    work: list[_Task] = []
    for j in places:
        t = rows[j]
        person, estimate = t["assignee"], t["estimate_minutes"]
        remaining = max(0, round((estimate or 0) - float(t.get("actual_minutes") or 0)))
        task = _Task(
            t["id"], person, place.get(person, -1), len(work), remaining, t["due_at"], t.get("depends_on") or ()
        )
        if person is None:
            task.problem = "it has no assignee"
        else:
            schedule.order.setdefault(person, []).append(t["id"])
            if estimate is None:
                task.problem = "it has no estimate"
        work.append(task)
    by_id = {task.id: task for task in work}
    rank_of = [0] * len(rows)  # the rank of each row
    for rank, j in enumerate(places):
        rank_of[j] = rank
    for rank in rank_of:  # the tasks in the rows' order
        task = work[rank]
        for d in task.depends_on:
            if (dependency := by_id.get(d)) is not None:
                task.waiting += 1
                dependency.dependents.append(task)
    unschedulable = [task for task in work if task.problem]

    # Problems travel down the chains. A task in, or waiting on, a dependency cycle is never taken and holds
    # up only tasks in the same plight: it gets its reason at the end, when some task was never taken, which
    # saves a walk of the whole graph when nothing is wrong.
    stack = sorted(unschedulable, key=lambda task: places[task.rank])  # in the rows' order
    while stack:
        task = stack.pop()
        for d in task.dependents:
            if not d.problem:
                d.problem = f"it waits for {task.id}, which cannot be scheduled"
                stack.append(d)

    start_us, horizon_us = to_us(now), to_us(horizon)
    timelines: dict[int, Timeline] = {}  # by id(calendar): people may share one calendar
    person_timelines: list[Timeline | None] = [None] * len(people)
    released: list[list[tuple[int, int]]] = [[] for _ in people]  # (ready from, rank)
    available: list[list[int]] = [[] for _ in people]  # ranks
    free_at = [start_us] * len(people)
    free_after: list[str | None] = [None] * len(people)  # the task they finish then
    events: list[tuple[int, int]] = []
    wake: list[int | None] = [None] * len(people)  # each person's next event; older entries in the heap are stale

    def wake_at(p: int, moment: int) -> None:
        if wake[p] is None or moment < wake[p]:
            wake[p] = moment
            heapq.heappush(events, (moment, p))

    def release(task: _Task) -> None:
        """The task's dependencies are all scheduled: its person may take it from ready_at on."""
        heapq.heappush(released[task.p], (task.ready_at, task.rank))
        wake_at(task.p, max(task.ready_at, free_at[task.p]))

    def timeline_of(p: int) -> Timeline:
        calendar = calendar_of(people[p])
        timeline = timelines.get(id(calendar)) or timelines.setdefault(id(calendar), Timeline(calendar, now))
        person_timelines[p] = timeline
        return timeline

    for task in work:
        task.ready_at = start_us
        if task.waiting == 0 and not task.problem:
            release(task)
    taken = 0
    while events:
        moment, p = heapq.heappop(events)
        if wake[p] != moment:
            continue  # stale: a sooner event of this person was taken already
        wake[p] = None
        pool, ready = released[p], available[p]
        while pool and pool[0][0] <= moment:
            heapq.heappush(ready, heapq.heappop(pool)[1])
        if not ready:
            if pool:
                wake_at(p, pool[0][0])
            continue
        task = work[heapq.heappop(ready)]
        taken += 1
        timeline = person_timelines[p] or timeline_of(p)
        start: int | None = None
        finish = 0
        try:
            start = timeline.next_working(moment, horizon_days)
            finish = timeline.add(start, task.remaining, horizon_days) if task.remaining else start
        except NoWorkingTime:
            if start is None:
                task.problem = f"{people[p]} has no working time within {horizon_days} days"
            else:
                task.problem = f"it would finish after the horizon ({horizon_days} days)"
                start = None
        if start is not None:
            task.start, task.finish = start, finish
            if task.ready_after is not None and task.ready_at == moment:
                task.reason = f"waits for {task.ready_after}"
            elif free_after[p] is not None and free_at[p] == moment:
                task.reason = f"after {free_after[p]} in {people[p]}'s queue"
            else:
                task.reason = "can start now" if moment == start_us else "starts when ready"
            if start > moment:
                off = _off_reason(timeline.calendar, from_us(moment, now.tzinfo))
                task.reason += f"; {people[p]} is off ({off}) until {from_us(start, now.tzinfo):%Y-%m-%d %H:%M}"
            if finish > horizon_us:
                task.problem = f"it would finish after the horizon ({horizon_days} days)"
            free_at[p], free_after[p] = finish, task.id
        else:
            free_at[p], free_after[p] = moment, None
        wake_at(p, free_at[p])
        for d in task.dependents:
            d.waiting -= 1
            if task.problem and not d.problem:
                d.problem = f"it waits for {task.id}, which cannot be scheduled"
            if start is not None and finish >= d.ready_at:
                d.ready_at, d.ready_after = finish, task.id
            if d.waiting == 0 and not d.problem:
                release(d)
    if taken < len(work):  # some tasks were never taken: those in, or waiting on, a dependency cycle say so
        first = {task.rank for task in unschedulable}  # no assignee or no estimate: that reason comes first
        for task in _in_cycles(work):
            if task.rank not in first:
                task.problem = "it is in, or waits for, a dependency cycle"
    for task in work:
        slot = Slot(task.id, task.person, remaining=task.remaining, reason=task.reason, problem=task.problem)
        if task.start is not None:
            slot.start = from_us(task.start, now.tzinfo)
            slot.finish = from_us(task.finish, now.tzinfo) if task.finish != task.start else slot.start
            slot.at_risk = task.due is not None and slot.finish > task.due
        schedule.slots[task.id] = slot
    return schedule
