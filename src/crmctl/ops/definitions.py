"""init, plan and apply: from YAML in a workspace to definitions and tables in its database."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from crmctl.domain.model import Definitions
from crmctl.errors import InputError, NotFound, ProblemsFound, UsageError
from crmctl.ops import clock
from crmctl.ops.process import follow_approvers
from crmctl.ops.session import Options, Session, check_actor, database_path, workspace_root, write_refusals
from crmctl.store.definitions import Plan


@dataclass
class PlanResult:
    plan: Plan
    current_version: int | None
    database: Path
    applied: int | None = None


def load_definitions(root: Path) -> Definitions:
    """Validate the workspace; its definitions, or ProblemsFound with every diagnostic."""
    from crmctl.config.workspace import Unit, load_unit, workspace_files
    from crmctl.render.diagnostics import text

    loaded = load_unit(Unit(root, workspace_files(root)))
    if not loaded.ok:
        errors = [d for d in loaded.diagnostics if d.severity == "error"]
        raise ProblemsFound(
            f"the workspace has {len(errors)} problem{'s' if len(errors) != 1 else ''}; nothing was applied",
            text(loaded.diagnostics).splitlines(),
        )
    return Definitions.build([doc.data for doc in loaded.documents])


def _prepare(options: Options, archive: bool, *, create: bool) -> tuple[Any, Definitions, PlanResult, Any]:
    from crmctl.domain.plan import diff
    from crmctl.store import db
    from crmctl.store.definitions import check_plan, latest

    root = workspace_root(options)
    if root is None:
        raise NotFound(f"no workspace: {options.workspace or Path.cwd()} has no crmctl.yaml, nor any folder above it")
    new = load_definitions(root)
    path, timeout = database_path(options)
    conn = db.connect(path, busy_timeout=timeout, create=create, write=create)  # plan only reads
    refused: list[dict[str, str]] = []
    try:
        if path.exists() and path.stat().st_size and not db.is_crmctl_database(conn):
            tables = db.scalar(conn, "SELECT count(*) FROM information_schema.tables")
            if tables:
                raise InputError(f"{path} is a DuckDB file of something else; crmctl will not write into it")
        found = latest(conn) if db.is_crmctl_database(conn) else None
        old = found[1] if found else None
        if old is not None:  # the plan shows records' keys and values: it is theirs to see who may change them
            _may_manage(old, options.actor, refused)
        changes = diff(old, new)
        plan = check_plan(conn, old, new, changes, archive, _readable(old, options.actor)) if old else Plan(changes)
        plan.version = (found[0] + 1) if found else 1
        if old is not None and old.digest == new.digest:
            plan.unchanged = True
        return conn, new, PlanResult(plan, found[0] if found else None, path), old
    except BaseException:
        db.close(conn)
        if refused:  # plan's connection only reads: the refusal is written in a turn of its own
            write_refusals(options, clock.current(options.now, new.timezone), options.actor, refused)
        raise


def _may_manage(current: Definitions, actor: str | None, refused: list[dict[str, str]]) -> None:
    """Planning or applying a change to applied definitions needs processes.manage under the Team now in force
    (the first apply of a database has no Team to ask, and a workspace without a Team is single-user); a
    refusal is added to `refused`, to be written once the database is closed."""
    from crmctl.domain import permissions

    check_actor(current, actor)
    doing = "manage processes and stages"
    try:
        permissions.require(current, actor, "processes.manage", doing)
    except InputError:
        refused.append({"permission": "processes.manage", "doing": doing})
        raise


def _readable(current: Definitions, actor: str | None) -> Callable[[str | None], bool]:
    """Whether the actor may read a form's records (and so see their keys and values in a plan)."""
    from crmctl.domain import permissions

    return lambda form: permissions.allowed(current, actor, "records.read", form)


def plan(options: Options, archive: bool = False) -> PlanResult:
    from crmctl.store import db

    conn, _, result, _ = _prepare(options, archive, create=False)
    db.close(conn)
    return result


def apply(options: Options, archive: bool = False) -> PlanResult:
    from crmctl.store import db, migrations
    from crmctl.store.definitions import execute

    conn, new, result, old = _prepare(options, archive, create=True)
    try:
        if result.plan.refusals:
            raise InputError(
                f"{len(result.plan.refusals)} change{'s' if len(result.plan.refusals) != 1 else ''} would lose data; "
                "nothing was applied",
                ["refused: " + r for r in result.plan.refusals],
            )
        now = clock.current(options.now, new.timezone)
        actor = options.actor
        if result.plan.unchanged:
            return result
        with db.transaction(conn):
            migrations.ensure_system_schema(conn)
            result.applied = execute(conn, old, new, result.plan, actor=actor, now=now, archive=archive)
            _follow(Session(conn, new, result.applied, now, actor, result.database), result.plan)
        conn.execute("CHECKPOINT")
        return result
    finally:
        db.close(conn)


def _follow(session: Session, plan: Plan) -> None:
    """What the new definitions ask of the records already in their processes: records waiting for approval at
    a stage whose approvers changed follow the new approvers."""

    for change in plan.changes:
        if change.target == "stage" and change.action == "change":
            process = session.defs.processes[change.name.split(".")[0]]
            follow_approvers(session, session.conn, process, process.stages[change.old])


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


def init(target: Path, example: str | None, options: Options, timezone: str = "UTC") -> PlanResult:
    """Create a workspace in target (a bundled example or a minimal one) and its database; the files go
    through the safe writer, and a database that exists already is never taken over."""
    from crmctl.store.files import write_bytes

    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target} exists and is not an empty folder")
    created = not target.exists()
    if example is not None and example not in example_names():
        raise UsageError(f"unknown example '{example}'; examples: {', '.join(example_names()) or 'none'}")
    if example is not None:
        files = _example_files(example)
    else:
        person = options.actor or "admin"
        values = {"name": _slug(target.resolve().name), "timezone": timezone, "person": person}
        files = {name: body.format(**values).encode("utf-8") for name, body in MINIMAL.items()}
    workspace = Options(workspace=target, db=options.db, actor=options.actor, now=options.now)
    try:
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
        return apply(workspace)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for item in target.iterdir():
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        raise


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
    import re

    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug if slug and slug[0].isalpha() else "workspace"
