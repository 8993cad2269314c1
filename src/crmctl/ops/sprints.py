"""Sprints (the 1C Service Desk's time boxes): a named span of days and the tasks planned into it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.shapes import column
from crmctl.domain.values import parse_date
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.lookups import get_task
from crmctl.ops.session import Session
from crmctl.store import records as record_store
from crmctl.store import sprints as sprint_store


def get(session: Session, name: str) -> dict[str, Any]:
    """A sprint by its name (spaces around it ignored), or NotFound naming those there are."""
    found = sprint_store.get(session.conn, name.strip())
    if found is None:
        known = ", ".join(s["name"] for s in sprint_store.sprints(session.conn)) or "none"
        raise NotFound(f"no sprint '{name}' (sprints: {known})")
    return found


@dataclass(frozen=True)
class SprintCreateRequest:
    name: str
    starts: str  # the first day, YYYY-MM-DD
    ends: str  # the last day, YYYY-MM-DD, included
    goal: str | None = None  # what the sprint is for


@dataclass(frozen=True)
class Sprint:
    name: str
    starts_on: dt.date
    ends_on: dt.date
    goal: str | None
    created_at: dt.datetime
    created_by: str | None


def create(session: Session, request: SprintCreateRequest) -> Sprint:
    """Create a sprint: a named span of days to plan tasks into."""
    session.require("sprints.manage", "manage sprints")
    name = request.name.strip()
    if not name:
        raise InputError("a sprint needs a name")
    try:
        first, last = parse_date(request.starts), parse_date(request.ends)
    except ValueError as exc:
        raise UsageError(f"sprint dates: {exc}") from None
    if last < first:
        raise InputError(f"the sprint ends ({last}) before it starts ({first})")
    with session.transaction() as conn:
        if sprint_store.get(conn, name) is not None:
            raise InputError(f"there is a sprint '{name}' already")
        sprint_store.add(conn, name, first, last, request.goal, session.now, session.actor)
        data = {"sprint": name, "from": first, "to": last, "goal": request.goal}
        record_store.add_event(conn, session.now, session.actor, Event.SPRINT_CREATED, data=data)
    return Sprint(**get(session, name))


@dataclass(frozen=True)
class SprintAddRequest:
    name: str  # the sprint's
    tasks: list[str]  # task ids, e.g. T-3
    remove: bool = False  # take the tasks out of the sprint instead


@dataclass(frozen=True)
class SprintMove:
    task: str
    before: str | None  # the sprint it was in


@dataclass(frozen=True)
class SprintChange:
    """The tasks put in a sprint (or taken out), each with the sprint it was in; tasks that were in it
    already are left out."""

    sprint: str
    moved: list[SprintMove]


def add(session: Session, request: SprintAddRequest) -> SprintChange:
    """Plan tasks into a sprint (a task is in one sprint at a time: this moves it from another), or with
    remove take them out."""
    session.require("sprints.manage", "manage sprints")
    sprint = get(session, request.name)["name"]
    tasks = [get_task(session, tid) for tid in request.tasks]
    moved = []
    with session.transaction() as conn:
        for task in tasks:
            before = sprint_store.sprint_of(conn, task["id"])
            if request.remove:
                if before != sprint:
                    raise InputError(f"{task['id']} is not in sprint '{sprint}'")
                sprint_store.take_out(conn, task["id"])
            elif before == sprint:
                continue
            else:
                sprint_store.put(conn, task["id"], sprint, session.now, session.actor)
            moved.append(SprintMove(task["id"], before))
            data = {"task": task["id"], "sprint": None if request.remove else sprint, "from": before}
            record_store.add_event(
                conn, session.now, session.actor, Event.SPRINT_TASKS, record=task["record"], data=data
            )
    return SprintChange(sprint, moved)


@dataclass(frozen=True)
class SprintShowRequest:
    name: str


@dataclass(frozen=True)
class SprintTask:
    """A task of a sprint with its estimate, the time spent (closed intervals) and the time left."""

    # every field is a column(): mypy takes a call for a default, and a field without one cannot follow it
    id: str = column("task")
    title: str = column()
    status: str = column()
    assignee: str | None = column()
    type: str | None = column(table=False)
    estimate_minutes: int | None = column("estimate")
    actual_minutes: float = column("spent")
    remaining_minutes: float = column("left")  # none for a task done or cancelled
    due_at: dt.datetime | None = column(table=False)


@dataclass(frozen=True)
class SprintTotals:
    count: int  # tasks
    done: int  # tasks done
    estimate_minutes: int
    actual_minutes: float
    remaining_minutes: float

    @classmethod
    def of(cls, tasks: list[SprintTask]) -> SprintTotals:
        return cls(
            count=len(tasks),
            done=sum(t.status == "done" for t in tasks),
            estimate_minutes=sum(t.estimate_minutes or 0 for t in tasks),
            actual_minutes=round(sum(float(t.actual_minutes) for t in tasks), 1),
            remaining_minutes=round(sum(float(t.remaining_minutes) for t in tasks), 1),
        )


@dataclass(frozen=True)
class SprintCard:
    sprint: Sprint
    tasks: list[SprintTask]
    totals: SprintTotals


def show(session: Session, request: SprintShowRequest) -> SprintCard:
    """A sprint's tasks with estimate, time spent and time left, and its totals."""
    session.require("tasks.read", "read tasks")
    sprint = Sprint(**get(session, request.name))
    tasks = [SprintTask(**row) for row in sprint_store.tasks(session.conn, sprint.name)]
    return SprintCard(sprint, tasks, SprintTotals.of(tasks))


@dataclass(frozen=True)
class SprintListRequest:
    pass


@dataclass(frozen=True)
class SprintRow:
    """A sprint with how many of its tasks are done."""

    # every field is a column(): mypy takes a call for a default, and a field without one cannot follow it
    name: str = column("sprint")
    starts_on: dt.date = column("from")
    ends_on: dt.date = column("to")
    tasks: int = column()
    done: int = column()
    goal: str | None = column()


def list_sprints(session: Session, request: SprintListRequest) -> list[SprintRow]:
    """Every sprint, latest first, with how many of its tasks are done."""
    session.require("tasks.read", "read tasks")
    return [SprintRow(**row) for row in sprint_store.sprints(session.conn)]


def task_ids(session: Session, name: str) -> set[str]:
    return sprint_store.task_ids(session.conn, get(session, name)["name"])
