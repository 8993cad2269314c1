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
WIDE = {"COLUMNS": "250"}  # for a test about the words of a wide table, not its fit to 100 columns


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def _clean_env() -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CRMCTL_")}
    env.update({"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "CRMCTL_NOW": NOW})
    return env


class Cli:
    """cli("validate", "x") -> Run; the environment is clean, the clock pinned and the width fixed.

    `actor` is who acts when a test says nothing (CRMCTL_USER): the workspace fixtures set it to a person
    who may do everything, so that tests about other things need no --as; tests about permissions give
    --as (which wins over the variable) or env={"CRMCTL_USER": ...}."""

    def __init__(self) -> None:
        self.actor: str | None = None

    def __call__(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Run:
        full = {**_clean_env(), **({"CRMCTL_USER": self.actor} if self.actor else {}), **(env or {})}
        result = CliRunner().invoke(app, list(args), env=full, input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)


def chief(workspace: Path) -> str | None:
    """The person of the workspace's Team who may do the most: the first with a role granting everything,
    else the first with the most permissions."""
    from crmctl.config.yamlload import load_file

    documents = [doc.data for path in sorted(workspace.rglob("*.yaml")) for doc in load_file(path).documents]
    best, most = None, -1
    for team in (d for d in documents if d.get("kind") == "Team"):
        roles = {r["id"]: set(r.get("permissions", [])) for r in team.get("roles", [])}
        for person in team.get("people", []):
            granted = set().union(*(roles.get(r, set()) for r in person.get("roles", [])))
            count = 10**6 if "*" in granted else len(granted)
            if count > most:
                best, most = person["id"], count
    return best


@pytest.fixture
def cli() -> Cli:
    return Cli()


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
    cli.actor = chief(base_workspace)
    return base_workspace


@pytest.fixture
def example(tmp_path: Path, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """example("crm-orders") -> a workspace made from that bundled example, as the current folder."""

    def make(name: str) -> Path:
        target = tmp_path / name
        result = cli("init", str(target), "--example", name)
        assert result.exit_code == 0, result.stderr
        monkeypatch.chdir(target)
        cli.actor = chief(target)
        return target

    return make


def ok(cli: Callable[..., Run], *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; its stdout."""
    result = cli(*args, env=env)
    assert result.exit_code == 0, (args, result.stderr)
    return result.stdout
