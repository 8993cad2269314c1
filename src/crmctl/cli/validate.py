"""crmctl validate: check definitions as CI and editors would."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmctl.cli.base import (
    call,
    choose_format,
    formats,
    settings,
)
from crmctl.errors import ProblemsFound


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files, workspace folders or folders holding workspaces (default: the current workspace).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[str | None, formats("text", "json", "github", "sarif")] = None,
) -> None:
    """Check workspace definitions: YAML, JSON Schema and semantic checks; report every problem at once.

    Formats: text (file:line:col: error CODE message), json, github (workflow annotations), sarif.
    """
    from crmctl.ops.workspace import ValidateRequest, Validation
    from crmctl.render.diagnostics import RENDERERS

    fmt = choose_format(output if output != "table" else "text")
    result: Validation = call("validate", ValidateRequest(paths or [], settings().workspace))
    diagnostics = result.diagnostics
    if diagnostics or fmt != "text":
        typer.echo(RENDERERS[fmt](diagnostics), nl=False)
    else:
        workspaces = result.workspaces
        typer.echo(f"ok: {result.documents} documents in {workspaces} workspace{'s' if workspaces != 1 else ''}")
    if any(d.severity == "error" for d in diagnostics):
        raise typer.Exit(ProblemsFound.exit_code)
