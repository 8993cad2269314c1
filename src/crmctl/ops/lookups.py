"""Look-ups every operation shares: a record by its key, a task by its id, a person of the team, a person's
working calendar, whether the actor may read a task. They sit beneath the feature modules (records,
process, projects, schedule, sprints, agenda), which all import them and never each other sideways."""

from __future__ import annotations

from typing import Any

from crmctl.domain import permissions
from crmctl.domain.model import FormDef
from crmctl.domain.worktime import WorkCalendar
from crmctl.errors import InputError, NotFound
from crmctl.ops.session import Session
from crmctl.store import projects as project_store
from crmctl.store import records as record_store


def names(session: Session, kind: str, prefix: str, limit: int = 200) -> list[str]:
    """The names of a kind ("form", "process", "template", "person", "record": its keys, of the forms the actor
    may read) that start with prefix: what the shell's completion offers."""
    defs = session.defs
    if kind == "record":
        forms = [name for name in defs.forms if session.may("records.read", name)]
        return record_store.keys_starting(session.conn, prefix, forms, limit)
    pools: dict[str, Any] = {"form": defs.forms, "process": defs.processes, "template": defs.templates}
    pool = pools.get(kind, defs.people)
    return sorted(name for name in pool if name.startswith(prefix))[:limit]


def normalise_key(key: str) -> str:
    return key.strip().upper()


def people_of(session: Session) -> set[str] | None:
    return set(session.defs.people) if session.defs.has_team else None


def locate(session: Session, key: str) -> tuple[FormDef, dict[str, Any]]:
    """The form and the stored row of a record key, or NotFound."""
    key = normalise_key(key)
    form_name = record_store.form_of(session.conn, key)
    if form_name is None or form_name not in session.defs.forms:
        raise NotFound(f"no record {key}")
    form = session.defs.forms[form_name]
    row = record_store.get(session.conn, form, key)
    if row is None:
        raise NotFound(f"no record {key}")
    return form, row


def title_of_key(session: Session, key: str) -> str:
    try:
        form, row = locate(session, key)
    except NotFound:
        return ""
    name = form.display_field
    return str(row.get(name) or "") if name else ""


def title_of(form: FormDef, row: dict[str, Any]) -> str:
    name = form.display_field
    return str(row.get(name) or "") if name else ""


def prefixed_id(text: str, prefix: str) -> str:
    text = text.strip().upper()
    return text if text.startswith(f"{prefix}-") else f"{prefix}-{text}"


def team_person(session: Session, who: str | None, what: str) -> str | None:
    if who is None or who == "":
        return None
    if session.defs.has_team and who not in session.defs.people:
        raise InputError(f"{what}: no person '{who}' in the team")
    return who


def record_of(session: Session, key: str | None) -> tuple[FormDef, dict[str, Any]] | None:
    if key is None:
        return None
    return locate(session, key)


def calendar_for(session: Session, person: str | None) -> WorkCalendar:
    """A person's working calendar with their absences; the workspace's default calendar otherwise."""
    defs = session.defs
    who = defs.people.get(person) if person else None
    name = (who.calendar if who else None) or defs.calendar
    doc = defs.calendars.get(name) if name else None
    absences = who.raw.get("absences", []) if who else []
    return WorkCalendar.from_definition(doc, defs.timezone, absences)


def get_task(session: Session, tid: str, conn: Any = None) -> dict[str, Any]:
    tid = prefixed_id(tid, "T")
    found = project_store.task(conn or session.conn, tid)
    if found is None:
        raise NotFound(f"no task {tid}")
    return found


def require_reading(session: Session, task: dict[str, Any]) -> None:
    """Refused unless the actor may read the task: someone else's, or nobody's, takes more than tasks.read."""
    missing = permissions.task_refusal(session.defs, session.actor, task["assignee"])
    if missing is not None:
        session.require(missing, permissions.PERMISSIONS[missing], record=task["record"])
