"""Standalone HTML pages from the package's Jinja2 templates, autoescaped; no network needed to view them."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

from crmctl.domain.shapes import table_columns

if TYPE_CHECKING:
    from jinja2 import Environment

    from crmctl.ops.reports import Efficiency, EfficiencyTable
    from crmctl.ops.schedule import Load


@cache
def _env() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("crmctl", "templates"), autoescape=select_autoescape(["html", "j2"]))


def page(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)


_GROUPS = ("period", "person", "type", "project", "record", "form")  # columns of an efficiency row shown when asked
_CHARTS = {  # the group of a page's table -> the figure its chart draws, and its title
    "person": ("ratio", "Each person's ratio (estimated / actual) by period"),
    "project": ("ratio", "Each project's ratio (estimated / actual) by period"),
    "record": ("ratio", "Each record's ratio (estimated / actual) by period"),
    "form": ("ratio", "Each form's ratio (estimated / actual) by period"),
    "type": ("mean_hours", "Mean actual hours per task, by task type and period"),
}


def efficiency_columns(table: EfficiencyTable) -> list[tuple[str, str]]:
    """The columns of an efficiency table: the period (when it has one), the groups, then the figures."""
    (row_type,) = get_args(get_type_hints(type(table))["rows"])  # the row type, from the result's own fields
    figures = [(name, header) for name, header in table_columns(row_type) if name not in _GROUPS]
    return [*([("period", "period")] if table.period else []), *[(g, g) for g in table.by], *figures]


def efficiency_rows(table: EfficiencyTable) -> list[dict[str, Any]]:
    """An efficiency table's rows as dicts of its columns, in their order (JSON's too)."""
    chosen = efficiency_columns(table)
    return [{name: getattr(row, name) for name, _ in chosen} for row in table.rows]


def efficiency_page(report: Efficiency) -> str:
    """The page: each person's ratio per period, the mean actual hours per task type per period, the tables."""
    from crmctl.render.charts import line_chart

    charts = []
    for table in report.tables:
        group = table.by[0]
        value, title = _CHARTS[group]
        periods = list(dict.fromkeys(r.period or "" for r in table.rows))  # a page's tables have periods
        series: dict[str, dict[str, Any]] = {}
        for row in table.rows:
            series.setdefault(getattr(row, group), {})[row.period or ""] = getattr(row, value)
        charts.append(
            {
                "title": title,
                "geometry": line_chart(periods, series),
                "rows": efficiency_rows(table),
                "columns": efficiency_columns(table),
            }
        )
    span = f"{report.since or 'the beginning'} to {report.until or 'now'}"
    return page(
        "report.html.j2",
        workspace=report.workspace,
        period=report.tables[0].period,
        span=span,
        now=report.made_at.strftime("%Y-%m-%d %H:%M"),
        charts=charts,
    )


def load_page(load: Load) -> str:
    """The team's load: each person's hours due in the period beside their available hours, then the table."""
    from crmctl.render.charts import bar_chart
    from crmctl.render.shapes import rows
    from crmctl.render.tables import cell

    people = [row.person for row in load.people]
    series = {
        "available h": {row.person: row.available_hours for row in load.people},
        "to do h": {row.person: row.demand_hours for row in load.people},
    }
    alert = {row.person: row.overloaded for row in load.people}
    shown: list[dict[str, Any]] = [{k: None if v is None else cell(v) for k, v in r.items()} for r in rows(load.people)]
    for row, item in zip(shown, load.people, strict=True):
        row["overloaded"] = item.overloaded
    last = (load.until - dt.timedelta(days=1)).date()
    return page(
        "load.html.j2",
        workspace=load.workspace,
        span=f"{load.since.date()} to {last}",
        now=load.made_at.strftime("%Y-%m-%d %H:%M"),
        chart=bar_chart(people, series, alert=alert),
        rows=shown,
        columns=table_columns(get_args(get_type_hints(type(load))["people"])[0]),  # the row type's own
    )
