"""Project templates: what a launch creates, computed without touching the database.

Rules, as documented in docs/projects.md:
- parameters are checked like record fields (required, options, types, defaults); every problem at once;
- titles and descriptions render in the Jinja2 sandbox with the parameters, `params` and `record`;
- a task's `start_after` and `due` render like titles and must give a date or a date-time (a date alone: the
  start of that day for start_after, its end for due); an empty result sets no bound;
- a task whose `when` does not hold is left out, and the tasks that depended on it depend on what it
  depended on instead, so the chain keeps its order;
- assignees are resolved later, by the caller that knows the queues.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crmctl.domain import templating
from crmctl.domain.conditions import evaluate
from crmctl.domain.durations import parse_duration
from crmctl.domain.model import FormDef
from crmctl.domain.process import describe
from crmctl.domain.records import new_values
from crmctl.domain.values import FieldSpec
from crmctl.errors import InputError

STATUSES = ("todo", "in_progress", "done", "cancelled")
OPEN_STATUSES = ("todo", "in_progress")


def parameters(template: Mapping[str, Any]) -> FormDef:
    """A template's parameters in the shape of a form, so they are checked exactly as fields are."""
    specs = {p["id"]: FieldSpec.from_dict(p) for p in template.get("parameters", ())}
    return FormDef(
        name=template["name"],
        title=template.get("title", template["name"]),
        key_prefix="",
        fields=specs,
        title_field=None,
    )


@dataclass
class PlannedTask:
    id: str
    title: str
    description: str | None
    type: str | None
    subtype: str | None
    assignee: str | None  # as written: author, role:x or a person id
    watchers: list[str]
    estimate_minutes: int | None
    priority: int
    depends_on: list[str]
    start_after: dt.datetime | None = None  # the schedule never starts it before
    start_after_why: str | None = None  # "the template's start_after (delivery_date)"
    due_at: dt.datetime | None = None


@dataclass
class LaunchPlan:
    template: str
    title: str
    priority: int | None
    params: dict[str, Any]
    tasks: list[PlannedTask] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (task id, why)


def _render(source: str, context: Mapping[str, Any], where: str) -> str:
    try:
        return templating.render(source, context).strip()
    except templating.TemplateProblem as exc:
        raise InputError(f"{where}: {exc}") from None


BOUND_FORMS = "a date or a date-time: 2027-03-05, 2027-03-05 09:00"
BOUNDS = {"start_after": dt.time(0, 0), "due": dt.time(23, 59)}  # a date alone: its first or its last minute


def bound_moment(text: str, key: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A task's bound as its template renders it: None for an empty text, else an aware datetime (a date alone
    at the start of its day for start_after, at its end for due; no offset: the workspace's zone); ValueError
    for anything else."""
    text = text.strip()
    if not text:
        return None
    if len(text) == 10:
        moment = dt.datetime.combine(dt.date.fromisoformat(text), BOUNDS[key])
    else:
        moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def bound_source(source: str) -> list[str]:
    """The parameters and record fields a bound's template reads, as a reason names them: delivery_date,
    record.visit_on."""
    names = templating.inspect(source)
    used = {n for n in names.variables if n not in ("params", "record")}
    for base, attr in names.attributes:
        if base in ("params", "record"):
            used.add(attr if base == "params" else f"record.{attr}")
    return sorted(used)


def _bounds(spec: Mapping[str, Any], context: Mapping[str, Any], where: str, tz: dt.tzinfo) -> dict[str, Any]:
    """A planned task's start_after (with why) and due_at, from its template's keys."""
    found: dict[str, Any] = {}
    for key, column in (("start_after", "start_after"), ("due", "due_at")):
        if key not in spec:
            continue
        text = _render(str(spec[key]), context, f"{where}, {key}")
        try:
            found[column] = bound_moment(text, key, tz)
        except ValueError:
            raise InputError(f"{where}, {key}: {text!r} is not {BOUND_FORMS}") from None
        if key == "start_after" and found[column] is not None:
            used = bound_source(str(spec[key]))
            found["start_after_why"] = "the template's start_after" + (f" ({', '.join(used)})" if used else "")
    return found


def plan(
    template: Mapping[str, Any],
    raw_params: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    people: set[str] | None,
    hours_per_day: float,
    title: str | None = None,
    tz: dt.tzinfo = dt.UTC,
) -> LaunchPlan:
    """Check the parameters and render the project and its tasks (bounds in tz where they name no offset).
    InputError names every bad parameter."""
    form = parameters(template)
    values = new_values(form, raw_params, people)
    context: dict[str, Any] = {**values, "params": values, "record": dict(record or {})}
    name = template["name"]
    if title is None:
        source = template.get("project", {}).get("title")
        if source:
            title = _render(source, context, f"template {name}, project title")
        else:
            key = (record or {}).get("key")
            title = f"{template.get('title', name)} {key}" if key else template.get("title", name)
    result = LaunchPlan(name, title, project_priority(template, record), values)
    kept: dict[str, list[str]] = {}
    for spec in template["tasks"]:
        deps = [d for dep in spec.get("depends_on", ()) for d in kept.get(dep, [dep])]
        if "when" in spec and not evaluate(spec["when"], values, form.fields):
            result.left_out.append((spec["id"], f"when does not hold: {describe(spec['when'])}"))
            kept[spec["id"]] = list(dict.fromkeys(deps))  # its dependents inherit its dependencies
            continue
        kept[spec["id"]] = [spec["id"]]
        where = f"template {name}, task {spec['id']}"
        estimate = spec.get("estimate")
        result.tasks.append(
            PlannedTask(
                id=spec["id"],
                title=_render(spec["title"], context, f"{where}, title"),
                description=_render(spec["description"], context, f"{where}, description")
                if spec.get("description")
                else None,
                type=spec.get("type"),
                subtype=spec.get("subtype"),
                assignee=spec.get("assignee"),
                watchers=list(spec.get("watchers", ())),
                estimate_minutes=parse_duration(estimate, hours_per_day) if estimate else None,
                priority=int(spec.get("priority", 3)),
                depends_on=list(dict.fromkeys(deps)),
                **_bounds(spec, context, where, tz),
            )
        )
    return result


def project_priority(template: Mapping[str, Any], record: Mapping[str, Any] | None) -> int | None:
    """The priority of a project launched from the template: the number it gives, or, where it binds the
    priority to a field of the record, what that field's value says (docs/projects.md)."""
    spec = template.get("project", {}).get("priority")
    if not isinstance(spec, Mapping):
        return spec if isinstance(spec, int) else None
    fallback = None if spec.get("default") is None else int(spec["default"])
    value = (record or {}).get(spec["field"])
    if value is None or value == "":
        return fallback
    if "map" in spec:
        found = spec["map"].get(value_text(value))
        return fallback if found is None else int(found)
    text = value_text(value)
    return int(text) if text in ("1", "2", "3", "4", "5") else fallback


def bound_field(template: Mapping[str, Any]) -> str | None:
    """The field of the record a template binds its project's priority to, if it does."""
    spec = template.get("project", {}).get("priority")
    return str(spec["field"]) if isinstance(spec, Mapping) else None


def value_text(value: Any) -> str:
    """A field's value as a priority map names it: yes or no, a whole number without a fraction, else the text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, Decimal)) and value == int(value):
        return str(int(value))
    return str(value)


def least_loaded(candidates: list[str], queued: Mapping[str, float]) -> str:
    """The person with the least queued work; ties go to the smallest id."""
    return min(candidates, key=lambda person: (queued.get(person, 0.0), person))


@dataclass(frozen=True)
class Choice:
    """A member of a role chosen for some work, and why (for the launch message and the history)."""

    person: str
    why: str


def earliest(
    who: str, finish: Mapping[str, dt.datetime | None], load: Mapping[str, float], verb: str = "finishes"
) -> Choice:
    """The candidate who would finish the work first by their own calendar (None: no working time within the
    horizon, so last); ties go to the least load, then the smallest id."""
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    ranked = sorted(finish, key=lambda p: (finish[p] or never, load.get(p, 0.0), p))
    best = ranked[0]

    def when(person: str) -> str:
        moment = finish[person]
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "no working time"

    why = f"{who}: {best} {verb} first ({when(best)})"
    others = ", ".join(f"{p} {when(p)}" for p in ranked[1:])
    return Choice(best, f"{why}; {others}" if others else why)


def blocked(task: Mapping[str, Any]) -> bool:
    return task["status"] in OPEN_STATUSES and bool(task.get("blocked_by"))


def ready(task: Mapping[str, Any]) -> bool:
    return task["status"] == "todo" and not task.get("blocked_by")
