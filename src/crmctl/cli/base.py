"""What every command shares: global settings, the error handler, output format selection."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from crmctl.errors import INTERNAL, USAGE, CrmError, UsageError

LISTING_FORMATS = ("table", "json", "csv")


@dataclass
class Settings:
    """The global options, as every command sees them."""

    workspace: Path | None = None
    db: Path | None = None
    actor: str | None = None
    now: str | None = None
    format: str | None = None
    debug: bool = False
    quiet: bool = False


_current: ContextVar[Settings] = ContextVar("crmctl_settings", default=Settings())  # noqa: B039


def use_settings(value: Settings) -> None:
    """Called once per invocation by the root callback."""
    _current.set(value)


def settings() -> Settings:
    return _current.get()


def completes(kind: str) -> Any:
    """A typer `autocompletion` offering the workspace's names of a kind (see crmctl.ops.lookups.names); the
    completion code is imported only when the shell asks."""

    def complete(ctx: typer.Context, incomplete: str) -> list[str]:
        from crmctl.cli.completion import names

        return names(ctx, kind, incomplete)

    return complete


def formats(*choices: str) -> Any:
    """The --format option of a command with these choices, the first its default: the one place they are
    named, for its help and for choose_format."""
    return typer.Option(
        "--format",
        "-f",
        metavar="|".join(choices),
        help=f"Output format: {', '.join(choices)} (default: {choices[0]}).",
        show_default=False,
    )


FormatOption = Annotated[str | None, formats("table", "json")]
ListingFormat = Annotated[str | None, formats(*LISTING_FORMATS)]


def _declared_formats() -> tuple[str, ...]:
    """The choices of the running command's --format option, as `formats` declared them."""
    from typer._click.globals import get_current_context  # typer carries its own copy of click

    command = get_current_context().command
    (option,) = [p for p in command.params if "--format" in getattr(p, "opts", ())]
    return tuple(str(option.metavar).split("|"))


def choose_format(option: str | None, default: str | None = None) -> str:
    """The output format: the command's --format, else the global one, else the first its option allows."""
    allowed = _declared_formats()
    chosen = option or settings().format or default or allowed[0]
    if chosen not in allowed:
        raise UsageError(f"--format must be one of: {', '.join(allowed)} (got '{chosen}')")
    return chosen


def _debug_wanted(ctx: Any) -> bool:
    obj = getattr(ctx, "obj", None)
    if isinstance(obj, Settings) and obj.debug:
        return True
    return "--debug" in sys.argv[1:] or os.environ.get("CRMCTL_DEBUG", "") not in ("", "0")


def _not_utf8(args: Any) -> str | None:
    """Bytes that are not UTF-8 reach Python as lone surrogates, which no file or database can hold."""
    for i, arg in enumerate(args, 1):
        if isinstance(arg, str) and not arg.isascii():
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                return f"argument {i} ({arg.encode('utf-8', 'backslashreplace').decode()})"
    for name, value in os.environ.items():
        if name.startswith("CRMCTL_") and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"the variable {name}"
    return None


def _say(line: str) -> None:
    """One line on stderr. Messages quote the user's input (a key, a field name, a value): its control
    characters are shown as \\x1b, and a line break as \\n, so that it can neither drive the terminal nor
    split the line."""
    from crmctl.render.tables import one_line  # imported on the error path only

    typer.echo(one_line(line), err=True)


class CrmGroup(TyperGroup):
    """The one place where errors become a line on stderr and an exit code, and where every command's help
    gets its examples, exit codes and words for values (crmctl.cli.help)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from crmctl.cli.help import polish  # the help's text, with the commands being built

        polish(self)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Command-line mistakes (an unknown option, a missing argument) are one line too, exit 2."""
        from typer._click import exceptions as click  # typer 0.26+ carries its own copy of click

        if not standalone_mode:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        given = args[0] if args else kwargs.get("args")
        bad = _not_utf8(sys.argv[1:] if given is None else given)
        if bad:
            typer.echo(f"crmctl: error: {bad} is not valid UTF-8", err=True)
            sys.exit(USAGE)
        try:
            result = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            _say(f"crmctl: error: {exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("crmctl: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except CrmError as exc:
            if _debug_wanted(ctx):
                traceback.print_exc()
            for line in exc.details:
                _say(line)
            _say(f"crmctl: error: {exc.message}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("crmctl: interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if _debug_wanted(ctx):
                traceback.print_exc()
            name = type(exc).__name__
            _say(f"crmctl: internal error: {name}: {exc} (run with --debug for the traceback; please report it)")
            raise typer.Exit(INTERNAL) from None


def options() -> Any:
    """The global options as the core takes them."""
    from crmctl.ops.session import Options

    s = settings()
    return Options(workspace=s.workspace, db=s.db, actor=s.actor, now=s.now)


def call(name: str, request: Any, dry_run: bool = False) -> Any:
    """Run the named operation (crmctl.ops.registry) with this request: on the team server the command line
    is signed in to (crmctl.client), as the token's person, or else on the local workspace, as the --as
    person. Either way its typed result is the command's to render. With dry_run, a write is run and
    rolled back, and the result is a Rehearsal (crmctl.ops.session) of what it did."""
    from crmctl.ops.registry import BY_NAME, local_only, refuse_dry_run, run

    name = name.replace(" ", ".")  # "token create" or "token.create"
    op = BY_NAME[name]
    served = op.access in ("read", "write") or op.served is not None  # validate, schema, init: run here
    server = _server() if served else None
    if server is None:
        return run(name, options(), request, dry_run)
    refused = local_only(op)
    if refused:
        raise UsageError(refused)
    if dry_run:
        refuse_dry_run(op)
    from crmctl.client.remote import call as remote

    if op.served is not None:  # plan, apply: the server gets the workspace's YAML with the request
        request = _with_workspace(request)
    files = None
    if op.reads_files:  # import, intake mail: the files the request names go with it
        from crmctl.uploads import gather

        files = gather(request)
    request_type, result_type = op.types()
    if dry_run:
        from crmctl.ops.session import Rehearsal  # what the server answers a dry run with

        result_type = Rehearsal
    return remote(server, name, request, request_type, result_type, files=files, dry_run=dry_run)


def _with_workspace(request: Any) -> Any:
    import dataclasses

    from crmctl.config.workspace import sent_files
    from crmctl.errors import NotFound
    from crmctl.ops.session import workspace_root

    root = workspace_root(options())
    if root is None:
        raise NotFound(f"no workspace: {Path.cwd()} has no crmctl.yaml, nor any folder above it")
    return dataclasses.replace(request, files=sent_files(root))


DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Show what it would do (stages, approvals, projects, tasks) and write nothing."),
]


def rehearse(name: str, request: Any, fmt: str = "table") -> None:
    """Run a write with --dry-run and print what it would have done (crmctl.render.records.rehearsal)."""
    from crmctl.render.records import rehearsal

    emit(rehearsal(fmt, call(name, request, dry_run=True)))


def _server() -> Any:
    """The server this command talks to (crmctl.client.config.Server), or None for the local workspace."""
    from crmctl.client.config import chosen
    from crmctl.ops.session import workspace_root, workspace_settings

    s = settings()
    if s.db is not None or s.workspace is not None:
        return None  # a database or workspace named on the command line is worked on here
    root = workspace_root(options())
    named = workspace_settings(root).get("server") if root is not None else None
    server = chosen(root is not None, str(named) if named else None)
    if server is not None and s.actor:
        raise UsageError("--as (and CRMCTL_USER) cannot be used against a server: you act as the person of your token")
    return server


STDIN = Path("-")


def _stdin_suffix(head: bytes) -> str:
    """The ending that tells a reader what standard input holds: Parquet, JSON, JSON Lines, a mailbox, an
    e-mail message (by their first bytes), else what the command reads by default."""
    start = head.lstrip()
    if head.startswith(b"PAR1"):
        return ".parquet"
    if start.startswith(b"["):
        return ".json"
    if start.startswith(b"{"):
        return ".jsonl"
    if head.startswith(b"From "):
        return ".mbox"
    if start.startswith((b"- ", b"---")):
        return ".yaml"
    return ""


@contextmanager
def stdin_as_file(paths: list[Path], default: str) -> Iterator[list[Path]]:
    """The paths, a `-` among them replaced by a file `stdin<ending>` in a temporary folder that holds what
    standard input holds, so that an operation reads it as it reads any file given by name (and a server
    refuses it as it refuses one). The ending comes from the first bytes, else `default` (".csv")."""
    if STDIN not in paths:
        yield paths
        return
    if paths.count(STDIN) > 1:
        raise UsageError("'-' (standard input) can be given once")
    import tempfile  # here: only when standard input is read

    data = sys.stdin.buffer.read()
    sniffed = _stdin_suffix(data[:64])
    suffix = default if default == ".yaml" else sniffed or default  # YAML reads JSON as well
    with tempfile.TemporaryDirectory(prefix="crmctl-stdin-") as folder:
        file = Path(folder) / f"stdin{suffix}"
        file.write_bytes(data)
        yield [file if path == STDIN else path for path in paths]


def dash_is_stdout(value: Path | None) -> Path | None:
    """--out -: standard output, as if --out were not given."""
    return None if value == STDIN else value


OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", metavar="FILE", help="Write to this file (- is standard output).", callback=dash_is_stdout
    ),
]


def color_wanted() -> bool:
    """Colour only on a terminal, and never with NO_COLOR set to something (an empty one counts as unset)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def emit(text: str) -> None:
    typer.echo(text, nl=False)


def _databases() -> list[Path]:
    """The database an output file must never replace: the workspace's (or --db), if there is one."""
    from crmctl.errors import CrmError
    from crmctl.ops.session import database_path

    try:
        return [database_path(options())[0]]
    except CrmError:  # no workspace (validate, schema): the DuckDB-header check still guards any database
        return []


def check_output(path: Path) -> None:
    """Refuse an output file before a command changes anything, where the file is written afterwards."""
    from crmctl.store.files import check

    check(path, _databases())


def write_file(path: Path, text: str, newline: str | None = None) -> None:
    """Write an output file the user named, through the one safe writer (crmctl.store.files)."""
    from crmctl.store.files import write_text

    write_text(path, text, _databases(), newline=newline)


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write an output file of bytes (an export, which may be Parquet; a backup, mode 0600) through the one
    safe writer."""
    from crmctl.store.files import write_bytes as write

    write(path, data, _databases(), mode)
