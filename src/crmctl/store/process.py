"""Stages, approvals and the inbox."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from crmctl.domain.events import Event
from crmctl.domain.model import FormDef
from crmctl.store.db import insert_many, quote
from crmctl.store.records import EVENT_COLUMNS, event_row


def move(
    conn: Any,
    form: FormDef,
    key: str,
    *,
    expected: str | None,
    stage: str | None,
    now: dt.datetime,
    due: dt.datetime | None,
    responsible: str | None,
) -> bool:
    """Put a record in a stage, if it is still in the stage the caller read (False when it is not)."""
    row = conn.execute(
        f"UPDATE {quote(form.name)} SET stage = ?, stage_since = ?, stage_due = ?, responsible = ?, updated_at = ? "
        "WHERE key = ? AND stage IS NOT DISTINCT FROM ? RETURNING key",
        [stage, now, due, responsible, now, key, expected],
    ).fetchall()
    return bool(row)


def set_responsible(conn: Any, form: FormDef, key: str, person: str, now: dt.datetime) -> None:
    conn.execute(f"UPDATE {quote(form.name)} SET responsible = ?, updated_at = ? WHERE key = ?", [person, now, key])


def move_approvals(conn: Any, ids: list[int], person: str, acting_for: str | None = None) -> None:
    """Pending approval requests handed to another person (acting for someone, when delegated)."""
    conn.execute(
        "UPDATE crm.approvals SET approver = ?, acting_for = ? WHERE list_contains(?, id) AND decision IS NULL",
        [person, acting_for, ids],
    )


def set_field(conn: Any, form: FormDef, key: str, field: str, value: Any, now: dt.datetime) -> None:
    conn.execute(f"UPDATE {quote(form.name)} SET {quote(field)} = ?, updated_at = ? WHERE key = ?", [value, now, key])


def responsible_load(conn: Any, form: FormDef, people: list[str]) -> dict[str, int]:
    """How many records of the form each person is responsible for now."""
    if not people:
        return {}
    rows = conn.execute(
        f"SELECT responsible, count(*) FROM {quote(form.name)} WHERE list_contains(?, responsible) GROUP BY 1",
        [people],
    ).fetchall()
    return {p: 0 for p in people} | {p: int(n) for p, n in rows}


APPROVAL_COLUMNS = ("record", "process", "stage", "approval_group", "approver", "requested_at", "acting_for")
Asked = tuple[str, str, str | None]  # an approval request: (group, approver, whom the approver acts for)
INBOX_COLUMNS = ("person", "created_at", "kind", "record", "text")


def _approval_rows(
    key: str, process: str, stage: str, approvers: list[Asked], now: dt.datetime
) -> list[tuple[Any, ...]]:
    return [(key, process, stage, group, who, now, for_whom) for group, who, for_whom in approvers]


def request_approvals(conn: Any, key: str, process: str, stage: str, approvers: list[Asked], now: dt.datetime) -> None:
    insert_many(conn, "crm.approvals", APPROVAL_COLUMNS, _approval_rows(key, process, stage, approvers, now))


def cancel_pending(conn: Any, key: str, now: dt.datetime) -> None:
    conn.execute(
        "UPDATE crm.approvals SET decision = 'cancelled', decided_at = ? WHERE record = ? AND decision IS NULL",
        [now, key],
    )


def approvals(conn: Any, key: str, stage: str, since: dt.datetime) -> list[dict[str, Any]]:
    """The approvals of the current visit of a stage (requested at or after it was entered)."""
    cursor = conn.execute(
        "SELECT id, approval_group, approver, decision, decided_by, decided_at, comment, acting_for "
        "FROM crm.approvals WHERE record = ? AND stage = ? AND requested_at >= ? ORDER BY id",
        [key, stage, since],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def waiting_at(conn: Any, form: FormDef, process: str, stage: str) -> list[dict[str, Any]]:
    """The records in a stage that wait for approval there (a pending request of their present visit), each
    with `approvals`: the requests of that visit, as approvals() gives them."""
    table = quote(form.name)
    cursor = conn.execute(
        f"""SELECT * FROM {table} r WHERE process = ? AND stage = ? AND EXISTS (
                SELECT 1 FROM crm.approvals a WHERE a.record = r.key AND a.stage = r.stage
                AND a.requested_at >= r.stage_since AND a.decision IS NULL)
            ORDER BY number""",
        [process, stage],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    cursor = conn.execute(
        f"""SELECT a.record, a.id, a.approval_group, a.approver, a.decision, a.decided_by, a.decided_at, a.comment,
                a.acting_for
            FROM crm.approvals a JOIN {table} r ON a.record = r.key AND a.stage = r.stage
            WHERE r.process = ? AND r.stage = ? AND a.requested_at >= r.stage_since ORDER BY a.id""",
        [process, stage],
    )
    names = [d[0] for d in cursor.description][1:]
    found: dict[str, list[dict[str, Any]]] = {}
    for record, *values in cursor.fetchall():
        found.setdefault(record, []).append(dict(zip(names, values, strict=True)))
    return [{**row, "approvals": found.get(row["key"], [])} for row in rows]


def decide(conn: Any, ids: list[int], decision: str, by: str | None, now: dt.datetime, comment: str | None) -> None:
    conn.execute(
        "UPDATE crm.approvals SET decision = ?, decided_by = ?, decided_at = ?, comment = ? "
        "WHERE list_contains(?, id) AND decision IS NULL",
        [decision, by, now, comment, ids],
    )


def _notice_rows(people: list[str], kind: str, key: str | None, text: str, now: dt.datetime) -> list[tuple[Any, ...]]:
    return [(p, now, kind, key, text) for p in dict.fromkeys(people)]  # each person once


def notify(conn: Any, people: list[str], kind: str, key: str | None, text: str, now: dt.datetime) -> None:
    add_notices(conn, _notice_rows(people, kind, key, text, now))


def add_notices(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    """Notices as rows of INBOX_COLUMNS, in one statement."""
    insert_many(conn, "crm.inbox", INBOX_COLUMNS, rows)


def inbox(conn: Any, person: str | None, unread: bool) -> list[dict[str, Any]]:
    clauses, params = [], []
    if person is not None:
        clauses.append("person = ?")
        params.append(person)
    if unread:
        clauses.append("read_at IS NULL")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(
        f"SELECT id, person, created_at, kind, record, text, read_at FROM crm.inbox {where} ORDER BY created_at, id",
        params,
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def inbox_has(conn: Any, person: str, text: str) -> bool:
    """Whether the person's inbox holds a notice with this text, read or not."""
    row = conn.execute("SELECT count(*) FROM crm.inbox WHERE person = ? AND text = ?", [person, text]).fetchone()
    return bool(row and row[0])


def mark_read(conn: Any, person: str | None, now: dt.datetime) -> int:
    if person is None:
        rows = conn.execute("UPDATE crm.inbox SET read_at = ? WHERE read_at IS NULL RETURNING id", [now])
    else:
        rows = conn.execute(
            "UPDATE crm.inbox SET read_at = ? WHERE read_at IS NULL AND person = ? RETURNING id", [now, person]
        )
    return len(rows.fetchall())


def records_in(conn: Any, form: FormDef, process: str) -> list[dict[str, Any]]:
    cursor = conn.execute(f"SELECT * FROM {quote(form.name)} WHERE process = ? ORDER BY stage_since, number", [process])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def board_rows(
    conn: Any, form: FormDef, process: str, stages: Sequence[str], limit: int | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The records of a process in these stages, longest in their stage first: at most `limit` of each stage
    (all with None); and how many records each stage holds. Two queries, whatever the number of records."""
    if not stages:
        return [], {}
    table = quote(form.name)
    # the window ranks the keys alone; only the rows chosen are read whole (a third of the time at 100,000)
    cursor = conn.execute(
        f"SELECT * FROM {table} WHERE key IN (SELECT key FROM {table} WHERE process = ? AND list_contains(?, stage) "
        "QUALIFY ? IS NULL OR row_number() OVER (PARTITION BY stage ORDER BY stage_since, number) <= ?) "
        "ORDER BY stage_since, number",
        [process, list(stages), limit, limit],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    counts = dict(
        conn.execute(
            f"SELECT stage, count(*) FROM {table} WHERE process = ? AND list_contains(?, stage) GROUP BY stage",
            [process, list(stages)],
        ).fetchall()
    )
    return rows, counts


def promised_records(conn: Any, form: FormDef, column: str, person: str | None) -> list[dict[str, Any]]:
    """A form's records with a value in the column (its promised field; a person's: those they are
    responsible for)."""
    sql = f"SELECT * FROM {quote(form.name)} WHERE {quote(column)} IS NOT NULL"
    params: list[Any] = []
    if person is not None:
        sql += " AND responsible = ?"
        params.append(person)
    cursor = conn.execute(sql + " ORDER BY number", params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def overdue_stages(
    conn: Any, forms: list[FormDef], person: str | None, until: dt.datetime, *, untold: bool = False
) -> list[dict[str, Any]]:
    """Records whose stage deadline falls before `until`, across forms; `untold`: only those whose responsible
    person has no deadline notice of the record since it entered its stage."""
    found = []
    for form in forms:
        sql = (
            f"SELECT key, process, stage, stage_due, responsible FROM {quote(form.name)} r "
            "WHERE stage_due IS NOT NULL AND stage_due <= ?"
        )
        params: list[Any] = [until]
        if person is not None:
            sql += " AND responsible = ?"
            params.append(person)
        if untold:
            sql += (
                " AND responsible IS NOT NULL AND NOT EXISTS (SELECT 1 FROM crm.inbox n WHERE n.kind = 'deadline'"
                " AND n.record = r.key AND n.person = r.responsible AND n.created_at >= r.stage_since)"
            )
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        found += [{**dict(zip(names, row, strict=True)), "form": form.name} for row in cursor.fetchall()]
    return found


def contact_dates(
    conn: Any, form: FormDef, field: str, person: str | None, first: dt.date, last: dt.date
) -> list[dict[str, Any]]:
    """Records of the form whose contact-date field falls on a day from first to last (both included): key,
    the day (`on`) and who owns the record (its responsible person, else its author)."""
    column = quote(field)
    sql = (
        f"SELECT key, CAST({column} AS DATE) AS on_day, coalesce(responsible, author) AS owner "
        f"FROM {quote(form.name)} WHERE CAST({column} AS DATE) BETWEEN ? AND ?"
    )
    params: list[Any] = [first, last]
    if person is not None:
        sql += " AND coalesce(responsible, author) = ?"
        params.append(person)
    rows = conn.execute(sql + " ORDER BY on_day, number", params).fetchall()
    return [{"key": k, "on": on, "owner": owner} for k, on, owner in rows]


class StageWrites(Protocol):
    """What entering a stage writes of a record: this module's functions, or a Deferred that keeps them."""

    def cancel_pending(self, conn: Any, key: str, now: dt.datetime) -> None: ...

    def move(
        self,
        conn: Any,
        form: FormDef,
        key: str,
        *,
        expected: str | None,
        stage: str | None,
        now: dt.datetime,
        due: dt.datetime | None,
        responsible: str | None,
    ) -> bool: ...

    def responsible_load(self, conn: Any, form: FormDef, people: list[str]) -> dict[str, int]: ...

    def set_field(self, conn: Any, form: FormDef, key: str, field: str, value: Any, now: dt.datetime) -> None: ...

    def request_approvals(
        self, conn: Any, key: str, process: str, stage: str, approvers: list[Asked], now: dt.datetime
    ) -> None: ...

    def notify(self, conn: Any, people: list[str], kind: str, key: str | None, text: str, now: dt.datetime) -> None: ...


class EventWrites(Protocol):
    """What entering a stage writes in the history: store.records' add_event, or a Deferred that keeps it."""

    def add_event(
        self,
        conn: Any,
        at: dt.datetime,
        actor: str | None,
        event: Event,
        *,
        record: str | None = None,
        form: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None: ...


class Deferred:
    """The writes of putting many new records in their first stage (an import), kept and then made with one
    statement per table by flush(). It answers the calls that entering a stage makes of this module and of
    store.records, with the same arguments, so that entering reads the same either way; reads see the
    records' responsible people as if the moves were made."""

    def __init__(self, form: FormDef, process: str) -> None:
        self.form, self.process = form, process
        self.moves: list[tuple[Any, ...]] = []
        self.fields: dict[str, dict[str, Any]] = {}  # field -> key -> value
        self.events: list[tuple[Any, ...]] = []
        self.approvals: list[tuple[Any, ...]] = []
        self.notices: list[tuple[Any, ...]] = []
        self.loads: dict[tuple[str, ...], dict[str, int]] = {}
        self.assigned: Counter[str] = Counter()

    def cancel_pending(self, conn: Any, key: str, now: dt.datetime) -> None:
        """A new record has no approvals to cancel."""

    def move(
        self,
        conn: Any,
        form: FormDef,
        key: str,
        *,
        expected: str | None,
        stage: str | None,
        now: dt.datetime,
        due: dt.datetime | None,
        responsible: str | None,
    ) -> bool:
        self.moves.append((key, self.process, stage, now, due, responsible, now))  # key and _MOVED
        if responsible:
            self.assigned[responsible] += 1
        return True

    def responsible_load(self, conn: Any, form: FormDef, people: list[str]) -> dict[str, int]:
        if tuple(people) not in self.loads:
            self.loads[tuple(people)] = responsible_load(conn, form, people)
        return {p: n + self.assigned[p] for p, n in self.loads[tuple(people)].items()}

    def set_field(self, conn: Any, form: FormDef, key: str, field: str, value: Any, now: dt.datetime) -> None:
        self.fields.setdefault(field, {})[key] = value

    def request_approvals(
        self, conn: Any, key: str, process: str, stage: str, approvers: list[Asked], now: dt.datetime
    ) -> None:
        self.approvals += _approval_rows(key, process, stage, approvers, now)

    def notify(self, conn: Any, people: list[str], kind: str, key: str | None, text: str, now: dt.datetime) -> None:
        self.notices += _notice_rows(people, kind, key, text, now)

    def add_event(
        self,
        conn: Any,
        at: dt.datetime,
        actor: str | None,
        event: Event,
        *,
        record: str | None = None,
        form: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.events.append(event_row(at, actor, event, record=record, form=form, data=data))

    def flush(self, conn: Any) -> None:
        """Make the writes kept so far (and keep none); the loads counted stay, as the moves are now made."""
        table = quote(self.form.name)
        _update_by_key(conn, table, _MOVED, self.moves)
        for name, values in self.fields.items():
            _update_by_key(conn, table, (name,), list(values.items()))
        insert_many(conn, "crm.events", EVENT_COLUMNS, self.events)
        insert_many(conn, "crm.approvals", APPROVAL_COLUMNS, self.approvals)
        insert_many(conn, "crm.inbox", INBOX_COLUMNS, self.notices)
        self.moves, self.fields, self.events, self.approvals, self.notices = [], {}, [], [], []


_MOVED = ("process", "stage", "stage_since", "stage_due", "responsible", "updated_at")  # what Deferred.move sets


def _update_by_key(conn: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Set these columns of many records with one UPDATE; each row is (key, value of each column). The values
    wait in a temp table shaped like the table's own columns (its name cannot be a form's)."""
    if not rows:
        return
    names = [quote(c) for c in columns]
    conn.execute(f'CREATE OR REPLACE TEMP TABLE "crm#update" AS SELECT key, {", ".join(names)} FROM {table} LIMIT 0')
    insert_many(conn, '"crm#update"', ["key", *names], rows)
    assignments = ", ".join(f"{n} = u.{n}" for n in names)
    conn.execute(f'UPDATE {table} SET {assignments} FROM "crm#update" u WHERE {table}.key = u.key')
    conn.execute('DROP TABLE "crm#update"')


def linked(conn: Any, source: str, action: str) -> str | None:
    """The record a stage's create: action made from this one already, or None."""
    row = conn.execute("SELECT target FROM crm.links WHERE source = ? AND action = ?", [source, action]).fetchone()
    return str(row[0]) if row else None


def link(conn: Any, source: str, target: str, action: str, at: dt.datetime) -> None:
    conn.execute("INSERT INTO crm.links VALUES (?, ?, ?, ?)", [source, target, action, at])
