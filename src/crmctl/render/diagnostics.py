"""Diagnostics as text lines, JSON, GitHub workflow annotations or SARIF."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from crmctl.config.codes import CODES
from crmctl.config.diagnostics import Diagnostic
from crmctl.render.tables import one_line

FORMATS = ("text", "json", "github", "sarif")


def text(diags: list[Diagnostic]) -> str:
    """One line per problem: a line break inside a message shows as \\n, a control character as \\x1b."""
    return "".join(
        f"{d.location.file}:{d.location.line}:{d.location.column}: {d.severity} {d.code} {one_line(d.message)}\n"
        for d in diags
    )


def as_json(diags: list[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diags], ensure_ascii=False, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(diags: list[Diagnostic]) -> str:
    lines = []
    for d in diags:
        loc = d.location
        props = f"file={_escape_property(loc.file)},line={loc.line},col={loc.column},title={d.code}"
        lines.append(f"::{d.severity} {props}::{_escape_data(d.code + ' ' + d.message)}\n")
    return "".join(lines)


# where a code-scanning tool sends a reader to learn about crmctl (SARIF's informationUri)
INFORMATION_URI = "https://pypi.org/project/crmctl/"
# the base of the files' relative URIs: the folder validate ran in, which in CI is the checkout; GitHub code
# scanning and other SARIF readers resolve %SRCROOT% to the repository's root
SRCROOT = "%SRCROOT%"


def _plain(markdown: str) -> str:
    """Markdown of docs/diagnostics.md as plain text: links as their words, no backticks."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown).replace("`", "")


def _rule(code: str) -> dict[str, Any]:
    """A SARIF rule: its name, short and full descriptions and help, from docs/diagnostics.md."""
    from crmctl.config.codehelp import HELP  # here: only SARIF shows the help

    title, trigger, fix, _ = HELP.get(code, (CODES.get(code, code), "", "", ""))
    name = "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", title))
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": CODES.get(code, title)},
        "fullDescription": {"text": _plain(trigger) or title},
        "help": {
            "text": f"{_plain(trigger)} How to fix: {_plain(fix)}".strip(),
            "markdown": f"**{code} {title}**\n\n{trigger}\n\n**How to fix:** {fix}",
        },
        "defaultConfiguration": {"level": "error"},
    }


def _artifact(file: str) -> dict[str, str]:
    """A file as a SARIF artifactLocation: a percent-encoded URI relative to SRCROOT, or a file: URI for a file
    outside the folder validate ran in; never a bare path."""
    path = PurePosixPath(file)
    if path.is_absolute():
        return {"uri": Path(file).as_uri()}
    return {"uri": quote(path.as_posix(), safe="/"), "uriBaseId": SRCROOT}


def sarif(diags: list[Diagnostic]) -> str:
    from crmctl import __version__

    used = sorted({d.code for d in diags})
    results = [
        {
            "ruleId": d.code,
            "ruleIndex": used.index(d.code),
            "level": "error" if d.severity == "error" else "warning",
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(d.location.file),
                        "region": {"startLine": d.location.line, "startColumn": d.location.column},
                    }
                }
            ],
        }
        for d in diags
    ]
    driver = {
        "name": "crmctl",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(code) for code in used],
    }
    run = {
        "tool": {"driver": driver},
        "results": results,
    }
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


RENDERERS: dict[str, Callable[[list[Diagnostic]], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
    "sarif": sarif,
}
