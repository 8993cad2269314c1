"""Start-up pays only for what a command uses: `--version` imports no command-line library, and a command
that prints JSON imports none of the renderers' and checkers' libraries (python -X importtime's list)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Cli, ok

CRMCTL = str(Path(sys.executable).with_name("crmctl"))


def imported(cwd: Path, *args: str) -> tuple[str, set[str]]:
    """A command's output, and the top-level packages it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update({"PYTHONPROFILEIMPORTTIME": "1", "CRMCTL_NOW": "2027-03-01T10:00:00+03:00"})
    done = subprocess.run([CRMCTL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert lines, "no -X importtime output"
    return done.stdout, {line.split("|")[-1].strip().split(".")[0] for line in lines}


def test_version_imports_no_command_line_library(tmp_path: Path) -> None:
    out, modules = imported(tmp_path, "--version")
    assert out.startswith("crmctl ")
    assert not modules & {"typer", "click", "duckdb", "rich", "jinja2", "tabulate"}, modules


def test_a_json_read_imports_no_renderer_or_checker(example: object, cli: Cli, tmp_path: Path) -> None:
    ws = example("pyrus-client-crm")  # type: ignore[operator]
    ok(cli, "--now", "2027-03-01T10:00", "--as", "belov", "record", "create", "client", "--set", "name=Ромашка",
       "--set", "contact_person=Иван", "--set", "phone=+7 (900) 123-45-67")  # fmt: skip
    out, modules = imported(ws, "--as", "belov", "record", "show", "CL-1", "-f", "json")
    assert '"key": "CL-1"' in out
    assert not modules & {"jinja2", "jsonschema", "tabulate", "rich", "ruamel"}, modules & {
        "jinja2",
        "jsonschema",
        "tabulate",
        "rich",
        "ruamel",
    }
