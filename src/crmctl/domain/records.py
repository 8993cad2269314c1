"""Record values: from what a user typed to what a record holds, with every problem named at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from crmctl.domain.model import FormDef
from crmctl.domain.values import convert
from crmctl.errors import InputError


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """['amount=100', 'name=ООО Ромашка'] -> {'amount': '100', ...}. An empty value clears a field."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set takes field=value, not '{pair}'")
        values[name.strip()] = value
    return values


def _noun(form: FormDef) -> str:
    """Template parameters travel as a FormDef whose key_prefix is empty; they are named as parameters."""
    return "field" if form.key_prefix else "parameter"


def _unknown(form: FormDef, names: Iterable[str]) -> list[str]:
    import difflib

    noun = _noun(form)
    owner = f"form {form.name}" if noun == "field" else f"template {form.name}"
    problems = []
    for name in names:
        if name not in form.fields:
            close = difflib.get_close_matches(name, list(form.fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" ({noun}s: {', '.join(form.fields) or 'none'})"
            problems.append(f"{owner} has no {noun} '{name}'{hint}")
    return problems


def _convert(form: FormDef, name: str, raw: Any, people: set[str] | None, problems: list[str]) -> Any:
    if raw is None or raw == "":
        return None
    try:
        return convert(form.fields[name], raw, people=people)
    except ValueError as exc:
        problems.append(f"{_noun(form)} '{name}': {exc}")
        return None


def simulation_values(form: FormDef, raw: Mapping[str, Any], people: set[str] | None) -> dict[str, Any]:
    """Like new_values, but a missing required field is allowed: a simulation may leave fields empty."""
    return new_values(form, raw, people, strict=False)


def new_values(form: FormDef, raw: Mapping[str, Any], people: set[str] | None, strict: bool = True) -> dict[str, Any]:
    """Every field's value for a new record: given values converted, defaults filled, required enforced."""
    problems = _unknown(form, raw)
    values: dict[str, Any] = {}
    for name, spec in form.fields.items():
        if name in raw:
            values[name] = _convert(form, name, raw[name], people, problems)
        elif spec.default is not None:
            values[name] = _convert(form, name, spec.default, people, problems)
        else:
            values[name] = None
        noun = _noun(form)
        missing = values[name] is None and not any(p.startswith(f"{noun} '{name}'") for p in problems)
        if strict and spec.required and missing:
            problems.append(f"{noun} '{name}' is required")
    if problems:
        raise InputError("; ".join(problems))
    return values


def changed_values(
    form: FormDef, current: Mapping[str, Any], raw: Mapping[str, Any], people: set[str] | None
) -> dict[str, tuple[Any, Any]]:
    """The fields an update changes: name -> (old, new). Unchanged values are left out."""
    problems = _unknown(form, raw)
    changes: dict[str, tuple[Any, Any]] = {}
    for name, given in raw.items():
        if name not in form.fields:
            continue
        value = _convert(form, name, given, people, problems)
        if value is None and form.fields[name].required and not any(p.startswith(f"field '{name}'") for p in problems):
            problems.append(f"field '{name}' is required and cannot be cleared")
        if value != current.get(name):
            changes[name] = (current.get(name), value)
    if problems:
        raise InputError("; ".join(problems))
    return changes


def plain(value: Any) -> Any:
    """A value as JSON holds it: money as an exact decimal string, dates and times in ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def unique_checks(
    form: FormDef, values: Mapping[str, Any], changed: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The unique sets of the form that these values fill entirely (an empty field conflicts with nothing),
    and, where `changed` is given, that hold a changed field: for each, field id -> value, the values a second
    record may not share."""
    touched = None if changed is None else set(changed)
    return [
        {name: values[name] for name in fields}
        for fields in form.unique
        if all(values.get(name) not in (None, "") for name in fields) and (touched is None or touched & set(fields))
    ]


def duplicate_message(form: FormDef, existing: str, values: Mapping[str, Any]) -> str:
    """Why a record cannot have these values: the record that has them already."""
    shown = ", ".join(f"{name} '{plain(value)}'" for name, value in values.items())
    return f"{form.name} {existing} has {shown} already (unique in form {form.name})"
