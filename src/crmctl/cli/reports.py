"""crmctl report efficiency | estimates | funnel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import LISTING_FORMATS, FormatOption, check_output, choose_format, emit, options, write_file

report_app = typer.Typer(help="Reports: efficiency, estimate revision, stage funnel.", no_args_is_help=True)

EFFICIENCY_COLUMNS = [
    ("tasks", "tasks"),
    ("unestimated", "no estimate"),
    ("estimated_hours", "estimated h"),
    ("actual_hours", "actual h"),
    ("ratio", "ratio"),
    ("mean_hours", "mean h"),
    ("median_hours", "median h"),
    ("p90_hours", "p90 h"),
]


def _session() -> Any:
    from crmctl.ops.session import open_session

    return open_session(options(), write=False)  # every report only reads


def _efficiency_columns(by: list[str], period: str | None) -> list[tuple[str, str]]:
    return [*([("period", "period")] if period else []), *[(g, g) for g in by], *EFFICIENCY_COLUMNS]


def _html(session: Any, args: dict[str, Any], period: str) -> str:
    """The page: each person's ratio per period, the mean actual hours per task type per period, the tables."""
    from crmctl.ops import reports
    from crmctl.render.charts import line_chart
    from crmctl.render.pages import page

    charts = []
    for group, value, title in (
        ("person", "ratio", "Each person's ratio (estimated / actual) by period"),
        ("type", "mean_hours", "Mean actual hours per task, by task type and period"),
    ):
        result = reports.efficiency(session, **{**args, "by": group, "period": period})
        periods = list(dict.fromkeys(r["period"] for r in result.rows))
        series: dict[str, dict[str, Any]] = {}
        for row in result.rows:
            series.setdefault(row[group], {})[row["period"]] = row[value]
        charts.append(
            {
                "title": title,
                "geometry": line_chart(periods, series),
                "rows": result.rows,
                "columns": _efficiency_columns([group], period),
            }
        )
    begin, end = args["since"], args["until"]
    span = f"{begin or 'the beginning'} to {end or 'now'}"
    return page(
        "report.html.j2",
        workspace=session.defs.name,
        period=period,
        span=span,
        now=session.now.strftime("%Y-%m-%d %H:%M"),
        charts=charts,
    )


@report_app.command("efficiency")
def efficiency(
    by: Annotated[str, typer.Option("--by", help="person, type, or person,type.")] = "person",
    period: Annotated[str | None, typer.Option("--period", help="week, month or quarter (default: none).")] = None,
    since: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD), included.")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), excluded.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Only this person's tasks.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only tasks of this type.")] = None,
    include_open: Annotated[bool, typer.Option("--include-open", help="Count open tasks' time so far.")] = False,
    sprint: Annotated[str | None, typer.Option("--sprint", help="Only the tasks of this sprint.")] = None,
    output: FormatOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Estimated against actual time of finished tasks, per person and/or task type, per period."""
    from crmctl.ops import reports
    from crmctl.render.tables import render

    fmt = choose_format(output, (*LISTING_FORMATS, "html"))
    if out is not None:
        check_output(out)
    args = {
        "by": by,
        "period": period,
        "since": since,
        "until": until,
        "person": person,
        "type_": type_,
        "include_open": include_open,
        "sprint": sprint,
    }
    with _session() as session:
        if fmt == "html":
            text = _html(session, args, period or "week")
        else:
            result = reports.efficiency(session, **args)
            text = render(fmt, result.rows, _efficiency_columns(result.by, result.period))
            if not result.rows:
                typer.echo("crmctl: note: no finished tasks match", err=True)
    if out is not None:
        write_file(out, text)
    else:
        emit(text)


@report_app.command("estimates")
def estimates(
    min_tasks: Annotated[int, typer.Option("--min-tasks", help="Suggest only from at least this many tasks.")] = 5,
    output: FormatOption = None,
) -> None:
    """Per task type: the templates' estimate beside the observed actual time, and a suggested estimate."""
    from crmctl.domain.durations import format_minutes
    from crmctl.ops import reports
    from crmctl.render.tables import render

    fmt = choose_format(output, LISTING_FORMATS)
    with _session() as session:
        rows = reports.estimates(session, min_tasks)
    if fmt != "table":
        keys = (
            "type",
            "subtype",
            "template_minutes",
            "tasks",
            "median_minutes",
            "p25_minutes",
            "p75_minutes",
            "suggested_minutes",
            "enough",
        )
        emit(render(fmt, rows, [(k, k) for k in keys]))
        return

    def minutes(value: Any) -> str:
        return "" if value is None else format_minutes(round(value))

    shown = [
        {
            **r,
            "template": ", ".join(format_minutes(m) for m in r["template_minutes"]),
            "median": minutes(r["median_minutes"]),
            "spread": f"{minutes(r['p25_minutes'])}–{minutes(r['p75_minutes'])}" if r["tasks"] else "",
            "suggested": minutes(r["suggested_minutes"])
            if r["enough"]
            else f"too few tasks ({r['tasks']} < {min_tasks})",
        }
        for r in rows
    ]
    columns = [
        ("type", "type"),
        ("subtype", "subtype"),
        ("template", "template estimate"),
        ("tasks", "done tasks"),
        ("median", "median actual"),
        ("spread", "25–75%"),
        ("suggested", "suggested"),
    ]
    emit(render(fmt, shown, columns))


@report_app.command("funnel")
def funnel(
    process_name: Annotated[str, typer.Argument(metavar="PROCESS", help="The process to analyse.")],
    output: FormatOption = None,
) -> None:
    """Stage analytics: time spent in each stage, where records went next and where they ended."""
    from crmctl.ops import reports
    from crmctl.render.tables import render

    fmt = choose_format(output, LISTING_FORMATS)
    with _session() as session:
        process, rows = reports.funnel(session, process_name)
    if fmt == "json":
        emit(render(fmt, rows, [(k, k) for k in rows[0]] if rows else []))
        return

    def counts(found: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))

    shown = [{**r, "next": counts(r["next"]), "ended": counts(r["ended"])} for r in rows]
    columns = [
        ("stage", "stage"),
        ("title", "title"),
        ("entered", "entered"),
        ("here", "now here"),
        ("median_hours", "median h"),
        ("p90_hours", "p90 h"),
        ("next", "went to"),
        ("ended", "ended"),
        ("won", "won"),
        ("lost", "lost"),
    ]
    emit(f"{process.title}\n\n" + render(fmt, shown, columns) if fmt == "table" else render(fmt, shown, columns))
