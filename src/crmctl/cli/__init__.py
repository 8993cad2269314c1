"""The crmctl command line: a thin typer layer over the core."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmctl import __version__
from crmctl.cli import process as process_cmd
from crmctl.cli import projects as projects_cmd
from crmctl.cli import records as records_cmd
from crmctl.cli import reports as reports_cmd
from crmctl.cli import schedule as schedule_cmd
from crmctl.cli import schema as schema_cmd
from crmctl.cli import validate as validate_cmd
from crmctl.cli import workspace as workspace_cmd
from crmctl.cli.base import CrmGroup, Settings, use_settings

app = typer.Typer(
    cls=CrmGroup,
    name="crmctl",
    help="A command-line CRM and business-process engine: processes as code, data in one DuckDB file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crmctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", envvar="CRMCTL_WORKSPACE", help="Workspace folder (default: found upwards)."),
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", envvar="CRMCTL_DB", help="DuckDB file (default: the workspace's).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--as", envvar="CRMCTL_USER", help="Act as this person of the Team.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", envvar="CRMCTL_NOW", help="Pretend the time is this ISO date-time (scripts, tests)."),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--format", "-f", envvar="CRMCTL_FORMAT", help="Default output format.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = Settings(workspace=workspace, db=db, actor=actor, now=now, format=output, debug=debug)
    use_settings(ctx.obj)


app.command("init")(workspace_cmd.init)
app.command("validate")(validate_cmd.validate)
app.command("schema")(schema_cmd.schema)
app.command("plan")(workspace_cmd.plan)
app.command("apply")(workspace_cmd.apply)
app.add_typer(records_cmd.record_app, name="record")
app.command("comment")(records_cmd.comment)
app.command("remind")(records_cmd.remind)
app.command("agenda")(records_cmd.agenda)
app.command("advance")(process_cmd.advance)
app.command("approve")(process_cmd.approve)
app.command("reject")(process_cmd.reject)
app.command("board")(process_cmd.board)
app.command("simulate")(process_cmd.simulate)
app.command("inbox")(process_cmd.inbox)
app.add_typer(projects_cmd.project_app, name="project")
app.add_typer(projects_cmd.task_app, name="task")
app.add_typer(projects_cmd.time_app, name="time")
app.command("queue")(schedule_cmd.queue)
app.command("eta")(schedule_cmd.eta)
app.command("export")(schedule_cmd.export)
app.add_typer(reports_cmd.report_app, name="report")


def main() -> None:
    app(prog_name="crmctl")
