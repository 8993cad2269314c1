"""crmctl validate: check definitions as CI and editors would."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmctl.cli.base import (
    call,
    choose_format,
    formats,
    settings,
    stdin_as_file,
)
from crmctl.errors import ProblemsFound

if TYPE_CHECKING:
    from crmctl.config.diagnostics import Diagnostic


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files, workspace folders or folders holding workspaces (default: the current workspace); - reads "
            "one file of definitions from standard input.",
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
    with stdin_as_file(paths or [], ".yaml") as given:
        result: Validation = call("validate", ValidateRequest(given, settings().workspace))
        diagnostics = _named_stdin(result.diagnostics, [p for p, q in zip(given, paths or [], strict=True) if p != q])
    if diagnostics or fmt != "text":
        typer.echo(RENDERERS[fmt](diagnostics), nl=False)
    else:
        workspaces = result.workspaces
        typer.echo(f"ok: {result.documents} documents in {workspaces} workspace{'s' if workspaces != 1 else ''}")
    if any(d.severity == "error" for d in diagnostics):
        raise typer.Exit(ProblemsFound.exit_code)


def _named_stdin(diagnostics: list[Diagnostic], read: list[Path]) -> list[Diagnostic]:
    """Problems in what standard input held are in the file `-`, not in the temporary file it was read into."""
    import dataclasses

    from crmctl.config.workspace import display_path

    names = {display_path(path) for path in read}
    return [
        dataclasses.replace(d, location=dataclasses.replace(d.location, file="-")) if d.location.file in names else d
        for d in diagnostics
    ]
