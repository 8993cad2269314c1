"""--help that helps: every command shows examples that run, the exit codes it can give, its --format
choices, and its values as words (TEXT, INTEGER, DATE), its arguments as KEY."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer

from crmctl.cli import app
from crmctl.cli.help import EXAMPLES, exit_codes

from .conftest import ROOT, Cli, ok
from .test_docs import COMMANDS

LEAVES = sorted(path for path, command in COMMANDS.items() if not hasattr(command, "commands"))
# what the examples of a command can run on: a pyrus-client-crm workspace after these commands (as belov)
SEED = (
    'record create client --set "name=ООО Ромашка" --set "contact_person=Ирина Смирнова" '
    '--set "phone=+7 (912) 345-67-89"',
    'record create client --set "name=ИП Васильев"',
    'record create deal --set "subject=Сайт и визитки" --set client=CL-1 --set amount=1500000 '
    "--set purchase_amount=50000",
    "advance DL-1",
    'record create deal --set "subject=Визитки" --set client=CL-2 --set amount=10000 --set purchase_amount=0',
    'remind CL-1 --at +1d "Отправить КП"',
    'project launch client-project --for CL-1 --param contact_person="Ирина Смирнова"',
    '--as sokolov sprint create "Неделя 10" --from 2027-03-01 --to 2027-03-07',
)
# examples that need something a test has not: a port to listen on until stopped, a server to sign in to
NOT_RUN = {"serve", "login", "logout"}


def _help(path: str) -> str:
    return " ".join(Cli()(*path.split(), "--help").stdout.split())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded workspace, made once; each test works on a copy."""
    folder = tmp_path_factory.mktemp("seed") / "crm"
    with pytest.MonkeyPatch.context() as mp:
        cli = Cli()
        assert cli("init", str(folder), "--example", "pyrus-client-crm").exit_code == 0
        mp.chdir(folder)
        cli.actor = "belov"
        for line in SEED:
            ok(cli, *shlex.split(line))
    shutil.copy(ROOT / "examples" / "data" / "clients.csv", folder)
    return folder


def _workspace(path: str, seeded: Path, tmp_path: Path, cli: Cli) -> Path:
    if path == "intake mail":
        target = tmp_path / "desk"
        ok(cli, "init", str(target), "--example", "service-desk-leads")
        shutil.copytree(ROOT / "examples" / "mail", target / "mail")
        return target
    if path == "init":
        return tmp_path
    return Path(shutil.copytree(seeded, tmp_path / "crm"))


@pytest.mark.parametrize("path", LEAVES)
def test_every_command_has_examples(path: str) -> None:
    assert 1 <= len(EXAMPLES.get(path, ())) <= 3, f"crmctl {path} needs 1 to 3 examples in crmctl.cli.help.EXAMPLES"
    assert all(example.startswith("crmctl ") for example in EXAMPLES[path])
    assert "Examples: " + " ".join(EXAMPLES[path][0].split()) in _help(path)


def test_the_examples_are_of_commands_that_exist() -> None:
    assert set(EXAMPLES) == set(LEAVES)


@pytest.mark.parametrize("path", sorted(set(LEAVES) - NOT_RUN))
def test_the_examples_run(path: str, seeded: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_workspace(path, seeded, tmp_path, cli))
    cli.actor = "belov"
    assert any(f" {path} " in f"{example} " for example in EXAMPLES[path]), f"no example of crmctl {path}"
    for example in EXAMPLES[path]:
        result = cli(*shlex.split(example)[1:])
        assert result.exit_code == 0, (example, result.stderr)


@pytest.mark.parametrize("path", LEAVES)
def test_help_lists_the_exit_codes_the_command_gives(path: str) -> None:
    shown = _help(path).split("Exit codes: ", 1)[1]
    for code, words in exit_codes(path):
        assert f"{code} {words}" in shown


def _params(path: str) -> list[Any]:
    return list(COMMANDS[path].params)


@pytest.mark.parametrize("path", LEAVES)
def test_help_shows_the_format_choices_and_values_as_words(path: str) -> None:
    text = _help(path)
    assert not re.search(r"<(str|int|float|path|bool|text|int range|float range)>", text), text
    assert "9223372036854775807" not in text
    assert "see the command's help" not in text
    usage = Cli()(*path.split(), "--help").stdout.splitlines()[0]
    assert "{" not in usage, usage
    for param in _params(path):
        if "--format" in getattr(param, "opts", ()):
            assert re.search(r"-f, --format [a-z]+(\|[a-z]+)+ Output format: ", text), text


def test_the_root_help_shows_words(cli: Cli) -> None:
    text = " ".join(cli("--help").stdout.split())
    for option in ("--workspace FOLDER", "--db FILE", "--as PERSON", "--now DATETIME", "--format FORMAT"):
        assert option in text


def test_a_format_the_command_does_not_declare_is_refused(cli: Cli, seeded: Path, monkeypatch) -> None:
    monkeypatch.chdir(seeded)
    result = cli("--as", "belov", "record", "show", "CL-1", "--format", "csv")
    assert result.exit_code == 2
    assert result.stderr == "crmctl: error: --format must be one of: table, json, html (got 'csv')\n"


def test_validate_declares_the_formats_its_renderers_have() -> None:
    from crmctl.render.diagnostics import FORMATS

    command = typer.main.get_command(app).commands["validate"]  # type: ignore[attr-defined]
    (option,) = [p for p in command.params if "--format" in p.opts]
    assert tuple(option.metavar.split("|")) == tuple(FORMATS)


def test_usage_shows_arguments_as_words(cli: Cli) -> None:
    assert cli("record", "show", "--help").stdout.startswith("Usage: crmctl record show [OPTIONS] KEY\n")
    assert cli("remind", "--help").stdout.startswith("Usage: crmctl remind [OPTIONS] [KEY] [TEXT]\n")
    assert "TASK..." in cli("sprint", "add", "--help").stdout.splitlines()[0]
