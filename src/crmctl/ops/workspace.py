"""init, validate and schema: making a workspace, checking its definitions, the configuration language's
schemas. Only init touches a database; the modules each command needs are imported when it runs, so that
validate and schema start without the database's."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.config.diagnostics import Diagnostic
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.session import Options, database_path

if TYPE_CHECKING:
    from crmctl.ops.definitions import Planned


def examples_folder() -> Path:
    """The bundled examples: the package's examples folder. In the source tree it is a link to
    examples/processes, which the wheel build follows, so an editable and a wheel install read the same path."""
    return Path(str(resources.files("crmctl"))) / "examples"


def example_names() -> list[str]:
    folder = examples_folder()
    return sorted(p.name for p in folder.iterdir() if (p / "crmctl.yaml").is_file()) if folder.is_dir() else []


MINIMAL = {
    "crmctl.yaml": """\
kind: Workspace
name: {name}
title: {name}
timezone: {timezone}
calendar: office
""",
    "calendar.yaml": """\
kind: Calendar
name: office
hours:
  mon-fri: ["09:00-13:00", "14:00-18:00"]
""",
    "team.yaml": """\
kind: Team
name: team
roles:
  - id: admin
    title: Administrator
    permissions: ["*"]
people:
  - id: {person}
    name: {person}
    roles: [admin]
""",
    "forms/client.yaml": """\
kind: Form
name: client
title: Client
key_prefix: CL
title_field: name
fields:
  - {{id: name, type: text, label: Name, required: true}}
  - {{id: email, type: email, label: E-mail}}
  - {{id: phone, type: phone, label: Phone}}
  - {{id: status, type: list, label: Status, options: [new, active, lost], default: new}}
  - {{id: next_contact, type: date, label: Next contact}}
""",
}


def _example_files(example: str) -> dict[str, bytes]:
    """A bundled example's files by their path inside it, without any database a checkout may hold."""
    folder = examples_folder() / example
    skip = (".duckdb", ".duckdb.wal", ".duckdb.lock")
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(skip)
    }


@dataclass(frozen=True)
class InitRequest:
    folder: Path | None = None  # the folder to create (new or empty); not needed to list the examples
    example: str | None = None  # a bundled example to start from (default: a minimal workspace)
    timezone: str = "UTC"  # the time zone of a minimal workspace
    list_examples: bool = False  # only list the bundled examples


@dataclass(frozen=True)
class Initialized:
    """The workspace made (its folder, database and definitions version), or the bundled examples' names."""

    folder: Path | None = None
    database: Path | None = None
    version: int | None = None
    examples: list[str] = field(default_factory=list)


def init(options: Options, request: InitRequest) -> Initialized:
    """Create a workspace in a folder (a bundled example or a minimal one) and its database; the files go
    through the safe writer, and a database that exists already is never taken over. Or list the examples."""
    if request.list_examples:
        return Initialized(examples=example_names())
    if request.folder is None:
        raise UsageError("give the FOLDER to create (or --list-examples)")
    target, example = request.folder, request.example
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target} exists and is not an empty folder")
    created = not target.exists()
    if example is not None and example not in example_names():
        raise UsageError(f"unknown example '{example}'; examples: {', '.join(example_names()) or 'none'}")
    if example is not None:
        files = _example_files(example)
    else:
        person = options.actor or "admin"
        values = {"name": _slug(target.resolve().name), "timezone": request.timezone, "person": person}
        files = {name: body.format(**values).encode("utf-8") for name, body in MINIMAL.items()}
    workspace = Options(workspace=target, db=options.db, actor=options.actor, now=options.now)
    try:
        result = _create(target, files, workspace)
    except BaseException:
        _undo(target, created)
        raise
    return Initialized(target, result.database, result.applied)


def _create(target: Path, files: dict[str, bytes], workspace: Options) -> Planned:
    """The workspace's files, its .gitignore and its database (by a first apply)."""
    from crmctl.ops.definitions import ApplyRequest, apply  # start-up: validate and schema need no database
    from crmctl.store.files import write_bytes

    for name, data in files.items():
        path = target / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
        write_bytes(path, data)
    database = database_path(workspace)[0]
    if database.exists() or database.is_symlink():
        raise InputError(f"{database} exists already; init makes a new database (`crmctl apply` sets up one)")
    ignore = _gitignore(target, database)
    if ignore is not None and not (target / ".gitignore").exists() and not (target / ".gitignore").is_symlink():
        write_bytes(target / ".gitignore", ignore.encode("utf-8"), [database])
    return apply(workspace, ApplyRequest())


def _undo(target: Path, created: bool) -> None:
    """The folder as it was before init: gone if init made it, else empty again."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
    else:
        for item in target.iterdir():
            shutil.rmtree(item) if item.is_dir() else item.unlink()


def _gitignore(target: Path, database: Path) -> str | None:
    """A .gitignore that keeps the database, its write-ahead log and its lock file out of git; None when the
    database lies outside the workspace folder (then git never sees it)."""
    try:
        inside = database.resolve().relative_to(target.resolve()).as_posix()
    except ValueError:
        return None
    lines = ["# crmctl's database, its write-ahead log and its lock file"]
    for suffix in ("", ".wal", ".lock"):
        name = "".join("\\" + c if c in "*?[\\" else c for c in inside + suffix)  # match the name literally
        lines.append("/" + (name[:-1] + "\\ " if name.endswith(" ") else name))
    return "\n".join(lines) + "\n"


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug if slug and slug[0].isalpha() else "workspace"


@dataclass(frozen=True)
class ValidateRequest:
    paths: list[Path] = field(default_factory=list)  # files, workspace folders, folders of workspaces
    workspace: Path | None = None  # where to look for the workspace when no path is given (default: here)


@dataclass(frozen=True)
class Validation:
    """Every problem found, and what was checked."""

    diagnostics: list[Diagnostic]
    documents: int  # documents read
    workspaces: int  # workspaces among the units checked


def validate(request: ValidateRequest) -> Validation:
    """Check workspace definitions: YAML, JSON Schema and semantic checks; every problem at once."""
    from crmctl.config.workspace import find_root, load_unit, units_for  # start-up: YAML and JSON Schema

    paths = request.paths
    if not paths:
        start = request.workspace or Path.cwd()
        root = find_root(start)
        if root is None:
            raise NotFound(f"no workspace ({start} has no crmctl.yaml, nor any folder above it); name a PATH")
        paths = [root]
    units = units_for(paths)
    loaded = [load_unit(unit) for unit in units]
    return Validation(
        [d for result in loaded for d in result.diagnostics],
        sum(len(result.documents) for result in loaded),
        sum(1 for u in units if u.root is not None),
    )


@dataclass(frozen=True)
class SchemaRequest:
    kind: str | None = None  # a configuration kind, any case (default: one schema for a document of any kind)
    every: bool = False  # every schema, each with its file name (for `--out DIR`)


@dataclass(frozen=True)
class SchemaFile:
    name: str  # the file name it is written under: crmctl.schema.json, <kind>.schema.json
    schema: dict[str, Any]


@dataclass(frozen=True)
class Schemas:
    """JSON Schemas (draft 2020-12), self-contained: the one asked for, or every one."""

    files: list[SchemaFile]


def schema(request: SchemaRequest) -> Schemas:
    """The JSON Schema of one configuration kind, of a document of any kind, or every one of them."""
    from crmctl.config.schemas import KINDS, bundled, bundled_all, kind_for  # start-up: read when asked

    kind = request.kind
    if request.every:
        if kind is not None:
            raise UsageError("give either KIND or --out, not both")
        return Schemas(
            [SchemaFile("crmctl.schema.json", bundled_all()), *(SchemaFile(KINDS[k], bundled(k)) for k in KINDS)]
        )
    if kind is None:
        return Schemas([SchemaFile("crmctl.schema.json", bundled_all())])
    found = kind_for(kind)
    if found is None:
        raise UsageError(f"unknown kind '{kind}'; kinds: {', '.join(KINDS)}")
    return Schemas([SchemaFile(KINDS[found], bundled(found))])
