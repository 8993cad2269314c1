"""Hostile input, case by case: SQL in ids, keys, values and names; Jinja2 reaching for Python internals or
for the machine's memory and time; YAML tags that build objects, billion laughs and nesting that crashes a
C parser; path traversal and bad paths in file options; CSV cells a spreadsheet would run; terminal escapes.

Every refusal must be one line on stderr, `crmctl: error: ...`, with a documented exit code (never 5, the
internal error) and must leave the database exactly as it was (tests/dbstate.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NOW, ok
from tests.dbstate import dump, query

PWNED = Path("/tmp/crmctl-hostile-pwned")
SQL = "x'); DROP TABLE crm.records; --"
SQL_VALUES = [
    SQL,
    "' OR '1'='1",
    'x"; DROP TABLE "client"; --',
    "1; SELECT * FROM information_schema.tables",
    "Robert'); DROP TABLE deal;--",
    "\\'; ATTACH '/tmp/evil.duckdb' AS evil; --",
    "%_%",
    "$1 ? :name",
]


def refused(result, codes: tuple[int, ...] = (1, 2, 3)) -> None:
    """An expected failure: a documented exit code and one `crmctl: error:` line, no traceback."""
    assert result.exit_code in codes, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr, result.stderr
    assert result.stderr.startswith("crmctl: error: ") or "\ncrmctl: error: " in result.stderr, result.stderr
    assert result.stderr.endswith("\n") and result.stderr.splitlines()[-1].startswith("crmctl: error: ")


def crmctl(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A real process: for start-up paths and for input that might crash the interpreter itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update({"CRMCTL_NOW": NOW, "NO_COLOR": "1", "COLUMNS": "100"})
    return subprocess.run(
        [sys.executable, "-c", "from crmctl.cli import main; main()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refused_process(proc: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (1, 2, 3)) -> None:
    assert proc.returncode in codes, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr


@pytest.fixture
def db(workspace: Path) -> Path:
    return workspace / "crmctl.duckdb"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- SQL in ids, keys, names and values ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field_id",
    ['x"; DROP TABLE crm.records; --', "x; DROP TABLE client", "name' --", "a\nb", "x)", "__proto__", "a" * 200],
)
def test_sql_in_a_field_id_is_refused_with_a_code_and_nothing_applied(cli, db: Path, workspace: Path, field_id):
    write(
        workspace / "evil.yaml",
        f"kind: Form\nname: evil\nkey_prefix: EV\nfields:\n  - {{id: {json.dumps(field_id)}, type: text}}\n",
    )
    before = dump(db)
    result = cli("validate", "--format", "json")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    codes = {d["code"] for d in json.loads(result.stdout)}
    assert codes and all(c[0] in "SR" for c in codes), codes
    refused(cli("apply"))
    refused(cli("plan"))
    assert dump(db) == before


@pytest.mark.parametrize(
    "doc",
    [
        "kind: Form\nname: 'x; DROP TABLE client'\nkey_prefix: X\nfields: [{id: a, type: text}]\n",
        "kind: Form\nname: ../../etc/passwd\nkey_prefix: X\nfields: [{id: a, type: text}]\n",
        'kind: Form\nname: evil\nkey_prefix: "X\'; --"\nfields: [{id: a, type: text}]\n',
        "kind: Form\nname: evil\nkey_prefix: EV\nfields: [{id: a, type: 'text; DROP TABLE client'}]\n",
        "kind: Form\nname: evil\nkey_prefix: EV\n"
        "fields: [{id: a, type: list, options: ['a', 'b'], default: \"' OR 1=1\"}]\n",
        'kind: Process\nname: evil\nform: deal\nstages: [{id: "a\'; DROP TABLE deal; --", terminal: true}]\n',
        'kind: Team\nname: staff2\npeople: [{id: "boris\' --", roles: [ceo]}]\n',
    ],
)
def test_sql_in_other_names_of_definitions_is_refused(cli, db: Path, workspace: Path, doc: str) -> None:
    write(workspace / "evil.yaml", doc)
    before = dump(db)
    result = cli("validate")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr, result.stdout
    refused(cli("apply"))
    assert dump(db) == before


def test_sql_in_list_options_is_only_ever_data(cli, db: Path, workspace: Path) -> None:
    """Option values are data: they may hold quotes; they are bound, never spliced into SQL."""
    write(
        workspace / "opts.yaml",
        "kind: Form\nname: opts\nkey_prefix: OP\nfields:\n"
        f"  - {{id: pick, type: list, options: [{json.dumps(SQL)}, plain]}}\n",
    )
    ok(cli, "apply")
    ok(cli, "record", "create", "opts", "--set", f"pick={SQL}")
    refused(cli("record", "create", "opts", "--set", "pick=' OR '1'='1"))
    rows = json.loads(ok(cli, "record", "list", "opts", "--where", f"pick={SQL}", "-f", "json"))
    assert [r["pick"] for r in rows] == [SQL]
    assert query(db, "SELECT count(*) FROM crm.records")[0][0] >= 1


@pytest.mark.parametrize(
    "args",
    [
        ["record", "show", "CL-1' OR 1=1 --"],
        ["record", "show", "CL-1 OR 1=1"],
        ["record", "show", "CL-1;"],
        ["record", "history", "CL-1' UNION SELECT * FROM crm.events --"],
        ["record", "update", "CL-1' --", "--set", "name=x"],
        ["comment", "CL-1' OR '1'='1", "hi"],
        ["remind", "CL-1'--", "x", "--at", "+1d"],
        ["advance", "DL-1' OR 1=1 --"],
        ["approve", "DL-1' OR 1=1 --"],
        ["reject", "DL-1' OR 1=1 --", "--comment", "no"],
        ["eta", "CL-1' OR 1=1 --"],
        ["task", "add", "x", "--for", "CL-1' OR 1=1 --"],
        ["task", "show", "T-1 OR 1=1"],
        ["project", "show", "P-1' OR 1=1 --"],
        ["project", "create", "x", "--for", "CL-1' --"],
        ["report", "funnel", "deals' OR 1=1 --"],
        ["board", "deals'; DROP TABLE deal; --"],
        ["record", "list", "client; DROP TABLE client"],
        ["record", "list", "crm.records"],
    ],
)
def test_sql_in_keys_is_not_found(cli, db: Path, args: list[str]) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    before = dump(db)
    result = cli(*args)
    refused(result)
    assert result.exit_code == 3, result.stderr
    assert dump(db) == before


@pytest.mark.parametrize("value", SQL_VALUES)
def test_sql_in_where_values_matches_only_that_text(cli, db: Path, value: str) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    ok(cli, "record", "create", "client", "--set", f"name={value}")
    before = dump(db)
    for where, keys in ((f"name={value}", ["CL-2"]), (f"name!={value}", ["CL-1"])):
        rows = json.loads(ok(cli, "record", "list", "client", "--where", where, "-f", "json"))
        assert [r["key"] for r in rows] == keys, where
    assert dump(db) == before


def test_contains_takes_percent_and_underscore_literally(cli, db: Path) -> None:
    """`~` is 'contains': '%' and '_' are characters to find, not LIKE wildcards."""
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    ok(cli, "record", "create", "client", "--set", "name=100% sure_thing")
    for needle, keys in (("%", ["CL-2"]), ("_", ["CL-2"]), ("0%", ["CL-2"]), ("a_m", [])):
        rows = json.loads(ok(cli, "record", "list", "client", "--where", f"name~{needle}", "-f", "json"))
        assert [r["key"] for r in rows] == keys, needle


@pytest.mark.parametrize(
    "sort",
    ['name"; DROP TABLE client; --', "name DESC, (SELECT 1)", "1", "name;", "-", "crm.records.key", ""],
)
def test_sql_in_sort_names_is_refused(cli, db: Path, sort: str) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    before = dump(db)
    refused(cli("record", "list", "client", "--sort", sort))
    assert dump(db) == before


@pytest.mark.parametrize(
    "where",
    ['name"=1', "name = 1 OR 1=1", "name;=1", "(name)=1", "crm.records.key=1", "NAME=x", "name =x", "=x", "x"],
)
def test_sql_in_where_columns_is_refused(cli, db: Path, where: str) -> None:
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    before = dump(db)
    result = cli("record", "list", "client", "--where", where)
    if result.exit_code == 0:  # `name =x` may be read as name = 'x': then only as a value
        assert json.loads(cli("record", "list", "client", "--where", where, "-f", "json").stdout) == []
    else:
        refused(result)
    assert dump(db) == before


def test_sql_in_set_values_task_and_project_titles_is_stored_verbatim(cli, db: Path) -> None:
    tables_before = set(dump(db))
    for i, value in enumerate(SQL_VALUES, start=1):
        ok(cli, "record", "create", "client", "--set", f"name={value}", "--set", "email=a@b.example")
        ok(cli, "record", "update", f"CL-{i}", "--set", f"name={value}!")
        ok(cli, "task", "add", value, "--description", value, "--assignee", "anna")
        ok(cli, "project", "create", value)
        ok(cli, "comment", f"CL-{i}", value)
    assert set(dump(db)) == tables_before  # every table still there, none added
    assert [r[0] for r in query(db, "SELECT name FROM client ORDER BY number")] == [v + "!" for v in SQL_VALUES]
    assert sorted(r[0] for r in query(db, "SELECT title FROM crm.tasks")) == sorted(SQL_VALUES)
    shown = json.loads(ok(cli, "record", "show", "CL-1", "-f", "json"))
    assert shown["fields"]["name"] == SQL_VALUES[0] + "!"
    assert shown["comments"][0]["text"] == SQL_VALUES[0]
    titles = {p["title"] for p in json.loads(ok(cli, "project", "list", "-f", "json"))}
    assert {v.strip() for v in SQL_VALUES if "/" not in v} <= titles


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "\x1b[2J\x1b[31mred", "\u202e\u0631evil", "x" * 100_000, "line\nbreak", "\ud800", "😀" * 50, "\r"],
)
def test_odd_text_values_are_stored_or_refused_cleanly(cli, db: Path, value: str) -> None:
    before = dump(db)
    result = cli("record", "create", "client", "--set", f"name={value}")
    if result.exit_code != 0:
        refused(result)
        assert dump(db) == before
        return
    shown = json.loads(ok(cli, "record", "show", "CL-1", "-f", "json"))
    assert shown["fields"]["name"] == value
    ok(cli, "record", "list", "client")
    ok(cli, "record", "list", "client", "-f", "csv")


def test_terminal_escapes_are_shown_not_run_in_tables(cli, workspace: Path) -> None:
    evil = "Acme\x1b[2J\x1b]0;owned\x07\x9b31m"
    ok(cli, "record", "create", "client", "--set", f"name={evil}")
    ok(cli, "task", "add", evil, "--assignee", "anna")
    for args in (
        ["record", "list", "client"],
        ["record", "show", "CL-1"],
        ["task", "list"],
        ["task", "show", "T-1"],
        ["record", "history", "CL-1"],
    ):
        out = ok(cli, *args)
        assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out, (args, out)
        assert "\\x1b[2J" in out, (args, out)
    assert json.loads(ok(cli, "record", "show", "CL-1", "-f", "json"))["fields"]["name"] == evil


# -- numbers, dates and durations at the edges ---------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e40", "1e400", "99999999999999999999999999999999999999999", "1.8e308", "-1e309"])
def test_huge_numbers_in_a_number_field_are_refused(cli, example, value: str) -> None:
    workspace = example("crm-orders")
    db = workspace / "crmctl.duckdb"
    ok(cli, "record", "create", "client", "--set", "name=A")
    ok(cli, "record", "create", "deal", "--set", "title=x", "--set", "client=CL-1")
    before = dump(db)
    refused(
        cli("record", "create", "order", "--set", "title=x", "--set", "deal=DL-1", "--set", "order_type=website",
            "--set", f"pages={value}")
    )  # fmt: skip
    assert dump(db) == before
    refused(cli("record", "list", "order", "--where", f"pages>{value}"))
    write(workspace / "orders.csv", f"title,deal,order_type,pages\nx,DL-1,website,{value}\n")
    refused(cli("import", "order", str(workspace / "orders.csv")))  # the bulk checks refuse what create refuses
    assert dump(db) == before


@pytest.mark.parametrize(
    "where", ["number=1e40", "def_version=1e999", "number>" + "9" * 60, "amount<-1e999", "number<=-1e40"]
)
def test_huge_numbers_in_where_are_refused(cli, db: Path, where: str) -> None:
    before = dump(db)
    refused(cli("record", "list", "deal", "--where", where))
    assert dump(db) == before


@pytest.mark.parametrize("limit", ["9223372036854775808", "99999999999999999999999", "-1", "1e3", "x"])
def test_limit_out_of_range_is_a_usage_error(cli, db: Path, limit: str) -> None:
    refused(cli("record", "list", "client", "--limit", limit), codes=(2,))


@pytest.mark.parametrize(
    "args",
    [
        ["task", "add", "a", "--estimate", "99999999999d"],
        ["task", "add", "a", "--estimate", "999999999999999999999999h"],
        ["task", "add", "a", "--priority", "0"],
        ["task", "add", "a", "--priority", "-1"],
        ["task", "add", "a", "--due", "0001-01-01T00:00"],
        ["task", "add", "a", "--due", "9999-12-31T23:59-12:00"],
        ["task", "add", "a", "--due", "0001-01-01"],
        ["time", "log", "T-1", "99999999999h"],
        ["time", "log", "T-1", "1d", "--at", "9999-12-31T23:00"],
        ["time", "log", "T-1", "1h", "--at", "0001-01-01T00:00"],
        ["remind", "CL-1", "x", "--at", "+99999999999d"],
        ["remind", "CL-1", "x", "--at", "+999999999999999999999999w"],
        ["agenda", "--days", "99999999999"],
        ["agenda", "--days", "3000000"],
    ],
)
def test_dates_and_durations_at_the_edges_are_refused(cli, db: Path, args: list[str]) -> None:
    """Out of the years 1900 to 2999 that `remind` and `--now` already keep to, or overflowing."""
    ok(cli, "record", "create", "client", "--set", "name=Acme")
    ok(cli, "task", "add", "seed", "--assignee", "boris")
    before = dump(db)
    result = cli(*args)
    refused(result)
    assert dump(db) == before


@pytest.mark.parametrize(
    "args",
    [
        ["time", "list", "--from", "0001-01-01T00:00+05:00"],
        ["time", "list", "--to", "9999-12-31T23:59-05:00"],
        ["report", "efficiency", "--from", "0001-01-01", "--to", "9999-12-31"],
        ["report", "efficiency", "--from", "2027-03-01", "--to", "2027-01-01"],
        ["sprint", "create", "s", "--from", "0001-01-01", "--to", "9999-12-31"],
        ["sprint", "create", "s", "--from", "2027-03-10", "--to", "2027-03-01"],
        ["queue", "--format", "json"],
        ["eta", "T-1"],
    ],
)
def test_wide_ranges_are_answered_or_refused_never_crashed(cli, db: Path, args: list[str]) -> None:
    ok(cli, "task", "add", "seed", "--assignee", "boris", "--estimate", "1h", "--due", "2999-12-31T23:00")
    ok(cli, "time", "log", "T-1", "1h", "--at", "2027-02-26T10:00")
    before = dump(db)
    result = cli(*args)
    if result.exit_code != 0:
        refused(result)
        assert dump(db) == before


@pytest.mark.parametrize(
    "args",
    [
        ["record", "create", "client", "--set", b"name=bad\xff"],
        ["record", "list", "client", "--where", b"name=\xff"],
        ["task", "add", b"\xfe\xfe"],
        ["--as", b"\xff", "agenda"],
    ],
)
def test_arguments_that_are_not_utf8_are_refused(tmp_path: Path, args: list) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates (\\udcff), which DuckDB cannot store."""
    workspace = tmp_path / "ws"
    assert crmctl("init", str(workspace), cwd=tmp_path).returncode == 0
    argv = [a if isinstance(a, bytes) else a.encode() for a in args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update({"CRMCTL_NOW": NOW, "CRMCTL_USER": "admin"})
    proc = subprocess.run(
        [sys.executable.encode(), b"-c", b"from crmctl.cli import main; main()", *argv],
        cwd=workspace,
        env=env,
        capture_output=True,
        timeout=30,
    )
    refused_process(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()))


# -- Jinja2 -------------------------------------------------------------------------------------------------------
INTERNALS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ joiner.__init__.__globals__['os'].system('touch /tmp/crmctl-hostile-pwned') }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__.os.popen('id').read() }}",
    "{{ run.__class__.__base__.__subclasses__() }}",
    "{{ params.__class__ }}",
]
# These pass the static check of validate (no attribute spelled with '_'); the sandbox stops them at run time.
RUNTIME_INTERNALS = [
    "{{ colour|attr('__class__') }}",
    "{{ colour['__cl' ~ 'ass__'] }}",
    "{{ (colour|attr('__cla' ~ 'ss__')|attr('__mro__'))[1] }}",
    "{{ '{0.__class__.__mro__}'.format(colour) }}",
    "{{ colour.format.__self__ if false else colour|attr('format')|attr('__globals__') }}",
]
RESOURCE_HOGS = [
    "{{ 'a' * 1000000000 }}",
    "{{ colour * 1000000000 }}",
    "{{ run ** run ** run }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ colour|center(999999999) }}",
    "{{ colour.zfill(999999999) }}",
    "{{ colour|indent(999999999) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    "{{ ([colour] * 100000)|join(colour * 10000) }}",
    "{{ colour|replace('', colour * 20000) }}",
    "{{ lipsum(99999) }}",
    "{% for i in range(99999) %}{{ colour * 1000 }}{% endfor %}",
]
RUNTIME_FAILURES = [
    "{{ 1 / 0 }}",
    "{{ colour|format('%s') }}",
    "{{ colour|wordwrap(0) }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ colour.nosuchmethod() }}",
    "{{ run / (run - run) }}",
]


def template(workspace: Path, title: str) -> None:
    write(
        workspace / "evil.yaml",
        "kind: ProjectTemplate\nname: evil\nparameters:\n  - {id: run, type: number}\n"
        "  - {id: colour, type: text, default: red}\n"
        f"tasks:\n  - id: one\n    title: {json.dumps(title)}\n    assignee: boris\n    estimate: 1h\n",
    )


@pytest.mark.parametrize("payload", INTERNALS)
def test_templates_reaching_for_internals_are_refused_by_validate(cli, db: Path, workspace: Path, payload: str):
    PWNED.unlink(missing_ok=True)
    template(workspace, payload)
    before = dump(db)
    result = cli("validate")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    assert "T705" in result.stdout or "T702" in result.stdout, result.stdout
    refused(cli("apply"))
    assert dump(db) == before
    assert not PWNED.exists()


@pytest.mark.parametrize("payload", RUNTIME_INTERNALS)
def test_templates_the_sandbox_stops_at_run_time(cli, db: Path, workspace: Path, payload: str) -> None:
    template(workspace, payload)
    if cli("apply").exit_code != 0:  # refused already: fine
        return
    before = dump(db)
    result = cli("project", "launch", "evil", "--param", "run=3")
    refused(result, codes=(1,))
    assert "not allowed" in result.stderr or "template error" in result.stderr, result.stderr
    assert dump(db) == before


@pytest.mark.parametrize("payload", RESOURCE_HOGS)
def test_templates_cannot_take_the_machines_memory_or_time(cli, db: Path, workspace: Path, payload: str) -> None:
    template(workspace, payload)
    started = time.monotonic()
    ok(cli, "validate")
    ok(cli, "apply")
    assert time.monotonic() - started < 5, "validate/apply built the value at compile time"
    before = dump(db)
    started = time.monotonic()
    result = cli("project", "launch", "evil", "--param", "run=99999999")
    assert time.monotonic() - started < 5
    refused(result, codes=(1,))
    assert "too" in result.stderr, result.stderr
    assert dump(db) == before


@pytest.mark.parametrize("payload", RUNTIME_FAILURES)
def test_templates_failing_at_run_time_are_input_errors(cli, db: Path, workspace: Path, payload: str) -> None:
    template(workspace, payload)
    ok(cli, "apply")
    before = dump(db)
    result = cli("project", "launch", "evil", "--param", "run=3")
    refused(result, codes=(1,))
    assert "template" in result.stderr
    assert dump(db) == before


@pytest.mark.parametrize(
    "payload",
    ["{% include 'x' %}", "{% extends '/etc/passwd' %}", "{% import 'os' as os %}", "{% from 'a' import b %}"],
)
def test_templates_cannot_load_other_templates(cli, workspace: Path, payload: str) -> None:
    template(workspace, payload)
    result = cli("validate")
    assert result.exit_code == 1 and "T701" in result.stdout and "cannot load other templates" in result.stdout


def test_bounded_templates_still_render(cli, workspace: Path) -> None:
    template(
        workspace,
        "No 20270301 {{ '%s-%05d' % (colour, run) }} {{ '{:>4}'.format(run) }} {{ colour|center(9) }}"
        " {% for i in range(3) %}{{ i }}{% endfor %} {{ colour * 2 }} {{ run ** 2 }}",
    )
    ok(cli, "apply")
    ok(cli, "project", "launch", "evil", "--param", "run=7")
    title = json.loads(ok(cli, "task", "list", "-f", "json"))[0]["title"]
    assert title == "No 20270301 red-00007    7    red    012 redred 49"


def test_values_are_never_rendered_as_templates(cli, workspace: Path) -> None:
    """A field value or a parameter holding {{ ... }} is printed as written, never run."""
    ok(cli, "record", "create", "client", "--set", "name={{ cycler.__init__.__globals__ }} {{ 7*7 }}")
    ok(cli, "project", "launch", "cards", "--for", "CL-1", "--param", "run=120", "--param", "colour=4+4")
    titles = [t["title"] for t in json.loads(ok(cli, "task", "list", "-f", "json"))]
    assert "Layout for {{ cycler.__init__.__globals__ }} {{ 7*7 }}" in titles
    refused(cli("project", "launch", "cards", "--for", "CL-1", "--param", "run={{ 7*7 }}"), codes=(1,))
    refused(cli("project", "launch", "cards", "--for", "CL-1", "--param", "run=120", "--param", "colour={{ 1 }}"))


def on_enter_launch(workspace: Path, name: str) -> None:
    """The `lost` stage of the deals process launches a template named from the record."""
    write(
        workspace / "followup.yaml",
        "kind: ProjectTemplate\nname: followup\nform: deal\ntasks:\n"
        "  - {id: call, title: 'Call about {{ record.title }}', assignee: boris, estimate: 30m}\n",
    )
    process = (workspace / "process.yaml").read_text(encoding="utf-8")
    process = process.replace(
        "  - id: lost\n    terminal: true\n",
        "  - id: lost\n    terminal: true\n    on_enter:\n"
        f"      - launch: {{template: followup, name: {json.dumps(name)}}}\n",
    )
    write(workspace / "process.yaml", process)


@pytest.mark.parametrize("name", ["{{ cycler.__init__.__globals__ }}", "{{ record.__class__ }}", "{{ self.__dict__ }}"])
def test_on_enter_templates_reaching_for_internals_are_refused(cli, db: Path, workspace: Path, name: str) -> None:
    on_enter_launch(workspace, name)
    before = dump(db)
    result = cli("validate")
    assert result.exit_code == 1 and ("T705" in result.stdout or "T702" in result.stdout), result.stdout
    refused(cli("apply"))
    assert dump(db) == before


@pytest.mark.parametrize("name", ["{{ 1 / 0 }}", "{{ record.title * 1000000000 }}", "{{ record|attr('__class__') }}"])
def test_on_enter_templates_failing_at_run_time_stop_the_move(cli, db: Path, workspace: Path, name: str) -> None:
    on_enter_launch(workspace, name)
    ok(cli, "apply")
    ok(cli, "record", "create", "deal", "--set", "title=Big", "--set", "amount=10")
    before = dump(db)
    result = cli("advance", "DL-1", "--to", "lost")
    refused(result, codes=(1,))
    assert "template" in result.stderr
    assert dump(db) == before


def test_on_enter_renders_record_values_verbatim(cli, workspace: Path) -> None:
    on_enter_launch(workspace, "Lost: {{ record.title }}")
    ok(cli, "apply")
    evil = "{{ ''.__class__.__mro__ }}"
    ok(cli, "record", "create", "deal", "--set", f"title={evil}", "--set", "amount=10")
    ok(cli, "advance", "DL-1", "--to", "lost")
    projects = json.loads(ok(cli, "project", "list", "-f", "json"))
    assert [p["title"] for p in projects] == [f"Lost: {evil}"]
    assert json.loads(ok(cli, "task", "list", "-f", "json"))[0]["title"] == f"Call about {evil}"


# -- YAML -----------------------------------------------------------------------------------------------------------
YAML_TAGS = [
    f"kind: Form\nname: x\nkey_prefix: X\nfields: !!python/object/apply:os.system ['touch {PWNED}']\n",
    f"kind: !!python/object/apply:os.system ['touch {PWNED}']\nname: x\n",
    "kind: Form\nname: !!python/name:os.system\n",
    "kind: Form\nname: !!python/object:collections.OrderedDict {}\n",
    "kind: Form\nname: !!python/module:os\n",
    f"!!python/object/new:subprocess.Popen [['touch', '{PWNED}']]\n",
    "kind: Form\nname: x\nfields: !!set {a, b}\n",
    "kind: Form\nname: x\nfields: !!omap [{a: 1}]\n",
    "kind: Form\nname: !!binary aGVsbG8=\n",
    "kind: Form\nname: !include /etc/passwd\n",
    "%TAG !py! tag:yaml.org,2002:python/object/apply:\n---\nkind: !py!os.system ['touch /tmp/x']\n",
    "kind: Form\n<<: {name: x}\n",
]


@pytest.mark.parametrize("text", YAML_TAGS)
def test_yaml_tags_construct_nothing(cli, db: Path, workspace: Path, text: str) -> None:
    PWNED.unlink(missing_ok=True)
    write(workspace / "evil.yaml", text)
    before = dump(db)
    result = cli("validate", "--format", "json")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    codes = {d["code"] for d in json.loads(result.stdout)}
    assert codes & {"Y008", "Y001"}, codes
    refused(cli("apply"))
    (workspace / "evil.yaml").unlink()
    write(workspace / "values.yaml", text.replace("kind: Form\n", ""))
    refused(cli("record", "create", "client", "--file", "values.yaml"))
    assert dump(db) == before
    assert not PWNED.exists()


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_quickly_with_bounded_memory(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert crmctl("init", str(workspace), cwd=tmp_path).returncode == 0
    write(workspace / "laughs.yaml", "kind: Calendar\nname: lol\n" + laughs())
    write(workspace / "values.yaml", laughs())
    script = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(p.returncode, u.ru_utime + u.ru_stime, u.ru_maxrss)\n"
        "print(p.stdout + p.stderr)\n"
    )
    crm = [sys.executable, "-c", "from crmctl.cli import main; main()"]
    for args in (["validate"], ["--as", "admin", "record", "create", "client", "--file", "values.yaml"]):
        out = subprocess.run(
            [sys.executable, "-c", script, *crm, *args], cwd=workspace, capture_output=True, text=True, timeout=60
        ).stdout
        code, cpu_seconds, rss_kb = out.split("\n", 1)[0].split()
        assert int(code) == 1, out
        assert float(cpu_seconds) < 5, out  # processor time, not wall time: a loaded machine cannot fail it
        assert int(rss_kb) < 400_000, out  # kilobytes on Linux: under 400 MB
        assert "Y009" in out or "expands to more than" in out, out
        assert "Traceback" not in out


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        "\n  " + "- " * 200_000 + "x",
        "{a: " * 50_000 + "1" + "}" * 50_000,
        "[role:x, " * 50_000 + "]" * 50_000,
        "[" * 40_000 + "]" * 40_000 + "\n: : bad ]",
    ],
    ids=["flow-lists", "compact-sequences", "flow-maps", "yaml11-corner", "deep-then-broken"],
)
def test_deep_nesting_is_refused_and_never_crashes_the_parser(tmp_path: Path, body: str) -> None:
    """The C composer recurses per level: tens of thousands of levels were a segmentation fault (exit -11)."""
    workspace = tmp_path / "ws"
    assert crmctl("init", str(workspace), cwd=tmp_path).returncode == 0
    write(workspace / "deep.yaml", "kind: Form\nname: deep\nkey_prefix: DP\nfields: " + body + "\n")
    started = time.monotonic()
    proc = crmctl("validate", cwd=workspace)
    assert time.monotonic() - started < 10
    refused_process(proc, codes=(1,))
    assert "Y009" in proc.stdout or "Y001" in proc.stdout, proc.stdout[-500:]
    (workspace / "deep.yaml").unlink()
    write(workspace / "values.yaml", "name: " + body + "\n")
    refused_process(crmctl("--as", "admin", "record", "create", "client", "--file", "values.yaml", cwd=workspace))


def test_deep_nesting_in_an_import_file_never_crashes(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert crmctl("init", str(workspace), cwd=tmp_path).returncode == 0
    write(workspace / "rows.yaml", "- name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    write(workspace / "rows.json", '[{"name": ' + "[" * 100_000 + "]" * 100_000 + "}]\n")
    write(workspace / "map.yaml", "name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    write(workspace / "rows.csv", "name\nx\n")
    for args in (["rows.yaml"], ["rows.json"], ["rows.csv", "--map", "map.yaml"]):
        refused_process(crmctl("--as", "admin", "import", "client", *args, cwd=workspace))


def test_a_nested_value_in_a_values_file_is_refused(cli, db: Path, workspace: Path) -> None:
    before = dump(db)
    for text in ("name: {a: 1}\n", "name: [1, 2]\n", "name: .nan\n", "name: 2027-01-01\nphone: [x]\n", "- a\n", "x\n"):
        write(workspace / "values.yaml", text)
        result = cli("record", "create", "client", "--file", "values.yaml")
        if result.exit_code == 0:
            continue  # a value turned into text is fine; the point is no crash
        refused(result)
    assert query(db, "SELECT count(*) FROM client")[0][0] <= 6
    assert set(dump(db)) == set(before)


# -- paths ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["../../etc", "..", ".", "/etc", "pyrus-client-crm/../..", "pyrus-client-crm/", "a/b", "~", "", "\x00", "%2e%2e"],
)
def test_example_names_never_leave_the_examples_folder(cli, tmp_path: Path, name: str) -> None:
    result = cli("init", str(tmp_path / "ws"), "--example", name)
    refused(result, codes=(2,))
    assert not (tmp_path / "ws").exists()


def test_init_into_a_file_or_a_missing_parent_is_refused(cli, tmp_path: Path) -> None:
    write(tmp_path / "file", "x")
    refused(cli("init", str(tmp_path / "file")))
    refused(cli("init", str(tmp_path / "file" / "ws")))
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize(
    "args",
    [
        ["export", "client", "--out", "no/such/dir/x.csv"],
        ["export", "client", "--out", "."],
        ["export", "tjp", "--out", "no/such/dir/x.tjp"],
        ["export", "tjp", "--out", "/"],
        ["report", "efficiency", "--out", "no/such/dir/r.csv"],
        ["report", "efficiency", "--format", "html", "--out", "no/such/dir/r.html"],
        ["report", "efficiency", "--format", "html", "--out", "."],
        ["board", "deals", "--format", "html", "--out", "no/such/dir/b.html"],
        ["board", "deals", "--out", "crmctl.yaml/b.txt"],
        ["agenda", "--ics", "no/such/dir/a.ics"],
        ["agenda", "--ics", "."],
        ["import", "client", "../../../../../etc/shadow.csv"],
        ["import", "client", "/etc"],
        ["import", "client", "crmctl.duckdb"],
        ["record", "create", "client", "--file", "../../../../../etc/shadow"],
        ["record", "create", "client", "--file", "crmctl.duckdb"],
        ["--db", "crmctl.yaml", "record", "list", "client"],
        ["--db", "/", "record", "list", "client"],
        ["-w", "/nonexistent/ws", "record", "list", "client"],
        ["validate", "/nonexistent/ws"],
    ],
)
def test_bad_paths_fail_cleanly(cli, db: Path, workspace: Path, args: list[str]) -> None:
    yaml_before = (workspace / "crmctl.yaml").read_text(encoding="utf-8")
    before = dump(db)
    refused(cli(*args))
    assert dump(db) == before
    assert (workspace / "crmctl.yaml").read_text(encoding="utf-8") == yaml_before


def test_writing_where_the_user_says_is_allowed(cli, workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "board.html"
    out.parent.mkdir()
    assert "wrote" in ok(cli, "board", "deals", "--format", "html", "--out", str(out))
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


# -- CSV formulas -----------------------------------------------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1:A2)", "\t=1", "\r=1"]


def csv_cells(text: str) -> list[str]:
    return [c for row in list(csv.reader(io.StringIO(text)))[1:] for c in row]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_are_neutralised_in_listings(cli, workspace: Path, value: str) -> None:
    ok(cli, "record", "create", "client", "--set", f"name={value}")
    ok(cli, "task", "add", "--assignee", "boris", "--estimate", "1h", "--description", value, "--", value)
    ok(cli, "time", "log", "T-1", "1h", "--at", "2027-02-26T10:00", "--note", value)
    ok(cli, "project", "create", "--", value.replace("/", " "))  # a slash would nest the project
    ok(cli, "remind", "--at", "+1h", "--", "CL-1", value)
    outputs = {
        "record list": ok(cli, "record", "list", "client", "-f", "csv"),
        "task list": ok(cli, "task", "list", "-f", "csv"),
        "time list": ok(cli, "time", "list", "-f", "csv"),
        "project list": ok(cli, "project", "list", "-f", "csv"),
        "agenda": ok(cli, "agenda", "-f", "csv"),
        "history": ok(cli, "record", "history", "CL-1", "-f", "csv"),
        "export client": ok(cli, "export", "client"),
        "export tasks": ok(cli, "export", "tasks"),
        "export time": ok(cli, "export", "time"),
    }
    for name, text in outputs.items():
        cells = csv_cells(text)
        assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells), (name, text)
        shown = value.replace("/", " ") if name == "project list" else value
        assert any(c.startswith("'") and shown.strip() in c for c in cells), (name, text)


def test_neutralise_is_exact() -> None:
    from crmctl.render.tables import as_csv, neutralise

    assert neutralise("=1") == "'=1" and neutralise("a=1") == "a=1" and neutralise("") == ""
    text = as_csv([{"a": "=1", "b": 5, "c": "\r=2", "d": ["=x", "y"], "e": None}], [(k, k) for k in "abcde"])
    assert list(csv.reader(io.StringIO(text))) == [list("abcde"), ["'=1", "5", "'\r=2", "'=x, y", ""]]


def test_queue_eta_and_agenda_of_an_empty_workspace(cli, db: Path) -> None:
    """No task at all yet: nothing to schedule is an empty answer, not a crash."""
    for args in (["--as", "anna", "queue"], ["queue", "boris"], ["agenda"], ["inbox"], ["queue", "-f", "json"]):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    assert query(db, "SELECT count(*) FROM crm.tasks") == [(0,)]


# -- start-up -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,env",
    [
        (["--now", "not-a-date", "agenda"], {}),
        (["agenda"], {"CRMCTL_NOW": "2027-13-45T99:99"}),
        (["--as", "' OR 1=1 --", "record", "list", "client"], {}),
        (["record", "list", "client"], {"CRMCTL_FORMAT": "xml"}),
        (["--db", "garbage.duckdb", "record", "list", "client"], {}),
        (["--no-such-option"], {}),
        (["--now", "2027-02-30T10:00", "agenda"], {}),
        (["--now", "+5x", "agenda"], {}),
        (["--now", "9999-12-31T23:59:59+14:00", "agenda"], {}),
        (["--now", "0001-01-01T00:00:00-12:00", "agenda"], {}),
        (["record", "list"], {}),
    ],
)
def test_start_up_errors_in_a_real_process(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    workspace = tmp_path / "ws"
    assert crmctl("init", str(workspace), cwd=tmp_path).returncode == 0
    (workspace / "garbage.duckdb").write_bytes(b"DUCK" + os.urandom(5000))
    full = {**os.environ, "CRMCTL_NOW": NOW, **env}
    proc = subprocess.run(
        [sys.executable, "-c", "from crmctl.cli import main; main()", *args],
        cwd=workspace,
        env=full,
        capture_output=True,
        text=True,
        timeout=30,
    )
    refused_process(proc)
    assert proc.stderr.splitlines()[-1].startswith("crmctl: error: "), proc.stderr
