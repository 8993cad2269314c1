"""crmctl schema: the JSON Schemas of the configuration language, for editors and other tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crmctl.cli.base import write_file
from crmctl.errors import InputError, UsageError


def schema(
    kind: Annotated[
        str | None,
        typer.Argument(
            help="A kind (Workspace, Calendar, Team, Form, Process, ProjectTemplate, IntakeRule); default: any."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write every schema into this folder instead of printing one."),
    ] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of one configuration kind, self-contained.

    Without KIND it prints one schema that accepts a document of any kind. With --out DIR it writes
    crmctl.schema.json and one <kind>.schema.json per kind, for a yaml-language-server modeline.
    """
    from crmctl.config.schemas import KINDS, bundled, bundled_all, kind_for

    if out is not None:
        if kind is not None:
            raise UsageError("give either KIND or --out, not both")
        if out.exists() and not out.is_dir():
            raise InputError(f"refusing to write schemas into {out}: it is not a folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder {out}: {exc.strerror or exc}") from None
        written = {"crmctl.schema.json": bundled_all()}
        written.update({KINDS[k]: bundled(k) for k in KINDS})
        for name, body in written.items():
            write_file(out / name, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        typer.echo(f"wrote {len(written)} schemas to {out}")
        return
    if kind is None:
        body = bundled_all()
    else:
        found = kind_for(kind)
        if found is None:
            raise UsageError(f"unknown kind '{kind}'; kinds: {', '.join(KINDS)}")
        body = bundled(found)
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
