"""`validate` names the place of the mistake itself (issue 22), and refuses YAML that aliases expand too far.

Cases: tests/data/positions/<case>/ holds files laid over the valid base workspace and `expected.txt`, the
exact output of `crmctl validate` (file:line:col, code, message). A new case is a new folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import DATA
from .dbstate import dump
from .test_validate_cases import materialise

CASES = sorted(p for p in (DATA / "positions").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_position(case: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = materialise(case, tmp_path / "ws")
    (workspace / "expected.txt").unlink()
    monkeypatch.chdir(workspace)
    result = cli("validate")
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout == (case / "expected.txt").read_text(encoding="utf-8")


def alias_bomb(uses: int = 2_000, size: int = 2_000_000) -> str:
    """A Form whose fields share one label of `size` characters through aliases: 4 GB of text once expanded."""
    fields = [f"  - {{id: f0, type: text, label: &s {'a' * size}}}"]
    fields += [f"  - {{id: f{i}, type: text, label: *s}}" for i in range(1, uses)]
    return "kind: Form\nname: bomb\nkey_prefix: BM\nfields:\n" + "\n".join(fields) + "\n"


def laughs(levels: int = 9) -> str:
    """The classic nested 'billion laughs': each anchor holds ten aliases of the one before."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, this = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{this}: &{this} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "kind: Calendar\nname: lol\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            alias_bomb(),
            "bomb.yaml:10:33: error Y009 document expands to more than 10,485,760 characters "
            "(here, where the alias *s repeats what &s holds)\n",
        ),
        (
            laughs(),
            "bomb.yaml:8:8: error Y009 document expands to more than 200,000 values "
            "(here, where the alias *e repeats what &e holds)\n",
        ),
    ],
    ids=["2MB-string-aliased-2000-times", "billion-laughs"],
)
def test_aliases_that_expand_too_far_are_refused_at_the_alias(cli, workspace: Path, text: str, expected: str) -> None:
    """Every command that reads the workspace's YAML refuses it, through the one loader, and writes nothing."""
    before = dump(workspace / "crmctl.duckdb")
    (workspace / "bomb.yaml").write_text(text, encoding="utf-8")
    result = cli("validate")
    assert (result.exit_code, result.stdout, result.stderr) == (1, expected, "")
    as_json = json.loads(cli("validate", "--format", "json").stdout)
    assert [(row["line"], row["code"]) for row in as_json] == [(int(expected.split(":")[1]), "Y009")]
    for command in ("plan", "apply"):
        refused = cli(command)
        assert refused.exit_code == 1, (command, refused)
        assert "Y009" in refused.stdout + refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr
    assert dump(workspace / "crmctl.duckdb") == before


def test_aliases_are_matched_to_their_uses_in_each_document_and_as_keys() -> None:
    from crmctl.config.yamlload import load_text

    text = "kind: A\nname: R&D\n---\nkind: B\nx: &h [1]\ny: *h\nz: [2, *h]\nk: &k key\n*k : 3\n"
    first, second = load_text(text, "f.yaml").documents
    assert first.through == {}
    assert second.data == {"kind": "B", "x": [1], "y": [1], "z": [2, [1]], "k": "key", "key": 3}
    assert second.loc(("z", 1, 0)) == second.loc(("z", 1)) and second.loc(("z", 1)).column == 8
    bad = second.diagnostic(("z", 1, 0), "S004", "wrong")
    assert (bad.location.line, bad.location.column) == (7, 8)
    assert bad.message == "wrong (through the alias *h; the value is written at 5:8, under &h)"
    # the key came through an alias; its value did not
    assert second.diagnostic(("key",), "S004", "wrong").message == "wrong"
    assert second.loc(("key",), key=True).line == 9
