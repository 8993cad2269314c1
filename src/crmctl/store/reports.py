"""Report queries: efficiency, estimate revision and stage analytics, aggregated inside DuckDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmctl.store.db import Connection

PERIOD_LABELS = {
    "week": "strftime(period, '%G-W%V')",
    "month": "strftime(period, '%Y-%m')",
    "quarter": "strftime(period, '%Y') || '-Q' || quarter(period)",
}
GROUPS = {"person": "person", "type": "type", "project": "project", "record": "record", "form": "form"}
# what a task is grouped by: its assignee, type, project, record and that record's form ('-' for none)
_GROUPED = (
    "coalesce(t.assignee, '-') AS person, coalesce(t.type, '-') AS type, coalesce(t.project, '-') AS project, "
    "coalesce(t.record, '-') AS record, coalesce(r.form, '-') AS form"
)


def _rows(cursor: Connection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _actual_sql(include_open: bool) -> str:
    """Minutes worked per task: closed intervals, and with include_open the running ones up to $now."""
    end = "coalesce(ended_at, $now::TIMESTAMPTZ)" if include_open else "ended_at"
    where = "true" if include_open else "ended_at IS NOT NULL"
    return (
        f"SELECT task, sum(epoch({end}) - epoch(started_at)) / 60.0 AS minutes "
        f"FROM crm.time_intervals WHERE {where} GROUP BY task"
    )


def efficiency(
    conn: Connection,
    *,
    by: list[str],
    period: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    person: str | None,
    type_: str | None,
    include_open: bool,
    now: dt.datetime,
    sprint: str | None = None,
) -> list[dict[str, Any]]:
    """Per group and period: tasks, unestimated tasks, estimated and actual hours of the estimated ones,
    their ratio (estimated / actual), and the median and 90th percentile of actual hours per task.

    A done task belongs to the period it was finished in; with include_open an open task belongs to the
    period of now and counts its time so far."""
    params: dict[str, Any] = {}
    if include_open:
        params["now"] = now
        clauses = ["t.status IN ('done', 'todo', 'in_progress')"]
        finished = "coalesce(t.finished_at, $now::TIMESTAMPTZ)"
    else:
        clauses = ["t.status = 'done'"]
        finished = "t.finished_at"
    for name, value, clause in (
        ("since", since, f"{finished} >= $since"),
        ("until", until, f"{finished} < $until"),
        ("person", person, "t.assignee = $person"),
        ("type", type_, "t.type = $type"),
        ("sprint", sprint, "t.id IN (SELECT task FROM crm.sprint_tasks WHERE sprint = $sprint)"),
    ):
        if value is not None:
            clauses.append(clause)
            params[name] = value
    keys = [GROUPS[g] for g in by]
    period_sql = f"date_trunc('{period}', {finished})" if period else "NULL::TIMESTAMPTZ"
    label = PERIOD_LABELS[period] if period else "NULL::VARCHAR"
    group = ", ".join(["period", *keys])
    sql = f"""
        WITH actual AS ({_actual_sql(include_open)}),
        base AS (
            SELECT {_GROUPED}, t.estimate_minutes, coalesce(a.minutes, 0) AS actual, {period_sql} AS period
            FROM crm.tasks t LEFT JOIN actual a ON a.task = t.id LEFT JOIN crm.records r ON r.key = t.record
            WHERE {" AND ".join(clauses)}
        )
        SELECT {label} AS period, {"".join(f"{k}, " for k in keys)}
               count(*) AS tasks,
               count(*) FILTER (WHERE estimate_minutes IS NULL) AS unestimated,
               round(sum(estimate_minutes) / 60.0, 2) AS estimated_hours,
               round(sum(actual) FILTER (WHERE estimate_minutes IS NOT NULL) / 60.0, 2) AS actual_hours,
               round(sum(estimate_minutes) / nullif(sum(actual) FILTER (WHERE estimate_minutes IS NOT NULL), 0), 2)
                   AS ratio,
               round(avg(actual) / 60.0, 2) AS mean_hours,
               round(median(actual) / 60.0, 2) AS median_hours,
               round(quantile_cont(actual, 0.9) / 60.0, 2) AS p90_hours
        FROM base GROUP BY {group} ORDER BY {group}"""
    return _rows(conn.execute(sql, params))


def actual_by_type(conn: Connection) -> list[dict[str, Any]]:
    """Done tasks per type and subtype with the median and spread (25th-75th percentile) of actual minutes."""
    return _rows(
        conn.execute(
            f"""WITH actual AS ({_actual_sql(False)})
            SELECT coalesce(t.type, '-') AS type, coalesce(t.subtype, '-') AS subtype, count(*) AS tasks,
                   median(coalesce(a.minutes, 0)) AS median_minutes,
                   quantile_cont(coalesce(a.minutes, 0), 0.25) AS p25_minutes,
                   quantile_cont(coalesce(a.minutes, 0), 0.75) AS p75_minutes
            FROM crm.tasks t LEFT JOIN actual a ON a.task = t.id
            WHERE t.status = 'done' GROUP BY ALL ORDER BY ALL"""
        )
    )


def task_types(conn: Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT DISTINCT type FROM crm.tasks WHERE type IS NOT NULL").fetchall()}


def _stays(renames: list[tuple[dt.datetime, str, str]], params: dict[str, Any]) -> str:
    """The stays of the process's records, stage by stage, from the stage.entered events; an event of a stage
    renamed since (renames: applied at, old id, new id, oldest first) counts under the stage's present id."""
    steps = [
        """entered0 AS (
        SELECT id, record, occurred_at, json_extract_string(data, '$.stage') AS stage
        FROM crm.events WHERE action = 'stage.entered' AND json_extract_string(data, '$.process') = $process)"""
    ]
    for i, (at, old, new) in enumerate(renames, start=1):
        params.update({f"at{i}": at, f"old{i}": old, f"new{i}": new})
        steps.append(
            f"""entered{i} AS (
            SELECT id, record, occurred_at,
                   CASE WHEN stage = $old{i} AND occurred_at <= $at{i} THEN $new{i} ELSE stage END AS stage
            FROM entered{i - 1})"""
        )
    return f"""
    WITH {", ".join(steps)},
    stays AS (
        SELECT record, stage, lead(stage) OVER w AS next_stage,
               (epoch(lead(occurred_at) OVER w) - epoch(occurred_at)) / 3600.0 AS hours,
               last_value(stage) OVER (PARTITION BY record ORDER BY occurred_at, id
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS final_stage
        FROM entered{len(renames)} WINDOW w AS (PARTITION BY record ORDER BY occurred_at, id))
"""


def funnel(
    conn: Connection, process: str, renames: list[tuple[dt.datetime, str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """Stage analytics from the event log: per stage the records that entered it, those still there, the
    median and 90th percentile of completed stays in hours; where records went next; where they ended."""
    params: dict[str, Any] = {"process": process}
    stays = _stays(renames, params)
    stages = _rows(
        conn.execute(
            stays
            + """
            SELECT stage, count(DISTINCT record) AS entered,
                   count(*) FILTER (WHERE next_stage IS NULL) AS here,
                   round(median(hours), 2) AS median_hours, round(quantile_cont(hours, 0.9), 2) AS p90_hours
            FROM stays GROUP BY stage""",
            params,
        )
    )
    moves = _rows(
        conn.execute(
            stays
            + """
            SELECT stage, next_stage, count(*) AS records FROM stays WHERE next_stage IS NOT NULL
            GROUP BY ALL ORDER BY ALL""",
            params,
        )
    )
    endings = _rows(
        conn.execute(
            stays
            + """
            SELECT stage, final_stage, count(DISTINCT record) AS records FROM stays GROUP BY ALL ORDER BY ALL""",
            params,
        )
    )
    return {"stages": stages, "moves": moves, "endings": endings}
