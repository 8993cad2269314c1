"""Generated input (hypothesis): no YAML, field value, CSV file or command line makes crmctl print a
traceback or exit with the internal-error code, and an input refused leaves the database as it was."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dbstate import dump

# Few examples, the same on every run (derandomize): this is a CI suite; run with more by hand to explore.
FAST = settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
EXPECTED = {0, 1, 2, 3}


def sane(result) -> None:
    assert result.exit_code in EXPECTED, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.dates()
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
documents = st.one_of(
    data,
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["Form", "Process", "Team", "Calendar", "IntakeRule"]), "name": st.text(max_size=12)},
        optional={"fields": data, "stages": data, "hours": data, "people": data},
    ),
)


@FAST
@given(doc=documents)
def test_any_yaml_data_validates_or_is_refused(cli, base_workspace: Path, monkeypatch, doc) -> None:
    """JSON is YAML; its \\u escapes may even spell half of a character."""
    import json

    monkeypatch.chdir(base_workspace)
    (base_workspace / "generated.yaml").write_text(json.dumps(doc, default=str), encoding="utf-8")
    result = cli("validate")
    sane(result)
    assert result.exit_code in (0, 1)


@FAST
@given(text=st.text(max_size=300))
def test_any_text_as_a_yaml_file(cli, base_workspace: Path, monkeypatch, text: str) -> None:
    monkeypatch.chdir(base_workspace)
    (base_workspace / "generated.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    sane(cli("validate"))


FIELDS = ["name", "phone", "email", "status"]
DEAL_FIELDS = ["title", "client", "amount", "signed_on", "manager"]


@FAST
@given(values=st.lists(st.tuples(st.sampled_from(DEAL_FIELDS), st.text(max_size=25)), min_size=1, max_size=5))
def test_any_field_values(cli, workspace: Path, values) -> None:
    db = workspace / "crmctl.duckdb"
    before = dump(db)
    args = [x for name, value in values for x in ("--set", f"{name}={value}")]
    result = cli("record", "create", "deal", *args)
    sane(result)
    if result.exit_code != 0:
        assert dump(db) == before


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15)


@FAST
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=6), max_size=6), header=st.permutations(FIELDS))
def test_any_csv_rows(cli, workspace: Path, rows, header) -> None:
    db = workspace / "crmctl.duckdb"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    (workspace / "rows.csv").write_text(buffer.getvalue(), encoding="utf-8")
    before = dump(db)
    result = cli("import", "client", "rows.csv")
    sane(result)
    if result.exit_code != 0:
        assert dump(db) == before


VOCABULARY = [
    "record",
    "create",
    "update",
    "show",
    "list",
    "history",
    "client",
    "deal",
    "CL-1",
    "DL-1",
    "--set",
    "name=x",
    "amount=-1",
    "task",
    "add",
    "done",
    "start",
    "stop",
    "T-1",
    "T-9",
    "queue",
    "eta",
    "agenda",
    "report",
    "efficiency",
    "funnel",
    "deals",
    "--format",
    "json",
    "csv",
    "html",
    "table",
    "--where",
    "--sort",
    "import",
    "export",
    "tjp",
    "tasks",
    "time",
    "sprint",
    "board",
    "advance",
    "--to",
    "won",
    "approve",
    "--now",
    "2027-13-01",
    "--as",
    "nobody",
    "anna",
    "-",
    "--",
    "",
    "'",
    '"',
    "--days",
    "-5",
    "10",
    "intake",
    "mail",
    "--rule",
    "x",
    "validate",
    "schema",
    "Form",
    "plan",
]


@FAST
@given(args=st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=7))
def test_any_command_line(cli, workspace: Path, args: list[str]) -> None:
    if "--dry-run" in args or args[:1] == ["init"]:
        return
    result = cli(*args)
    sane(result)


@FAST
@given(now=st.text(max_size=30), actor=st.text(max_size=12))
def test_any_clock_and_actor(cli, workspace: Path, now: str, actor: str) -> None:
    db = workspace / "crmctl.duckdb"
    before = dump(db)
    result = cli("--now", now, "--as", actor, "record", "create", "client", "--set", "name=x")
    sane(result)
    if result.exit_code != 0:
        assert dump(db) == before


@pytest.mark.parametrize(
    "now", ["2027-02-30T10:00", "yesterday", "+5x", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00"]
)
def test_odd_clocks(cli, workspace: Path, now: str) -> None:
    sane(cli("--now", now, "agenda"))
