"""Write src/crmctl/config/codehelp.py from docs/diagnostics.md: each code's help (what triggers it, how to fix
it), which `crmctl validate --format sarif` gives code-scanning tools. Run after changing a table of codes:

    python scripts/codehelp.py

tests/test_sarif.py fails while the module and the page disagree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "diagnostics.md"
MODULE = ROOT / "src" / "crmctl" / "config" / "codehelp.py"
ROW = re.compile(r"^\| ([A-Z]\d{3}) \| (.*?) \| (.*?) \| (.*?) \|$", re.MULTILINE)


def from_docs(text: str) -> dict[str, tuple[str, str, str, str]]:
    """code -> (title, triggered by, how to fix, the anchor of its group's heading) from the page's tables."""
    found: dict[str, tuple[str, str, str, str]] = {}
    anchor = ""
    for line in text.splitlines():
        if line.startswith("### "):
            words = line[4:].strip().lower().replace(" ", "-")
            anchor = "".join(ch for ch in words if ch.isalnum() or ch in "-_")
        match = ROW.match(line)
        if match:
            code, title, trigger, fix = match.groups()
            found[code] = (title, trigger, fix, anchor)
    return found


def module_text(found: dict[str, tuple[str, str, str, str]]) -> str:
    lines = [
        "# ruff: noqa: E501",
        '"""Each diagnostic code\'s title, what triggers it, how to fix it (Markdown) and the anchor of its group in',
        'docs/diagnostics.md. Written by scripts/codehelp.py from that page: do not edit by hand."""',
        "",
        "from __future__ import annotations",
        "",
        "HELP: dict[str, tuple[str, str, str, str]] = {",
    ]
    for code, row in sorted(found.items()):
        lines.append(f"    {code!r}: (")
        lines.extend(f"        {part!r}," for part in row)
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    MODULE.write_text(module_text(from_docs(DOC.read_text(encoding="utf-8"))), encoding="utf-8")
    sys.exit(0)
