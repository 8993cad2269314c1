"""Applied definitions: versions in the database, and the DDL that follows a plan without losing data."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from crmctl.domain.model import Definitions, FormDef
from crmctl.domain.plan import Change, PlanAction
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError
from crmctl.store.db import SQL_TYPES, Connection, define_records_view, quote, scalar
from crmctl.store.imports import value_sql
from crmctl.store.records import EVENT_COLUMNS, duplicates

SHOW_AT_MOST = 10


@dataclass
class Plan:
    changes: list[Change]
    refusals: list[str] = field(default_factory=list)
    version: int = 0  # the version applying would create
    unchanged: bool = False
    archived_fields: set[str] = field(default_factory=set)  # form.field whose type change alters values


def latest(conn: Connection) -> tuple[int, Definitions] | None:
    row = conn.execute("SELECT version, documents FROM crm.definitions ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return int(row[0]), Definitions.from_json(row[1])


def latest_hash(conn: Connection) -> str | None:
    row = conn.execute("SELECT hash FROM crm.definitions ORDER BY version DESC LIMIT 1").fetchone()
    return row[0] if row else None


def versions(conn: Connection) -> list[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT version, hash, applied_at, actor, json_array_length(changes) FROM crm.definitions ORDER BY version"
    )
    return [
        {"version": v, "hash": h[:12], "applied_at": at, "actor": actor, "changes": n}
        for v, h, at, actor, n in cursor.fetchall()
    ]


_RENAME_STAGE = (PlanAction.RENAME_STAGE.verb, PlanAction.RENAME_STAGE.target)


def stage_renames(conn: Connection, process: str) -> list[tuple[dt.datetime, str, str]]:
    """(applied at, old id, new id) of each stage of the process that `renamed_from` renamed, oldest first, read
    from the definitions history: the event log keeps the ids stages had when records entered them."""
    found = []
    for version, at, changes in conn.execute(
        "SELECT version, applied_at, changes FROM crm.definitions ORDER BY version"
    ).fetchall():
        renamed = [
            c["name"].split(".", 1)[1]
            for c in json.loads(changes)
            if (c["action"], c["target"]) == _RENAME_STAGE and c["name"].startswith(f"{process}.")
        ]
        if renamed:
            documents = scalar(conn, "SELECT documents FROM crm.definitions WHERE version = ?", [version])
            stages = Definitions.from_json(documents).processes[process].stages
            found += [(at, stages[stage].raw["renamed_from"], stage) for stage in renamed]
    return found


def _keys(rows: list[tuple[Any, ...]], total: int | None = None, shown: bool = True) -> str:
    """': CL-1 ('a'), CL-2 and 3 more' for the first rows found (their key and a value, if any), or '' to
    someone who may not read the form's records: they see the counts alone."""
    if not shown:
        return ""
    total = len(rows) if total is None else total
    named = ", ".join(
        str(key) + (f" ({' -> '.join(repr(v) for v in values)})" if values and values[0] is not None else "")
        for key, *values in rows[:SHOW_AT_MOST]
    )
    more = f" and {total - SHOW_AT_MOST} more" if total > SHOW_AT_MOST else ""
    return ": " + named + more


def _as_text(kind: str, value: str) -> str:
    """SQL for a stored value as a person would type it: what imports.value_sql reads back."""
    if SQL_TYPES[kind] == "VARCHAR":
        return value
    if kind == "number":  # whole numbers without '.0', as record show prints them
        whole = f"{value} = trunc({value}) AND abs({value}) < 1e15"
        return f"CASE WHEN {whole} THEN CAST(CAST({value} AS BIGINT) AS VARCHAR) ELSE CAST({value} AS VARCHAR) END"
    return f"CAST({value} AS VARCHAR)"


def _converted(old: FieldSpec, new: FieldSpec, column: str, people: list[str] | None) -> tuple[str, list[Any]]:
    """SQL for a column's values as the new field's type, with the same rules as an import of their text
    (NULL where one does not fit); a ref keeps its key, as record input does."""
    params: list[Any] = []
    target = replace(new, type="text") if new.type == "ref" else new
    return value_sql(target, f"nullif({_as_text(old.type, column)}, '')", params, people), params


def _conversion_problems(
    conn: Connection, table: str, old: FieldSpec, new: FieldSpec, people: list[str] | None
) -> tuple[list[tuple[Any, ...]], int, list[tuple[Any, ...]], int]:
    """One query over a column whose field changes: the values that do not fit the new field, and those that
    fit but change (converting back does not give the old value: '0012345678' -> 12345678), each as the first
    SHOW_AT_MOST (key, old text, new text) and a count."""
    column = quote(old.id)
    value, params = _converted(old, new, column, people)
    back_spec = FieldSpec(old.id, old.type if SQL_TYPES[old.type] != "VARCHAR" else "text")
    back = value_sql(back_spec, f"nullif({_as_text(new.type, 'new_value')}, '')", [], None)
    rows = conn.execute(
        f"""SELECT key, old_text, {_as_text(new.type, "new_value")}, unfit, count(*) OVER (PARTITION BY unfit)
            FROM (SELECT number, key, old_text, new_value, old_text IS NOT NULL AND new_value IS NULL AS unfit,
                         ({back}) IS DISTINCT FROM old_value AS changed
                  FROM (SELECT number, key, {column} AS old_value, {_as_text(old.type, column)} AS old_text,
                               {value} AS new_value
                        FROM {table} WHERE {column} IS NOT NULL))
            WHERE unfit OR changed
            QUALIFY row_number() OVER (PARTITION BY unfit ORDER BY number) <= {SHOW_AT_MOST}
            ORDER BY number""",
        params,
    ).fetchall()
    unfit = [(key, old_text) for key, old_text, _, bad, _ in rows if bad]
    changed = [(key, old_text, new_text) for key, old_text, new_text, bad, _ in rows if not bad]
    count = {bool(bad): int(n) for *_, bad, n in rows}
    return unfit, count.get(True, 0), changed, count.get(False, 0)


def _leave_process(conn: Connection, table: str, where: str, params: list[Any], now: Any) -> None:
    """Records whose stage or process is archived leave their process: no stage, deadline, responsible or
    pending approval is left behind."""
    conn.execute(
        f"""UPDATE crm.approvals SET decision = 'cancelled', decided_at = ?
            WHERE decision IS NULL AND record IN (SELECT key FROM {table} WHERE {where})""",
        [now, *params],
    )
    conn.execute(
        f"UPDATE {table} SET process = NULL, stage = NULL, stage_since = NULL, stage_due = NULL, responsible = NULL "
        f"WHERE {where}",
        params,
    )


def _work_of(conn: Connection, person: str, forms: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """What a person leaves behind, per kind, as (key or task id, form): records waiting for their approval,
    records they are responsible for, their open tasks and their running timers (no form)."""
    from crmctl.domain.projects import OPEN_STATUSES  # here: every command imports this module, few need it

    work: dict[str, list[tuple[Any, ...]]] = {"approvals": [], "responsible": [], "tasks": [], "timers": []}
    for form in forms:
        table = quote(form)
        work["approvals"] += conn.execute(
            f"""SELECT DISTINCT r.key, ?, r.number FROM crm.approvals a JOIN {table} r ON r.key = a.record
                WHERE a.decision IS NULL AND a.approver = ? ORDER BY r.number""",
            [form, person],
        ).fetchall()
        work["responsible"] += conn.execute(
            f"SELECT key, ? FROM {table} WHERE responsible = ? ORDER BY number", [form, person]
        ).fetchall()
    work["tasks"] = conn.execute(
        "SELECT id, NULL FROM crm.tasks WHERE assignee = ? AND list_contains(?, status) ORDER BY number",
        [person, list(OPEN_STATUSES)],
    ).fetchall()
    work["timers"] = conn.execute(
        "SELECT task, NULL FROM crm.time_intervals WHERE person = ? AND ended_at IS NULL ORDER BY id", [person]
    ).fetchall()
    return work


def _handed(work: dict[str, list[tuple[Any, ...]]], readable: Callable[[str | None], bool], *, names: bool) -> str:
    """The work of _work_of in words: 'pending approval of 1 record: DL-1; 2 open tasks: T-1, T-2'."""
    parts = []
    for kind, what in (
        ("approvals", "pending approval of {n} record{s}"),
        ("responsible", "responsible for {n} record{s}"),
        ("tasks", "{n} open task{s}"),
        ("timers", "{n} running timer{s}" + ("" if names else ", stopped now")),
    ):
        rows = work[kind]
        if rows:
            shown = names and all(readable(row[1]) for row in rows if row[1] is not None)
            keys = [(row[0],) for row in rows]
            parts.append(what.format(n=len(rows), s="s" if len(rows) != 1 else "") + _keys(keys, shown=shown))
    return "; ".join(parts)


@dataclass(frozen=True)
class _Checking:
    """What checking a change against the data needs: the plan it adds to, and where and for whom it looks."""

    conn: Connection
    old: Definitions | None
    new: Definitions
    plan: Plan
    archive: bool
    readable: Callable[[str | None], bool]
    people: list[str] | None  # the team's ids, or None without a team (any person value is taken)

    def keys(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(sql, params or []).fetchall()]

    def refuse(self, refusal: str) -> None:
        self.plan.refusals.append(refusal)

    def detail(self, change: Change, detail: str) -> None:
        """Tell more of a change than the definitions alone can: what it does to the data."""
        self.plan.changes[self.plan.changes.index(change)] = replace(change, detail=detail)


@dataclass(frozen=True)
class _Applying:
    """What applying a change needs: the connection in its transaction, and the version being made."""

    conn: Connection
    old: Definitions | None
    new: Definitions
    plan: Plan
    version: int
    now: dt.datetime
    actor: str | None
    people: list[str] | None  # the team's ids, or None without a team
    known: set[str] | None  # the same, for convert()


def _table(change: Change) -> str:
    return quote(change.form or "")


def _kept_forms(old: Definitions | None, new: Definitions) -> list[str]:
    """The forms of the old definitions that the new keep."""
    return [f for f in (old.forms if old else {}) if f in new.forms]


def _check_form_removed(checking: _Checking, change: Change) -> None:
    if checking.archive:
        return
    rows = checking.keys(f"SELECT key FROM {_table(change)} ORDER BY number")
    if rows:
        checking.refuse(
            f"form {change.name} is removed but holds {len(rows)} records"
            f"{_keys(rows, shown=checking.readable(change.form))} "
            "(keep it, or apply with --archive to set the records aside)"
        )


def _check_field_removed(checking: _Checking, change: Change) -> None:
    if checking.archive:
        return
    column = quote(change.field or "")
    rows = checking.keys(f"SELECT key, {column} FROM {_table(change)} WHERE {column} IS NOT NULL ORDER BY number")
    if rows:
        checking.refuse(
            f"field {change.name} is removed but {_holding(len(rows))} a value"
            f"{_keys(rows, shown=checking.readable(change.form))} "
            "(add renamed_from: to the field that replaces it, or apply with --archive)"
        )


def _check_field_retyped(checking: _Checking, change: Change) -> None:
    """A field changed or renamed: values that do not fit its new type, or that converting would change; and
    records without a value when it becomes required without a default."""
    table, shown = _table(change), checking.readable(change.form)
    unfit, unfit_count, changed, changed_count = _conversion_problems(
        checking.conn, table, change.old, change.new, checking.people
    )
    if unfit:
        checking.refuse(
            f"field {change.name} ({change.detail}): {_holding(unfit_count)} values that "
            f"do not fit{_keys(unfit, unfit_count, shown)}"
        )
    if changed:
        checking.plan.archived_fields.add(change.name)
        if not checking.archive:
            checking.refuse(
                f"field {change.name} ({change.detail}): {_holding(changed_count)} values that would "
                f"change{_keys(changed, changed_count, shown)} (apply with --archive to keep the old "
                "values in the archive)"
            )
    spec: FieldSpec = change.new
    if spec.required and spec.default is None:
        column = quote(change.old.id)
        empty = checking.keys(f"SELECT key FROM {table} WHERE {column} IS NULL ORDER BY number")
        if empty:
            checking.refuse(
                f"field {change.name} is now required but {len(empty)} records have no "
                f"value{_keys(empty, shown=shown)} (give it a default)"
            )


def _check_field_added(checking: _Checking, change: Change) -> None:
    spec: FieldSpec = change.new
    if spec.required and spec.default is None:
        empty = checking.keys(f"SELECT key FROM {_table(change)} ORDER BY number")
        if empty:
            checking.refuse(
                f"new field {change.name} is required but {len(empty)} records "
                f"exist{_keys(empty, shown=checking.readable(change.form))} (give it a default)"
            )


def _check_stage_removed(checking: _Checking, change: Change) -> None:
    if change.new is not None or checking.archive:
        return  # its records move to the stage migrate: names, or are archived
    process = change.name.split(".")[0]
    rows = checking.keys(
        f"SELECT key FROM {_table(change)} WHERE process = ? AND stage = ? ORDER BY number", [process, change.old]
    )
    if rows:
        checking.refuse(
            f"stage {change.name} is removed but {len(rows)} records are in it"
            f"{_keys(rows, shown=checking.readable(change.form))} "
            "(add migrate: {" + str(change.old) + ": <stage>} to the process, or apply with --archive)"
        )


def _check_person_removed(checking: _Checking, change: Change) -> None:
    new = checking.new
    work = _work_of(checking.conn, change.name, _kept_forms(checking.old, new))
    if not any(work.values()):
        return
    successor = new.successors.get(change.name)
    if successor in new.people:
        checking.detail(change, f"work goes to {successor}: {_handed(work, checking.readable, names=False)}")
    else:
        checking.refuse(
            f"person {change.name} is removed but leaves work behind: "
            f"{_handed(work, checking.readable, names=True)} "
            f"(name who takes it over in the Team: successors: {{{change.name}: <person>}})"
        )


def _check_approvers_changed(checking: _Checking, change: Change) -> None:
    """How many records waiting for approval at the stage the new approvers would let through."""
    from crmctl.domain.process import follow  # here: every command imports this module, few need it
    from crmctl.store.process import waiting_at  # here: the same

    if change.form not in checking.new.forms:
        return
    process = change.name.split(".")[0]
    form, stage = checking.new.forms[change.form], checking.new.processes[process].stages[change.old]
    waiting = sum(
        any(follow(stage, row, form.fields, row["approvals"]))
        for row in waiting_at(checking.conn, form, process, change.old)
    )
    verb = "follows" if waiting == 1 else "follow"
    checking.detail(change, f"approvers: {waiting} record{'s' if waiting != 1 else ''} waiting for approval {verb}")


def _check_process_removed(checking: _Checking, change: Change) -> None:
    if checking.archive or change.form not in checking.new.forms:
        return
    rows = checking.keys(f"SELECT key FROM {_table(change)} WHERE process = ? ORDER BY number", [change.name])
    if rows:
        checking.refuse(
            f"process {change.name} is removed but {len(rows)} records are in it"
            f"{_keys(rows, shown=checking.readable(change.form))} (keep it, or apply with --archive)"
        )


def _add_form(applying: _Applying, change: Change) -> None:
    _create_form_table(applying.conn, applying.new.forms[change.name])


def _remove_form(applying: _Applying, change: Change) -> None:
    """Drop the form's table; its records, if any, are kept in crm.archived_<form>_v<version>."""
    conn, table = applying.conn, _table(change)
    if scalar(conn, f"SELECT count(*) FROM {table}"):
        archived = quote(f"archived_{change.name}_v{applying.version}")
        conn.execute(f"CREATE TABLE crm.{archived} AS SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")


def _add_field(applying: _Applying, change: Change) -> None:
    spec: FieldSpec = change.new
    table = _table(change)
    applying.conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(spec.id)} {SQL_TYPES[spec.type]}")
    if spec.default is not None:
        value = convert(spec, spec.default, people=applying.known)
        applying.conn.execute(f"UPDATE {table} SET {quote(spec.id)} = ?", [value])


def _retype_field(applying: _Applying, change: Change) -> None:
    """A field changed or renamed: the column renamed, its values converted (the old ones archived where the
    plan found values that change), and a new default given to records without a value."""
    conn, table, spec = applying.conn, _table(change), change.new
    column = quote(spec.id)
    if change.action == "rename":
        conn.execute(f"ALTER TABLE {table} RENAME COLUMN {quote(change.old.id)} TO {column}")
    archived = change.name in applying.plan.archived_fields
    keep = [applying.version, applying.now, change.form, change.old.id] if archived else None
    _retype(conn, table, change.old, spec, applying.people, keep)
    if spec.required and spec.default is not None:
        value = convert(spec, spec.default, people=applying.known)
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} IS NULL", [value])


def _remove_field(applying: _Applying, change: Change) -> None:
    table, column = _table(change), quote(change.field or "")
    _archive_column(applying.conn, table, column, [applying.version, applying.now, change.form, change.field])
    applying.conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _move_stage(applying: _Applying, change: Change) -> None:
    """A stage renamed or removed: its records carry the new id, move to the migrate: target, or leave the
    process (their stage archived)."""
    conn, table, now = applying.conn, _table(change), applying.now
    process, target = change.name.split(".")[0], change.new
    if target is None:
        conn.execute(
            f"""INSERT INTO crm.archive SELECT ?, ?, ?, key, 'stage', ?, stage FROM {table}
                WHERE process = ? AND stage = ?""",
            [applying.version, now, change.form, process, process, change.old],
        )
        _leave_process(conn, table, "process = ? AND stage = ?", [process, change.old], now)
    elif change.action == "rename":  # the same stage under a new id: its stay and approvals go on
        where = [target, process, change.old]
        conn.execute(f"UPDATE {table} SET stage = ? WHERE process = ? AND stage = ?", where)
        conn.execute("UPDATE crm.approvals SET stage = ? WHERE process = ? AND stage = ?", where)
    else:  # the new stage's deadline is unknown: it was counted for the old one
        conn.execute(
            f"UPDATE {table} SET stage = ?, stage_since = ?, stage_due = NULL WHERE process = ? AND stage = ?",
            [target, now, process, change.old],
        )


def _remove_process(applying: _Applying, change: Change) -> None:
    if change.form not in applying.new.forms:
        return  # its form went too
    table = _table(change)
    applying.conn.execute(
        f"""INSERT INTO crm.archive SELECT ?, ?, ?, key, 'process', ?, stage FROM {table}
            WHERE process = ?""",
        [applying.version, applying.now, change.form, change.name, change.name],
    )
    _leave_process(applying.conn, table, "process = ?", [change.name], applying.now)


def _remove_person(applying: _Applying, change: Change) -> None:
    successor = applying.new.successors.get(change.name)
    if successor is not None:
        forms = _kept_forms(applying.old, applying.new)
        _hand_over(applying.conn, change.name, successor, forms, actor=applying.actor, now=applying.now)


def _check_unique_added(checking: _Checking, change: Change) -> None:
    """A uniqueness added to a form whose records break it already (of fields the form had before)."""
    before, form = change.old, change.new
    for fields in form.unique:
        if fields in before.unique or not all(f in before.fields for f in fields):
            continue
        for keys in duplicates(checking.conn, before, fields):
            shown = f": {', '.join(keys)}" if checking.readable(form.name) else ""
            checking.refuse(
                f"form {form.name}: {len(keys)} records share the same {', '.join(fields)}{shown} "
                "(make them differ first, or leave out the uniqueness)"
            )


@dataclass(frozen=True)
class Handler:
    """What a kind of change does beyond the definitions: `check` looks at the data (adding refusals, or
    detail to the change), `apply` changes it; `late` applies once crm.records shows the new forms."""

    check: Callable[[_Checking, Change], None] | None = None
    apply: Callable[[_Applying, Change], None] | None = None
    late: bool = False


_NOTHING = Handler()  # the definitions alone change: crm.definitions keeps them

HANDLERS: dict[PlanAction, Handler] = {
    PlanAction.ADD_FORM: Handler(apply=_add_form),
    PlanAction.REMOVE_FORM: Handler(_check_form_removed, _remove_form),
    PlanAction.CHANGE_FORM: Handler(check=_check_unique_added),
    PlanAction.ADD_FIELD: Handler(_check_field_added, _add_field),
    PlanAction.REMOVE_FIELD: Handler(_check_field_removed, _remove_field),
    PlanAction.RENAME_FIELD: Handler(_check_field_retyped, _retype_field),
    PlanAction.CHANGE_FIELD: Handler(_check_field_retyped, _retype_field),
    PlanAction.ADD_PROCESS: _NOTHING,
    PlanAction.REMOVE_PROCESS: Handler(_check_process_removed, _remove_process),
    PlanAction.CHANGE_PROCESS: _NOTHING,
    PlanAction.ADD_STAGE: _NOTHING,
    PlanAction.REMOVE_STAGE: Handler(_check_stage_removed, _move_stage),
    PlanAction.RENAME_STAGE: Handler(apply=_move_stage),
    PlanAction.CHANGE_STAGE: Handler(check=_check_approvers_changed),  # ops.definitions makes records follow
    PlanAction.ADD_TEMPLATE: _NOTHING,
    PlanAction.REMOVE_TEMPLATE: _NOTHING,
    PlanAction.CHANGE_TEMPLATE: _NOTHING,
    PlanAction.ADD_CALENDAR: _NOTHING,
    PlanAction.REMOVE_CALENDAR: _NOTHING,
    PlanAction.CHANGE_CALENDAR: _NOTHING,
    PlanAction.ADD_PERSON: _NOTHING,  # crm.people is written anew from the team
    PlanAction.REMOVE_PERSON: Handler(_check_person_removed, _remove_person, late=True),
    PlanAction.CHANGE_PERSON: _NOTHING,
    PlanAction.ADD_ROLE: _NOTHING,
    PlanAction.REMOVE_ROLE: _NOTHING,
    PlanAction.CHANGE_ROLE: _NOTHING,
    PlanAction.CHANGE_WORKSPACE: _NOTHING,
}


def check_plan(
    conn: Connection,
    old: Definitions | None,
    new: Definitions,
    changes: list[Change],
    archive: bool,
    readable: Callable[[str | None], bool] = lambda form: True,
) -> Plan:
    """Refusals: changes that would lose or corrupt data that the YAML does not say how to keep. They name the
    records (and values) concerned to whom `readable` says may read the form's records; to others, counts."""
    plan = Plan(changes)
    people = list(new.people) if new.has_team else None
    checking = _Checking(conn, old, new, plan, archive, readable, people)
    for change in changes:
        check = HANDLERS[change.kind].check
        if check is not None:
            check(checking, change)
    return plan


def execute(
    conn: Connection,
    old: Definitions | None,
    new: Definitions,
    plan: Plan,
    *,
    actor: str | None,
    now: dt.datetime,
    archive: bool,
) -> int:
    """Run the plan (the caller holds the transaction) and record the new version. Returns the version."""
    if plan.refusals:
        raise InputError("plan refused")
    version = int(scalar(conn, "SELECT coalesce(max(version), 0) FROM crm.definitions")) + 1
    people = list(new.people) if new.has_team else None
    applying = _Applying(conn, old, new, plan, version, now, actor, people, set(people) if people is not None else None)
    _apply(applying, late=False)
    define_records_view(conn, new.forms)
    _apply(applying, late=True)
    conn.execute("DELETE FROM crm.people")
    for person in new.people.values():
        conn.execute(
            "INSERT INTO crm.people VALUES (?, ?, ?, ?, ?)",
            [person.id, person.name, person.email, list(person.roles), person.calendar or new.calendar],
        )
    changes = json.dumps([c.as_dict() for c in plan.changes], ensure_ascii=False)
    conn.execute(
        "INSERT INTO crm.definitions VALUES (?, ?, ?, ?, ?, ?)",
        [version, new.digest, now, actor, new.to_json(), changes],
    )
    return version


def _apply(applying: _Applying, *, late: bool) -> None:
    for change in applying.plan.changes:
        handler = HANDLERS[change.kind]
        if handler.apply is not None and handler.late == late:
            handler.apply(applying, change)


def _hand_over(conn: Connection, person: str, successor: str, forms: list[str], *, actor: str | None, now: Any) -> None:
    """The work of a person who left goes to their successor, one event per thing moved: pending approval
    requests (approval.moved), the records they were responsible for (responsible.changed), open tasks
    (task.assigned); their running timer stops now (timer.stopped), the time so far theirs."""
    from crmctl.domain.projects import OPEN_STATUSES  # here: every command imports this module, few need it

    reason = f"{person} left the team"
    event = f"INSERT INTO crm.events ({', '.join(EVENT_COLUMNS)}) "
    conn.execute(
        event
        + """SELECT ?, ?, 'approval.moved', a.record, r.form, json_object('process', a.process,
            'stage', a.stage, 'group', a.approval_group, 'from', a.approver, 'to', ?::VARCHAR, 'reason', ?::VARCHAR)
            FROM crm.approvals a LEFT JOIN crm.records r ON r.key = a.record
            WHERE a.decision IS NULL AND a.approver = ? ORDER BY a.id""",
        [now, actor, successor, reason, person],
    )
    conn.execute("UPDATE crm.approvals SET approver = ? WHERE decision IS NULL AND approver = ?", [successor, person])
    for form in forms:
        table = quote(form)
        conn.execute(
            event
            + f"""SELECT ?, ?, 'responsible.changed', key, ?, json_object('process', process, 'stage', stage,
                'from', responsible, 'to', ?::VARCHAR, 'reason', ?::VARCHAR)
                FROM {table} WHERE responsible = ? ORDER BY number""",
            [now, actor, form, successor, reason, person],
        )
        conn.execute(f"UPDATE {table} SET responsible = ? WHERE responsible = ?", [successor, person])
    conn.execute(
        event
        + """SELECT ?, ?, 'task.assigned', t.record, r.form, json_object('task', t.id, 'from', t.assignee,
            'to', ?::VARCHAR, 'reason', ?::VARCHAR)
            FROM crm.tasks t LEFT JOIN crm.records r ON r.key = t.record
            WHERE t.assignee = ? AND list_contains(?, t.status) ORDER BY t.number""",
        [now, actor, successor, reason, person, list(OPEN_STATUSES)],
    )
    conn.execute(
        "UPDATE crm.tasks SET assignee = ? WHERE assignee = ? AND list_contains(?, status)",
        [successor, person, list(OPEN_STATUSES)],
    )
    conn.execute(
        event
        + """SELECT ?, ?, 'timer.stopped', t.record, r.form, json_object('task', i.task, 'person', i.person,
            'minutes', round((epoch(?::TIMESTAMPTZ) - epoch(i.started_at)) / 60, 1), 'reason', ?::VARCHAR)
            FROM crm.time_intervals i JOIN crm.tasks t ON t.id = i.task LEFT JOIN crm.records r ON r.key = t.record
            WHERE i.person = ? AND i.ended_at IS NULL ORDER BY i.id""",
        [now, actor, now, reason, person],
    )
    conn.execute("UPDATE crm.time_intervals SET ended_at = ? WHERE person = ? AND ended_at IS NULL", [now, person])


def _create_form_table(conn: Connection, form: FormDef) -> None:
    columns = [
        "key VARCHAR NOT NULL",
        "number BIGINT NOT NULL",
        "author VARCHAR",
        "created_at TIMESTAMPTZ NOT NULL",
        "updated_at TIMESTAMPTZ NOT NULL",
        "def_version INTEGER NOT NULL",
        "process VARCHAR",
        "stage VARCHAR",
        "stage_since TIMESTAMPTZ",
        "stage_due TIMESTAMPTZ",
        "responsible VARCHAR",
    ]
    columns += [f"{quote(spec.id)} {SQL_TYPES[spec.type]}" for spec in form.fields.values()]
    conn.execute(f"CREATE TABLE {quote(form.name)} ({', '.join(columns)})")


def _archive_column(conn: Connection, table: str, column: str, params: list[Any]) -> None:
    """Each non-empty value of a column into crm.archive (what 'field'); params: version, time, form, field."""
    conn.execute(
        f"""INSERT INTO crm.archive SELECT ?, ?, ?, key, 'field', ?, CAST({column} AS VARCHAR)
            FROM {table} WHERE {column} IS NOT NULL""",
        params,
    )


def _retype(
    conn: Connection, table: str, old: FieldSpec, new: FieldSpec, people: list[str] | None, keep: list[Any] | None
) -> None:
    """Convert a column to the new field's type with the same rules as an import of its values' text (the plan
    has refused any value that does not fit); with `keep` (version, time, form, field), the old values go to
    crm.archive first."""
    if SQL_TYPES[old.type] == SQL_TYPES[new.type]:
        return
    column = quote(new.id)
    if keep is not None:
        _archive_column(conn, table, column, keep)
    value, params = _converted(old, new, column, people)
    conn.execute(f"ALTER TABLE {table} ADD COLUMN crm_new {SQL_TYPES[new.type]}")
    conn.execute(f"UPDATE {table} SET crm_new = {value}", params)
    conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute(f"ALTER TABLE {table} RENAME COLUMN crm_new TO {column}")


def _holding(count: int) -> str:
    """'1 record holds' or '3 records hold', for a refusal."""
    return f"{count} record holds" if count == 1 else f"{count} records hold"


def latest_version(conn: Any) -> int | None:
    """The number of the latest definitions (cheap: the server checks it on every request)."""
    row = conn.execute("SELECT max(version) FROM crm.definitions").fetchone()
    return None if row is None or row[0] is None else int(row[0])
