"""The `crmctl` program's entry point. `crmctl --version` and `crmctl --help` are answered here, before anything
else is imported (the command line's typer and click, and every command's module that the help page lists, are
most of a command's start-up); every other command goes to crmctl.cli.

The top-level help page is laid out from crmctl.roothelp (written by scripts/roothelp.py from the command line)
the way typer lays it out, at the same width; tests/test_startup.py compares the two."""

from __future__ import annotations

import os
import sys

HELP_OPTIONS = (["--help"], ["-h"])


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from crmctl import __version__

        sys.stdout.write(f"crmctl {__version__}\n")
        return
    if args in HELP_OPTIONS:
        sys.stdout.write(help_page())
        return
    from crmctl.cli import main as command_line  # here: only now is the command line needed

    command_line()


def help_page(width: int | None = None) -> str:
    """What `crmctl --help` prints: as click's HelpFormatter writes it (usage, description, options and
    commands as definition lists; a command's help shortened to fit), `width` (50 or more) by default the
    terminal's less 2, from 50 to 78 columns, as click takes it."""
    from crmctl import roothelp  # here, as every import of this module: only what the answer needs

    if width is None:
        width = max(min(_columns(), 80) - 2, 50)
    prefix = "Usage: crmctl "  # click puts the usage's words beside it from 34 columns on (the page has 50 or more)
    lines = _wrap(roothelp.USAGE, width, prefix, " " * len(prefix))
    lines += ["", *_wrap(roothelp.DESCRIPTION, width, "  ")]
    lines += ["", "Options:", *_definitions(roothelp.OPTIONS, width)]
    limit = width - 6 - max(len(name) for name, _ in roothelp.COMMANDS)
    commands = [(name, _short(text, limit)) for name, text in roothelp.COMMANDS]
    lines += ["", "Commands:", *_definitions(commands, width)]
    return "\n".join(lines) + "\n"


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size tells it (COLUMNS, else standard output's terminal,
    else 80), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _wrap(text: str, width: int, indent: str = "", later: str | None = None) -> list[str]:
    import textwrap  # here: only the help page wraps text

    wrapper = textwrap.TextWrapper(
        width, initial_indent=indent, subsequent_indent=indent if later is None else later, replace_whitespace=False
    )
    return wrapper.wrap(" ".join(text.splitlines()))


def _definitions(rows: list[tuple[str, str]] | tuple[tuple[str, str], ...], width: int, indent: int = 2) -> list[str]:
    """Two columns as click's write_dl: the first up to 30 wide, the second wrapped beside it."""
    first = min(max(len(term) for term, _ in rows), 30) + 2
    out: list[str] = []
    for term, text in rows:
        wrapped = _wrap(text, max(width - first - 2, 10))
        if not wrapped:
            out.append(" " * indent + term)
            continue
        if len(term) <= first - 2:
            out.append(" " * indent + term.ljust(first) + wrapped[0])
        else:
            out += [" " * indent + term, " " * (first + indent) + wrapped[0]]
        out += [" " * (first + indent) + line for line in wrapped[1:]]
    return out


def _short(text: str, limit: int) -> str:
    """The first sentence, or as many words as fit in `limit` with "...": click's make_default_short_help."""
    words = text.split()
    total = 0
    for i, word in enumerate(words):
        total += len(word) + (i > 0)
        if total > limit:
            break
        if word.endswith("."):
            return " ".join(words[: i + 1])
        if total == limit and i != len(words) - 1:
            break
    else:
        return " ".join(words)
    total += 3
    while i > 0:
        total -= len(words[i]) + (i > 0)
        if total <= limit:
            break
        i -= 1
    return " ".join(words[:i]) + "..."
