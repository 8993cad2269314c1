"""Diagnostics: one problem in one place of one file, with a stable code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int = 1  # 1-based
    column: int = 1  # 1-based


@dataclass(frozen=True)
class Diagnostic:
    location: Location
    code: str
    message: str
    severity: str = "error"  # error | warning

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.code, self.message)

    def as_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }
