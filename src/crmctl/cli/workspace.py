"""crmctl init, plan, apply: a workspace's YAML into its database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmctl.cli.base import (
    FormatOption,
    call,
    choose_format,
    emit,
)

if TYPE_CHECKING:
    from crmctl.ops.definitions import Planned

ArchiveOption = Annotated[
    bool,
    typer.Option("--archive", help="Set aside (never drop) the data of removed forms, fields, stages and processes."),
]


def _render_plan(result: Planned, fmt: str) -> str:
    if fmt == "json":
        body = {
            "database": str(result.database),
            "current_version": result.current_version,
            "next_version": result.next_version,
            "unchanged": result.unchanged,
            "changes": [c.as_dict() for c in result.changes],
            "refusals": result.refusals,
            "applied": result.applied,
        }
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if result.unchanged:
        return f"no changes: the database is at version {result.current_version}\n"
    lines = [f"{c.symbol} {c.target} {c.name}" + (f" ({c.detail})" if c.detail else "") for c in result.changes]
    lines += [f"! refused: {r}" for r in result.refusals]
    return "\n".join(lines) + "\n" if lines else "no changes to tables; definitions are new\n"


def init(
    folder: Annotated[Path | None, typer.Argument(help="The folder to create (empty or new).")] = None,
    example: Annotated[
        str | None, typer.Option("--example", "-e", help="Start from a bundled example workspace.")
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="Time zone of a minimal workspace.")] = "UTC",
    list_examples: Annotated[bool, typer.Option("--list-examples", help="List the bundled examples.")] = False,
) -> None:
    """Create a workspace (a bundled example or a minimal one) and its database."""
    from crmctl.config.workspace import display_path
    from crmctl.ops.workspace import Initialized, InitRequest

    result: Initialized = call("init", InitRequest(folder, example, timezone, list_examples))
    if result.database is None:  # --list-examples
        emit("".join(f"{name}\n" for name in result.examples))
        return
    database = display_path(result.database)
    emit(f"created {result.folder} with database {database} (definitions version {result.version})\n")


def plan(
    archive: ArchiveOption = False,
    output: FormatOption = None,
) -> None:
    """Show what `crmctl apply` would change in the database, and what it would refuse.

    Exit 0 when the plan can be applied, 1 when a change would lose data or the YAML has problems.
    """
    from crmctl.errors import InputError
    from crmctl.ops.definitions import PlanRequest

    fmt = choose_format(output)
    result: Planned = call("plan", PlanRequest(archive))
    emit(_render_plan(result, fmt))
    if result.refusals:
        count = len(result.refusals)
        raise InputError(f"{count} change{'s' if count != 1 else ''} would lose data (see the plan)")


def apply(
    archive: ArchiveOption = False,
    output: FormatOption = None,
) -> None:
    """Validate the workspace and apply its definitions to the database in one transaction."""
    from crmctl.ops.definitions import ApplyRequest

    fmt = choose_format(output)
    result: Planned = call("apply", ApplyRequest(archive))
    text = _render_plan(result, fmt)
    if fmt == "table" and result.applied is not None:
        text += f"applied: the database is at version {result.applied}\n"
    emit(text)
