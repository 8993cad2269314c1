"""Docs that stay honest: every command has help and a section in docs/cli.md; every relative link resolves.

The commands are read from the typer app at run time, so a command added without documentation fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from crmctl.cli import app

from .conftest import ROOT

CLI_DOC = ROOT / "docs" / "cli.md"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command and group below the root, as ('record create', command)."""
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if getattr(sub, "hidden", False):
            continue
        here = (*path, name)
        yield " ".join(here), sub
        yield from _commands(sub, here)


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _prose_lines(text: str) -> Iterator[str]:
    """The lines of a Markdown page outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def slug(heading: str) -> str:
    """A heading's anchor: lower-case, spaces to '-', only letters, digits, '-' and '_' kept."""
    text = heading.strip().lower().replace(" ", "-")
    return "".join(ch for ch in text if ch.isalnum() or ch in "-_")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(page.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every inline link outside code, images excluded."""
    fenced = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            yield number, match.group(1)


def test_the_app_has_commands() -> None:
    assert {"init", "record", "record create", "advance", "inbox"} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_help(path: str) -> None:
    command = COMMANDS[path]
    text = (command.help or command.short_help or "").strip()
    assert text, f"crmctl {path} has no help text"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_a_section_in_the_cli_reference(path: str) -> None:
    headings = {line.strip() for line in _prose_lines(CLI_DOC.read_text(encoding="utf-8"))}
    assert f"### crmctl {path}" in headings, f"docs/cli.md has no heading '### crmctl {path}'"


def test_slug_rule() -> None:
    assert slug("Y: YAML and files") == "y-yaml-and-files"
    assert slug("crmctl record create") == "crmctl-record-create"
    assert slug("`crm.events`: what happened") == "crmevents-what-happened"
    assert slug("Согласование сделки") == "согласование-сделки"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for number, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        where = f"{page.relative_to(ROOT)}:{number}: {target}"
        if not destination.exists():
            broken.append(f"{where}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{where}: no heading with the anchor '{anchor}'")
    assert not broken, "\n".join(broken)
