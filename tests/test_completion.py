"""Shell completion: `crmctl completion SHELL` prints the script; the bash script, run in a real bash, completes
commands, options, and the workspace's forms, processes, templates, people and record keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ok

BIN = Path(sys.executable).parent
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")


def _complete(script: str, words: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """What bash offers for the last of these words, with the script loaded as a user would."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source /dev/stdin <<'SCRIPT'\n{script}\nSCRIPT\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_crmctl_completion crmctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRMCTL_", "_CRMCTL"))}
    path = f"{BIN}{os.pathsep}{clean.get('PATH', '')}"
    full = {**clean, "PATH": path, "CRMCTL_USER": "boris", **(env or {})}  # boris may do everything
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture
def script(cli) -> str:
    return ok(cli, "completion", "bash")


@pytest.fixture
def filled(workspace: Path, cli) -> Path:
    ok(cli, "record", "create", "client", "--set", "name=ACME")
    ok(cli, "record", "create", "client", "--set", "name=Bolt")
    ok(cli, "record", "create", "deal", "--set", "title=Cards", "--set", "client=CL-1", "--set", "amount=10")
    return workspace


@needs_bash
def test_bash_completes_commands_and_subcommands(script: str, tmp_path: Path) -> None:
    assert _complete(script, ["crmctl", "rec"], tmp_path) == ["record"]
    assert set(_complete(script, ["crmctl", "record", ""], tmp_path)) >= {"create", "list", "show", "update"}


@needs_bash
def test_bash_completes_options(script: str, tmp_path: Path) -> None:
    offered = _complete(script, ["crmctl", "record", "list", "client", "--"], tmp_path)
    assert {"--where", "--sort", "--limit", "--format"} <= set(offered)


@needs_bash
def test_bash_completes_the_workspace_names_an_argument_takes(script: str, filled: Path) -> None:
    assert _complete(script, ["crmctl", "record", "list", ""], filled) == ["client", "deal", "payment"]
    assert _complete(script, ["crmctl", "record", "create", "d"], filled) == ["deal"]
    assert _complete(script, ["crmctl", "board", ""], filled) == ["deals"]
    assert _complete(script, ["crmctl", "project", "launch", ""], filled) == ["cards"]
    assert _complete(script, ["crmctl", "--as", "a"], filled) == ["anna"]
    assert _complete(script, ["crmctl", "task", "assign", "T-1", "b"], filled) == ["boris"]


@needs_bash
def test_bash_completes_record_keys(script: str, filled: Path) -> None:
    assert _complete(script, ["crmctl", "record", "show", "CL"], filled) == ["CL-1", "CL-2"]
    assert _complete(script, ["crmctl", "advance", "D"], filled) == ["DL-1"]
    assert _complete(script, ["crmctl", "record", "show", ""], filled) == ["CL-1", "CL-2", "DL-1"]


@needs_bash
def test_bash_completes_from_the_workspace_the_command_line_names(script: str, filled: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _complete(script, ["crmctl", "record", "show", ""], elsewhere) == []
    words = ["crmctl", "--workspace", str(filled), "record", "show", ""]
    assert _complete(script, words, elsewhere) == ["CL-1", "CL-2", "DL-1"]


@needs_bash
def test_keys_of_forms_the_person_may_not_read_are_not_offered(script: str, filled: Path, cli) -> None:
    team = filled / "team.yaml"
    text = team.read_text(encoding="utf-8")
    text = text.replace("people:\n", "  - id: dealer\n    permissions: [records.read:deal]\npeople:\n", 1)
    team.write_text(text + "  - id: dora\n    name: Dora\n    roles: [dealer]\n", encoding="utf-8")
    ok(cli, "apply")
    assert _complete(script, ["crmctl", "--as", "dora", "record", "show", ""], filled) == ["DL-1"]
    assert (
        _complete(script, ["crmctl", "record", "show", ""], filled, {"CRMCTL_USER": ""}) == []
    )  # nobody, in a workspace with a team


def test_completion_prints_a_script_for_each_shell(cli) -> None:
    assert "complete -o default -F _crmctl_completion crmctl" in ok(cli, "completion", "bash")
    assert ok(cli, "completion", "zsh").startswith("#compdef crmctl")
    assert "complete --command crmctl" in ok(cli, "completion", "fish")


def test_an_unknown_shell_is_a_usage_error(cli) -> None:
    result = cli("completion", "csh")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1


def test_a_command_does_not_load_the_completion_code() -> None:
    program = (
        "import sys\nfrom crmctl.cli import main\nsys.argv = ['crmctl', 'record', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('crmctl.cli.completion' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "False"
