"""crmctl completion SHELL, and the names the shell's completion offers; imported only when completing (or
printing the script), so that no other command pays for it."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import emit

PROG = "crmctl"
COMPLETE_VAR = "_CRMCTL_COMPLETE"  # the variable the script sets when it asks crmctl for completions


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(help="The shell: bash, zsh or fish.")]) -> None:
    """Print the script that makes the shell complete crmctl's commands, options, and the workspace's forms,
    processes, templates, people and record keys.

    Load it in the current shell, or add the line to the shell's start-up file (~/.bashrc, ~/.zshrc), or save
    it where fish looks for completions.
    """
    from typer._completion_shared import get_completion_script

    emit(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell.value).strip() + "\n")


def start() -> None:
    """Called by crmctl.cli.main when the shell asks for completions: typer's completion classes for bash,
    zsh and fish."""
    from typer._completion_classes import completion_init

    completion_init()


def names(ctx: Any, kind: str, incomplete: str) -> list[str]:
    """The names of a kind in the workspace the command line names (--workspace, --db, --as as typed so far)
    that start with what is typed; nothing if there is no workspace or it cannot be read now."""
    from crmctl.ops.lookups import names as found
    from crmctl.ops.session import Options, open_session

    given = ctx.find_root().params  # as click parsed them: paths are still text
    folder, db = given.get("workspace"), given.get("db")
    options = Options(Path(folder) if folder else None, Path(db) if db else None, given.get("actor"))
    os.environ.setdefault("CRMCTL_BUSY_TIMEOUT", "1")  # a shell waiting on a busy database: give up soon
    try:
        with open_session(options, write=False) as session:
            return found(session, kind, incomplete)
    except Exception:  # completion never fails aloud: no workspace, no database yet, a busy one
        return []
