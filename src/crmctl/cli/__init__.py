"""The crmctl command line: a thin typer layer over the core."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmctl import __version__
from crmctl.cli.base import CrmGroup, Settings, completes, use_settings


def _new_app() -> typer.Typer:
    return typer.Typer(
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


# One piece: the global options, a parameter each, as typer reads them from the signature.
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            metavar="FOLDER",
            envvar="CRMCTL_WORKSPACE",
            help="Workspace folder (default: found upwards).",
        ),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", envvar="CRMCTL_DB", help="DuckDB file (default: the workspace's)."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="PERSON",
            envvar="CRMCTL_USER",
            help="Act as this person of the Team.",
            autocompletion=completes("person"),
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="DATETIME",
            envvar="CRMCTL_NOW",
            help="Pretend the time is this ISO date-time (scripts, tests).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", metavar="FORMAT", envvar="CRMCTL_FORMAT", help="Default output format of every command."
        ),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Tables show every column and cell whole, whatever the terminal's width.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", envvar="CRMCTL_QUIET", help="No progress lines, even on a terminal.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    ctx.obj = Settings(
        workspace=workspace, db=db, actor=actor or None, now=now, format=output, debug=debug, quiet=quiet
    )
    use_settings(ctx.obj)
    from crmctl.render.tables import show_everything  # the renderers, once a command runs (not for --help)

    show_everything(wide)


# Where the command line's typer object of each first word of a command lives: (module of crmctl.cli,
# attribute, a group of subcommands?). The commands themselves are the operation registry's
# (crmctl.ops.registry.OPERATIONS); tests/test_operations.py checks the two agree.
TYPERS = {
    "init": ("workspace", "init", False),
    "validate": ("validate", "validate", False),
    "schema": ("schema", "schema", False),
    "plan": ("workspace", "plan", False),
    "apply": ("workspace", "apply", False),
    "template": ("catalog", "template_app", True),
    "process": ("catalog", "process_app", True),
    "form": ("catalog", "form_app", True),
    "record": ("records", "record_app", True),
    "comment": ("records", "comment", False),
    "remind": ("records", "remind", False),
    "agenda": ("records", "agenda", False),
    "attach": ("files", "attach", False),
    "files": ("files", "files", False),
    "file": ("files", "file_app", True),
    "advance": ("process", "advance", False),
    "approve": ("process", "approve", False),
    "reject": ("process", "reject", False),
    "board": ("process", "board", False),
    "simulate": ("process", "simulate", False),
    "inbox": ("process", "inbox", False),
    "tick": ("tick", "tick", False),
    "announce": ("tick", "announce", False),
    "project": ("projects", "project_app", True),
    "task": ("projects", "task_app", True),
    "time": ("projects", "time_app", True),
    "queue": ("schedule", "queue", False),
    "eta": ("schedule", "eta", False),
    "load": ("schedule", "load", False),
    "report": ("reports", "report_app", True),
    "import": ("transfer", "import_", False),
    "export": ("transfer", "export", False),
    "intake": ("mail", "intake_app", True),
    "sprint": ("sprints", "sprint_app", True),
    "whoami": ("server", "whoami", False),
    "token": ("server", "token_app", True),
    "notices": ("server", "notices", False),
    "audit": ("server", "audit_app", True),
    "backup": ("server", "backup", False),
    "serve": ("server", "serve", False),
    "login": ("server", "login", False),
    "logout": ("server", "logout", False),
    "completion": ("completion", "completion", False),
}
# Commands that are not operations on a workspace: they run the server, sign this machine in and out, or print
# the shell's completion script.
LOCAL_COMMANDS = ("serve", "login", "logout", "completion")


def _first_words() -> list[str]:
    """The first word of every command, in the registry's order."""
    from crmctl.ops.registry import OPERATIONS

    return list(dict.fromkeys([*(op.command.split()[0] for op in OPERATIONS), *LOCAL_COMMANDS]))


def _valued_options() -> set[str]:
    """The root's options that take a value (`--as NAME`), read from its signature: the words after them are
    not the command's name."""
    import inspect
    from typing import get_type_hints

    hints = get_type_hints(root, include_extras=True)
    valued: set[str] = set()
    for name in inspect.signature(root).parameters:
        meta = getattr(hints[name], "__metadata__", ())
        for info in meta:
            if isinstance(info, typer.models.OptionInfo) and hints[name].__origin__ is not bool:
                # with Annotated, typer takes the first name given to typer.Option as its "default"
                valued.update(str(d) for d in (info.default, *(info.param_decls or ())) if str(d).startswith("-"))
    return valued


def build(names: list[str] | None = None) -> typer.Typer:
    """The command line with the named commands (all of them by default), their modules imported now."""
    import importlib

    app = _new_app()
    app.callback()(root)
    for name in names or _first_words():
        module, attribute, group = TYPERS[name]
        target = getattr(importlib.import_module(f"crmctl.cli.{module}"), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the whole command line, for tests and tools that import it
        globals()["app"] = full = build()
        return full
    raise AttributeError(name)


def command_in(args: list[str]) -> str | None:
    """The command an argument list names (its first word), or None (none, or one crmctl does not have)."""
    valued = _valued_options()
    i = 0
    while i < len(args):
        if args[i] in valued:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i] if args[i] in TYPERS else None
    return None


def main() -> None:
    import os
    import sys

    if os.environ.get("_CRMCTL_COMPLETE"):  # the shell asks for completions (crmctl completion SHELL)
        from crmctl.cli.completion import start

        start()
        build()(prog_name="crmctl")
        return
    name = command_in(sys.argv[1:])
    build([name] if name else None)(prog_name="crmctl")
