"""crmctl validate and crmctl schema through the command line: paths, formats, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import DATA, ROOT


def break_process(ws: Path) -> None:
    path = ws / "process.yaml"
    path.write_text(path.read_text().replace("initial: draft", "initial: drafts"))


def test_clean_workspace_exits_0(cli, base_workspace: Path) -> None:
    result = cli("validate", str(base_workspace))
    assert result.exit_code == 0
    assert result.stdout == "ok: 8 documents in 1 workspace\n"


def test_default_is_the_current_workspace(cli, base_workspace: Path, monkeypatch) -> None:
    (base_workspace / "sub").mkdir()
    monkeypatch.chdir(base_workspace / "sub")
    assert cli("validate").exit_code == 0


def test_workspace_option(cli, base_workspace: Path) -> None:
    break_process(base_workspace)
    result = cli("-w", str(base_workspace), "validate")
    assert result.exit_code == 1
    assert "P401" in result.stdout


def test_outside_a_workspace_is_not_found(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("validate")
    assert result.exit_code == 3
    assert result.stderr.startswith("crmctl: error: no workspace")
    assert result.stdout == ""


def test_missing_path_is_not_found(cli, tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 3
    assert "no such file or folder" in result.stderr


def test_a_file_brings_its_whole_workspace(cli, base_workspace: Path) -> None:
    break_process(base_workspace)
    result = cli("validate", str(base_workspace / "team.yaml"))
    assert result.exit_code == 1
    assert "P401" in result.stdout


def test_folder_of_workspaces_checks_each_with_its_own_references(cli, tmp_path: Path) -> None:
    shutil.copytree(DATA / "base", tmp_path / "a")
    shutil.copytree(DATA / "base", tmp_path / "b")
    (tmp_path / "b" / "team.yaml").unlink()  # b's references to people break; a's do not
    result = cli("validate", str(tmp_path))
    assert result.exit_code == 1
    files = {line.split(":")[0] for line in result.stdout.splitlines()}
    assert all("/b/" in f for f in files), result.stdout


def test_loose_file_outside_workspaces(cli, tmp_path: Path) -> None:
    loose = tmp_path / "calendar.yaml"
    loose.write_text('kind: Calendar\nname: c\nhours: {mon-fri: ["09:00-18:00"]}\n')
    assert cli("validate", str(loose)).exit_code == 0
    loose.write_text('kind: Calendar\nname: c\nhours: {mon-fri: ["18:00-09:00"]}\n')
    result = cli("validate", str(loose))
    assert result.exit_code == 1
    assert "K803" in result.stdout


def test_every_problem_in_one_run(cli, base_workspace: Path) -> None:
    break_process(base_workspace)
    cal = base_workspace / "calendar.yaml"
    cal.write_text(cal.read_text().replace("Europe/Moscow", "Mars/Olympus"))
    result = cli("validate", str(base_workspace))
    codes = [line.split(" ")[2] for line in result.stdout.splitlines()]
    assert codes == ["K804", "P401"]


def test_github_format(cli, base_workspace: Path, monkeypatch, snapshot) -> None:
    break_process(base_workspace)
    monkeypatch.chdir(base_workspace)
    result = cli("validate", "--format", "github")
    assert result.exit_code == 1
    assert result.stdout == snapshot


def test_sarif_format(cli, base_workspace: Path, monkeypatch, snapshot) -> None:
    break_process(base_workspace)
    monkeypatch.chdir(base_workspace)
    result = cli("validate", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "crmctl"
    assert [r["ruleId"] for r in run["results"]] == ["P401"]
    assert log == snapshot


def test_json_format_when_clean_is_an_empty_list(cli, base_workspace: Path) -> None:
    result = cli("validate", "--format", "json", str(base_workspace))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_global_format_option(cli, base_workspace: Path) -> None:
    result = cli("--format", "json", "validate", str(base_workspace))
    assert json.loads(result.stdout) == []


def test_unknown_format_is_a_usage_error(cli, base_workspace: Path) -> None:
    result = cli("validate", "--format", "xml", str(base_workspace))
    assert result.exit_code == 2
    assert result.stderr == "crmctl: error: --format must be one of: text, json, github, sarif (got 'xml')\n"


def test_unknown_option_is_a_usage_error(cli) -> None:
    result = cli("validate", "--frobnicate")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_the_examples_validate(cli) -> None:
    result = cli("validate", str(ROOT / "examples" / "processes"))
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("ok: ")


@pytest.mark.parametrize("kind", ["Workspace", "Calendar", "Team", "Form", "Process", "ProjectTemplate"])
def test_schema_prints_a_self_contained_schema(cli, kind: str) -> None:
    from jsonschema import Draft202012Validator

    result = cli("schema", kind.lower())
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    assert "common.schema.json" not in result.stdout
    assert schema["properties"]["kind"]["const"] == kind


def test_schema_of_any_kind_validates_the_base_workspace(cli) -> None:
    from jsonschema import Draft202012Validator

    from crmctl.config.yamlload import load_file

    schema = json.loads(cli("schema").stdout)
    validator = Draft202012Validator(schema)
    for path in sorted((DATA / "base").glob("*.yaml")):
        for doc in load_file(path).documents:
            assert list(validator.iter_errors(doc.data)) == [], path
    assert not validator.is_valid({"kind": "Form", "name": "x"})  # missing key_prefix and fields


def test_schema_out_writes_every_kind(cli, tmp_path: Path) -> None:
    result = cli("schema", "--out", str(tmp_path / "s"))
    assert result.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == [
        "calendar.schema.json",
        "crmctl.schema.json",
        "form.schema.json",
        "intakerule.schema.json",
        "process.schema.json",
        "projecttemplate.schema.json",
        "team.schema.json",
        "workspace.schema.json",
    ]


def test_schema_unknown_kind(cli) -> None:
    result = cli("schema", "Invoice")
    assert result.exit_code == 2
    assert "unknown kind 'Invoice'" in result.stderr


def test_shipped_schemas_are_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    for path in sorted((ROOT / "schemas").glob("*.json")):
        Draft202012Validator.check_schema(json.loads(path.read_text()))
