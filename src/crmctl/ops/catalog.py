"""What a workspace defines, listed: its project templates, processes and forms, each with its parameters,
stages or fields, their types, allowed values and defaults (`template list|show`, `process list|show`,
`form list|show`). Read from the workspace's files, as `validate` reads them: no database is opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmctl.domain.model import Definitions
from crmctl.domain.shapes import column
from crmctl.domain.values import FieldSpec
from crmctl.errors import NotFound
from crmctl.ops.session import Options, workspace_definitions


@dataclass(frozen=True)
class CatalogRequest:
    """Every definition of a kind (no name), or the one of this name."""

    name: str | None = None


@dataclass(frozen=True)
class ValueSpec:
    """A template's parameter or a form's field: what a value must be."""

    id: str = column()
    type: str = column()
    label: str = column()
    required: bool = column()
    default: Any = column()
    options: list[str] = column("allowed values")  # a list's values; a ref's form as `ref FORM`
    description: str | None = column(table=False)


@dataclass(frozen=True)
class TemplateRow:
    name: str = column()
    title: str = column()
    form: str | None = column()  # the form of the record a project is launched for
    parameters: list[str] = column()
    tasks: int = column()


@dataclass(frozen=True)
class TemplateCard:
    name: str
    title: str
    form: str | None
    description: str | None
    parameters: list[ValueSpec]
    tasks: list[str]  # "id: title" of each task the template may create


@dataclass(frozen=True)
class FormRow:
    name: str = column()
    title: str = column()
    key_prefix: str = column("prefix")
    fields: list[str] = column()
    unique: list[str] = column()  # each unique set, its fields joined by "+"


@dataclass(frozen=True)
class FormCard:
    name: str
    title: str
    key_prefix: str
    description: str | None
    unique: list[str]
    fields: list[ValueSpec]


@dataclass(frozen=True)
class StageLine:
    """A stage of a process: who works on it, who approves it, where it goes."""

    id: str = column()
    title: str = column()
    responsible: str | None = column()
    approvers: list[str] = column()  # "who (group)", and "when ..." for a group with a condition
    transitions: list[str] = column("goes to")
    terminal: bool = column()


@dataclass(frozen=True)
class ProcessRow:
    name: str = column()
    title: str = column()
    form: str = column()
    initial: str = column()
    stages: list[str] = column()


@dataclass(frozen=True)
class ProcessCard:
    name: str
    title: str
    form: str
    initial: str
    description: str | None
    stages: list[StageLine]


def _value_spec(raw: dict[str, Any]) -> ValueSpec:
    spec = FieldSpec.from_dict(raw)
    allowed = list(spec.options) if spec.type == "list" else [f"ref {spec.form}"] if spec.form else []
    return ValueSpec(
        spec.id, spec.type, spec.label or spec.id, spec.required, spec.default, allowed, raw.get("description")
    )


def _named(defs: Definitions, kind: str, name: str) -> dict[str, Any]:
    """The document of a kind by name, or NotFound listing the names there are."""
    found = {d["name"]: d for d in defs.documents if d["kind"] == kind}
    if name not in found:
        noun = {"ProjectTemplate": "template", "Process": "process", "Form": "form"}[kind]
        raise NotFound(f"no {noun} '{name}' ({noun}s: {', '.join(sorted(found)) or 'none'})")
    return found[name]


def template_list(options: Options, request: CatalogRequest) -> list[TemplateRow]:
    """The workspace's project templates, with their parameters."""
    defs = workspace_definitions(options)
    return [
        TemplateRow(
            name,
            doc.get("title", name),
            doc.get("form"),
            [p["id"] for p in doc.get("parameters", [])],
            len(doc.get("tasks", [])),
        )
        for name, doc in sorted(defs.templates.items())
    ]


def template_show(options: Options, request: CatalogRequest) -> TemplateCard:
    """A project template: its parameters (types, allowed values, defaults) and its tasks."""
    doc = _named(workspace_definitions(options), "ProjectTemplate", request.name or "")
    return TemplateCard(
        doc["name"],
        doc.get("title", doc["name"]),
        doc.get("form"),
        doc.get("description"),
        [_value_spec(p) for p in doc.get("parameters", [])],
        [f"{t['id']}: {t['title']}" for t in doc.get("tasks", [])],
    )


def form_list(options: Options, request: CatalogRequest) -> list[FormRow]:
    """The workspace's forms, with their fields."""
    defs = workspace_definitions(options)
    return [
        FormRow(f.name, f.title, f.key_prefix, list(f.fields), ["+".join(u) for u in f.unique])
        for _, f in sorted(defs.forms.items())
    ]


def form_show(options: Options, request: CatalogRequest) -> FormCard:
    """A form: its fields (types, allowed values, defaults) and what is unique."""
    defs = workspace_definitions(options)
    doc = _named(defs, "Form", request.name or "")
    form = defs.forms[doc["name"]]
    return FormCard(
        form.name,
        form.title,
        form.key_prefix,
        doc.get("description"),
        ["+".join(u) for u in form.unique],
        [_value_spec(f) for f in doc["fields"]],
    )


def process_list(options: Options, request: CatalogRequest) -> list[ProcessRow]:
    """The workspace's processes, with their stages."""
    defs = workspace_definitions(options)
    return [ProcessRow(p.name, p.title, p.form, p.initial, list(p.stages)) for _, p in sorted(defs.processes.items())]


def _approvers(stage: dict[str, Any]) -> list[str]:
    found = []
    for i, group in enumerate(stage.get("approvals", [])):
        name = group.get("name", f"group {i + 1}")
        when = " when ..." if "when" in group else ""
        found += [f"{who} ({name}){when}" for who in group["approvers"]]
    return found


def process_show(options: Options, request: CatalogRequest) -> ProcessCard:
    """A process: each stage's responsible person, approvers and transitions."""
    defs = workspace_definitions(options)
    doc = _named(defs, "Process", request.name or "")
    process = defs.processes[doc["name"]]
    stages = [
        StageLine(s.id, s.title, s.raw.get("responsible"), _approvers(s.raw), list(s.transitions), s.terminal)
        for s in process.stages.values()
    ]
    return ProcessCard(process.name, process.title, process.form, process.initial, doc.get("description"), stages)
