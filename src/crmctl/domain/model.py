"""Typed definitions: what a checked workspace (or an applied version in the database) says."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from crmctl.domain.durations import HOURS_PER_DAY
from crmctl.domain.files import FILE_LIMIT_MB, WORKSPACE_LIMIT_MB
from crmctl.domain.values import FieldSpec

# Columns every form table has besides its fields; a field may not take one of these ids.
SYSTEM_COLUMNS = (
    "key",
    "number",
    "author",
    "created_at",
    "updated_at",
    "def_version",
    "process",
    "stage",
    "stage_since",
    "stage_due",
    "responsible",
)


@dataclass(frozen=True)
class Rollup:
    id: str
    label: str
    aggregate: str
    source: str  # form
    via: str  # ref field of the source form
    field: str | None
    where: dict[str, Any] | None = None  # a condition on the source's records: only those that meet it count


@dataclass(frozen=True)
class FormDef:
    name: str
    title: str
    key_prefix: str
    fields: dict[str, FieldSpec]
    title_field: str | None
    rollups: tuple[Rollup, ...] = ()
    renamed: dict[str, str] = field(default_factory=dict)  # new field id -> old field id
    promised: str | None = None  # the date (or datetime) field that holds what was promised to the client
    # the sets of fields whose values no two records share (text compared without regard to case)
    unique: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, doc: dict[str, Any]) -> FormDef:
        """A form from its (schema-valid) document."""
        return cls(
            name=doc["name"],
            title=doc.get("title", doc["name"]),
            key_prefix=doc["key_prefix"],
            fields={f["id"]: FieldSpec.from_dict(f) for f in doc["fields"]},
            title_field=doc.get("title_field"),
            rollups=tuple(
                Rollup(
                    r["id"],
                    r.get("label", r["id"]),
                    r["aggregate"],
                    r["from"],
                    r["via"],
                    r.get("field"),
                    r.get("where"),
                )
                for r in doc.get("rollups", ())
            ),
            renamed={f["id"]: f["renamed_from"] for f in doc["fields"] if "renamed_from" in f},
            promised=doc.get("promised"),
            unique=unique_sets(doc.get("unique", ())),
        )

    @property
    def display_field(self) -> str | None:
        if self.title_field:
            return self.title_field
        return next((f.id for f in self.fields.values() if f.type == "text"), None)


def unique_sets(declared: Any) -> tuple[tuple[str, ...], ...]:
    """A form's `unique:` as sets of field ids: `email` alone, or `[name, city]` together."""
    return tuple((item,) if isinstance(item, str) else tuple(item) for item in declared)


@dataclass(frozen=True)
class StageDef:
    id: str
    title: str
    raw: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return bool(self.raw.get("terminal"))

    @property
    def outcome(self) -> str | None:
        return self.raw.get("outcome")

    @property
    def transitions(self) -> tuple[str, ...]:
        return tuple(self.raw.get("transitions", ()))


@dataclass(frozen=True)
class BoardGroup:
    """A column of the board holding several stages."""

    id: str
    title: str
    stages: tuple[str, ...]
    show: bool = True


@dataclass(frozen=True)
class ProcessDef:
    name: str
    title: str
    form: str
    initial: str
    stages: dict[str, StageDef]
    migrate: dict[str, str]
    board_columns: tuple[BoardGroup, ...] = ()

    @classmethod
    def of(cls, doc: dict[str, Any]) -> ProcessDef:
        """A process from its (schema-valid) document."""
        return cls(
            name=doc["name"],
            title=doc.get("title", doc["name"]),
            form=doc["form"],
            initial=doc.get("initial", doc["stages"][0]["id"]),
            stages={s["id"]: StageDef(s["id"], s.get("title", s["id"]), s) for s in doc["stages"]},
            migrate=dict(doc.get("migrate", {})),
            board_columns=tuple(
                BoardGroup(c["id"], c.get("title", c["id"]), tuple(c["stages"]), c.get("show", True))
                for c in doc.get("board_columns", ())
            ),
        )

    def board(self) -> list[tuple[str, str, list[StageDef]]]:
        """The board's columns in the order of their first stage: (id, title, stages shown in it). A stage in
        no group has a column of its own; a group with `show: false`, or a stage with `board: false`, is left out."""
        group_of = {stage: g for g in self.board_columns for stage in g.stages}
        columns: dict[str, tuple[str, str, list[StageDef]]] = {}
        for stage in self.stages.values():
            group = group_of.get(stage.id)
            if group is None:
                column = columns.setdefault(stage.id, (stage.id, stage.title, []))
            elif group.show:
                column = columns.setdefault(group.id, (group.id, group.title, []))
            else:
                continue
            if stage.raw.get("board", True):
                column[2].append(stage)
        return [c for c in columns.values() if c[2]]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str | None
    roles: tuple[str, ...]
    calendar: str | None
    raw: dict[str, Any]


def deputy_of(person: Person | None, day: Any) -> str | None:
    """Who acts for the person on this day: the deputy their absence covering it names, if any."""
    if person is None:
        return None
    for absence in person.raw.get("absences", ()):
        if absence.get("deputy") and str(absence["from"]) <= day.isoformat() <= str(absence["to"]):
            return str(absence["deputy"])
    return None


@dataclass(frozen=True)
class Role:
    id: str
    title: str
    permissions: tuple[str, ...]


@dataclass
class Definitions:
    """Everything a workspace defines, keyed by name. Built from schema-valid, checked documents."""

    documents: list[dict[str, Any]]
    name: str = "workspace"
    timezone: str = "UTC"
    calendar: str | None = None
    database: str = "crmctl.duckdb"
    hours_per_day: float = HOURS_PER_DAY
    busy_timeout: float = 10.0
    queue_order: tuple[str, ...] = ("project_priority", "priority", "due", "created")
    horizon_days: int = 366
    timer_cap: str = "12h"  # how long a running timer may count before `task stop` asks for its real end
    max_file_mb: float = FILE_LIMIT_MB
    max_files_mb: float = WORKSPACE_LIMIT_MB
    estimates: dict[str, str] = field(default_factory=dict)  # task type -> its default estimate (a duration)
    locale: str = "en"  # how people write numbers (domain.values.number_text)
    forms: dict[str, FormDef] = field(default_factory=dict)
    processes: dict[str, ProcessDef] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    intake_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    has_team: bool = False
    successors: dict[str, str] = field(default_factory=dict)  # a person who left -> who takes over their work

    def _settings(self, doc: dict[str, Any]) -> None:
        """The Workspace document's settings."""
        self.name = doc["name"]
        self.timezone = doc.get("timezone", "UTC")
        self.calendar = doc.get("calendar")
        self.database = doc.get("database", self.database)
        self.hours_per_day = doc.get("hours_per_day", HOURS_PER_DAY)
        self.busy_timeout = float(doc.get("busy_timeout", self.busy_timeout))
        self.queue_order = tuple(doc.get("queue_order", self.queue_order))
        self.horizon_days = int(doc.get("horizon_days", self.horizon_days))
        self.timer_cap = str(doc.get("timer_cap", self.timer_cap))
        self.max_file_mb = float(doc.get("max_file_mb", self.max_file_mb))
        self.max_files_mb = float(doc.get("max_files_mb", self.max_files_mb))
        self.estimates = dict(doc.get("estimates", {}))
        self.locale = doc.get("locale", self.locale)

    @classmethod
    def build(cls, documents: list[dict[str, Any]]) -> Definitions:
        defs = cls(documents=sorted(documents, key=lambda d: (d["kind"], d["name"])))
        for doc in defs.documents:
            kind = doc["kind"]
            if kind == "Workspace":
                defs._settings(doc)
            elif kind == "Form":
                defs.forms[doc["name"]] = FormDef.of(doc)
            elif kind == "Process":
                defs.processes[doc["name"]] = ProcessDef.of(doc)
            elif kind == "ProjectTemplate":
                defs.templates[doc["name"]] = doc
            elif kind == "IntakeRule":
                defs.intake_rules[doc["name"]] = doc
            elif kind == "Calendar":
                defs.calendars[doc["name"]] = doc
            elif kind == "Team":
                defs.has_team = True
                defs.successors.update(doc.get("successors", {}))
                for role in doc.get("roles", ()):
                    defs.roles[role["id"]] = Role(
                        role["id"], role.get("title", role["id"]), tuple(role.get("permissions", ()))
                    )
                for person in doc.get("people", ()):
                    defs.people[person["id"]] = Person(
                        person["id"],
                        person["name"],
                        person.get("email"),
                        tuple(person.get("roles", ())),
                        person.get("calendar"),
                        person,
                    )
        if defs.locale != "en":  # every field of every form reads numbers as the workspace's people write them
            for name, form in defs.forms.items():
                fields = {k: replace(spec, locale=defs.locale) for k, spec in form.fields.items()}
                defs.forms[name] = replace(form, fields=fields)
        return defs

    def to_json(self) -> str:
        return json.dumps(self.documents, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> Definitions:
        return cls.build(json.loads(text))

    def form(self, name: str) -> FormDef:
        from crmctl.errors import NotFound

        if name not in self.forms:
            known = ", ".join(sorted(self.forms)) or "none"
            raise NotFound(f"unknown form '{name}' (forms: {known})")
        return self.forms[name]

    def processes_of(self, form: str) -> list[ProcessDef]:
        return [p for p in self.processes.values() if p.form == form]
