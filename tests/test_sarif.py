"""SARIF for code scanning: file URIs percent-encoded and relative to %SRCROOT% (a file outside the folder as a
file: URI), never a bare path; the tool's informationUri; each rule's name and help from docs/diagnostics.md."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from crmctl.config.codehelp import HELP
from crmctl.config.codes import CODES

from .conftest import ROOT

BAD = "kind: Form\nname: q\n"  # S003 twice: no fields, no key_prefix


def _sarif(cli, *args: str) -> dict:
    result = cli("validate", "--format", "sarif", *args)
    assert result.exit_code == 1, result.stderr
    return json.loads(result.stdout)


def _uris(log: dict) -> list[dict]:
    return [loc["physicalLocation"]["artifactLocation"] for r in log["runs"][0]["results"] for loc in r["locations"]]


@pytest.mark.parametrize("name", ["odd,name:50%.yaml", "с пробелом #1.yaml", "a?b&c=d.yaml"])
def test_a_file_name_is_percent_encoded_and_relative_to_srcroot(cli, tmp_path: Path, monkeypatch, name: str) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / name).write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for location in _uris(_sarif(cli, f"defs/{name}")):
        assert location["uriBaseId"] == "%SRCROOT%"
        uri = location["uri"]
        assert urlparse(uri).scheme == "" and not uri.startswith("/")
        assert not set(uri) & set(" ,:%?#&=") - {"%"} and unquote(uri) == f"defs/{name}"


def test_a_file_outside_the_folder_is_a_file_uri(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "odd, name.yaml").write_text(BAD, encoding="utf-8")
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    for location in _uris(_sarif(cli, str(tmp_path / "odd, name.yaml"))):
        assert "uriBaseId" not in location
        assert location["uri"] == (tmp_path / "odd, name.yaml").as_uri()
        assert location["uri"].startswith("file:///") and "%20" in location["uri"] and "," not in location["uri"]


def test_the_tool_and_each_rule_carry_what_code_scanning_shows(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "bad.yaml").write_text(BAD + "extra: 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    driver = _sarif(cli, "bad.yaml")["runs"][0]["tool"]["driver"]
    assert urlparse(driver["informationUri"]).scheme == "https"
    assert [rule["id"] for rule in driver["rules"]] == ["S002", "S003"]
    for rule in driver["rules"]:
        _title, trigger, fix, _ = HELP[rule["id"]]
        assert rule["name"] == {"S002": "UnknownKey", "S003": "MissingRequiredKey"}[rule["id"]]
        assert rule["shortDescription"]["text"] == CODES[rule["id"]]
        assert trigger in rule["help"]["markdown"] and fix in rule["help"]["markdown"]
        assert "`" not in rule["help"]["text"] and rule["help"]["text"].endswith(fix.replace("`", ""))


def test_every_code_has_help_and_the_help_is_what_the_docs_say() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "codehelp.py"))
    documented = script["from_docs"]((ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8"))
    assert documented == HELP, "docs/diagnostics.md changed: run python scripts/codehelp.py"
    assert set(HELP) == set(CODES)
