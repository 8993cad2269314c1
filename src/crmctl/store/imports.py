"""Bulk import and export: files staged into DuckDB, every value converted and checked in SQL.

A file is read into the temporary table `import_src` (one VARCHAR column per file column, c0, c1, ...);
`import_rows` then holds, per row, every mapped field converted to its type (NULL when it does not fit)
and, for a value that does not fit, the text it came as (`bad#<field>`). Problems are read from there;
nothing is written to the workspace's tables until the caller decides.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.domain.imports import FILES_COLUMN, Outcome
from crmctl.domain.model import FormDef
from crmctl.domain.values import NUMBER_LIMIT, TEXTUAL, FieldSpec
from crmctl.store.db import SQL_TYPES, quote
from crmctl.store.records import last_number

SRC = "import_src"
ROWS = "import_rows"
REJECTS = "import_rejects"
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_PHONE = r"\+?[0-9][0-9 ()\-]{3,30}"
_MONEY = r"[+-]?(\d+(\.\d{0,2})?|\.\d{1,2})"
_SCIENTIFIC = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+"
TRUE = ("true", "yes", "y", "1", "on")
FALSE = ("false", "no", "n", "0", "off")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _aux(kind: str, field: str) -> str:
    """The column that carries something about a field beside its value (`bad#name`, `default#name`): the `#`
    keeps it apart from every field's own column."""
    return f'"{kind}#{quote(field)[1:-1]}"'


def _column(index: int) -> str:
    return f"c{index}"


# -- staging ---------------------------------------------------------------------------------------------------


@contextmanager
def watched(conn: Any, what: str, progress: Callable[[str, float], None] | None) -> Iterator[None]:
    """Tell progress(what, percent) how far the running statement is, every fifth of a second, from a second
    thread; and 100 at the end."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            percent = conn.query_progress()
            if percent >= 0:
                progress(what, percent)

    conn.execute("SET enable_progress_bar = true")
    conn.execute("SET enable_progress_bar_print = false")
    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        progress(what, 100.0)


def stage_csv(conn: Any, path: Path, *, columns: int, delimiter: str, encoding: str, view: bool = False) -> None:
    """Every data row of a CSV file (after its header) as text; malformed rows go to import_rejects.

    view: import_src is a view that reads the file when a query reads it (once, by a fused conversion)."""
    names = ", ".join(f"'{_column(i)}': 'VARCHAR'" for i in range(columns))
    _drop(conn, SRC)
    for table in (REJECTS, f"{REJECTS}_scans"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    target = str(path).replace("'", "''")  # a view keeps no parameters
    conn.execute(
        f"CREATE TEMP {'VIEW' if view else 'TABLE'} {SRC} AS SELECT * FROM read_csv('{target}', header = true, "
        "auto_detect = false, "
        f"columns = {{{names}}}, quote = '\"', escape = '\"', "
        f"store_rejects = true, rejects_table = '{REJECTS}', rejects_scan = '{REJECTS}_scans', "
        f"max_line_size = 8388608, delim = {_literal(delimiter)}, encoding = {_literal(encoding)})"
    )


def csv_rejects(conn: Any) -> list[dict[str, Any]]:
    """Rows the CSV reader could not split into the header's columns: file row (header = 1), kind, text."""
    exists = conn.execute(  # asking, not failing: a failed statement would abort the transaction
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [REJECTS]
    ).fetchone()[0]
    if not exists:
        return []
    rows = conn.execute(
        f"SELECT line, error_type::VARCHAR, csv_line, error_message FROM {REJECTS} ORDER BY line"
    ).fetchall()
    return [{"row": int(line), "kind": kind, "text": text, "message": msg} for line, kind, text, msg in rows]


def stage_lines(conn: Any, path: Path) -> None:
    """A JSON Lines file, one line per row (column `line`); blank lines are dropped."""
    conn.execute(f"DROP TABLE IF EXISTS {SRC}_lines")
    conn.execute(
        f"CREATE TEMP TABLE {SRC}_lines AS SELECT * FROM read_csv(?, header = false, auto_detect = false, "
        "columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '', max_line_size = 8388608)",
        [str(path)],
    )


def json_line_problems(conn: Any) -> list[tuple[int, str]]:
    """Lines that are not a JSON object: (line number, text)."""
    base = conn.execute(f"SELECT coalesce(min(rowid), 0) FROM {SRC}_lines").fetchone()[0]
    rows = conn.execute(
        f"SELECT rowid - {int(base)} + 1, line FROM {SRC}_lines WHERE line IS NOT NULL AND trim(line) <> '' AND "
        "(NOT json_valid(line) OR json_type(line) <> 'OBJECT') ORDER BY 1 LIMIT 10000"
    ).fetchall()
    return [(int(n), text) for n, text in rows]


def json_keys(conn: Any) -> list[str]:
    """Every key used by the objects of a staged JSON Lines file, in order of first use."""
    rows = conn.execute(
        f"SELECT k, min(rowid) AS first FROM (SELECT rowid, unnest(json_keys(line)) AS k FROM {SRC}_lines "
        "WHERE json_valid(line) AND json_type(line) = 'OBJECT') GROUP BY k ORDER BY first, k"
    ).fetchall()
    return [k for k, _ in rows]


def stage_json_objects(conn: Any, keys: Sequence[str]) -> None:
    """import_src from the staged lines: column i holds key i as text (numbers and booleans as written)."""
    base = conn.execute(f"SELECT coalesce(min(rowid), 0) FROM {SRC}_lines").fetchone()[0]
    parts = [f"rowid - {int(base)} + 1 AS line_no"]
    for i, key in enumerate(keys):
        path = "$." + json.dumps(key, ensure_ascii=False)
        parts.append(f"json_extract_string(line, {_literal(path)}) AS {_column(i)}")
    _drop(conn, SRC)
    conn.execute(
        f"CREATE TEMP TABLE {SRC} AS SELECT {', '.join(parts)} FROM {SRC}_lines "
        "WHERE line IS NOT NULL AND trim(line) <> '' ORDER BY rowid"
    )


def stage_parquet(conn: Any, path: Path) -> list[str]:
    """A Parquet file as text columns; returns its column names."""
    described = conn.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    names = [row[0] for row in described]
    casts = ", ".join(f"CAST({_ident(n)} AS VARCHAR) AS {_column(i)}" for i, n in enumerate(names))
    _drop(conn, SRC)
    conn.execute(f"CREATE TEMP TABLE {SRC} AS SELECT {casts} FROM read_parquet(?)", [str(path)])
    return names


def _drop(conn: Any, name: str) -> None:
    """Drop a temporary table or view of that name, whichever it is."""
    found = conn.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = ? "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = ?",
        [name, name],
    ).fetchall()
    for (kind,) in found:
        conn.execute(f"DROP {kind} {name}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def staged_rows(conn: Any, row_number: str, columns: int) -> list[tuple[int, list[str | None]]]:
    """Every staged row as (row in the file, its cells as text; an empty cell is None, a guard quote is off)."""
    cells = ", ".join(f"({_text('s.' + _column(i))})" for i in range(columns))
    rows = conn.execute(f"SELECT {row_number}{', ' if cells else ''}{cells} FROM {SRC} s ORDER BY s.rowid").fetchall()
    return [(int(row[0]), list(row[1:])) for row in rows]


def row_count(conn: Any) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {ROWS}").fetchone()[0])


# -- conversion ------------------------------------------------------------------------------------------------


def _text(raw: str, guarded: bool = True) -> str:
    """A cell as text: empty is nothing; a spreadsheet guard quote (as our CSV exports write on text) is taken
    off. The guard is looked at only in a cell that starts with a quote (a cheap test: most cells do not)."""
    if not guarded:
        return f"nullif({raw}, '')"
    guarded_cell = f"list_contains(['=', '+', '-', '@', chr(9), chr(13)], {raw}[2])"
    return (
        f"CASE WHEN {raw} = '' THEN NULL WHEN NOT starts_with({raw}, chr(39)) THEN {raw} "
        f"WHEN {guarded_cell} THEN substr({raw}, 2) ELSE {raw} END"
    )


def value_sql(spec: FieldSpec, raw: str, params: list[Any], people: Sequence[str] | None) -> str:
    """SQL for the field's value from the text `raw` (already NULL when empty); NULL when it does not fit."""
    kind = spec.type
    if kind in ("text", "email", "phone"):
        return _text_sql(spec, raw, params)
    if kind in ("number", "money"):
        return _number_sql(spec, raw)
    if kind == "date":
        text = f"trim({raw})"  # the shape YYYY-MM-DD, as record create: ten characters, dashes 5th and 8th
        return f"CASE WHEN {text} LIKE '____-__-__' THEN TRY_CAST({text} AS DATE) END"
    if kind == "datetime":
        return f"CASE WHEN length(trim({raw})) >= 10 THEN TRY_CAST(trim({raw}) AS TIMESTAMPTZ) END"
    if kind == "bool":
        return _bool_sql(raw)
    if kind == "list":
        params.append(list(spec.options))
        return f"CASE WHEN list_contains(?::VARCHAR[], {raw}) THEN {raw} END"
    if kind == "person":
        if people is None:
            return raw
        params.append(list(people))
        return f"CASE WHEN list_contains(?::VARCHAR[], {raw}) THEN {raw} END"
    if kind == "ref":
        return f"ref_{spec.id}.key"
    raise ValueError(f"unknown field type '{kind}'")


def _text_sql(spec: FieldSpec, raw: str, params: list[Any]) -> str:
    """Text, an e-mail address or a phone number: not too long, of its shape, and fitting the field's mask."""
    tests = [f"length({raw}) <= {int(spec.length_limit)}"]
    if spec.type == "email":
        tests.append(f"regexp_full_match({raw}, {_literal(_EMAIL)})")
    if spec.type == "phone":
        tests.append(f"regexp_full_match({raw}, {_literal(_PHONE)})")
    if spec.mask:
        tests.append(f"regexp_full_match({raw}, ?)")
        params.append(spec.mask)
    return f"CASE WHEN {' AND '.join(tests)} THEN {raw} END"


def _number_sql(spec: FieldSpec, raw: str) -> str:
    """A number or an amount of money, within the field's bounds."""
    # spaces and underscores taken out (`1 000`, `1_000`); replace() only where there is one to take out
    spaced = f"contains({raw}, ' ') OR contains({raw}, '_')"
    number = f"CASE WHEN {spaced} THEN replace(replace(trim({raw}), ' ', ''), '_', '') ELSE trim({raw}) END"
    if spec.type == "money":
        # as Decimal() reads it: at most two decimal places, counted after the exponent (1.5E+06, 1.234e1)
        places = (
            f"length(regexp_extract({number}, '\\.([0-9]*)', 1)) "
            f"- coalesce(TRY_CAST(regexp_extract({number}, '[eE]([+-]?[0-9]+)$', 1) AS BIGINT), 0)"
        )
        exponent = (
            f"(contains({raw}, 'e') OR contains({raw}, 'E')) AND regexp_full_match({number}, {_literal(_SCIENTIFIC)})"
        )
        test = f"(regexp_full_match({number}, {_literal(_MONEY)}) OR ({exponent} AND {places} <= 2))"
        value = f"TRY_CAST({number} AS DECIMAL(18,2))"
    else:
        value = f"TRY_CAST({number} AS DOUBLE)"  # the cast reads what Decimal() reads
        test = f"abs({value}) < {float(NUMBER_LIMIT)!r}"  # and refuses what record create refuses
    if spec.min is not None:
        test += f" AND {value} >= {float(spec.min)!r}"
    if spec.max is not None:
        test += f" AND {value} <= {float(spec.max)!r}"
    return f"CASE WHEN {test} THEN {value} END"


def _bool_sql(raw: str) -> str:
    """Yes or no, in any of the words TRUE and FALSE list, in any case."""
    true = "[" + ", ".join(_literal(t) for t in TRUE) + "]"
    false = "[" + ", ".join(_literal(f) for f in FALSE) + "]"
    low = f"lower(trim({raw}))"  # only for a cell not written exactly as one of the words
    return (
        f"CASE WHEN list_contains({true}, {raw}) THEN true WHEN list_contains({false}, {raw}) THEN false "
        f"WHEN list_contains({true}, {low}) THEN true WHEN list_contains({false}, {low}) THEN false END"
    )


def _ref_join(spec: FieldSpec, raw: str, target: FormDef, params: list[Any]) -> str:
    """A ref is a record key of the target form, or the one record whose title field equals the text."""
    title = target.display_field
    by_title = (
        f"SELECT {quote(title)} AS title, min(key) AS key, count(*) AS n FROM {quote(target.name)} "
        f"WHERE {quote(title)} IS NOT NULL GROUP BY 1"
        if title
        else "SELECT NULL::VARCHAR AS title, NULL::VARCHAR AS key, 0 AS n WHERE false"
    )
    params.append(target.name)
    alias = f"ref_{spec.id}"
    return (
        f"LEFT JOIN (SELECT s.rowid AS rid, coalesce(k.key, CASE WHEN t.n = 1 THEN t.key END) AS key "
        f"FROM {SRC} s LEFT JOIN (SELECT key FROM crm.records WHERE form = ?) k ON k.key = upper(trim({raw})) "
        f"LEFT JOIN ({by_title}) t ON t.title = {raw}) {alias} ON {alias}.rid = s.rowid"
    )


@dataclass
class _Conversion:
    """The statement convert_rows builds: an inner SELECT of each cell's text and converted value (with the
    joins that find references), an outer one of each field's value and the text of a value that does not fit;
    each with its parameters."""

    inner: list[str] = field(default_factory=list)
    outer: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    inner_params: list[Any] = field(default_factory=list)
    outer_params: list[Any] = field(default_factory=list)
    join_params: list[Any] = field(default_factory=list)

    def absent(self, spec: FieldSpec, defaults: dict[str, Any]) -> None:
        """A field the file has no column for: its default, or NULL."""
        name, sql_type = quote(spec.id), SQL_TYPES[spec.type]
        if spec.id in defaults:
            self.outer_params.append(defaults[spec.id])
            self.outer.append(f"CAST(? AS {sql_type}) AS {name}")
        else:
            self.outer.append(f"CAST(NULL AS {sql_type}) AS {name}")
        self.outer.append(f"NULL::VARCHAR AS {_aux('bad', spec.id)}")

    def convert(
        self,
        spec: FieldSpec,
        index: int,
        forms: dict[str, FormDef],
        people: Sequence[str] | None,
        defaults: dict[str, Any],
        flag_defaults: bool,
    ) -> None:
        """A field from the file's column `index`."""
        name, sql_type = quote(spec.id), SQL_TYPES[spec.type]
        raw = f"({_text('s.' + _column(index), guarded=spec.type in _TEXTUAL)})"
        if spec.type == "ref" and spec.form in forms:
            self.joins.append(_ref_join(spec, raw, forms[spec.form], self.join_params))
        text, value = quote("t_" + spec.id), quote("v_" + spec.id)
        converted = value_sql(spec, raw, self.inner_params, people)
        self.inner.append(f"{raw} AS {text}")
        self.inner.append(f"{converted} AS {value}")
        if spec.id in defaults:
            self.outer_params.append(defaults[spec.id])
            self.outer.append(f"CASE WHEN {text} IS NULL THEN CAST(? AS {sql_type}) ELSE {value} END AS {name}")
            if flag_defaults:  # the default stands for an empty cell (what new_rows tells entering a stage)
                self.outer.append(f"{text} IS NULL AS {_aux('default', spec.id)}")
        else:
            self.outer.append(f"{value} AS {name}")
        bad = f"CASE WHEN {text} IS NOT NULL AND {value} IS NULL THEN {text} END"
        if converted == raw:  # a value without a rule (a person, the team unchecked) cannot be bad
            bad = "NULL::VARCHAR"
        self.outer.append(f"{bad} AS {_aux('bad', spec.id)}")


def convert_rows(
    conn: Any,
    fields: Sequence[tuple[FieldSpec, int | None]],
    forms: dict[str, FormDef],
    people: Sequence[str] | None,
    defaults: dict[str, Any],
    row_number: str | None,
    extra: Sequence[tuple[str, int]] = (),
    *,
    flag_defaults: bool = False,
) -> None:
    """import_rows: per staged row its place (rid) and row number in the file, and for each (field, source
    column or None) the value (the field's default for an empty cell; with flag_defaults `default#<field>` is
    then true) and `bad#<field>`, the text of a value that does not fit. `extra` names more source columns to
    carry as text (a record key column).

    row_number None: import_src is a view on the file, read here once, in file order (no references, and no
    list turned into a join: a join does not keep the order); the rows are numbered afterwards by number_rows."""
    numbered = row_number is not None
    select = _Conversion()
    select.inner = ["s.rowid AS rid", f"{row_number} AS row"] if numbered else []
    select.inner += [f"({_text('s.' + _column(index))}) AS {_ident(name)}" for name, index in extra]
    select.outer = ["rid", "row"] if numbered else []
    select.outer += [_ident(name) for name, _ in extra]  # crmctl's names: `key`, `crm.files`
    for spec, index in fields:
        if index is None:
            select.absent(spec, defaults)
        else:
            select.convert(spec, index, forms, people, defaults, flag_defaults)
    _drop(conn, ROWS)
    conn.execute(f"DROP TABLE IF EXISTS {ROWS}_data")
    if not numbered:  # the rows will be numbered in the order they are stored, which a join does not keep, and
        conn.execute("SET disabled_optimizers = 'in_clause'")  # DuckDB makes a join of a list of 5 or more
    conn.execute(
        f"CREATE TEMP TABLE {ROWS}_data AS SELECT {', '.join(select.outer)} FROM "
        f"(SELECT {', '.join(select.inner)} FROM {SRC} s {' '.join(select.joins)})",
        select.outer_params + select.inner_params + select.join_params,
    )
    if not numbered:  # (after a failure the transaction is rolled back and the connection closed with the command)
        conn.execute("RESET disabled_optimizers")
    if numbered:
        conn.execute(f"CREATE TEMP VIEW {ROWS} AS SELECT * FROM {ROWS}_data")


def number_rows(conn: Any, rejected: Sequence[int]) -> None:
    """import_rows for rows a fused conversion read: numbered by their place in the table (file order)."""
    base = conn.execute(f"SELECT coalesce(min(rowid), 0) FROM {ROWS}_data").fetchone()[0]
    index = f"(s.rowid - {int(base)} + 1)"
    _drop(conn, ROWS)
    conn.execute(
        f"CREATE TEMP VIEW {ROWS} AS SELECT s.rowid AS rid, {csv_row_number(index, rejected)} AS row, s.* "
        f"FROM {ROWS}_data s"
    )


def row_index(conn: Any) -> str:
    """SQL for a staged row's place in the file, from 1 (rowids of a table made inside a transaction do not
    start at 0, but they do follow the order rows were read in)."""
    base = conn.execute(f"SELECT coalesce(min(rowid), 0) FROM {SRC}").fetchone()[0]
    return f"(s.rowid - {int(base)} + 1)"


def csv_row_number(index: str, rejected: Sequence[int]) -> str:
    """SQL for a staged CSV row's number in the file (the header is row 1), skipping the rows the reader
    rejected: staged row g sits after every rejected row that has fewer than g good rows before it."""
    if not rejected:
        return f"{index} + 1"
    before = [r - 2 - i for i, r in enumerate(sorted(rejected))]  # good rows before each rejected one
    return f"{index} + 1 + list_count(list_filter({before!r}::BIGINT[], lambda b: b < {index}))"


# -- problems --------------------------------------------------------------------------------------------------


def title_matches(conn: Any, form: FormDef, text: str) -> int:
    """How many records of the form have this text in their title field."""
    if form.display_field is None:
        return 0
    row = conn.execute(f"SELECT count(*) FROM {quote(form.name)} WHERE {quote(form.display_field)} = ?", [text])
    return int(row.fetchone()[0])


def bad_values(conn: Any, fields: Iterable[str]) -> list[tuple[int, int, str, str]]:
    """(row, rid, field, text) of every value that does not fit its field."""
    parts = [
        f"SELECT row, rid, {_literal(name)} AS field, {_aux('bad', name)} AS text FROM {ROWS} "
        f"WHERE {_aux('bad', name)} IS NOT NULL"
        for name in fields
    ]
    if not parts:
        return []
    rows = conn.execute(" UNION ALL ".join(parts) + " ORDER BY row, field").fetchall()
    return [(int(r), int(i), f, t) for r, i, f, t in rows]


def missing(conn: Any, fields: Iterable[str], *, creating: bool) -> list[tuple[int, int, str]]:
    """(row, rid, field) where a required field ends up empty: on rows that create (creating=True) or that
    update a record (creating=False; only fields given by the file)."""
    status = "create" if creating else "update"
    parts = [
        f"SELECT r.row, r.rid, {_literal(name)} FROM {ROWS} r JOIN import_plan p USING (rid) "
        f"WHERE p.status = '{status}' AND r.{quote(name)} IS NULL AND r.{_aux('bad', name)} IS NULL"
        for name in fields
    ]
    if not parts:
        return []
    rows = conn.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 3").fetchall()
    return [(int(r), int(i), f) for r, i, f in rows]


# -- matching rows to records ----------------------------------------------------------------------------------


def plan(conn: Any, form: FormDef, key: str | None) -> None:
    """import_plan: per row, whether it creates or updates a record, which record, and key problems.

    key None: every row creates. key 'key': the `key` column names a record of the form, or the key a new
    record takes. Another key: the field's value finds the record."""
    conn.execute("DROP TABLE IF EXISTS import_plan")
    if key is None:
        conn.execute(
            f"CREATE TEMP TABLE import_plan AS SELECT rid, row, 'create' AS status, NULL::VARCHAR AS existing, "
            f"NULL::VARCHAR AS kval, 0 AS matches, 1 AS in_file FROM {ROWS}"
        )
        return
    table = quote(form.name)
    if key == "key":
        kval, column = "upper(trim(r.key))", "key"
    else:
        kval, column = f"r.{quote(key)}", quote(key)
    conn.execute(
        f"""CREATE TEMP TABLE import_plan AS
        SELECT r.rid, r.row, CASE WHEN e.key IS NULL THEN 'create' ELSE 'update' END AS status,
               e.key AS existing, CAST(r.kval AS VARCHAR) AS kval, coalesce(e.n, 0) AS matches,
               CASE WHEN r.kval IS NULL THEN 1 ELSE count(*) OVER (PARTITION BY r.kval) END AS in_file
        FROM (SELECT r.rid, r.row, {kval} AS kval FROM {ROWS} r) r
        LEFT JOIN (SELECT {column} AS kval, min(key) AS key, count(*) AS n FROM {table}
                   WHERE {column} IS NOT NULL GROUP BY 1) e ON e.kval = r.kval"""
    )


def key_problems(conn: Any, form: FormDef, key: str | None) -> list[tuple[int, int, str, str]]:
    """(row, rid, text, problem) for duplicate keys in the file, keys matching several records and, with
    key 'key', new keys that do not belong to the form or are taken by another form."""
    if key is None:
        return []
    found: list[tuple[int, int, str, str]] = []
    for row, rid, kval, in_file, matches in conn.execute(
        "SELECT row, rid, kval, in_file, matches FROM import_plan WHERE in_file > 1 OR matches > 1 ORDER BY row"
    ).fetchall():
        if in_file > 1:
            found.append((int(row), int(rid), kval, f"the key appears {in_file} times in the file"))
        else:
            found.append((int(row), int(rid), kval, f"the key matches {matches} records of form {form.name}"))
    if key == "key":
        pattern = f"^{form.key_prefix}-[1-9][0-9]*$"
        wrong = conn.execute(
            "SELECT p.row, p.rid, p.kval, r.form FROM import_plan p LEFT JOIN crm.records r ON r.key = p.kval "
            "WHERE p.status = 'create' AND p.kval IS NOT NULL AND (NOT regexp_matches(p.kval, ?) OR r.key IS NOT NULL)"
            " ORDER BY p.row",
            [pattern],
        ).fetchall()
        for r, i, k, other in wrong:
            why = f"is a record of form {other}" if other else f"is not a key of form {form.name} ({form.key_prefix}-N)"
            found.append((int(r), int(i), k, why))
    return found


def unique_problems(conn: Any, form: FormDef, fields: Sequence[str]) -> list[tuple[int, int, str, str]]:
    """(row, rid, text, problem) for rows whose values of these fields (a unique set of the form, text without
    regard to case) are those of another record, or of an earlier row of the file."""
    norm = [f"lower(trim({{0}}{quote(f)}))" if form.fields[f].type in TEXTUAL else f"{{0}}{quote(f)}" for f in fields]
    units = ", ".join(f"u{i}" for i in range(len(fields)))
    rows = conn.execute(
        f"""WITH v AS (SELECT r.rid, r.row, p.existing,
                concat_ws(', ', {", ".join(f"CAST(r.{quote(f)} AS VARCHAR)" for f in fields)}) AS shown,
                {", ".join(f"{n.format('r.')} AS u{i}" for i, n in enumerate(norm))}
            FROM {ROWS} r JOIN import_plan p USING (rid)
            WHERE {" AND ".join(f"r.{quote(f)} IS NOT NULL" for f in fields)})
        SELECT v.row, v.rid, v.shown, min(v.row) OVER (PARTITION BY {units}) AS first,
            (SELECT min(e.key) FROM {quote(form.name)} e
             WHERE {" AND ".join(f"{n.format('e.')} = v.u{i}" for i, n in enumerate(norm))}
               AND e.key IS DISTINCT FROM v.existing) AS holder
        FROM v ORDER BY v.row"""
    ).fetchall()
    found = []
    named = ", ".join(fields)
    for row, rid, text, first, holder in rows:
        if holder or first < row:
            where = f"{form.name} {holder}" if holder else f"row {first}"
            found.append((int(row), int(rid), text, f"{where} has this {named} already (unique in form {form.name})"))
    return found


def listed_files(conn: Any) -> list[tuple[int, int, str]]:
    """(row, rid, text) of every row whose crm.files cell lists files (import_rows carries that column)."""
    rows = conn.execute(
        f'SELECT row, rid, "{FILES_COLUMN}" FROM {ROWS} WHERE "{FILES_COLUMN}" IS NOT NULL ORDER BY row'
    ).fetchall()
    return [(int(r), int(i), t) for r, i, t in rows]


def planned_keys(conn: Any, form: FormDef) -> dict[int, str]:
    """rid -> the key of the record each row planned is written to: the one it updates, or the one it created
    (import_new, once insert_new has run)."""
    rows = conn.execute(
        "SELECT p.rid, coalesce(p.existing, ? || n.number) FROM import_plan p LEFT JOIN import_new n USING (rid) "
        "WHERE p.status = 'update' OR n.number IS NOT NULL",
        [f"{form.key_prefix}-"],
    ).fetchall()
    return {int(rid): key for rid, key in rows}


def drop_creates(conn: Any) -> None:
    """Leave every row that would create a record out of what is written."""
    conn.execute("DELETE FROM import_plan WHERE status = 'create'")


def drop_rows(conn: Any, rids: Iterable[int]) -> None:
    """Leave these rows out of what is written (skip mode)."""
    conn.execute("DELETE FROM import_plan WHERE list_contains(?, rid)", [sorted(set(rids))])


def plan_counts(conn: Any) -> dict[str, int]:
    """How many rows create a record and how many find one to update."""
    row = conn.execute(
        "SELECT count(*) FILTER (status = 'create'), count(*) FILTER (status = 'update') FROM import_plan"
    ).fetchone()
    return {"create": int(row[0]), "update": int(row[1])}


def _changed(fields: Sequence[str]) -> str:
    return " OR ".join(f"r.{quote(f)} IS DISTINCT FROM t.{quote(f)}" for f in fields) or "false"


# -- writing ---------------------------------------------------------------------------------------------------


def _json_value(spec: FieldSpec, expr: str) -> str:
    """A value as JSON, the way the history stores it (money and dates as text, whole numbers as integers)."""
    if spec.type == "money":
        return f"to_json(CAST({expr} AS VARCHAR))"
    if spec.type == "date":
        return f"to_json(strftime({expr}, '%Y-%m-%d'))"
    if spec.type == "datetime":
        iso = f"regexp_replace(strftime({expr}, '%Y-%m-%dT%H:%M:%S%z'), '([+-][0-9][0-9])$', '\\1:00')"
        return f"to_json({iso})"
    if spec.type == "number":
        whole = f"{expr} = trunc({expr}) AND abs({expr}) < 1e15"
        return f"CASE WHEN {whole} THEN to_json(CAST({expr} AS BIGINT)) ELSE to_json({expr}) END"
    return f"to_json({expr})"


def insert_new(
    conn: Any,
    form: FormDef,
    fields: Sequence[str],
    *,
    actor: str | None,
    now: dt.datetime,
    version: int,
    keep_keys: bool,
) -> int:
    """Create a record for every row planned to create (keep_keys: a row's own key, when it gives one);
    returns how many."""
    start = last_number(conn, form)
    given = "TRY_CAST(split_part(p.kval, '-', -1) AS BIGINT)" if keep_keys else "NULL::BIGINT"  # CL-17 -> 17
    first, count, keys, total = conn.execute(
        f"SELECT min(rid), count(*), count({given}), (SELECT count(*) FROM {ROWS}) "
        "FROM import_plan p WHERE status = 'create'"
    ).fetchone()
    columns = ", ".join(quote(f) for f in fields)
    selected = ", ".join(f"r.{quote(f)}" for f in fields)
    insert = (
        f"INSERT INTO {quote(form.name)} (key, number, author, created_at, updated_at, def_version"
        f"{', ' if fields else ''}{columns}) "
        f"SELECT ? || n.number, n.number, ?, ?, ?, ?{', ' if fields else ''}{selected} "
    )
    values = [f"{form.key_prefix}-", actor, now, now, version]
    if count and count == total and not keys:  # every row of the file creates, in file order: no sort, no join
        number = f"{start} + (r.rid - {int(first)}) + 1"
        conn.execute(f"{insert.replace('n.number', number)} FROM {ROWS} r", values)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE import_new AS SELECT r.rid, {number} AS number FROM {ROWS} r")
    else:
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE import_new AS
            WITH planned AS (SELECT p.rid, p.row, {given} AS given FROM import_plan p WHERE p.status = 'create')
            SELECT rid, coalesce(given, greatest(?, coalesce((SELECT max(given) FROM planned), 0))
                                        + row_number() OVER (PARTITION BY given IS NULL ORDER BY row)) AS number
            FROM planned""",
            [start],
        )
        conn.execute(f"{insert} FROM import_new n JOIN {ROWS} r USING (rid)", values)
    return int(conn.execute("SELECT count(*) FROM import_new").fetchone()[0])


def new_rows(conn: Any, form: FormDef, given: Sequence[str]) -> list[tuple[dict[str, Any], frozenset[str]]]:
    """The rows of the records this import created, in the order of their numbers, each with the fields among
    `given` (the file's columns) that its cells gave: not empty, nor filled by the field's default."""
    table = quote(form.name)
    defaulted = [f for f in given if form.fields[f].default is not None]
    flags = "".join(f", r.{_aux('default', f)}" for f in defaulted)
    cursor = conn.execute(
        f"SELECT t.*{flags} FROM {table} t JOIN import_new n ON n.number = t.number JOIN {ROWS} r ON r.rid = n.rid "
        "ORDER BY t.number"
    )
    width = len(cursor.description) - len(defaulted)
    names = [d[0] for d in cursor.description[:width]]
    found = []
    for values in cursor.fetchall():
        row = dict(zip(names, values[:width], strict=True))
        empty = {f for f, flag in zip(defaulted, values[width:], strict=True) if flag}
        found.append((row, frozenset(f for f in given if row.get(f) is not None and f not in empty)))
    return found


def new_keys(conn: Any, form: FormDef) -> list[str]:
    rows = conn.execute("SELECT ? || number FROM import_new ORDER BY number", [f"{form.key_prefix}-"]).fetchall()
    return [r[0] for r in rows]


def apply_updates(conn: Any, form: FormDef, specs: Sequence[FieldSpec], *, actor: str | None, now: dt.datetime) -> int:
    """Write the changed fields of every row planned to update, each with a record.updated event."""
    if not specs:
        return 0
    fields = [s.id for s in specs]
    table = quote(form.name)
    changed = _changed(fields)
    pieces = ", ".join(
        f"CASE WHEN r.{quote(s.id)} IS DISTINCT FROM t.{quote(s.id)} THEN {_literal(json.dumps(s.id))} || ': [' || "
        f"coalesce({_json_value(s, 't.' + quote(s.id))}::VARCHAR, 'null') || ', ' || "
        f"coalesce({_json_value(s, 'r.' + quote(s.id))}::VARCHAR, 'null') || ']' END"
        for s in specs
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE import_changes AS
        SELECT p.existing AS key, '{{"changes": {{' || concat_ws(', ', {pieces}) || '}}}}' AS data, r.*
        FROM import_plan p JOIN {ROWS} r USING (rid) JOIN {table} t ON t.key = p.existing
        WHERE p.status = 'update' AND ({changed})"""
    )
    assignments = ", ".join(f"{quote(f)} = c.{quote(f)}" for f in fields)
    conn.execute(
        f"UPDATE {table} SET {assignments}, updated_at = ? FROM import_changes c WHERE {table}.key = c.key", [now]
    )
    conn.execute(
        "INSERT INTO crm.events (occurred_at, actor, action, record, form, data) "
        "SELECT ?, ?, 'record.updated', key, ?, data FROM import_changes ORDER BY row",
        [now, actor, form.name],
    )
    return int(conn.execute("SELECT count(*) FROM import_changes").fetchone()[0])


def enter_plain_stage(
    conn: Any, form: FormDef, process: str, stage: str, *, actor: str | None, now: dt.datetime
) -> None:
    """Put every new record in a stage that asks for nothing on entry, with its stage.entered event."""
    conn.execute(
        f"UPDATE {quote(form.name)} SET process = ?, stage = ?, stage_since = ? "
        "WHERE number IN (SELECT number FROM import_new)",
        [process, stage, now],
    )
    data = json.dumps({"process": process, "stage": stage, "from": None})
    conn.execute(
        "INSERT INTO crm.events (occurred_at, actor, action, record, form, data) "
        "SELECT ?, ?, 'stage.entered', ? || number, ?, ? FROM import_new ORDER BY number",
        [now, actor, f"{form.key_prefix}-", form.name, data],
    )


def record_batch(
    conn: Any, kind: str, outcome: Outcome, *, actor: str | None, now: dt.datetime, form: str | None
) -> int:
    """One row of crm.imports (what an import did), and, for records of a form, the runs of record numbers it
    created, by which `record history` finds the import that created a record."""
    batch = {
        "kind": kind,
        "source": outcome.source,
        "actor": actor,
        "imported_at": now,
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "rejected": outcome.rejected,
    }
    columns = list(batch)
    row = conn.execute(
        f"INSERT INTO crm.imports ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) RETURNING id",
        [batch[c] for c in columns],
    ).fetchone()
    batch_id = int(row[0])
    if form is None:
        return batch_id
    first, last, count = conn.execute("SELECT min(number), max(number), count(*) FROM import_new").fetchone()
    if count and last - first + 1 == count:  # one run (a form's numbers are unique)
        conn.execute("INSERT INTO crm.import_runs VALUES (?, ?, ?, ?)", [batch_id, form, first, last])
    else:
        conn.execute(
            "INSERT INTO crm.import_runs SELECT ?, ?, min(number), max(number) FROM "
            "(SELECT number, number - row_number() OVER (ORDER BY number) AS island FROM import_new) GROUP BY island",
            [batch_id, form],
        )
    return batch_id


# -- export ----------------------------------------------------------------------------------------------------


def _guard(column: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading quote (import takes it off again)."""
    return f"CASE WHEN regexp_matches({column}, '^[=+\\-@\\t\\r]') THEN '''' || {column} ELSE {column} END"


def _same(column: str) -> str:
    return column


RECORD_TAIL = ("process", "stage", "stage_since", "responsible", "author", "created_at", "updated_at")
_TEXTUAL = frozenset({"text", "email", "phone", "list", "person", "ref"})


def _files_of(owner: str) -> str:
    """The files attached to an owner (not deleted) as a JSON list of id, name, size and sha256, or null."""
    return (
        "(SELECT to_json(list({'id': f.id, 'name': f.name, 'size': f.size, 'sha256': f.sha256} ORDER BY f.id)) "
        f'FROM crm.files f WHERE f.owner = {owner} AND f.deleted_at IS NULL) AS "{FILES_COLUMN}"'
    )


def record_export_sql(form: FormDef, guard: bool) -> str:
    columns = [("key", "text"), *((f.id, f.type) for f in form.fields.values()), *((c, "meta") for c in RECORD_TAIL)]
    parts = [
        f"{_guard(quote(name)) if guard and kind in _TEXTUAL else quote(name)} AS {quote(name)}"
        for name, kind in columns
    ]
    table = quote(form.name)
    return f"SELECT {', '.join(parts)}, {_files_of(table + '.key')} FROM {table} ORDER BY number"


def task_export_sql(guard: bool) -> str:
    g = _guard if guard else _same
    return f"""SELECT t.id, t.external_id, t.project, t.record, {g("t.title")} AS title,
        {g("t.description")} AS description, t.type, t.subtype, t.assignee, t.priority, t.estimate_minutes,
        t.due_at, t.start_after, {g("t.start_after_why")} AS start_after_why, t.status,
        (SELECT string_agg(d.depends_on, ' ' ORDER BY d.depends_on)
        FROM crm.task_dependencies d WHERE d.task = t.id) AS depends_on, array_to_string(t.watchers, ' ') AS watchers,
        t.created_at, t.started_at, t.finished_at, {_files_of("t.id")} FROM crm.tasks t ORDER BY t.number"""


def time_export_sql(guard: bool) -> str:
    g = _guard if guard else _same
    return f"""SELECT i.id, i.task, i.person, i.started_at, i.ended_at,
        round(date_diff('second', i.started_at, i.ended_at) / 60.0, 2) AS minutes, {g("i.note")} AS note, i.source
        FROM crm.time_intervals i WHERE i.ended_at IS NOT NULL ORDER BY i.started_at, i.id"""


def exported_files(conn: Any, sql: str) -> dict[str, bytes]:
    """sha256 -> content of every file an export's rows list in their crm.files column, each once."""
    rows = conn.execute(
        f"""WITH listed AS (SELECT unnest(from_json("{FILES_COLUMN}"::JSON, '[{{"sha256": "VARCHAR"}}]'))
        AS f FROM ({sql})) SELECT c.sha256, c.content FROM crm.file_contents c
        WHERE c.sha256 IN (SELECT f.sha256 FROM listed)"""
    ).fetchall()
    return {sha: bytes(content) for sha, content in rows}


# a moment as ISO 8601 text, as listings and `--format json` give it: 2027-03-01T10:00:00+03:00
_ISO = r"regexp_replace(replace(CAST({0} AS VARCHAR), ' ', 'T'), '([+-]\d\d)$', '\1:00')"


def _iso_moments(conn: Any, sql: str) -> str:
    """The query with each moment (TIMESTAMP WITH TIME ZONE) as ISO 8601 text, the T and the offset's minutes
    included, where DuckDB would write `2027-03-01 10:00:00+03`."""
    described = conn.execute(f"DESCRIBE {sql}").fetchall()
    moments = [row[0] for row in described if row[1] == "TIMESTAMP WITH TIME ZONE"]
    if not moments:
        return sql
    replaced = ", ".join(f"{_ISO.format(quote(name))} AS {quote(name)}" for name in moments)
    return f"SELECT * REPLACE ({replaced}) FROM ({sql})"


def copy_out(conn: Any, sql: str, path: Path, fmt: str) -> None:
    """Write a query's rows to a file: CSV with a header, JSON Lines (moments as ISO 8601 text in both), or
    Parquet (moments as its own timestamps)."""
    option = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json", "parquet": "FORMAT parquet"}[fmt]
    target = str(path).replace("'", "''")
    query = sql if fmt == "parquet" else _iso_moments(conn, sql)
    conn.execute(f"COPY ({query}) TO '{target}' ({option})")
