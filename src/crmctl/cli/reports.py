"""crmctl report efficiency | estimates | funnel."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crmctl.cli.base import (
    LISTING_FORMATS,
    ListingFormat,
    OutOption,
    call,
    check_output,
    choose_format,
    completes,
    emit,
    formats,
    write_file,
)

report_app = typer.Typer(help="Reports: efficiency, estimate revision, stage funnel.", no_args_is_help=True)

ESTIMATES_TABLE = [
    ("type", "type"),
    ("subtype", "subtype"),
    ("template", "template estimate"),
    ("default", "default"),
    ("tasks", "done tasks"),
    ("median", "median actual"),
    ("spread", "25–75%"),
    ("suggested", "suggested"),
]
FUNNEL_TABLE = [  # CSV's columns too, under the same headers
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


@report_app.command("efficiency")
def efficiency(
    by: Annotated[
        str, typer.Option("--by", help="person, type, project, record, form, or several: person,type.")
    ] = "person",
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="week|month|quarter", help="week, month or quarter (default: none)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", metavar="DATE", help="First day (YYYY-MM-DD), included.")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Last day (YYYY-MM-DD), excluded.")] = None,
    person: Annotated[
        str | None, typer.Option("--person", help="Only this person's tasks.", autocompletion=completes("person"))
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only tasks of this type.")] = None,
    include_open: Annotated[bool, typer.Option("--include-open", help="Count open tasks' time so far.")] = False,
    sprint: Annotated[str | None, typer.Option("--sprint", help="Only the tasks of this sprint.")] = None,
    output: Annotated[str | None, formats(*LISTING_FORMATS, "html")] = None,
    out: OutOption = None,
) -> None:
    """Estimated against actual time of finished tasks, per person, task type, project, record or form, per
    period."""
    from crmctl.ops.reports import EfficiencyRequest
    from crmctl.render.pages import efficiency_columns, efficiency_page, efficiency_rows
    from crmctl.render.tables import render

    fmt = choose_format(output)
    if out is not None:
        check_output(out)
    request = EfficiencyRequest(by, period, since, until, person, type_, include_open, sprint, page=fmt == "html")
    report = call("report.efficiency", request)
    if fmt == "html":
        text = efficiency_page(report)
    else:
        (table,) = report.tables
        text = render(fmt, efficiency_rows(table), efficiency_columns(table))
        if not table.rows:
            typer.echo("crmctl: note: no finished tasks match", err=True)
    if out is not None:
        write_file(out, text)
    else:
        emit(text)


@report_app.command("estimates")
def estimates(
    min_tasks: Annotated[int, typer.Option("--min-tasks", help="Suggest only from at least this many tasks.")] = 5,
    output: ListingFormat = None,
) -> None:
    """Per task type: the templates' and the Workspace's default estimate beside the observed actual time, and
    a suggested estimate (and whether to update the default)."""
    from crmctl.domain.durations import format_minutes
    from crmctl.ops.reports import EstimateRow, EstimatesRequest
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    rows = call("report.estimates", EstimatesRequest(min_tasks))

    def minutes(value: float | None) -> str:
        return "" if value is None else format_minutes(round(value))

    def cells(row: dict[str, Any], item: EstimateRow) -> None:
        row["template"] = ", ".join(format_minutes(m) for m in item.template_minutes)
        row["default"] = minutes(item.default_minutes)
        row["median"] = minutes(item.median_minutes)
        row["spread"] = f"{minutes(item.p25_minutes)}–{minutes(item.p75_minutes)}" if item.tasks else ""
        enough = minutes(item.suggested_minutes)
        row["suggested"] = enough if item.enough else f"too few tasks ({item.tasks} < {min_tasks})"
        if item.update_default:
            row["suggested"] += " (update the default)"

    emit(listing(fmt, rows, EstimateRow, table=cells, extra=ESTIMATES_TABLE))


@report_app.command("funnel")
def funnel(
    process_name: Annotated[
        str, typer.Argument(metavar="PROCESS", help="The process to analyse.", autocompletion=completes("process"))
    ],
    output: ListingFormat = None,
) -> None:
    """Stage analytics: time spent in each stage, where records went next and where they ended."""
    from crmctl.ops.reports import FunnelRequest
    from crmctl.render.shapes import rows
    from crmctl.render.tables import render

    fmt = choose_format(output)
    found = call("report.funnel", FunnelRequest(process_name))
    stages = rows(found.stages)
    if fmt == "json":
        emit(render(fmt, stages, [(k, k) for k in stages[0]] if stages else []))
        return

    def counts(found: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))

    shown = [{**r, "next": counts(r["next"]), "ended": counts(r["ended"])} for r in stages]
    text = render(fmt, shown, FUNNEL_TABLE)
    emit(f"{found.title}\n\n{text}" if fmt == "table" else text)
