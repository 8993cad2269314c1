"""Start-up pays only for what a command uses: `--version` and `--help` import no command-line library, and a
command that prints JSON imports none of the renderers' and checkers' libraries (python -X importtime's list).
The top-level help that crmctl.entry prints without typer is the page typer prints, at every width."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer._click import formatting

from crmctl import roothelp
from crmctl.cli import app
from crmctl.entry import help_page
from tests.conftest import ROOT, Cli, ok

CRMCTL = str(Path(sys.executable).with_name("crmctl"))


def imported(cwd: Path, *args: str, columns: int = 80) -> tuple[str, set[str]]:
    """A command's output (on a terminal of `columns`), and the top-level packages it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update({"PYTHONPROFILEIMPORTTIME": "1", "CRMCTL_NOW": "2027-03-01T10:00:00+03:00", "COLUMNS": str(columns)})
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


def typers_page(width: int) -> str:
    """The top-level help as typer lays it out at `width` columns (click's formatter: the terminal's less 2)."""
    group = typer.main.get_command(app)
    saved, formatting.FORCED_WIDTH = formatting.FORCED_WIDTH, width
    try:
        with group.make_context("crmctl", [], resilient_parsing=True) as ctx:
            return ctx.get_help() + "\n"
    finally:
        formatting.FORCED_WIDTH = saved


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_imports_no_command_line_library(tmp_path: Path, option: str) -> None:
    out, modules = imported(tmp_path, option)
    assert out == typers_page(78)
    assert not modules & {"typer", "click", "rich", "duckdb", "jinja2", "tabulate"}, modules


def test_help_fits_the_terminal_as_typers_does(tmp_path: Path) -> None:
    out, _ = imported(tmp_path, "--help", columns=60)
    assert out == typers_page(58)
    assert out != typers_page(78)


@pytest.mark.parametrize("width", [50, 57, 64, 71, 78])
def test_the_root_help_page_is_typers(width: int) -> None:
    assert help_page(width) == typers_page(width)


def test_the_root_help_module_is_what_the_command_line_says() -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "roothelp.py"))
    written = {name: getattr(roothelp, name) for name in ("USAGE", "DESCRIPTION", "OPTIONS", "COMMANDS")}
    assert written == script["from_app"](), "the command line's help changed: run python scripts/roothelp.py"
