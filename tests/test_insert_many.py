"""store.db.insert_many: rows in their order, one statement; a column with one value for every row is bound once
(issue 21: the bulk imports pass 100,000 rows), and reads back as the same values as a column of lists."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from crmctl.store.db import insert_many

MOMENT = dt.datetime(2027, 3, 1, 10, 0, tzinfo=dt.UTC)
COLUMNS = ("n", "name", "tags", "moment", "note", "score")


@pytest.mark.parametrize(
    "rows",
    [
        [(1, "a", [], MOMENT, None, 1.0)],
        [(n, "same", [], MOMENT, None, 2.5) for n in range(5)],
        [(n, f"r{n}", ["x"] if n % 2 else [], MOMENT + dt.timedelta(hours=n), str(n), float(n)) for n in range(5)],
        [(1, "a", [], MOMENT, None, 1), (2, "a", [], MOMENT, None, 1.5)],  # the same in some rows only
    ],
)
def test_rows_read_back_in_order_whether_a_column_is_one_value_or_many(rows: list[tuple[object, ...]]) -> None:
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(
        "CREATE TABLE t (n INTEGER, name VARCHAR, tags VARCHAR[], moment TIMESTAMPTZ, note VARCHAR, score DOUBLE)"
    )
    insert_many(conn, "t", COLUMNS, rows)
    assert conn.execute("SELECT * FROM t").fetchall() == [tuple(row) for row in rows]


def test_no_rows_is_no_statement() -> None:
    conn = duckdb.connect()
    insert_many(conn, "nowhere", COLUMNS, [])  # the table does not exist: nothing ran
