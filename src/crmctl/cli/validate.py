"""crmctl validate: check definitions as CI and editors would."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmctl.cli.base import FormatOption, call, choose_format, settings
from crmctl.errors import ProblemsFound


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files, workspace folders or folders holding workspaces (default: the current workspace).",
            show_default=False,
        ),
    ] = None,
    output: FormatOption = None,
) -> None:
    """Check workspace definitions: YAML, JSON Schema and semantic checks; report every problem at once.

    Formats: text (file:line:col: error CODE message), json, github (workflow annotations), sarif.
    Exit codes: 0 clean (warnings allowed); 1 problems were found; 2 a usage error (an unknown option, a
    --format validate does not have); 3 a PATH that does not exist or holds no workspace, or no workspace
    here; 5 an internal error (a bug: please report it); 130 interrupted (Ctrl-C).
    """
    from crmctl.ops.workspace import ValidateRequest, Validation
    from crmctl.render.diagnostics import FORMATS, RENDERERS

    fmt = choose_format(output if output != "table" else "text", FORMATS)
    result: Validation = call("validate", ValidateRequest(paths or [], settings().workspace))
    diagnostics = result.diagnostics
    if diagnostics or fmt != "text":
        typer.echo(RENDERERS[fmt](diagnostics), nl=False)
    else:
        workspaces = result.workspaces
        typer.echo(f"ok: {result.documents} documents in {workspaces} workspace{'s' if workspaces != 1 else ''}")
    if any(d.severity == "error" for d in diagnostics):
        raise typer.Exit(ProblemsFound.exit_code)
