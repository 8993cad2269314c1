"""What applying new definitions changes, computed from the old and new definitions alone.

Whether a change is safe depends on the data too; the store decides that (see store.definitions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmctl.domain.model import Definitions
from crmctl.domain.values import FieldSpec


@dataclass(frozen=True)
class Change:
    action: str  # add | remove | rename | change
    target: str  # form | field | process | stage | template | calendar | person | role | workspace
    name: str  # form, form.field, process, process.stage, ...
    detail: str = ""
    form: str | None = None
    field: str | None = None
    old: Any = None
    new: Any = None

    @property
    def symbol(self) -> str:
        return {"add": "+", "remove": "-", "rename": "~", "change": "~"}[self.action]

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "target": self.target, "name": self.name, "detail": self.detail}


def _field_detail(spec: FieldSpec) -> str:
    return spec.type + (" required" if spec.required else "")


def _field_changes(form: str, old: FieldSpec, new: FieldSpec) -> list[str]:
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
    changes: list[Change] = []
    old_forms = old.forms if old else {}
    for name, form in new.forms.items():
        if name not in old_forms:
            changes.append(Change("add", "form", name, f"{len(form.fields)} fields", form=name, new=form))
            continue
        before = old_forms[name]
        renamed_sources = {
            source for target, source in form.renamed.items() if source in before.fields and source not in form.fields
        }
        for fid, spec in form.fields.items():
            source = form.renamed.get(fid)
            if fid in before.fields:
                notes = _field_changes(name, before.fields[fid], spec)
                if notes:
                    changes.append(
                        Change(
                            "change", "field", f"{name}.{fid}", "; ".join(notes), name, fid, before.fields[fid], spec
                        )
                    )
            elif source in renamed_sources:
                prior = before.fields[source]
                notes = _field_changes(name, prior, spec)
                detail = f"renamed from {source}" + ("; " + "; ".join(notes) if notes else "")
                changes.append(Change("rename", "field", f"{name}.{fid}", detail, name, fid, prior, spec))
            else:
                changes.append(Change("add", "field", f"{name}.{fid}", _field_detail(spec), name, fid, None, spec))
        for fid, spec in before.fields.items():
            if fid not in form.fields and fid not in renamed_sources:
                changes.append(Change("remove", "field", f"{name}.{fid}", spec.type, name, fid, spec, None))
        if before.key_prefix != form.key_prefix:
            changes.append(
                Change("change", "form", name, f"key prefix {before.key_prefix} -> {form.key_prefix}", form=name)
            )
    for name, form in old_forms.items():
        if name not in new.forms:
            changes.append(Change("remove", "form", name, "", form=name, old=form))
    old_processes = old.processes if old else {}
    for name, process in new.processes.items():
        before_process = old_processes.get(name)
        if before_process is None:
            changes.append(
                Change(
                    "add", "process", name, f"on form {process.form}, {len(process.stages)} stages", form=process.form
                )
            )
            continue
        renamed = {
            s.raw["renamed_from"]: sid
            for sid, s in process.stages.items()
            if s.raw.get("renamed_from") in before_process.stages and s.raw["renamed_from"] not in process.stages
        }
        for sid, stage in process.stages.items():
            if sid not in before_process.stages and sid not in renamed.values():
                changes.append(Change("add", "stage", f"{name}.{sid}", form=process.form))
            elif sid in before_process.stages and stage.raw.get("approvals") != before_process.stages[sid].raw.get(
                "approvals"
            ):
                changes.append(Change("change", "stage", f"{name}.{sid}", "approvers", process.form, None, sid, sid))
        for old_id, new_id in renamed.items():
            changes.append(
                Change(
                    "rename", "stage", f"{name}.{new_id}", f"renamed from {old_id}", process.form, None, old_id, new_id
                )
            )
        for sid in before_process.stages:
            if sid not in process.stages and sid not in renamed:
                target = process.migrate.get(sid)
                detail = f"records move to {target}" if target else ""
                changes.append(Change("remove", "stage", f"{name}.{sid}", detail, process.form, None, sid, target))
        if before_process.form != process.form:
            changes.append(
                Change("change", "process", name, f"form {before_process.form} -> {process.form}", form=process.form)
            )
    for name, process in old_processes.items():
        if name not in new.processes:
            changes.append(Change("remove", "process", name, "", form=process.form, old=name))
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
                changes.append(Change("add", target, key))
            elif before_map[key] != value:
                changes.append(Change("change", target, key))
        for key in before_map:
            if key not in after_map:
                changes.append(Change("remove", target, key))
    if old is not None:
        settings = ("name", "timezone", "calendar", "hours_per_day", "busy_timeout")
        moved = [s for s in settings if getattr(old, s) != getattr(new, s)]
        if moved:
            changes.append(Change("change", "workspace", new.name, ", ".join(moved)))
    return changes
