"""The JSON Schemas shipped with crmctl: lookup, bundling and validation with readable messages."""

from __future__ import annotations

import copy
import difflib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

from crmctl.config.diagnostics import Diagnostic
from crmctl.config.yamlload import Document

if TYPE_CHECKING:  # jsonschema is imported only when a document needs its problems worded
    from jsonschema import Draft202012Validator, ValidationError

COMMON = "common.schema.json"
# kind -> schema file name; the order is the order of documentation and of `crmctl schema`.
KINDS = {
    "Workspace": "workspace.schema.json",
    "Calendar": "calendar.schema.json",
    "Team": "team.schema.json",
    "Form": "form.schema.json",
    "Process": "process.schema.json",
    "ProjectTemplate": "projecttemplate.schema.json",
    "IntakeRule": "intakerule.schema.json",
}
_TYPE_NAMES = {
    "string": "a text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}


def kind_for(name: str) -> str | None:
    """The kind whose name matches name, case-insensitively."""
    for kind in KINDS:
        if kind.lower() == name.lower():
            return kind
    return None


@cache
def raw_schema(filename: str) -> dict[str, Any]:
    text = resources.files("crmctl").joinpath("schemas", filename).read_text(encoding="utf-8")
    return cast("dict[str, Any]", json.loads(text))


def bundled(kind: str) -> dict[str, Any]:
    """The schema of kind as one self-contained document (shared definitions inlined), for editors."""
    schema = copy.deepcopy(raw_schema(KINDS[kind]))
    common = copy.deepcopy(raw_schema(COMMON)["$defs"])
    schema["$defs"] = {**common, **schema.get("$defs", {})}
    _rewrite_refs(schema)
    return schema


def bundled_all() -> dict[str, Any]:
    """One schema for any crmctl document: dispatches on `kind`."""
    defs: dict[str, Any] = copy.deepcopy(raw_schema(COMMON)["$defs"])
    branches = []
    for kind, filename in KINDS.items():
        body = copy.deepcopy(raw_schema(filename))
        body.pop("$schema", None)
        defs[kind] = body
        branches.append({"if": {"properties": {"kind": {"const": kind}}}, "then": {"$ref": f"#/$defs/{kind}"}})
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "crmctl configuration document",
        "type": "object",
        "properties": {"kind": {"enum": list(KINDS)}},
        "required": ["kind"],
        "allOf": branches,
        "$defs": defs,
    }
    _rewrite_refs(schema)
    return schema


def _rewrite_refs(node: object) -> None:
    """References to the shared definitions, in place: from the common file to this document's own $defs."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(COMMON):
                node[key] = value[len(COMMON) :]
            else:
                _rewrite_refs(value)
    elif isinstance(node, list):
        for item in node:
            _rewrite_refs(item)


@cache
def _validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    # One self-contained resource (common.schema.json inlined, as `crmctl schema` writes it): every $ref stays
    # inside it, which jsonschema follows faster than a $ref into another resource of a registry.
    return Draft202012Validator(bundled(kind))


@cache
def _fast(kind: str) -> Any:
    """A compiled validator that only answers valid or not, a hundred times faster; None if not installed."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(bundled(kind))


def validate_document(doc: Document) -> list[Diagnostic]:
    """Schema diagnostics of one document (S001-S004)."""
    data = doc.data
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        if kind is None:
            return [Diagnostic(doc.loc(), "S001", "missing 'kind' (one of: " + ", ".join(KINDS) + ")")]
        hint = _suggest(str(kind), KINDS)
        return [
            Diagnostic(doc.loc(("kind",)), "S001", f"unknown kind '{kind}'{hint}; expected one of: " + ", ".join(KINDS))
        ]
    fast = _fast(kind)
    try:
        if fast is not None and fast.is_valid(data):
            return []  # the common case; jsonschema below words the problems of the rest
    except (TypeError, ValueError):
        pass
    out: list[Diagnostic] = []
    for error in _validator(kind).iter_errors(data):
        out.extend(_translate(doc, error))
    return out


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "..."


def _translate(doc: Document, error: ValidationError) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    # Both are set on every error that iter_errors yields; the stubs allow them to be unset.
    value: Any = error.instance
    expected: Any = error.validator_value
    if validator == "additionalProperties" and isinstance(value, dict):
        known = schema.get("properties", {})
        if isinstance(schema.get("additionalProperties"), dict):
            # additionalProperties is a schema here: the error is about a value, reported below.
            return [doc.diagnostic(path, "S004", error.message)]
        return [
            doc.diagnostic((*path, key), "S002", f"unknown key '{key}'{_suggest(key, known)}", key=True)
            for key in value
            if key not in known
        ]
    if validator == "required":
        missing = [k for k in expected if isinstance(value, dict) and k not in value]
        return [doc.diagnostic(path, "S003", f"missing required key '{k}'") for k in missing]
    custom = schema.get("x-message")
    if custom:
        return [doc.diagnostic(path, "S004", f"{_show(value)}: {custom}")]
    if validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return [doc.diagnostic(path, "S004", f"expected {want}, got {_describe(value)}")]
    if validator == "enum":
        options = ", ".join(str(v) for v in expected)
        return [doc.diagnostic(path, "S004", f"{_show(value)} is not one of: {options}")]
    if validator == "const":
        return [doc.diagnostic(path, "S004", f"{_show(value)} must be {_show(expected)}")]
    if validator == "pattern":
        what = schema.get("description") or f"it must match {expected}"
        return [doc.diagnostic(path, "S004", f"{_show(value)} is not valid: {what}")]
    if validator in ("minItems", "minLength") and expected == 1:
        return [doc.diagnostic(path, "S004", "must not be empty")]
    if validator == "uniqueItems":
        repeat = _first_repeat(value if isinstance(value, list) else [])
        if repeat is not None:
            first, again = repeat
            where = doc.loc((*path, first))
            message = f"{_show(value[again])} is repeated (first at {where.line}:{where.column})"
            return [doc.diagnostic((*path, again), "S004", message)]
        return [doc.diagnostic(path, "S004", "has repeated items")]
    return [doc.diagnostic(path, "S004", error.message)]


def _first_repeat(items: list[Any]) -> tuple[int, int] | None:
    """The indexes of the first item that repeats an earlier one, and of that repeat."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        canonical = json.dumps(item, sort_keys=True)
        if canonical in seen:
            return seen[canonical], index
        seen[canonical] = index
    return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_show(value)}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
