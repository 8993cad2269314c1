"""Look-ups every operation shares: a record by its key, a task by its id, a person of the team, a person's
working calendar, whether the actor may read a task. They sit beneath the feature modules (records,
process, projects, schedule, sprints, agenda), which all import them and never each other sideways."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, overload

from crmctl.domain import permissions
from crmctl.domain.conditions import evaluate
from crmctl.domain.model import Definitions, FormDef, Rollup, deputy_of
from crmctl.domain.process import duty
from crmctl.domain.projects import Choice, earliest
from crmctl.domain.values import parse_date
from crmctl.domain.worktime import NoWorkingTime, WorkCalendar
from crmctl.errors import InputError, NotFound, UsageError
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


def referring(session: Session, conn: Any, form: str, key: str) -> list[tuple[str, str]]:
    """(form, key) of the records whose ref fields point at the record (the orders of a deal)."""
    sources = [
        (other.name, spec.id)
        for other in session.defs.forms.values()
        for spec in other.fields.values()
        if spec.type == "ref" and spec.form == form
    ]
    return project_store.records_referring_to(conn, sources, key) if sources else []


def title_of_key(session: Session, key: str) -> str:
    try:
        form, row = locate(session, key)
    except NotFound:
        return ""
    name = form.display_field
    return str(row.get(name) or "") if name else ""


def titles_of_keys(session: Session, keys: Iterable[str | None]) -> dict[str, str]:
    """The title of each of these records (as title_of_key gives it, "" for an unknown key), in a query per
    form rather than two per key."""
    forms = [(form.name, form.display_field) for form in session.defs.forms.values() if form.display_field]
    wanted = sorted({normalise_key(key) for key in keys if key})
    values = record_store.display_values(session.conn, forms, wanted)
    return {key: str(values.get(key) or "") for key in wanted}


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


def stand_in(session: Session, person: str | None) -> tuple[str | None, str | None]:
    """Who acts for a person today: (their deputy, the person) while an absence of theirs names a deputy,
    else (the person, None)."""
    deputy = deputy_of(session.defs.people.get(person), session.now.date()) if person else None
    return (deputy, person) if deputy else (person, None)


def stage_duty(
    session: Session, responsible: str | None, approvers: list[tuple[str, str]], *, you: bool = False
) -> str | None:
    """Who does what at a stage, in words (domain.process.duty); a role approver the responsible person has
    counts as theirs."""
    mine = [
        (
            group,
            responsible
            if responsible and who.startswith("role:") and responsible in permissions.members(session.defs, who[5:])
            else who,
        )
        for group, who in approvers
    ]
    return duty(responsible, mine, you=you)


def earliest_member(
    session: Session, who: str, people: list[str], work: Mapping[str, int], load: Mapping[str, float]
) -> Choice:
    """Of these members of a role (`who` names it), the one who would finish their `work` (minutes) first,
    starting now, by their own calendar with its absences; ties by `load`, then by id."""
    finish: dict[str, Any] = {}
    for person in people:
        try:
            finish[person] = calendar_for(session, person).add(session.now, work.get(person, 0))
        except NoWorkingTime:
            finish[person] = None
    return earliest(who, finish, load, "finishes" if any(work.values()) else "starts")


def get_task(session: Session, tid: str, conn: Any = None) -> dict[str, Any]:
    tid = prefixed_id(tid, "T")
    found = project_store.task(conn or session.conn, tid, session.now)
    if found is None:
        raise NotFound(f"no task {tid}")
    return found


def require_reading(session: Session, task: dict[str, Any]) -> None:
    """Refused unless the actor may read the task: someone else's, or nobody's, takes more than tasks.read."""
    missing = permissions.task_refusal(session.defs, session.actor, task["assignee"])
    if missing is not None:
        session.require(missing, permissions.PERMISSIONS[missing], record=task["record"])


@overload
def day_start(session: Session, text: str, what: str) -> dt.datetime: ...
@overload
def day_start(session: Session, text: str | None, what: str) -> dt.datetime | None: ...
def day_start(session: Session, text: str | None, what: str) -> dt.datetime | None:
    """The start of a day given as YYYY-MM-DD (an option's value, named by `what`) in the workspace's time zone."""
    if text is None:
        return None
    try:
        day = parse_date(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    from zoneinfo import ZoneInfo  # the time zone database only for a command that needs a period's bounds

    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(session.defs.timezone))


def rollup_value(conn: Any, defs: Definitions, rollup: Rollup, key: str, *, conditioned: bool = True) -> Any:
    """A roll-up's value for a record: its aggregate over the records that refer to it (with `where`, over those
    that meet the condition, unless conditioned is false)."""
    keys = None
    if rollup.where is not None and conditioned:
        source = defs.forms[rollup.source]
        referring = record_store.select(conn, source, [(rollup.via, "=", key)])
        keys = [row["key"] for row in referring if evaluate(rollup.where, row, source.fields)]
    return project_store.rollup(conn, rollup.source, rollup.via, rollup.aggregate, rollup.field, key, keys)


def rollups(conn: Any, defs: Definitions, form: FormDef, key: str) -> dict[str, Any]:
    """Every roll-up of a record: roll-up id -> value."""
    return {r.id: rollup_value(conn, defs, r, key) for r in form.rollups}
