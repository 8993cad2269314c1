"""Sprints (the 1C Service Desk's time boxes): a named span of days and the tasks planned into it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmctl.domain.events import Event
from crmctl.domain.values import parse_date
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.lookups import get_task
from crmctl.ops.session import Session
from crmctl.store import records as record_store
from crmctl.store import sprints as store


def get(session: Session, name: str) -> dict[str, Any]:
    found = store.get(session.conn, name.strip())
    if found is None:
        known = ", ".join(s["name"] for s in store.sprints(session.conn)) or "none"
        raise NotFound(f"no sprint '{name}' (sprints: {known})")
    return found


def create(session: Session, name: str, starts: str, ends: str, goal: str | None) -> dict[str, Any]:
    session.require("sprints.manage", "manage sprints")
    name = name.strip()
    if not name:
        raise InputError("a sprint needs a name")
    try:
        first, last = parse_date(starts), parse_date(ends)
    except ValueError as exc:
        raise UsageError(f"sprint dates: {exc}") from None
    if last < first:
        raise InputError(f"the sprint ends ({last}) before it starts ({first})")
    with session.transaction() as conn:
        if store.get(conn, name) is not None:
            raise InputError(f"there is a sprint '{name}' already")
        store.add(conn, name, first, last, goal, session.now, session.actor)
        record_store.add_event(
            conn,
            session.now,
            session.actor,
            Event.SPRINT_CREATED,
            data={"sprint": name, "from": first, "to": last, "goal": goal},
        )
    return get(session, name)


def add(session: Session, name: str, task_ids: list[str], remove: bool = False) -> list[tuple[str, str | None]]:
    """Put tasks in a sprint (or, with remove, take them out); returns (task, the sprint it was in)."""
    session.require("sprints.manage", "manage sprints")
    sprint = get(session, name)["name"]
    tasks = [get_task(session, tid) for tid in task_ids]
    moved = []
    with session.transaction() as conn:
        for task in tasks:
            before = store.sprint_of(conn, task["id"])
            if remove:
                if before != sprint:
                    raise InputError(f"{task['id']} is not in sprint '{sprint}'")
                store.take_out(conn, task["id"])
            elif before == sprint:
                continue
            else:
                store.put(conn, task["id"], sprint, session.now, session.actor)
            moved.append((task["id"], before))
            record_store.add_event(
                conn,
                session.now,
                session.actor,
                Event.SPRINT_TASKS,
                record=task["record"],
                data={"task": task["id"], "sprint": None if remove else sprint, "from": before},
            )
    return moved


@dataclass
class SprintCard:
    sprint: dict[str, Any]
    tasks: list[dict[str, Any]]

    @property
    def totals(self) -> dict[str, Any]:
        estimated = sum(t["estimate_minutes"] or 0 for t in self.tasks)
        return {
            "count": len(self.tasks),
            "done": sum(t["status"] == "done" for t in self.tasks),
            "estimate_minutes": estimated,
            "actual_minutes": round(sum(float(t["actual_minutes"]) for t in self.tasks), 1),
            "remaining_minutes": round(sum(float(t["remaining_minutes"]) for t in self.tasks), 1),
        }


def show(session: Session, name: str) -> SprintCard:
    session.require("tasks.read", "read tasks")
    sprint = get(session, name)
    return SprintCard(sprint, store.tasks(session.conn, sprint["name"]))


def list_sprints(session: Session) -> list[dict[str, Any]]:
    session.require("tasks.read", "read tasks")
    return store.sprints(session.conn)


def task_ids(session: Session, name: str) -> set[str]:
    return store.task_ids(session.conn, get(session, name)["name"])
