"""Shared fixtures: run the CLI in-process with a pinned clock, width and environment."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmctl.cli import app

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
NOW = "2027-03-01T10:00:00+03:00"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def _clean_env() -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CRMCTL_")}
    env.update({"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "CRMCTL_NOW": NOW})
    return env


@pytest.fixture
def cli() -> Callable[..., Run]:
    """cli("validate", "x") -> Run; the environment is clean, the clock pinned and the width fixed."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Run:
        runner = CliRunner()
        result = runner.invoke(app, list(args), env={**_clean_env(), **(env or {})}, input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def base_workspace(tmp_path: Path) -> Path:
    """A copy of the valid base workspace in a temporary folder."""
    target = tmp_path / "ws"
    shutil.copytree(DATA / "base", target)
    return target


@pytest.fixture
def workspace(base_workspace: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The base workspace applied to its database, as the current folder."""
    monkeypatch.chdir(base_workspace)
    result = cli("apply")
    assert result.exit_code == 0, result.stderr
    return base_workspace


@pytest.fixture
def example(tmp_path: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """example("crm-orders") -> a workspace made from that bundled example, as the current folder."""

    def make(name: str) -> Path:
        target = tmp_path / name
        result = cli("init", str(target), "--example", name)
        assert result.exit_code == 0, result.stderr
        monkeypatch.chdir(target)
        return target

    return make


def ok(cli: Callable[..., Run], *args: str) -> str:
    """Run a command that must succeed; its stdout."""
    result = cli(*args)
    assert result.exit_code == 0, (args, result.stderr)
    return result.stdout
