"""Result shapes: a result's row type declares its fields once, and every output format's columns come from it.

A row type is a dataclass. Each field is a column: JSON and CSV name it by the field's name; the table
shows it under its header, or leaves it out. Declare a field with `column(...)` to give it a header or to
keep it out of the table; a plain field is shown under its own name:

    @dataclass(frozen=True)
    class InboxItem:
        id: int = column(table=False)
        created_at: dt.datetime = column("when")
        text: str

The operations (crmctl.ops) define the row types; the renderers (crmctl.render.shapes) lay them out; docs/cli.md
names each listing's JSON fields, and tests/test_shapes.py checks them against the row types.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_NO_DEFAULT: Any = dataclasses.MISSING


def column(header: str | None = None, *, table: bool = True, default: Any = _NO_DEFAULT) -> Any:
    """A field of a row type with its table header (default: its name), or `table=False` to show it only in
    JSON and CSV."""
    metadata = {"header": header, "table": table}
    if default is _NO_DEFAULT:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def names(shape: type) -> list[str]:
    """The field names of a row type, in order: its JSON and CSV columns."""
    return [f.name for f in dataclasses.fields(shape)]


def table_columns(shape: type) -> list[tuple[str, str]]:
    """(field, header) of each field the table shows."""
    return [
        (f.name, f.metadata.get("header") or f.name) for f in dataclasses.fields(shape) if f.metadata.get("table", True)
    ]
