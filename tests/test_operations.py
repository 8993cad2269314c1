"""The operation registry: every command is one operation with a typed request and a typed result, and the
JSON fields docs/cli.md names for a command are those of its result's row type."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path

import pytest
import typer.main

from crmctl.cli import build
from crmctl.domain.shapes import names
from crmctl.ops.registry import BY_NAME, OPERATIONS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _commands() -> list[str]:
    """Every command the command line has, as typed after `crmctl` ("record create")."""
    found: list[str] = []

    def walk(command: typing.Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, [*path, name])
        else:
            found.append(" ".join(path))

    walk(typer.main.get_command(build()), [])
    return sorted(found)


def test_every_command_is_one_operation_and_every_operation_a_command() -> None:
    from crmctl.cli import LOCAL_COMMANDS

    assert sorted([*(op.command for op in OPERATIONS), *LOCAL_COMMANDS]) == _commands()
    assert len(BY_NAME) == len(OPERATIONS)


def _row_type(result: typing.Any) -> type | None:
    """The dataclass a result is, or is a list of."""
    if typing.get_origin(result) is list:
        (result,) = typing.get_args(result)
    return result if dataclasses.is_dataclass(result) else None


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_operation_takes_a_typed_request_and_gives_a_typed_result(name: str) -> None:
    request, result = BY_NAME[name].types()
    assert dataclasses.is_dataclass(request), f"{name}: the request is {request}, not a dataclass"
    assert result is not None and result is not types.NoneType, f"{name} gives no result"
    assert _row_type(result) is not None, f"{name}: the result {result} is neither a dataclass nor a list of one"


def _json_paragraph(command: str) -> str:
    """The paragraphs of a command's section in docs/cli.md that begin with 'JSON'."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^### crmctl {re.escape(command)}\n(.*?)(?=^### |\Z)", text, re.S | re.M)
    assert match, f"docs/cli.md has no section for crmctl {command}"
    return "\n".join(p for p in match.group(1).split("\n\n") if p.startswith("JSON"))


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_docs_name_the_json_fields_of_each_listing(name: str) -> None:
    op = BY_NAME[name]
    result = op.types()[1]
    row = _row_type(result)
    if typing.get_origin(result) is not list or row is None:
        return  # not a listing: its JSON is a document, described in prose
    documented = set(re.findall(r"`([a-z0-9_]+)`", _json_paragraph(op.command)))
    missing = [field for field in names(row) if field not in documented]
    assert not missing, f"docs/cli.md's JSON paragraph of crmctl {op.command} does not name {missing}"


def test_the_command_is_found_after_the_root_options_that_take_a_value() -> None:
    from crmctl.cli import command_in

    assert command_in(["--as", "anna", "-f", "json", "--db", "x.duckdb", "record", "show", "CL-1"]) == "record"
    assert command_in(["--workspace", "w", "-w", "w", "--now", "2026-01-01", "--debug", "inbox"]) == "inbox"
    assert command_in(["--as", "record"]) is None  # "record" is the person here, and no command follows
    assert command_in(["nonsense"]) is None
