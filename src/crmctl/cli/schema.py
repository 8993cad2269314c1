"""crmctl schema: the JSON Schemas of the configuration language, for editors and other tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import (
    call,
    write_file,
)
from crmctl.errors import InputError


def schema(
    kind: Annotated[
        str | None,
        typer.Argument(
            help="A kind (Workspace, Calendar, Team, Form, Process, ProjectTemplate, IntakeRule); default: any."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FOLDER", help="Write every schema into this folder instead of printing one."
        ),
    ] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of one configuration kind, self-contained.

    Without KIND it prints one schema that accepts a document of any kind. With --out DIR it writes
    crmctl.schema.json and one <kind>.schema.json per kind, for a yaml-language-server modeline.
    """
    from crmctl.ops.workspace import SchemaRequest, Schemas

    result: Schemas = call("schema", SchemaRequest(kind, every=out is not None))
    if out is None:
        typer.echo(_json(result.files[0].schema), nl=False)
        return
    if out.exists() and not out.is_dir():
        raise InputError(f"refusing to write schemas into {out}: it is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {out}: {exc.strerror or exc}") from None
    for file in result.files:
        write_file(out / file.name, _json(file.schema))
    typer.echo(f"wrote {len(result.files)} schemas to {out}")


def _json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
