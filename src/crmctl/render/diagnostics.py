"""Diagnostics as text lines, JSON, GitHub workflow annotations or SARIF."""

from __future__ import annotations

import json
from collections.abc import Callable

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


def sarif(diags: list[Diagnostic]) -> str:
    from crmctl import __version__

    used = sorted({d.code for d in diags})
    rules = [{"id": code, "shortDescription": {"text": CODES.get(code, code)}} for code in used]
    results = [
        {
            "ruleId": d.code,
            "ruleIndex": used.index(d.code),
            "level": "error" if d.severity == "error" else "warning",
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.location.file},
                        "region": {"startLine": d.location.line, "startColumn": d.location.column},
                    }
                }
            ],
        }
        for d in diags
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "crmctl", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


RENDERERS: dict[str, Callable[[list[Diagnostic]], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
    "sarif": sarif,
}
