"""Write src/crmctl/roothelp.py from the command line itself: what `crmctl --help` shows (the description, the
global options' help and every command's summary), so that crmctl.entry can print that page without importing
typer, click and every command's module. Run after changing a command's docstring or a global option:

    python scripts/roothelp.py

tests/test_startup.py fails while the module and the command line disagree."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "src" / "crmctl" / "roothelp.py"


def from_app() -> dict[str, Any]:
    """The root help's parts, as typer's click command gives them: usage, description, options' help records
    (term, text), and each command's name and first paragraph of help, in the order the page lists them."""
    import typer

    from crmctl.cli import app

    group: Any = typer.main.get_command(app)
    ctx = group.make_context("crmctl", ["--help"], resilient_parsing=True)
    options = [record for param in group.get_params(ctx) if (record := param.get_help_record(ctx))]
    commands = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        assert not command.short_help and not command.deprecated, f"{name}: roothelp.py reads only the help"
        commands.append((name, (command.help or "").split("\n\n")[0]))
    assert not group.epilog, "roothelp.py prints no epilog"
    return {
        "USAGE": " ".join(group.collect_usage_pieces(ctx)),
        "DESCRIPTION": inspect.cleandoc(group.help or "").partition("\f")[0],
        "OPTIONS": tuple(options),
        "COMMANDS": tuple(commands),
    }


def module_text(parts: dict[str, Any]) -> str:
    lines = [
        "# ruff: noqa: E501",
        '"""What `crmctl --help` shows: the usage, the description, the global options\' help (term, text) and each',
        "command's first paragraph of help, in the page's order; crmctl.entry lays them out as typer would. Written",
        'by scripts/roothelp.py from the command line: do not edit by hand."""',
        "",
        "from __future__ import annotations",
        "",
        f"USAGE = {parts['USAGE']!r}",
        f"DESCRIPTION = {parts['DESCRIPTION']!r}",
    ]
    for name in ("OPTIONS", "COMMANDS"):
        lines.append(f"{name}: tuple[tuple[str, str], ...] = (")
        lines.extend(f"    ({first!r}, {second!r})," for first, second in parts[name])
        lines.append(")")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    MODULE.write_text(module_text(from_app()), encoding="utf-8")
    sys.exit(0)
