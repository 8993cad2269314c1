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
    from crmctl.ops.catalog import ProcessCard, StageLine, TemplateCard, ValueSpec  # the result types, to lay out

    head: list[tuple[str, Any]] = [("title", card.title)]
    rows: Sequence[Any]
    shape: type
    if isinstance(card, TemplateCard):
        head += [("form", card.form), ("tasks", ", ".join(t.split(":")[0] for t in card.tasks))]
        part, rows, shape = "parameters", card.parameters, ValueSpec
    elif isinstance(card, ProcessCard):
        head += [("form", card.form), ("initial", card.initial)]
        part, rows, shape = "stages", card.stages, StageLine
    else:
        head += [("key prefix", card.key_prefix), ("unique", ", ".join(card.unique))]
        part, rows, shape = "fields", card.fields, ValueSpec
    if card.description:
        head.append(("description", card.description.strip()))
    text = f"{card.name}\n\n" + pairs([(k, v) for k, v in head if v not in (None, "")])
    return text + f"\n{part}\n" + (listing("table", rows, shape) if rows else "none\n")
