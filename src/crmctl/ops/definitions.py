"""plan and apply: from YAML in a workspace to definitions and tables in its database."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from crmctl.config.workspace import WORKSPACE_FILE, YAML_SUFFIXES, Unit
from crmctl.domain import permissions
from crmctl.domain.events import Event
from crmctl.domain.model import Definitions
from crmctl.domain.plan import diff
from crmctl.errors import InputError, NotFound, UsageError
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
from crmctl.store import records as record_store
from crmctl.store.definitions import Plan, check_plan, execute, latest

# A workspace sent to a team server: each YAML file as (its path from the workspace's root, its text),
# crmctl.yaml first. Empty: the definitions are the local workspace's files.
Files = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PlanRequest:
    archive: bool = False  # plan as `apply --archive` would: set removed data aside rather than refuse
    files: Files = ()


@dataclass(frozen=True)
class ApplyRequest:
    archive: bool = False  # set aside (never drop) the data of removed forms, fields, stages and processes
    files: Files = ()


@dataclass
class Served:
    """What a team server gives plan and apply: its open connection (a cursor, in the writer's turn for
    apply), the database's path, the --now it was started with, the token's person, and the refusals to
    write once the operation is over (permission.refused data)."""

    conn: Any
    path: Path
    now: str | None
    actor: str | None
    refused: list[dict[str, str]] = field(default_factory=list)


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
    refusals: list[str] = field(default_factory=list)  # changes that would lose data, or hand out permissions
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
    promotions: list[str] = field(default_factory=list)  # permissions the new Team hands out beyond the actor's

    def result(self, applied: int | None = None) -> Planned:
        changes = [PlannedChange(**c.as_dict(), symbol=c.symbol) for c in self.plan.changes]
        plan = self.plan
        refusals = [*plan.refusals, *(f"{p}, which the person applying does not hold" for p in self.promotions)]
        return Planned(self.database, self.current_version, plan.version, plan.unchanged, changes, refusals, applied)


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
    promoted = permissions.promotions(old, new, actor) if old is not None else []
    return _Prepared(conn, old, new, plan, found[0] if found else None, path, promoted)


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
    refused: list[dict[str, str]] = []
    try:
        return _apply(prepared, options.now, options.actor, request.archive, refused, checkpoint=True)
    finally:
        db.close(prepared.conn)
        if refused:  # written in a turn of their own, once the database is closed
            write_refusals(options, clock.current(options.now, prepared.new.timezone), options.actor, refused)


def _refuse_promotions(prepared: _Prepared, actor: str | None, refused: list[dict[str, str]]) -> None:
    """No one hands out a permission they do not hold: InputError naming what the new Team would give."""
    if not prepared.promotions:
        return
    refused.append({"permission": "team.manage", "doing": "hand out permissions they do not hold"})
    count = len(prepared.promotions)
    raise InputError(
        f"{actor or 'nobody'} may not hand out permissions they do not hold ({count} in the new Team); "
        "nothing was applied",
        ["refused: " + p for p in prepared.promotions],
    )


def _apply(
    prepared: _Prepared,
    now_given: str | None,
    actor: str | None,
    archive: bool,
    refused: list[dict[str, str]],
    *,
    checkpoint: bool,
) -> Planned:
    _refuse_promotions(prepared, actor, refused)
    plan = prepared.plan
    if plan.refusals:
        raise InputError(
            f"{len(plan.refusals)} change{'s' if len(plan.refusals) != 1 else ''} would lose data; nothing was applied",
            ["refused: " + r for r in plan.refusals],
        )
    now = clock.current(now_given, prepared.new.timezone)
    if plan.unchanged:
        return prepared.result()
    conn, new = prepared.conn, prepared.new
    with db.transaction(conn):
        migrations.ensure_system_schema(conn)
        applied = execute(conn, prepared.old, new, plan, actor=actor, now=now, archive=archive)
        _follow(Session(conn, new, applied, now, actor, prepared.database), plan)
        _team_events(conn, plan, prepared.old, new, now, actor, applied)
    if checkpoint:  # a server leaves checkpoints to DuckDB: its readers may be in the middle of a query
        conn.execute("CHECKPOINT")
    return prepared.result(applied)


def _team_events(
    conn: Any, plan: Plan, old: Definitions | None, new: Definitions, now: Any, actor: str | None, version: int
) -> None:
    """One team.changed event per person or role the apply added, changed or removed: what it was and is."""
    if old is None:
        return
    for change in plan.changes:
        if change.target not in ("person", "role"):
            continue
        before, after = (_team_entry(d, change.target, change.name) for d in (old, new))
        data = {"version": version, "action": change.action, "target": change.target, "name": change.name}
        record_store.add_event(conn, now, actor, Event.TEAM_CHANGED, data={**data, "before": before, "after": after})


def _team_entry(defs: Definitions, target: str, name: str) -> Any:
    if target == "person":
        person = defs.people.get(name)
        return dict(person.raw) if person else None
    role = defs.roles.get(name)
    return list(role.permissions) if role else None


def plan_served(served: Served, request: PlanRequest) -> Planned:
    """plan on a team server, for the workspace files the client sent, as the token's person."""
    prepared = _plan(served.conn, served.path, served.actor, _sent(request.files), request.archive, served.refused)
    return prepared.result()


def apply_served(served: Served, request: ApplyRequest) -> Planned:
    """apply on a team server (in the writer's turn), for the workspace files the client sent."""
    new = _sent(request.files)
    prepared = _plan(served.conn, served.path, served.actor, new, request.archive, served.refused)
    return _apply(prepared, served.now, served.actor, request.archive, served.refused, checkpoint=False)


def _sent(files: Files) -> Definitions:
    """The definitions of a workspace a client sent: its files written to a temporary folder in their layout
    and loaded there as a workspace; diagnostics name them by their paths in the client's workspace."""
    if not files or files[0][0] != WORKSPACE_FILE:
        raise UsageError(f"a workspace is sent with its {WORKSPACE_FILE} first")
    with tempfile.TemporaryDirectory(prefix="crmctl-apply-") as folder:
        unit = Unit(Path(folder))
        for name, text in files:
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts or relative.suffix not in YAML_SUFFIXES:
                raise UsageError(f"{name}: not a YAML file inside the workspace")
            target = Path(folder).joinpath(*relative.parts)
            if target in unit.names:
                raise UsageError(f"{name} is sent twice")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            unit.files.append(target)
            unit.names[target] = name
        return load_definitions(unit)


def _follow(session: Session, plan: Plan) -> None:
    """What the new definitions ask of the records already in their processes: records waiting for approval at
    a stage whose approvers changed follow the new approvers."""

    for change in plan.changes:
        if change.target == "stage" and change.action == "change":
            process = session.defs.processes[change.name.split(".")[0]]
            follow_approvers(session, session.conn, process, process.stages[change.old])
