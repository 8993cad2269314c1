"""Definitions as people and scripts read them: a template, a process or a form, with its parts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crmctl.domain.records import plain
from crmctl.render.shapes import listing
from crmctl.render.tables import pairs

if TYPE_CHECKING:
    from crmctl.ops.catalog import FormCard, ProcessCard, TemplateCard


def card_json(card: TemplateCard | ProcessCard | FormCard) -> str:
    return json.dumps(dataclasses.asdict(card), ensure_ascii=False, indent=2, default=plain) + "\n"


def card_text(card: TemplateCard | ProcessCard | FormCard) -> str:
    """The head (name, title, what it belongs to), then its parameters, stages or fields as a table."""
    c: Any = card  # one of three shapes, told apart by what it holds
    head: list[tuple[str, Any]] = [("title", c.title)]
    rows: Sequence[Any]
    if hasattr(card, "parameters"):  # a template
        head += [("form", c.form), ("tasks", ", ".join(t.split(":")[0] for t in c.tasks))]
        part, rows = "parameters", c.parameters
    elif hasattr(card, "stages"):  # a process
        head += [("form", c.form), ("initial", c.initial)]
        part, rows = "stages", c.stages
    else:  # a form
        head += [("key prefix", c.key_prefix), ("unique", ", ".join(c.unique))]
        part, rows = "fields", c.fields
    if c.description:
        head.append(("description", c.description.strip()))
    text = f"{c.name}\n\n" + pairs([(k, v) for k, v in head if v not in (None, "")])
    return text + f"\n{part}\n" + (listing("table", rows, type(rows[0])) if rows else "none\n")
