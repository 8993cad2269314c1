"""The system schema and its migrations: what `crm.*` holds in this version of crmctl, and the steps that bring
a database written by an older one up to it.

It sits above store/db.py (the connection) and store/definitions.py (the applied definitions, which one step
reads), and beneath the operations that open a database."""

from __future__ import annotations

from crmctl.errors import InputError
from crmctl.store.db import Connection, define_records_view
from crmctl.store.definitions import latest

# 5: crm.tokens; 6: crm.event_hashes (the event log's chain); 7: crm.deliveries; 8: crm.series,
# crm.announcements; 9: crm.projects.due_at; 10: reminders' party and stage, approvals' acting_for;
# 11: crm.files, crm.file_contents, crm.links; 12: crm.deleted_records; 13: crm.tasks.start_after and
# start_after_why
SCHEMA_VERSION = 13

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
        template VARCHAR, params JSON, priority INTEGER, created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR,
        due_at TIMESTAMPTZ)""",
    # schema 6: a project's due date (`project update --due`)
    "ALTER TABLE crm.projects ADD COLUMN IF NOT EXISTS due_at TIMESTAMPTZ",
    """CREATE TABLE IF NOT EXISTS crm.tasks (
        id VARCHAR PRIMARY KEY, number BIGINT NOT NULL, project VARCHAR, record VARCHAR, template_task VARCHAR,
        title VARCHAR NOT NULL, description VARCHAR, type VARCHAR, subtype VARCHAR, assignee VARCHAR,
        watchers VARCHAR[] NOT NULL DEFAULT [], priority INTEGER NOT NULL DEFAULT 3, estimate_minutes INTEGER,
        due_at TIMESTAMPTZ, status VARCHAR NOT NULL DEFAULT 'todo', created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, external_id VARCHAR)""",
    # schema 3: the id a task had in the file it was imported from, so that a second import finds it
    "ALTER TABLE crm.tasks ADD COLUMN IF NOT EXISTS external_id VARCHAR",
    # schema 13: the moment before which the schedule never starts a task, and where that bound came from
    # ("the template's start_after (delivery_date)", "task update --start-after")
    "ALTER TABLE crm.tasks ADD COLUMN IF NOT EXISTS start_after TIMESTAMPTZ",
    "ALTER TABLE crm.tasks ADD COLUMN IF NOT EXISTS start_after_why VARCHAR",
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
    # schema 6: the event log's hash chain (store/audit.py); older events are sealed by the first write
    "CREATE TABLE IF NOT EXISTS crm.event_hashes (id BIGINT PRIMARY KEY, hash VARCHAR NOT NULL)",
    # schema 7: notices delivered by mail (store/deliveries.py)
    """CREATE TABLE IF NOT EXISTS crm.deliveries (
        notice BIGINT PRIMARY KEY, person VARCHAR NOT NULL, address VARCHAR NOT NULL, status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_at TIMESTAMPTZ, sent_at TIMESTAMPTZ, error VARCHAR)""",
    # schema 8: recurring work (a task, a reminder or a template's launch made again every period) and
    # announcements; new tables only, so a database of schema 5 gains them as they are created
    "CREATE SEQUENCE IF NOT EXISTS crm.series_ids",
    """CREATE TABLE IF NOT EXISTS crm.series (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.series_ids'), kind VARCHAR NOT NULL, every VARCHAR NOT NULL,
        person VARCHAR, spec JSON NOT NULL, nominal TIMESTAMPTZ NOT NULL, current VARCHAR,
        created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR, stopped_at TIMESTAMPTZ, stopped_by VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS crm.announcement_ids",
    """CREATE TABLE IF NOT EXISTS crm.announcements (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.announcement_ids'), text VARCHAR NOT NULL,
        audience VARCHAR[] NOT NULL, until TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR,
        withdrawn_at TIMESTAMPTZ, withdrawn_by VARCHAR, expired_at TIMESTAMPTZ)""",
    # schema 11: attached files, each content once by its SHA-256 (docs/storage.md says why in the database)
    "CREATE TABLE IF NOT EXISTS crm.file_contents (sha256 VARCHAR PRIMARY KEY, size BIGINT NOT NULL, content BLOB)",
    "CREATE SEQUENCE IF NOT EXISTS crm.file_ids",
    """CREATE TABLE IF NOT EXISTS crm.files (
        id BIGINT PRIMARY KEY DEFAULT nextval('crm.file_ids'), owner VARCHAR NOT NULL, name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL, size BIGINT NOT NULL, media_type VARCHAR NOT NULL, added_at TIMESTAMPTZ NOT NULL,
        added_by VARCHAR, source VARCHAR, deleted_at TIMESTAMPTZ, deleted_by VARCHAR)""",
    # schema 11: records linked by a stage's create: action (a prospect and the client made from it)
    """CREATE TABLE IF NOT EXISTS crm.links (
        source VARCHAR NOT NULL, target VARCHAR NOT NULL, action VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (source, action))""",
    # schema 12: records deleted by `record delete`, each row as it was (JSON), until `record restore`
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
    # 6: a reminder given to every member of a role is one of a party (the id of its first), done by any; one made
    # by a stage's on_enter names the stage, and is closed when the record leaves it
    "ALTER TABLE crm.reminders ADD COLUMN IF NOT EXISTS party BIGINT",
    "ALTER TABLE crm.reminders ADD COLUMN IF NOT EXISTS stage VARCHAR",
    # 6: an approval request a person holds for someone else (delegated to them, or as the deputy of the absent)
    "ALTER TABLE crm.approvals ADD COLUMN IF NOT EXISTS acting_for VARCHAR",
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
