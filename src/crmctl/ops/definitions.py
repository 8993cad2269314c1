"""plan and apply: from YAML in a workspace to definitions and tables in its database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.domain import permissions
from crmctl.domain.model import Definitions
from crmctl.domain.plan import diff
from crmctl.errors import InputError, NotFound
from crmctl.ops import clock
from crmctl.ops.process import follow_approvers
from crmctl.ops.session import (
    Options,
    Session,
    check_actor,
    database_path,
    load_definitions,
    workspace_root,
    write_refusals,
)
from crmctl.store import db, migrations
from crmctl.store.definitions import Plan, check_plan, execute, latest


@dataclass(frozen=True)
class PlanRequest:
    archive: bool = False  # plan as `apply --archive` would: set removed data aside rather than refuse


@dataclass(frozen=True)
class ApplyRequest:
    archive: bool = False  # set aside (never drop) the data of removed forms, fields, stages and processes


@dataclass(frozen=True)
class PlannedChange:
    """One change of a plan: its JSON fields, and the symbol its line begins with (+ add, - remove, ~ other)."""

    action: str
    target: str
    name: str
    detail: str
    symbol: str

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "target": self.target, "name": self.name, "detail": self.detail}


@dataclass
class Planned:
    """What applying the workspace's definitions changes (or changed) in the database, and what it refuses."""

    database: Path
    current_version: int | None  # the database's definitions version (None: no definitions yet)
    next_version: int  # the version applying creates
    unchanged: bool  # the YAML is what was applied last
    changes: list[PlannedChange] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # changes that would lose data
    applied: int | None = None  # the version apply made (None: plan, or nothing to apply)


@dataclass
class _Prepared:
    """A plan with what applying it needs: the open connection and the old and new definitions."""

    conn: Any
    old: Definitions | None
    new: Definitions
    plan: Plan
    current_version: int | None
    database: Path

    def result(self, applied: int | None = None) -> Planned:
        changes = [PlannedChange(**c.as_dict(), symbol=c.symbol) for c in self.plan.changes]
        plan = self.plan
        return Planned(
            self.database, self.current_version, plan.version, plan.unchanged, changes, plan.refusals, applied
        )


def _prepare(options: Options, archive: bool, *, create: bool) -> _Prepared:
    """The workspace's definitions checked, the database opened (created by apply) and the plan made; a
    refusal to plan is written once the database is closed."""
    root = workspace_root(options)
    if root is None:
        raise NotFound(f"no workspace: {options.workspace or Path.cwd()} has no crmctl.yaml, nor any folder above it")
    new = load_definitions(root)
    path, timeout = database_path(options)
    conn = db.connect(path, busy_timeout=timeout, create=create, write=create)  # plan only reads
    refused: list[dict[str, str]] = []
    try:
        return _plan(conn, path, options.actor, new, archive, refused)
    except BaseException:
        db.close(conn)
        if refused:  # plan's connection only reads: the refusal is written in a turn of its own
            write_refusals(options, clock.current(options.now, new.timezone), options.actor, refused)
        raise


def _plan(
    conn: Any, path: Path, actor: str | None, new: Definitions, archive: bool, refused: list[dict[str, str]]
) -> _Prepared:
    if path.exists() and path.stat().st_size and not db.is_crmctl_database(conn):
        tables = db.scalar(conn, "SELECT count(*) FROM information_schema.tables")
        if tables:
            raise InputError(f"{path} is a DuckDB file of something else; crmctl will not write into it")
    found = latest(conn) if db.is_crmctl_database(conn) else None
    old = found[1] if found else None
    if old is not None:  # the plan shows records' keys and values: it is theirs to see who may change them
        _may_manage(old, actor, refused)
    changes = diff(old, new)
    plan = check_plan(conn, old, new, changes, archive, _readable(old, actor)) if old else Plan(changes)
    plan.version = (found[0] + 1) if found else 1
    if old is not None and old.digest == new.digest:
        plan.unchanged = True
    return _Prepared(conn, old, new, plan, found[0] if found else None, path)


def _may_manage(current: Definitions, actor: str | None, refused: list[dict[str, str]]) -> None:
    """Planning or applying a change to applied definitions needs processes.manage under the Team now in force
    (the first apply of a database has no Team to ask, and a workspace without a Team is single-user); a
    refusal is added to `refused`, to be written once the database is closed."""
    check_actor(current, actor)
    doing = "manage processes and stages"
    try:
        permissions.require(current, actor, "processes.manage", doing)
    except InputError:
        refused.append({"permission": "processes.manage", "doing": doing})
        raise


def _readable(current: Definitions, actor: str | None) -> Callable[[str | None], bool]:
    """Whether the actor may read a form's records (and so see their keys and values in a plan)."""
    return lambda form: permissions.allowed(current, actor, "records.read", form)


def plan(options: Options, request: PlanRequest) -> Planned:
    """What `apply` would change in the database, and what it would refuse; reads only."""
    prepared = _prepare(options, request.archive, create=False)
    db.close(prepared.conn)
    return prepared.result()


def apply(options: Options, request: ApplyRequest) -> Planned:
    """Validate the workspace and apply its definitions to the database (created if need be) in one
    transaction; a change that would lose data is refused unless the request archives it."""
    prepared = _prepare(options, request.archive, create=True)
    try:
        return _apply(options, prepared, request.archive)
    finally:
        db.close(prepared.conn)


def _apply(options: Options, prepared: _Prepared, archive: bool) -> Planned:
    plan = prepared.plan
    if plan.refusals:
        raise InputError(
            f"{len(plan.refusals)} change{'s' if len(plan.refusals) != 1 else ''} would lose data; nothing was applied",
            ["refused: " + r for r in plan.refusals],
        )
    now = clock.current(options.now, prepared.new.timezone)
    if plan.unchanged:
        return prepared.result()
    conn, new = prepared.conn, prepared.new
    with db.transaction(conn):
        migrations.ensure_system_schema(conn)
        applied = execute(conn, prepared.old, new, plan, actor=options.actor, now=now, archive=archive)
        _follow(Session(conn, new, applied, now, options.actor, prepared.database), plan)
    conn.execute("CHECKPOINT")
    return prepared.result(applied)


def _follow(session: Session, plan: Plan) -> None:
    """What the new definitions ask of the records already in their processes: records waiting for approval at
    a stage whose approvers changed follow the new approvers."""

    for change in plan.changes:
        if change.target == "stage" and change.action == "change":
            process = session.defs.processes[change.name.split(".")[0]]
            follow_approvers(session, session.conn, process, process.stages[change.old])
