"""Reading an import file into DuckDB: its format from its name, its encoding and delimiter found, its rows
staged as text in the temporary table import_src (crmctl.store.imports), with every problem of the file itself
(not a file, empty, not UTF-8, not JSON, hostile YAML) an InputError of one line.

Beneath both imports: records (crmctl.ops.imports) and tasks and time (crmctl.ops.workimports).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from crmctl.domain.imports import FORMATS, Problem, delimiter_of, header_of
from crmctl.domain.records import plain
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.session import Session
from crmctl.store import imports as import_store

Progress = Callable[[str, float], None]  # (what is being done, percent done; -1 when it cannot be measured)
Fused = Callable[[list[str]], Callable[[], None] | None]


@dataclass(frozen=True)
class Source:
    """The file to import and how to read it."""

    path: Path
    delimiter: str | None = None  # CSV only; None: the one the header line uses most
    encoding: str | None = None  # None: UTF-8, else cp1251
    progress: Progress | None = field(default=None, compare=False)  # told how far each step is


def file_format(path: Path) -> str:
    """The file's format by its ending: csv, jsonl, json, yaml or parquet."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise UsageError(f"cannot tell the format of {path.name} from its name (known endings: {known})")
    return fmt


def check_file(path: Path) -> None:
    """NotFound or InputError unless path is a file with something in it."""
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes): nothing to import")


def read_map(path: Path | None) -> dict[str, str | None]:
    """A --map file: `column: field` lines (YAML); `column: ~` leaves the column out."""
    if path is None:
        return {}
    from crmctl.config.yamlload import load_file  # here: the YAML loader is heavy, and few imports have a map

    check_file(path)
    loaded = load_file(path)
    if loaded.diagnostics:
        d = loaded.diagnostics[0]
        raise InputError(f"{d.location.file}:{d.location.line}:{d.location.column}: {d.message}")
    data = loaded.documents[0].data if len(loaded.documents) == 1 else None
    if not isinstance(data, dict) or not all(isinstance(v, str) or v is None for v in data.values()):
        raise InputError(f"{path} must be one mapping of `file column: field id` (or ~ to leave a column out)")
    return {str(k): v for k, v in data.items()}


def _head(path: Path, encoding: str) -> str:
    with path.open("rb") as f:
        sample = f.read(65536)
    codec = {"utf-8": "utf-8-sig", "utf-16": "utf-16"}.get(encoding, encoding)
    return sample.decode(codec, errors="replace").splitlines()[0] if sample.strip() else ""


def _utf8_start(path: Path) -> bool:
    """Whether the file's first 64 KiB read as UTF-8 (a character cut at the end of them does not count)."""
    with path.open("rb") as f:
        sample = f.read(65536)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
    return True


def _known_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UsageError(f"unknown encoding '{name}' (for example utf-8, cp1251, utf-16)") from None


def _transcoded(path: Path, encoding: str, folder: str) -> Path:
    """A UTF-8 copy of a file in another encoding, for the CSV reader (which reads UTF-8 and UTF-16)."""
    target = Path(folder) / "utf8.csv"
    with path.open("r", encoding=encoding, newline="") as src, target.open("w", encoding="utf-8", newline="") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    return target


def _first_encoding(source: Source) -> str:
    """The encoding to read a CSV file in first: the one given, else UTF-8, or cp1251 when the file's start
    is not UTF-8."""
    if source.encoding is not None:
        return _known_encoding(source.encoding)
    return "utf-8" if _utf8_start(source.path) else "cp1251"


def _csv_header(path: Path, encoding: str, delimiter: str | None) -> tuple[list[str], str]:
    """The file's column names and its delimiter (the one given, else the header line's)."""
    header_line = _head(path, encoding)
    delimiter = delimiter or delimiter_of(header_line)
    if len(delimiter) != 1:
        raise UsageError(f"--delimiter must be one character, not '{delimiter}'")
    headers = header_of(header_line, delimiter)
    if not headers or headers == [""]:
        raise InputError(f"{path} has no header row")
    return headers, delimiter


def _stage_csv_in(
    session: Session, source: Source, encoding: str, tmp: str, fused: Fused | None
) -> tuple[list[str], bool, bool]:
    """Stage a CSV file read in an encoding: its header, whether `fused` converted the rows as they were read,
    and whether the reader found bytes that are not of the encoding."""
    path, conn = source.path, session.conn
    native = encoding in ("utf-8", "utf-16", "latin-1", "iso8859-1")
    readable = path if native else _transcoded(path, encoding, tmp)
    text_encoding = {"iso8859-1": "latin-1"}.get(encoding, encoding) if native else "utf-8"
    headers, delimiter = _csv_header(readable, text_encoding, source.delimiter)
    convert = fused(headers) if fused else None
    with import_store.watched(conn, f"reading {path.name}", source.progress):
        try:
            import_store.stage_csv(
                conn, readable, columns=len(headers), delimiter=delimiter, encoding=text_encoding, view=bool(convert)
            )
            if convert is not None:
                convert()
        except duckdb.Error as exc:
            raise InputError(f"cannot read {path.name} as CSV: {str(exc).splitlines()[0]}") from None
    bad_encoding = any(r["kind"] == "INVALID ENCODING" for r in import_store.csv_rejects(conn))
    return headers, convert is not None, bad_encoding


def _stage_csv(session: Session, source: Source, tmp: str, fused: Fused | None) -> tuple[list[str], bool]:
    """Stage a CSV file; returns its header, and whether `fused` converted the rows as they were read.

    fused(header) may return a conversion to run straight from the file (import_src is then a view on it,
    read once), or None (import_src is then a table). Without --encoding, a file that is not UTF-8 is read
    as cp1251."""
    encoding = _first_encoding(source)
    headers, converted, bad_encoding = _stage_csv_in(session, source, encoding, tmp, fused)
    if bad_encoding and source.encoding is None and encoding != "cp1251":
        encoding = "cp1251"
        headers, converted, bad_encoding = _stage_csv_in(session, source, encoding, tmp, fused)
    if bad_encoding:
        raise InputError(f"{source.path.name} is not valid {encoding} (give the file's encoding with --encoding)")
    return headers, converted


def _stage_json_lines(session: Session, path: Path) -> list[str]:
    conn = session.conn
    try:
        import_store.stage_lines(conn, path)
    except Exception as exc:
        raise InputError(f"cannot read {path.name}: {str(exc).splitlines()[0]}") from None
    bad = import_store.json_line_problems(conn)
    if bad:
        details = [Problem(n, None, text, "is not a JSON object").line() for n, text in bad[:20]]
        raise InputError(f"{path.name}: {len(bad)} lines are not JSON objects; nothing was imported", details=details)
    keys = import_store.json_keys(conn)
    import_store.stage_json_objects(conn, keys)
    return keys


def _as_json_lines(path: Path, fmt: str, tmp: str) -> Path:
    """A YAML list (or a JSON array) of mappings, rewritten as JSON Lines for the reader."""
    if fmt == "yaml":
        data = _yaml_rows(path)
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{path.name} is not JSON: {exc}") from None
        except RecursionError:
            raise InputError(f"{path.name} nests lists and objects too deep for rows of values") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError(f"{path.name} must hold a list of mappings, one per record")
    target = Path(tmp) / "rows.jsonl"
    with target.open("w", encoding="utf-8") as out:
        for item in data:
            out.write(json.dumps({str(k): _scalar(v) for k, v in item.items()}, ensure_ascii=False, default=plain))
            out.write("\n")
    return target


def _yaml_rows(path: Path) -> Any:
    """A YAML file's data, safely: no tags that build objects, no anchors and aliases (a few lines of them
    can stand for billions of rows)."""
    from ruamel.yaml import YAML  # here: only a YAML file needs it
    from ruamel.yaml.error import YAMLError

    try:
        text = path.read_text(encoding="utf-8-sig")
        yaml = YAML(typ="safe", pure=True)
        seen: set[int] = set()
        stack = [yaml.compose(text)]
        while stack:
            node = stack.pop()
            if node is None:
                continue
            if id(node) in seen or getattr(node, "anchor", None):
                raise InputError(f"{path.name}: anchors and aliases (&, *) are not read in import files")
            seen.add(id(node))
            if isinstance(node.value, list):
                for item in node.value:
                    stack.extend(item if isinstance(item, tuple) else (item,))
        return yaml.load(text)
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"{path.name} nests lists and mappings too deep for rows of values") from None
    except YAMLError as exc:
        raise InputError(f"{path.name} is not valid YAML: {str(exc).splitlines()[-1].strip()}") from None


def _scalar(value: Any) -> Any:
    """YAML dates and numbers as the text a CSV cell would hold."""
    return value if isinstance(value, (str, bool, int, float)) or value is None else plain(value)


def stage(session: Session, source: Source, tmp: str, fused: Fused | None = None) -> tuple[list[str], str | None]:
    """Put the file in import_src; returns its column names and the SQL for a row's number in the file (None
    when a fused conversion of a CSV file numbered the rows itself)."""
    path, conn = source.path, session.conn
    check_file(path)
    fmt = file_format(path)
    if fmt == "csv":
        headers, done = _stage_csv(session, source, tmp, fused)
        rejected = [r["row"] for r in import_store.csv_rejects(conn)]
        if done:
            import_store.number_rows(conn, rejected)
            return headers, None
        return headers, import_store.csv_row_number(import_store.row_index(conn), rejected)
    if fmt == "parquet":
        try:
            names = import_store.stage_parquet(conn, path)
            return names, import_store.row_index(conn)
        except Exception as exc:
            raise InputError(f"cannot read {path.name} as Parquet: {str(exc).splitlines()[0]}") from None
    if fmt == "json" and _starts_with_object(path):
        fmt = "jsonl"  # one object per line, as `export --format json` writes it, whatever the file's ending
    lines = path if fmt == "jsonl" else _as_json_lines(path, fmt, tmp)
    return _stage_json_lines(session, lines), "s.line_no"


def _starts_with_object(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")
