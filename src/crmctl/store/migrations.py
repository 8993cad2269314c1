"""The system schema and its migrations: what `crm.*` holds in this version of crmctl, and the steps that bring
a database written by an older one up to it.

It sits above store/db.py (the connection) and store/definitions.py (the applied definitions, which one step
reads), and beneath the operations that open a database."""

from __future__ import annotations

from crmctl.errors import InputError
from crmctl.store.db import Connection, define_records_view
from crmctl.store.definitions import latest

SCHEMA_VERSION = 6  # 5: crm.tokens, the team server's personal access tokens; 6: crm.deleted_records

SYSTEM_DDL = [
    "CREATE SCHEMA IF NOT EXISTS crm",
    "CREATE TABLE IF NOT EXISTS crm.meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS crm.definitions (
        version INTEGER PRIMARY KEY, hash VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL,
        actor VARCHAR, documents JSON NOT NULL, changes JSON NOT NULL)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.event_ids",
    """CREATE TABLE IF NOT EXISTS crm.events (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.event_ids'), occurred_at TIMESTAMPTZ NOT NULL, actor VARCHAR,
        action VARCHAR NOT NULL, record VARCHAR, form VARCHAR, data JSON)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.comment_ids",
    """CREATE TABLE IF NOT EXISTS crm.comments (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.comment_ids'), record VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, author VARCHAR, text VARCHAR NOT NULL)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.reminder_ids",
    """CREATE TABLE IF NOT EXISTS crm.reminders (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.reminder_ids'), record VARCHAR, due_at TIMESTAMPTZ NOT NULL,
        text VARCHAR NOT NULL, person VARCHAR, created_by VARCHAR, created_at TIMESTAMPTZ NOT NULL,
        done_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS crm.people (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR, roles VARCHAR[], calendar VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.archive (
        version INTEGER NOT NULL, archived_at TIMESTAMPTZ NOT NULL, form VARCHAR NOT NULL, record VARCHAR NOT NULL,
        what VARCHAR NOT NULL, name VARCHAR NOT NULL, value VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.approval_ids",
    """CREATE TABLE IF NOT EXISTS crm.approvals (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.approval_ids'), record VARCHAR NOT NULL,
        process VARCHAR NOT NULL, stage VARCHAR NOT NULL, approval_group VARCHAR,
        approver VARCHAR NOT NULL, requested_at TIMESTAMPTZ NOT NULL, decision VARCHAR, decided_by VARCHAR,
        decided_at TIMESTAMPTZ, comment VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.inbox_ids",
    """CREATE TABLE IF NOT EXISTS crm.inbox (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.inbox_ids'), person VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, kind VARCHAR NOT NULL, record VARCHAR, text VARCHAR NOT NULL,
        read_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS crm.projects (
        id VARCHAR PRIMARY KEY, number BIGINT NOT NULL, title VARCHAR NOT NULL, parent VARCHAR, record VARCHAR,
        template VARCHAR, params JSON, priority INTEGER, created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.tasks (
        id VARCHAR PRIMARY KEY, number BIGINT NOT NULL, project VARCHAR, record VARCHAR, template_task VARCHAR,
        title VARCHAR NOT NULL, description VARCHAR, type VARCHAR, subtype VARCHAR, assignee VARCHAR,
        watchers VARCHAR[] NOT NULL DEFAULT [], priority INTEGER NOT NULL DEFAULT 3, estimate_minutes INTEGER,
        due_at TIMESTAMPTZ, status VARCHAR NOT NULL DEFAULT 'todo', created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, external_id VARCHAR)""",
    # schema 3: the id a task had in the file it was imported from, so that a second import finds it
    "ALTER TABLE crm.tasks ADD COLUMN IF NOT EXISTS external_id VARCHAR",
    """CREATE TABLE IF NOT EXISTS crm.task_dependencies (
        task VARCHAR NOT NULL, depends_on VARCHAR NOT NULL, PRIMARY KEY (task, depends_on))""",
    "CREATE SEQUENCE IF NOT EXISTS crm.interval_ids",
    """CREATE TABLE IF NOT EXISTS crm.time_intervals (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.interval_ids'), task VARCHAR NOT NULL, person VARCHAR,
        started_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, note VARCHAR, source VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS crm.mail_messages (
        message_id VARCHAR PRIMARY KEY, rule VARCHAR NOT NULL, sender VARCHAR, subject VARCHAR,
        sent_at TIMESTAMPTZ, received_at TIMESTAMPTZ NOT NULL, record VARCHAR, task VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.sprints (
        name VARCHAR PRIMARY KEY, starts_on DATE NOT NULL, ends_on DATE NOT NULL, goal VARCHAR,
        created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS crm.sprint_tasks (
        task VARCHAR PRIMARY KEY, sprint VARCHAR NOT NULL, added_at TIMESTAMPTZ NOT NULL, added_by VARCHAR)""",
    # the last computed schedule, one row per person: their queue as JSON (see store/schedule.py)
    "CREATE TABLE IF NOT EXISTS crm.schedule_queues (person VARCHAR PRIMARY KEY, rows JSON NOT NULL)",
    "CREATE SEQUENCE IF NOT EXISTS crm.import_ids",
    """CREATE TABLE IF NOT EXISTS crm.imports (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.import_ids'), kind VARCHAR NOT NULL, source VARCHAR,
        actor VARCHAR, imported_at TIMESTAMPTZ NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,
        unchanged BIGINT NOT NULL, rejected BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS crm.import_runs (
        import BIGINT NOT NULL, form VARCHAR NOT NULL, first_number BIGINT NOT NULL, last_number BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS crm.tokens (
        id INTEGER PRIMARY KEY, person VARCHAR NOT NULL, name VARCHAR NOT NULL, salt BLOB NOT NULL,
        hash BLOB NOT NULL, created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR, expires_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ, revoked_by VARCHAR, last_used_at TIMESTAMPTZ)""",
    # schema 6: records deleted by `record delete`, each row as it was (JSON), until `record restore`
    "CREATE SEQUENCE IF NOT EXISTS crm.deletion_ids",
    """CREATE TABLE IF NOT EXISTS crm.deleted_records (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.deletion_ids'), key VARCHAR NOT NULL, form VARCHAR NOT NULL,
        number BIGINT NOT NULL, "row" JSON NOT NULL, deleted_at TIMESTAMPTZ NOT NULL, deleted_by VARCHAR,
        restored_at TIMESTAMPTZ, restored_by VARCHAR)""",
    """CREATE OR REPLACE VIEW crm.task_times AS
        SELECT t.id AS task, t.type, t.subtype, t.assignee, t.status, t.estimate_minutes,
               coalesce(sum(date_diff('second', i.started_at, i.ended_at)) / 60.0, 0) AS actual_minutes
        FROM crm.tasks t LEFT JOIN crm.time_intervals i ON i.task = t.id AND i.ended_at IS NOT NULL
        GROUP BY ALL""",
    """CREATE OR REPLACE VIEW crm.history AS
        SELECT e.id, e.occurred_at, e.actor, p.name AS actor_name, e.action, e.record, e.form, e.data
        FROM crm.events e LEFT JOIN crm.people p ON p.id = e.actor""",
    """CREATE OR REPLACE VIEW crm.open_reminders AS
        SELECT r.*, p.name AS person_name FROM crm.reminders r LEFT JOIN crm.people p ON p.id = r.person
        WHERE r.done_at IS NULL""",
]


def ensure_system_schema(conn: Connection) -> None:
    """Create what is missing of the system schema, migrate what an older crmctl left, and record the version
    (the caller holds the transaction)."""
    for statement in SYSTEM_DDL:
        conn.execute(statement)
    if _has(conn, "duckdb_tables()", "table_name", "records"):
        _records_table_to_view(conn)
    elif not _has(conn, "duckdb_views()", "view_name", "records"):
        define_records_view(conn, ())
    check_schema_version(conn)
    row = conn.execute("SELECT value FROM crm.meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        conn.execute("INSERT INTO crm.meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    elif int(row[0]) < SCHEMA_VERSION:
        conn.execute("UPDATE crm.meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])


def _has(conn: Connection, catalog: str, column: str, name: str) -> bool:
    """Whether the crm schema of the open database holds a table (or view) of this name."""
    row = conn.execute(
        f"SELECT count(*) FROM {catalog} WHERE database_name = current_database() "
        f"AND schema_name = 'crm' AND {column} = ?",
        [name],
    ).fetchone()
    return bool(row and row[0])


def _records_table_to_view(conn: Connection) -> None:
    """Schema 3 and before: crm.records was a table of its own, a second copy of every key. It becomes the view
    over the form tables of the latest definitions."""
    found = latest(conn)
    conn.execute("DROP TABLE crm.records")
    define_records_view(conn, found[1].forms if found else ())


def check_schema_version(conn: Connection) -> None:
    """InputError if a newer crmctl wrote the database."""
    row = conn.execute("SELECT value FROM crm.meta WHERE key = 'schema_version'").fetchone()
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise InputError(f"this database was written by a newer crmctl (schema {row[0]}); upgrade crmctl")


def schema_is_current(conn: Connection) -> bool:
    row = conn.execute("SELECT value FROM crm.meta WHERE key = 'schema_version'").fetchone()
    return row is not None and int(row[0]) == SCHEMA_VERSION
