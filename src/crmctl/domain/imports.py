"""Imports: which file column fills which field, and what went wrong where. No I/O."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain.model import SYSTEM_COLUMNS
from crmctl.domain.values import FieldSpec, short

DELIMITERS = (",", ";", "\t", "|")
FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: row is the row in the file (a CSV header is row 1), None for the file."""

    row: int | None
    column: str | None
    value: str | None
    message: str

    def line(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        if self.column:
            where += f", column {self.column}"
        if self.value is None or f"'{short(self.value)}'" in self.message:
            return f"{where}: {self.message}"
        return f"{where}: '{short(self.value)}': {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "problem": self.message}


@dataclass
class Mapping_:
    """Field id -> index of the file column that fills it; the key column; columns left out and why."""

    fields: dict[str, int] = field(default_factory=dict)
    key_column: int | None = None
    files_column: int | None = None  # an export's crm.files column: the files each row's record has attached
    ignored: list[str] = field(default_factory=list)  # system columns crmctl writes itself
    unknown: list[str] = field(default_factory=list)


def delimiter_of(header_line: str) -> str:
    """The delimiter a header line uses: the candidate that appears most often outside double quotes (a comma
    when none does)."""
    bare = "".join(header_line.split('"')[::2])  # what stands outside "..." (a doubled "" quote included)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_of(text: str, delimiter: str) -> list[str]:
    """The column names of a CSV file from its first lines."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error):
        return []


FILES_COLUMN = "crm.files"  # an export's column of attached files (crmctl.store.imports): no field id takes it


def map_columns(
    headers: Sequence[str], fields: Mapping[str, FieldSpec], renames: Mapping[str, str | None] | None = None
) -> tuple[Mapping_, list[Problem]]:
    """Match file columns to fields: a --map entry first, then the field id, then its label (any case)."""
    renames = renames or {}
    by_label = {spec.label.strip().casefold(): name for name, spec in fields.items() if spec.label}
    by_id = {name.casefold(): name for name in fields}
    result, problems = Mapping_(), []
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        if header in renames:
            target = renames[header]
            if target is None:
                continue
            if target not in fields and target != "key":
                problems.append(Problem(None, header, None, f"--map names no field '{target}'"))
                continue
        else:
            folded = header.casefold()
            if folded == FILES_COLUMN:  # an export's list of attached files, not a field (their contents are not
                result.ignored.append(header)  # in the file: in the workspace already, or in --files DIR)
                result.files_column = index
                continue
            target = by_id.get(folded) or by_label.get(folded)
            if target is None and folded in SYSTEM_COLUMNS:
                target = folded
        if target is None:
            result.unknown.append(header)
            continue
        if target in seen:
            problems.append(Problem(None, header, None, f"fills field '{target}' as column '{seen[target]}' does"))
            continue
        seen[target] = header
        if target == "key":
            result.key_column = index
        elif target in SYSTEM_COLUMNS:
            result.ignored.append(header)
        else:
            result.fields[target] = index
    if result.unknown:
        names = ", ".join(f"'{u}'" for u in result.unknown)
        problems.append(
            Problem(
                None, None, None, f"no field for column {names} (name a field in --map, or map it to ~ to leave it out)"
            )
        )
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        problems.append(Problem(None, None, None, f"the header repeats column {', '.join(duplicates)}"))
    return result, problems


@dataclass
class Outcome:
    """What an import did (or, in a dry run, would do)."""

    source: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    import_id: int | None = None
    keys: list[str] = field(default_factory=list)  # keys of the records created
    files: int | None = None  # files attached to the records (None: the file has no crm.files column)

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"{self.source}: {self.rows} row{'' if self.rows == 1 else 's'}: "
            f"{verb}created {self.created}, {verb}updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
            + (f", files {verb}attached {self.files}" if self.files is not None else "")
            + (" (dry run: nothing written)" if self.dry_run else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "dry_run": self.dry_run,
            "import": self.import_id,
            "files": self.files,
            "problems": [p.as_dict() for p in self.problems],
        }
