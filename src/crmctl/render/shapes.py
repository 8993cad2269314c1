"""Listings of result rows in every format, their columns from the row type (crmctl.domain.shapes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from crmctl.domain.shapes import names, table_columns
from crmctl.render.tables import FLAG, Column, render


def columns(shape: type, fmt: str) -> list[Column]:
    """(field, header) of each column a format shows: the table's under their headers, JSON's and CSV's all."""
    return table_columns(shape) if fmt == "table" else [(name, name) for name in names(shape)]


def rows(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Each item as a dict of its fields (shallow: values are kept as they are, the renderers convert them)."""
    return [{f.name: getattr(item, f.name) for f in dataclasses.fields(item)} for item in items]


def listing(
    fmt: str,
    items: Sequence[Any],
    shape: type,
    *,
    color: bool = False,
    flag: Callable[[Any], bool] | None = None,
    table: Callable[[dict[str, Any], Any], None] | None = None,
    extra: Sequence[Column] = (),
) -> str:
    """A listing of result rows in a format. `flag` marks rows for emphasis (red on a terminal); `table`
    adjusts a row's cells for the table only (e.g. "overdue" after a date); `extra` are columns the table
    shows before the shape's own, filled in by `table`."""
    data = rows(items)
    for row, item in zip(data, items, strict=True):
        if flag is not None:
            row[FLAG] = flag(item)
        if fmt == "table" and table is not None:
            table(row, item)
    chosen = columns(shape, fmt)
    if fmt == "table":
        chosen = [*extra, *chosen]
    return render(fmt, data, chosen, color=color)
