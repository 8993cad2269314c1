"""Small conventions a user relies on: the exit codes of docs/cli.md, init's .gitignore, NO_COLOR, and one
line per problem in validate's text output."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, Run
from .dbstate import dump
from .test_apply import _while_held


def _documented_codes() -> set[int]:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1].split("\n\n", 2)[1]
    return {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}


def _raising(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """validate -f json fails with exc where it renders (a stand-in for a bug, or for Ctrl-C)."""
    from crmctl.render.diagnostics import RENDERERS

    def boom(diags: object) -> str:
        raise exc

    monkeypatch.setitem(RENDERERS, "json", boom)


def _run(code: int, cli, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """A real command that ends with the exit code `code`."""
    if code == 0:
        return cli("record", "list", "client")
    if code == 1:
        return cli("record", "create", "client", "--set", "name=")
    if code == 2:
        return cli("--now", "not-a-date", "agenda")
    if code == 3:
        return cli("--as", "mallory", "record", "list", "client")
    if code == 4:
        holding = "import duckdb\nc = duckdb.connect(sys.argv[1])"
        return _while_held(cli, holding, workspace / "crmctl.duckdb", "record", "list", "client")[0]
    if code == 5:
        _raising(monkeypatch, RuntimeError("boom"))
        return cli("validate", "-f", "json")
    if code == 6:
        (workspace / "crmctl.duckdb.lock").unlink(missing_ok=True)
        (workspace / "crmctl.duckdb.lock").mkdir()
        return cli("record", "list", "client")
    if code == 7:  # a server named, but no token for it (nothing is sent without one)
        env = {"CRMCTL_SERVER": "http://127.0.0.1:9", "XDG_CONFIG_HOME": str(workspace / "no-config")}
        return cli("inbox", env=env)
    if code == 130:
        _raising(monkeypatch, KeyboardInterrupt())
        return cli("validate", "-f", "json")
    raise AssertionError(f"docs/cli.md documents exit code {code}: add a command that gives it here")


@pytest.mark.parametrize("code", sorted(_documented_codes()))
def test_every_documented_exit_code_is_given(cli, workspace: Path, monkeypatch, code: int) -> None:
    before = dump(workspace / "crmctl.duckdb")
    result = _run(code, cli, workspace, monkeypatch)
    assert result.exit_code == code, result.stderr
    if code:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("crmctl: "), result.stderr
    assert dump(workspace / "crmctl.duckdb") == before


def test_the_table_lists_the_codes_of_errors_py() -> None:
    from crmctl import errors

    codes = {value for name, value in vars(errors).items() if name.isupper() and isinstance(value, int)}
    assert codes | {130} == _documented_codes()


def test_an_unknown_actor_is_not_found(cli, workspace: Path) -> None:
    result = cli("--as", "mallory", "comment", "CL-1", "hello")
    assert (result.exit_code, result.stderr) == (3, "crmctl: error: --as 'mallory' is not a person of the team\n")


@pytest.mark.parametrize(
    "args",
    [
        ["--now", "2027-02-30T10:00", "agenda"],
        ["--now", "9999-12-31T23:59", "agenda"],
        ["remind", "CL-1", "Call", "--at", "tomorrow"],
        ["task", "add", "Draft", "--due", "soon"],
        ["time", "list", "--from", "yesterday"],
        ["report", "efficiency", "--to", "March"],
        ["sprint", "create", "W1", "--from", "2027-03-01", "--to", "Friday"],
    ],
)
def test_a_malformed_date_option_is_a_usage_error(cli, workspace: Path, args: list[str]) -> None:
    assert cli("record", "create", "client", "--set", "name=Acme").exit_code == 0
    before = dump(workspace / "crmctl.duckdb")
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("crmctl: error: "), result.stderr
    assert dump(workspace / "crmctl.duckdb") == before


def test_a_malformed_crmctl_now_is_a_usage_error_too(cli, workspace: Path) -> None:
    result = cli("agenda", env={"CRMCTL_NOW": "2027-13-45T99:99"})
    assert result.exit_code == 2 and "'2027-13-45T99:99' is not a date-time" in result.stderr


def test_validate_help_lists_every_code_validate_gives(cli, workspace: Path, monkeypatch) -> None:
    help_text = " ".join(cli("validate", "--help").stdout.split())
    codes = help_text.split("Exit codes:", 1)[1]
    assert "0 done 1 problems were found (warnings alone give 0) 2 the command line is wrong 3 a PATH" in codes
    assert "5 an internal error (a bug) 130 interrupted" in codes
    assert cli("validate").exit_code == 0
    assert cli("validate", "-f", "xml").exit_code == 2
    assert cli("validate", "no-such-folder").exit_code == 3
    (workspace / "bad.yaml").write_text("kind: Form\nname: [\n", encoding="utf-8")
    assert cli("validate").exit_code == 1


def test_validate_text_shows_one_line_per_problem(cli, workspace: Path) -> None:
    (workspace / "bad.yaml").write_text(
        'kind: Form\nname: bad\ntitle: X\nkey_prefix: BD\ntitle_field: "na\\nme"\n'
        "fields:\n  - {id: name, type: text, label: Name}\n",
        encoding="utf-8",
    )
    result = cli("validate")
    assert result.exit_code == 1
    assert result.stdout == (
        "bad.yaml:5:14: error S004 'na\\nme': a field id is lower-case letters, digits and '_', "
        "starting with a letter\n"
    )


# -- init's .gitignore ----------------------------------------------------------------------------------------------
GITIGNORE = (
    "# crmctl's database, its write-ahead log and its lock file\n"
    "/crmctl.duckdb\n/crmctl.duckdb.wal\n/crmctl.duckdb.lock\n"
)


@pytest.mark.parametrize("example", [[], ["--example", "crm-orders"]])
def test_init_writes_a_gitignore_for_the_database(cli, tmp_path: Path, monkeypatch, example: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init", "ws", *example).exit_code == 0
    assert (tmp_path / "ws" / ".gitignore").read_text(encoding="utf-8") == GITIGNORE


def test_init_ignores_a_database_named_oddly_by_its_literal_name(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("--db", "ws/c*[1].duckdb", "init", "ws").exit_code == 0
    lines = (tmp_path / "ws" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == ["/c\\*\\[1].duckdb", "/c\\*\\[1].duckdb.wal", "/c\\*\\[1].duckdb.lock"]


def test_init_writes_no_gitignore_for_a_database_outside_the_folder(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("--db", "elsewhere.duckdb", "init", "ws").exit_code == 0
    assert not (tmp_path / "ws" / ".gitignore").exists()


def test_init_keeps_the_gitignore_an_example_brings(cli, tmp_path: Path, monkeypatch) -> None:
    from crmctl.ops import workspace

    shelf = tmp_path / "shelf"
    (shelf / "own").mkdir(parents=True)
    (shelf / "own" / "crmctl.yaml").write_text("kind: Workspace\nname: own\ntitle: Own\n", encoding="utf-8")
    (shelf / "own" / ".gitignore").write_text("*.csv\n", encoding="utf-8")
    monkeypatch.setattr(workspace, "examples_folder", lambda: shelf)
    monkeypatch.chdir(tmp_path)
    result = cli("init", "ws", "--example", "own")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "ws" / ".gitignore").read_text(encoding="utf-8") == "*.csv\n"


# -- NO_COLOR -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "wanted"), [(None, True), ("", True), ("1", False), ("0", False)])
def test_no_color_counts_only_when_not_empty(monkeypatch, value: str | None, wanted: bool) -> None:
    from crmctl.cli.base import color_wanted

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    if value is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", value)
    assert color_wanted() is wanted


# -- times in exports ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_exports_write_moments_as_iso_8601_as_listings_do(cli, workspace: Path, fmt: str) -> None:
    import csv
    import io
    import json

    cli("record", "create", "client", "--set", "name=ACME")
    listed = json.loads(cli("record", "list", "client", "--format", "json").stdout)[0]["created_at"]
    out = cli("export", "client", "--format", fmt).stdout
    rows = [json.loads(line) for line in out.splitlines()] if fmt == "json" else list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["created_at"] == listed == "2027-03-01T10:00:00+03:00"


def test_the_global_quiet_option_is_taken(cli, workspace: Path) -> None:
    (workspace / "c.csv").write_text("name\nACME\n", encoding="utf-8")
    result = cli("--quiet", "import", "client", "c.csv")
    assert (result.exit_code, result.stderr) == (0, "")


# -- schema descriptions -------------------------------------------------------------------------------------------
def _undescribed(node: object, path: str) -> list[str]:
    """Properties without a description, below node (an `if` only tests a value: it describes nothing)."""
    found: list[str] = []
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            if not (isinstance(sub, dict) and str(sub.get("description", "")).strip()):
                found.append(f"{path}/properties/{name}")
        for key, value in node.items():
            if key != "if":
                found += _undescribed(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _undescribed(value, f"{path}/{i}")
    return found


def test_every_property_of_every_schema_has_a_description() -> None:
    """(A pattern whose value is wrong is worded by its x-message, else by its description: a description added
    beside a pattern needs an x-message.)"""
    import json

    schemas = sorted((ROOT / "src" / "crmctl" / "schemas").glob("*.schema.json"))
    assert len(schemas) == 8
    missing = [p for s in schemas for p in _undescribed(json.loads(s.read_text(encoding="utf-8")), s.name)]
    assert not missing, "properties an editor shows no help for:\n" + "\n".join(missing)
    assert _undescribed({"properties": {"a": {"type": "string"}}}, "x") == ["x/properties/a"]  # the check checks
