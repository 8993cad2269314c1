"""crmctl attach, files, file get, file delete: files attached to records, tasks and projects."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import ListingFormat, call, check_output, choose_format, emit, write_bytes

file_app = typer.Typer(help="Get or delete one attached file by its id.", no_args_is_help=True)

KeyArgument = Annotated[str, typer.Argument(help="A record key (CL-17), a task (T-3) or a project (P-2).")]


def _read(paths: list[Path]) -> list[Any]:
    """Each file's name (its last part: the name is kept, the folder is not) and bytes."""
    from crmctl.errors import InputError, NotFound
    from crmctl.ops.attachments import NewFile

    new = []
    for path in paths:
        if not path.exists():
            raise NotFound(f"no such file: {path}")
        if not path.is_file():
            raise InputError(f"{path} is not a file")
        try:
            new.append(NewFile(path.name, path.read_bytes()))
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return new


def _table(fmt: str, rows: list[Any]) -> str:
    from crmctl.domain.files import human_size
    from crmctl.ops.attachments import FileRow
    from crmctl.render.shapes import listing

    def sized(row: dict[str, Any], item: FileRow) -> None:
        row["size"] = human_size(item.size)
        if item.deleted_at is not None:
            row["name"] = f"{item.name} (deleted)"

    return listing(fmt, rows, FileRow, table=sized)


def attach(
    key: KeyArgument,
    paths: Annotated[list[Path], typer.Argument(metavar="FILE...", help="The files to attach.")],
    output: ListingFormat = None,
) -> None:
    """Attach files to a record, a task or a project; each content is stored once."""
    from crmctl.ops.attachments import AttachRequest

    fmt = choose_format(output)
    emit(_table(fmt, call("attach", AttachRequest(key, _read(paths)))))


def files(
    key: KeyArgument,
    tree: Annotated[
        bool, typer.Option("--tree", help="A project's library: its files, its subprojects' and their tasks'.")
    ] = False,
    archived: Annotated[bool, typer.Option("--archived", help="Deleted files too.")] = False,
    output: ListingFormat = None,
) -> None:
    """List the files attached to a record, a task or a project."""
    from crmctl.ops.attachments import FilesRequest

    fmt = choose_format(output)
    emit(_table(fmt, call("files", FilesRequest(key, tree, archived))))


@file_app.command("get")
def get(
    file_id: Annotated[int, typer.Argument(metavar="ID", help="The file's id (crmctl files KEY).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the bytes to this file; - (the default) to stdout.")
    ] = None,
) -> None:
    """Write an attached file's bytes to a file or to stdout."""
    from crmctl.ops.attachments import FileContent, FileGetRequest

    target = out if out is not None and str(out) != "-" else None
    if target is not None:
        check_output(target)
    found: FileContent = call("file.get", FileGetRequest(file_id))
    if target is not None:
        write_bytes(target, found.content)
        emit(f"wrote {target} ({found.file.name}, {found.file.size} bytes)\n")
    else:
        sys.stdout.buffer.write(found.content)
        sys.stdout.flush()


@file_app.command("delete")
def delete(
    file_id: Annotated[int, typer.Argument(metavar="ID", help="The file's id (crmctl files KEY).")],
) -> None:
    """Move an attached file to the archive: it leaves the list, its bytes are kept."""
    from crmctl.ops.attachments import FileDeleteRequest, FileRow

    gone: FileRow = call("file.delete", FileDeleteRequest(file_id))
    emit(f"file {gone.id} ({gone.name}) of {gone.owner} moved to the archive\n")
