"""A normal install works: the wheel built from this tree, installed in a fresh virtualenv, runs the README's
first session from a folder outside the repository (the bundled examples travel inside the package)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

STEP_TIMEOUT = 300  # seconds for one step; installing the dependencies from pip's cache is the longest


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"timed out after {STEP_TIMEOUT}s: {shlex.join(args)}")


def _ok(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = _run(args, cwd, env)
    assert done.returncode == 0, f"{shlex.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def first_session() -> list[tuple[str, list[str]]]:
    """The README's first session: each `$ command` with the lines it prints."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A first session\n+```console\n(.*?)```", text, re.S)
    assert block, "README.md has no console block under 'A first session'"
    steps: list[tuple[str, list[str]]] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((re.sub(r"\s{2,}#.*$", "", line[2:]), []))
        else:
            steps[-1][1].append(line)
    return steps


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtualenv holding the wheel built from this tree (dependencies from pip)."""
    base = tmp_path_factory.mktemp("package")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and "CRMCTL_" not in k}
    _ok([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(base / "dist")], base, env)
    wheels = list((base / "dist").glob("crmctl-*.whl"))
    assert len(wheels) == 1, wheels
    _ok([sys.executable, "-m", "venv", str(base / "venv")], base, env)
    bin_ = base / "venv" / "bin"
    _ok([str(bin_ / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheels[0])], base, env)
    return bin_


def _env(bin_: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and "CRMCTL_" not in k}
    return {**env, "PATH": f"{bin_}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "100", "NO_COLOR": "1"}


@pytest.mark.slow
def test_the_installed_package_is_not_the_source_tree(installed: Path, tmp_path: Path) -> None:
    where = _ok([str(installed / "python"), "-c", "import crmctl; print(crmctl.__file__)"], tmp_path, _env(installed))
    assert Path(where.strip()).is_relative_to(installed.parent)


@pytest.mark.slow
def test_the_installed_package_lists_its_examples(installed: Path, tmp_path: Path) -> None:
    listed = _ok([str(installed / "crmctl"), "init", "--list-examples"], tmp_path, _env(installed))
    expected = sorted(p.name for p in (ROOT / "examples" / "processes").iterdir() if (p / "crmctl.yaml").is_file())
    assert listed.split() == expected
    assert "pyrus-client-crm" in expected


@pytest.mark.slow
def test_the_installed_package_runs_the_readme_first_session(installed: Path, tmp_path: Path) -> None:
    env, cwd = _env(installed), tmp_path
    steps = first_session()
    assert [command.split()[:2] for command, _ in steps][1:] == [
        ["crmctl", "init"],
        ["crmctl", "record"],
        ["crmctl", "remind"],
        ["crmctl", "agenda"],
    ]
    for command, expected in steps:
        printed: list[str] = []
        for part in command.split(" && "):
            words = shlex.split(part)
            if words[0] == "export":
                env.update(word.split("=", 1) for word in words[1:])
            elif words[0] == "cd":
                cwd = cwd / words[1]
            else:
                assert words[0] == "crmctl", part
                done = _run([str(installed / "crmctl"), *words[1:]], cwd, env)
                assert (done.returncode, done.stderr) == (0, ""), part
                printed += done.stdout.splitlines()
        assert printed == expected, command
    assert (tmp_path / "crm" / "crmctl.duckdb").is_file()


def test_init_names_the_database_relative_to_the_current_folder(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = cli("init", "crm", "--example", "pyrus-client-crm")
    assert (done.exit_code, done.stdout) == (0, "created crm with database crm/crmctl.duckdb (definitions version 1)\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    done = cli("init", str(tmp_path / "crm2"))
    assert (
        done.stdout
        == f"created {tmp_path / 'crm2'} with database {tmp_path / 'crm2' / 'crmctl.duckdb'} (definitions version 1)\n"
    )
