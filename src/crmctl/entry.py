"""The `crmctl` program's entry point. `crmctl --version` is answered here, before anything else is imported
(the command line's typer and click are most of a command's start-up); every other command goes to
crmctl.cli."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from crmctl import __version__

        sys.stdout.write(f"crmctl {__version__}\n")
        return
    from crmctl.cli import main as command_line  # here: only now is the command line needed

    command_line()
