"""What applying new definitions changes, computed from the old and new definitions alone.

Whether a change is safe depends on the data too; the store decides that (see store.definitions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from crmctl.domain.model import Definitions, FormDef, ProcessDef
from crmctl.domain.values import FieldSpec


class PlanAction(Enum):
    """Every kind of change a plan holds, as (verb, target, what applying it does to the database): the verb and
    target are the "action" and "target" of `crmctl plan --format json` and of crm.definitions.changes. What
    checks and applies each one is store.definitions.HANDLERS, keyed by these."""

    ADD_FORM = ("add", "form", "creates the form's table")
    REMOVE_FORM = ("remove", "form", "drops the form's table, its records archived with --archive")
    CHANGE_FORM = ("change", "form", "nothing: the key prefix applies to new records, a uniqueness to all")
    ADD_FIELD = ("add", "field", "adds the column, filled with the default")
    REMOVE_FIELD = ("remove", "field", "drops the column, its values archived")
    RENAME_FIELD = ("rename", "field", "renames the column and converts its values")
    CHANGE_FIELD = ("change", "field", "converts the column's values to the new type")
    ADD_PROCESS = ("add", "process", "nothing: records enter it when they start it")
    REMOVE_PROCESS = ("remove", "process", "records in it leave it, their stage archived")
    CHANGE_PROCESS = ("change", "process", "nothing")
    ADD_STAGE = ("add", "stage", "nothing")
    REMOVE_STAGE = ("remove", "stage", "records in it move to its migrate: target, or leave the process")
    RENAME_STAGE = ("rename", "stage", "records in it, and their approvals, carry the new id")
    CHANGE_STAGE = ("change", "stage", "records waiting for approval follow the new approvers")
    ADD_TEMPLATE = ("add", "template", "nothing")
    REMOVE_TEMPLATE = ("remove", "template", "nothing")
    CHANGE_TEMPLATE = ("change", "template", "nothing")
    ADD_CALENDAR = ("add", "calendar", "nothing")
    REMOVE_CALENDAR = ("remove", "calendar", "nothing")
    CHANGE_CALENDAR = ("change", "calendar", "nothing")
    ADD_PERSON = ("add", "person", "nothing: crm.people is rewritten from the team")
    REMOVE_PERSON = ("remove", "person", "their work goes to their successor")
    CHANGE_PERSON = ("change", "person", "nothing: crm.people is rewritten from the team")
    ADD_ROLE = ("add", "role", "nothing")
    REMOVE_ROLE = ("remove", "role", "nothing")
    CHANGE_ROLE = ("change", "role", "nothing")
    CHANGE_WORKSPACE = ("change", "workspace", "nothing")

    def __init__(self, verb: str, target: str, effect: str) -> None:
        self.verb = verb
        self.target = target
        self.effect = effect

    @classmethod
    def of(cls, verb: str, target: str) -> PlanAction:
        return _BY_NAME[verb, target]


_BY_NAME = {(action.verb, action.target): action for action in PlanAction}
_SYMBOLS = {"add": "+", "remove": "-", "rename": "~", "change": "~"}


@dataclass(frozen=True)
class Change:
    kind: PlanAction
    name: str  # form, form.field, process, process.stage, ...
    detail: str = ""
    form: str | None = None
    field: str | None = None
    # what the kind changes from and to: FieldSpec (field), FormDef (form), a stage's id (stage), a name (process)
    old: Any = None
    new: Any = None

    @property
    def action(self) -> str:
        return self.kind.verb

    @property
    def target(self) -> str:
        return self.kind.target

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self.action]

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "target": self.target, "name": self.name, "detail": self.detail}


def _field_detail(spec: FieldSpec) -> str:
    return spec.type + (" required" if spec.required else "")


def _field_changes(old: FieldSpec, new: FieldSpec) -> list[str]:
    notes = []
    if old.type != new.type:
        notes.append(f"type {old.type} -> {new.type}")
    if old.options != new.options:
        notes.append("options " + ", ".join(old.options) + " -> " + ", ".join(new.options))
    if old.mask != new.mask:
        notes.append(f"mask {old.mask or '-'} -> {new.mask or '-'}")
    if old.required != new.required:
        notes.append("now required" if new.required else "no longer required")
    if (old.min, old.max) != (new.min, new.max):
        notes.append(f"limits {old.min}..{old.max} -> {new.min}..{new.max}")
    if old.form != new.form:
        notes.append(f"refers to {old.form} -> {new.form}")
    if old.default != new.default:
        notes.append(f"default {old.default} -> {new.default}")
    if old.label != new.label:
        notes.append("label")
    return notes


def diff(old: Definitions | None, new: Definitions) -> list[Change]:
    """Every change from old to new, forms and fields first (they touch tables), then the rest."""
    return [
        *_form_changes(old.forms if old else {}, new.forms),
        *_process_changes(old.processes if old else {}, new.processes),
        *_named_changes(old, new),
        *_workspace_changes(old, new),
    ]


def _form_changes(old_forms: Mapping[str, FormDef], new_forms: Mapping[str, FormDef]) -> list[Change]:
    changes: list[Change] = []
    for name, form in new_forms.items():
        if name in old_forms:
            changes += _changes_in_form(name, old_forms[name], form)
        else:
            changes.append(Change(PlanAction.ADD_FORM, name, f"{len(form.fields)} fields", form=name, new=form))
    for name, form in old_forms.items():
        if name not in new_forms:
            changes.append(Change(PlanAction.REMOVE_FORM, name, "", form=name, old=form))
    return changes


def _changes_in_form(name: str, before: FormDef, form: FormDef) -> list[Change]:
    """The fields added, changed, renamed and removed of a form in both, then its key prefix."""
    changes: list[Change] = []
    renamed_sources = {
        source for source in form.renamed.values() if source in before.fields and source not in form.fields
    }
    for fid, spec in form.fields.items():
        source = form.renamed.get(fid)
        if fid in before.fields:
            notes = _field_changes(before.fields[fid], spec)
            if notes:
                prior = before.fields[fid]
                changes.append(
                    Change(PlanAction.CHANGE_FIELD, f"{name}.{fid}", "; ".join(notes), name, fid, prior, spec)
                )
        elif source is not None and source in renamed_sources:
            prior = before.fields[source]
            notes = _field_changes(prior, spec)
            detail = f"renamed from {source}" + ("; " + "; ".join(notes) if notes else "")
            changes.append(Change(PlanAction.RENAME_FIELD, f"{name}.{fid}", detail, name, fid, prior, spec))
        else:
            changes.append(Change(PlanAction.ADD_FIELD, f"{name}.{fid}", _field_detail(spec), name, fid, None, spec))
    for fid, spec in before.fields.items():
        if fid not in form.fields and fid not in renamed_sources:
            changes.append(Change(PlanAction.REMOVE_FIELD, f"{name}.{fid}", spec.type, name, fid, spec, None))
    notes = []
    if before.key_prefix != form.key_prefix:
        notes.append(f"key prefix {before.key_prefix} -> {form.key_prefix}")
    for fields in form.unique:
        if fields not in before.unique:
            notes.append("unique " + ", ".join(fields))
    for fields in before.unique:
        if fields not in form.unique:
            notes.append("no longer unique " + ", ".join(fields))
    if notes:
        changes.append(Change(PlanAction.CHANGE_FORM, name, "; ".join(notes), form=name, old=before, new=form))
    return changes


def _process_changes(old_processes: Mapping[str, ProcessDef], new_processes: Mapping[str, ProcessDef]) -> list[Change]:
    changes: list[Change] = []
    for name, process in new_processes.items():
        before = old_processes.get(name)
        if before is None:
            detail = f"on form {process.form}, {len(process.stages)} stages"
            changes.append(Change(PlanAction.ADD_PROCESS, name, detail, form=process.form))
            continue
        changes += _stage_changes(name, before, process)
        if before.form != process.form:
            detail = f"form {before.form} -> {process.form}"
            changes.append(Change(PlanAction.CHANGE_PROCESS, name, detail, form=process.form))
    for name, process in old_processes.items():
        if name not in new_processes:
            changes.append(Change(PlanAction.REMOVE_PROCESS, name, "", form=process.form, old=name))
    return changes


def _stage_changes(name: str, before: ProcessDef, process: ProcessDef) -> list[Change]:
    """The stages added, whose approvers changed, renamed and removed of a process in both."""
    changes: list[Change] = []
    form = process.form
    renamed = {
        s.raw["renamed_from"]: sid
        for sid, s in process.stages.items()
        if s.raw.get("renamed_from") in before.stages and s.raw["renamed_from"] not in process.stages
    }
    for sid, stage in process.stages.items():
        if sid not in before.stages and sid not in renamed.values():
            changes.append(Change(PlanAction.ADD_STAGE, f"{name}.{sid}", form=form))
        elif sid in before.stages and stage.raw.get("approvals") != before.stages[sid].raw.get("approvals"):
            changes.append(Change(PlanAction.CHANGE_STAGE, f"{name}.{sid}", "approvers", form, None, sid, sid))
    for old_id, new_id in renamed.items():
        detail = f"renamed from {old_id}"
        changes.append(Change(PlanAction.RENAME_STAGE, f"{name}.{new_id}", detail, form, None, old_id, new_id))
    for sid in before.stages:
        if sid not in process.stages and sid not in renamed:
            target = process.migrate.get(sid)
            detail = f"records move to {target}" if target else ""
            changes.append(Change(PlanAction.REMOVE_STAGE, f"{name}.{sid}", detail, form, None, sid, target))
    return changes


def _named_changes(old: Definitions | None, new: Definitions) -> list[Change]:
    """Templates, calendars, people and roles added, changed or removed (compared whole)."""
    changes: list[Change] = []
    for target, before_map, after_map in (
        ("template", old.templates if old else {}, new.templates),
        ("calendar", old.calendars if old else {}, new.calendars),
        (
            "person",
            {k: v.raw for k, v in (old.people if old else {}).items()},
            {k: v.raw for k, v in new.people.items()},
        ),
        (
            "role",
            {k: v.permissions for k, v in (old.roles if old else {}).items()},
            {k: v.permissions for k, v in new.roles.items()},
        ),
    ):
        for key, value in after_map.items():
            if key not in before_map:
                changes.append(Change(PlanAction.of("add", target), key))
            elif before_map[key] != value:
                changes.append(Change(PlanAction.of("change", target), key))
        for key in before_map:
            if key not in after_map:
                changes.append(Change(PlanAction.of("remove", target), key))
    return changes


def _workspace_changes(old: Definitions | None, new: Definitions) -> list[Change]:
    if old is None:
        return []
    settings = ("name", "timezone", "calendar", "hours_per_day", "busy_timeout")
    moved = [s for s in settings if getattr(old, s) != getattr(new, s)]
    return [Change(PlanAction.CHANGE_WORKSPACE, new.name, ", ".join(moved))] if moved else []
