"""The schedule: when every open task starts and finishes, simulated from now (docs/scheduling.md).

Policy:
- Each person works their own queue, one task at a time, inside their working hours (their calendar,
  holidays and absences). The queue is ordered by the workspace's `queue_order` (default: project
  priority, task priority, hard due date, creation), with tasks in progress first.
- A task starts when its person is free and every open task it depends on has finished, whoever does it.
  When the first task of a queue is not ready, the person takes the first one that is: blocked work never
  holds a person idle while other queued work is ready.
- A task with a start bound (`start_after`: a template's date, `task update --start-after`) is not ready
  before it: its person starts it at the first working moment at or after the bound, and takes other ready
  work meanwhile.
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


def queue_key(task: Mapping[str, Any], order: Sequence[str]) -> tuple[Any, ...]:
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
    bound: int | None = None  # start_after: not ready before it
    bound_why: str | None = None  # where the bound comes from
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


def build(
    tasks: Sequence[Mapping[str, Any]],
    calendar_of: Callable[[str], WorkCalendar],
    now: dt.datetime,
    *,
    order: Sequence[str] = DEFAULT_ORDER,
    horizon_days: int = 366,
) -> Schedule:
    """Simulate the open work of everyone. tasks: every task with id, number, status, assignee, estimate_minutes,
    actual_minutes, priority, project_priority, due_at, created_at and depends_on (ids); start_after (and
    start_after_why, where it came from) where a task has a start bound."""
    schedule = Schedule()
    rows, places, people = _open_rows(tasks, order)
    work = _tasks(rows, places, people, schedule.order)
    unschedulable = [task for task in work if task.problem]
    _pass_problems_down(unschedulable, places)
    simulation = _Simulation(people, calendar_of, now, horizon_days)
    if simulation.run(work) < len(work):  # some tasks were never taken: those in, or waiting on, a cycle say so
        first = {task.rank for task in unschedulable}  # no assignee or no estimate: that reason comes first
        for task in _in_cycles(work):
            if task.rank not in first:
                task.problem = "it is in, or waits for, a dependency cycle"
    for task in work:
        schedule.slots[task.id] = _slot(task, simulation.tz)
    return schedule


# The simulation works on tasks in queue order and on instants in integer microseconds, not on dictionaries of
# ids and datetimes, which at 100,000 tasks cost more than the work itself. It reads what it needs of the rows
# once, in queue order: about the order it takes the tasks in, and the rows' own order when they come sorted.
def _open_rows(
    tasks: Sequence[Mapping[str, Any]], order: Sequence[str]
) -> tuple[list[Mapping[str, Any]], list[int], list[str]]:
    """The open rows, the places of those rows in queue order, and the sorted names of their people."""
    rows: list[Mapping[str, Any]] = []
    keys: list[tuple[Any, ...]] = []
    names: set[str | None] = set()
    for t in tasks:
        if t["status"] in OPEN:
            rows.append(t)
            keys.append(queue_key(t, order))
            names.add(t["assignee"])
    places = sorted(range(len(rows)), key=keys.__getitem__)  # the rows, in queue order
    return rows, places, sorted(name for name in names if name is not None)


def _tasks(
    rows: Sequence[Mapping[str, Any]], places: Sequence[int], people: Sequence[str], queues: dict[str, list[str]]
) -> list[_Task]:
    """The simulation's tasks in queue order, linked to the tasks that depend on them; each person's queue of
    task ids goes into queues."""
    place = {person: p for p, person in enumerate(people)}
    work: list[_Task] = []
    for j in places:
        t = rows[j]
        person, estimate = t["assignee"], t["estimate_minutes"]
        remaining = max(0, round((estimate or 0) - float(t.get("actual_minutes") or 0)))
        task = _Task(
            t["id"], person, place.get(person, -1), len(work), remaining, t["due_at"], t.get("depends_on") or ()
        )
        if t.get("start_after") is not None:
            task.bound, task.bound_why = to_us(t["start_after"]), t.get("start_after_why")
        if person is None:
            task.problem = "it has no assignee"
        else:
            queues.setdefault(person, []).append(t["id"])
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
    return work


def _pass_problems_down(unschedulable: Sequence[_Task], places: Sequence[int]) -> None:
    """Problems travel down the chains. A task in, or waiting on, a dependency cycle is never taken and holds
    up only tasks in the same plight: it gets its reason at the end, when some task was never taken, which
    saves a walk of the whole graph when nothing is wrong."""
    stack = sorted(unschedulable, key=lambda task: places[task.rank])  # in the rows' order
    while stack:
        task = stack.pop()
        for d in task.dependents:
            if not d.problem:
                d.problem = f"it waits for {task.id}, which cannot be scheduled"
                stack.append(d)


class _Simulation:
    """Everyone's work, event by event: whenever a person is free, they take the first ready task of their
    queue and keep at it, inside their working time, until it is finished. People are numbered by their place
    among the sorted names; each has a heap of released tasks (ready from, rank), a heap of the ranks of ready
    ones, and the instant they are next free."""

    __slots__ = (
        "available",
        "calendar_of",
        "events",
        "free_after",
        "free_at",
        "horizon_days",
        "horizon_us",
        "now",
        "people",
        "person_timelines",
        "released",
        "start_us",
        "timelines",
        "tz",
        "wake",
    )

    def __init__(
        self, people: Sequence[str], calendar_of: Callable[[str], WorkCalendar], now: dt.datetime, horizon_days: int
    ) -> None:
        self.people = people
        self.calendar_of = calendar_of
        self.now = now
        self.horizon_days = horizon_days
        self.start_us = to_us(now)
        self.horizon_us = to_us(now + dt.timedelta(days=horizon_days))
        tz = now.tzinfo
        assert tz is not None  # to_us refuses a naive instant
        self.tz: dt.tzinfo = tz
        self.timelines: dict[int, Timeline] = {}  # by id(calendar): people may share one calendar
        self.person_timelines: list[Timeline | None] = [None] * len(people)
        self.released: list[list[tuple[int, int]]] = [[] for _ in people]  # (ready from, rank)
        self.available: list[list[int]] = [[] for _ in people]  # ranks
        self.free_at = [self.start_us] * len(people)
        self.free_after: list[str | None] = [None] * len(people)  # the task they finish then
        self.events: list[tuple[int, int]] = []
        self.wake: list[int | None] = [None] * len(people)  # each one's next event; older ones in the heap are stale

    def run(self, work: Sequence[_Task]) -> int:
        """Schedule the tasks; how many were taken (those in, or waiting on, a dependency cycle never are)."""
        for task in work:
            task.ready_at = self.start_us if task.bound is None else max(self.start_us, task.bound)
            if task.waiting == 0 and not task.problem:
                self.release(task)
        taken = 0
        events, wake = self.events, self.wake
        while events:
            moment, p = heapq.heappop(events)
            if wake[p] != moment:
                continue  # stale: a sooner event of this person was taken already
            wake[p] = None
            rank = self._next_ready(p, moment)
            if rank is not None:
                taken += 1
                task = work[rank]
                self._take(task, p, moment)
                self._pass_on(task)
        return taken

    def wake_at(self, p: int, moment: int) -> None:
        wake = self.wake[p]
        if wake is None or moment < wake:
            self.wake[p] = moment
            heapq.heappush(self.events, (moment, p))

    def release(self, task: _Task) -> None:
        """The task's dependencies are all scheduled: its person may take it from ready_at on."""
        heapq.heappush(self.released[task.p], (task.ready_at, task.rank))
        self.wake_at(task.p, max(task.ready_at, self.free_at[task.p]))

    def _next_ready(self, p: int, moment: int) -> int | None:
        """The rank of the first task of p's queue ready at moment; or None, and p wakes when one is."""
        pool, ready = self.released[p], self.available[p]
        while pool and pool[0][0] <= moment:
            heapq.heappush(ready, heapq.heappop(pool)[1])
        if ready:
            return heapq.heappop(ready)
        if pool:
            self.wake_at(p, pool[0][0])
        return None

    def _timeline_of(self, p: int) -> Timeline:
        calendar = self.calendar_of(self.people[p])
        timeline = self.timelines.get(id(calendar)) or self.timelines.setdefault(
            id(calendar), Timeline(calendar, self.now)
        )
        self.person_timelines[p] = timeline
        return timeline

    def _take(self, task: _Task, p: int, moment: int) -> None:
        """p takes the task at moment: its start, finish and reason on p's timeline, or why it cannot be
        scheduled."""
        timeline = self.person_timelines[p] or self._timeline_of(p)
        start: int | None = None
        try:
            start = timeline.next_working(moment, self.horizon_days)
            finish = timeline.add(start, task.remaining, self.horizon_days) if task.remaining else start
        except NoWorkingTime:
            if start is None:
                task.problem = f"{self.people[p]} has no working time within {self.horizon_days} days"
            else:
                task.problem = f"it would finish after the horizon ({self.horizon_days} days)"
            self.free_at[p], self.free_after[p] = moment, None
        else:
            task.start, task.finish = start, finish
            task.reason = self._reason(task, timeline, p, moment, start)
            if finish > self.horizon_us:
                task.problem = f"it would finish after the horizon ({self.horizon_days} days)"
            self.free_at[p], self.free_after[p] = finish, task.id
        self.wake_at(p, self.free_at[p])

    def _reason(self, task: _Task, timeline: Timeline, p: int, moment: int, start: int) -> str:
        """Why the task starts when it does: what it waited for, and when its person is off until then."""
        if task.ready_after is not None and task.ready_at == moment:
            reason = f"waits for {task.ready_after}"
        elif task.bound is not None and task.bound == task.ready_at == moment:
            bound = f"not before {from_us(task.bound, self.tz):%Y-%m-%d %H:%M}"
            reason = f"{bound}: {task.bound_why}" if task.bound_why else bound
        elif self.free_after[p] is not None and self.free_at[p] == moment:
            reason = f"after {self.free_after[p]} in {self.people[p]}'s queue"
        else:
            reason = "can start now" if moment == self.start_us else "starts when ready"
        if start > moment:
            off = timeline.calendar.off_reason(from_us(moment, self.tz))
            reason += f"; {self.people[p]} is off ({off}) until {from_us(start, self.tz):%Y-%m-%d %H:%M}"
        return reason

    def _pass_on(self, task: _Task) -> None:
        """The task is taken: its dependents wait for one task fewer, and from its finish on."""
        scheduled = task.start is not None
        for d in task.dependents:
            d.waiting -= 1
            if task.problem and not d.problem:
                d.problem = f"it waits for {task.id}, which cannot be scheduled"
            if scheduled and task.finish >= d.ready_at:
                d.ready_at, d.ready_after = task.finish, task.id
            if d.waiting == 0 and not d.problem:
                self.release(d)


def _slot(task: _Task, tz: dt.tzinfo) -> Slot:
    slot = Slot(task.id, task.person, remaining=task.remaining, reason=task.reason, problem=task.problem)
    if task.start is not None:
        slot.start = from_us(task.start, tz)
        slot.finish = from_us(task.finish, tz) if task.finish != task.start else slot.start
        slot.at_risk = task.due is not None and slot.finish > task.due
    return slot
