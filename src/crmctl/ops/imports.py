"""crmctl import: a whole file checked against a form in DuckDB, then written in one transaction or not at all."""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from crmctl.domain.imports import FORMATS, Mapping_, Outcome, Problem, delimiter_of, header_of, map_columns
from crmctl.domain.model import FormDef, ProcessDef
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError, NotFound, UsageError
from crmctl.ops.process import enter
from crmctl.ops.records import choose_process, people_of
from crmctl.ops.session import Session
from crmctl.store import imports as store

Progress = Callable[[str, float], None]  # (what is being done, percent done)
_PLAIN_ENTRY = ("approvals", "due_in", "on_enter", "responsible", "skip_when")
LONG_LIST = 100  # options or people: a cell compared with each costs more than staging the file beyond this


@dataclass
class ImportOptions:
    path: Path
    key: str | None = None
    dry_run: bool = False
    on_error: str = "abort"  # or "skip"
    mapping: Path | None = None
    delimiter: str | None = None
    encoding: str | None = None
    process: str | None = None


class _DryRun(Exception):
    pass


@contextmanager
def watched(conn: Any, what: str, progress: Progress | None) -> Iterator[None]:
    """Report the running statement's progress every fifth of a second, from a second thread."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            percent = conn.query_progress()
            if percent >= 0:
                progress(what, percent)

    conn.execute("SET enable_progress_bar = true")
    conn.execute("SET enable_progress_bar_print = false")
    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        progress(what, 100.0)


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise UsageError(f"cannot tell the format of {path.name} from its name (known endings: {known})")
    return fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise NotFound(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes): nothing to import")


def _read_map(path: Path | None) -> dict[str, str | None]:
    """A --map file: `column: field` lines (YAML); `column: ~` leaves the column out."""
    if path is None:
        return {}
    from crmctl.config.yamlload import load_file

    _check_file(path)
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
    import codecs

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


Fused = Callable[[list[str]], Callable[[], None] | None]


def _stage_csv(
    session: Session, path: Path, opts: ImportOptions, tmp: str, progress: Progress | None, fused: Fused | None
) -> tuple[list[str], bool]:
    """Stage a CSV file; returns its header, and whether `fused` converted the rows as they were read.

    fused(header) may return a conversion to run straight from the file (import_src is then a view on it,
    read once), or None (import_src is then a table). Without --encoding, a file that is not UTF-8 is read
    as cp1251."""
    conn = session.conn
    encoding = _known_encoding(opts.encoding) if opts.encoding else "utf-8"
    if opts.encoding is None and not _utf8_start(path):
        encoding = "cp1251"
    for attempt in (1, 2):
        native = encoding in ("utf-8", "utf-16", "latin-1", "iso8859-1")
        source = path if native else _transcoded(path, encoding, tmp)
        text_encoding = {"iso8859-1": "latin-1"}.get(encoding, encoding) if native else "utf-8"
        header_line = _head(source, text_encoding)
        delimiter = opts.delimiter or delimiter_of(header_line)
        if len(delimiter) != 1:
            raise UsageError(f"--delimiter must be one character, not '{delimiter}'")
        headers = header_of(header_line, delimiter)
        if not headers or headers == [""]:
            raise InputError(f"{path} has no header row")
        convert = fused(headers) if fused else None
        with watched(conn, f"reading {path.name}", progress):
            try:
                store.stage_csv(
                    conn, source, columns=len(headers), delimiter=delimiter, encoding=text_encoding, view=bool(convert)
                )
                if convert is not None:
                    convert()
            except duckdb.Error as exc:
                raise InputError(f"cannot read {path.name} as CSV: {str(exc).splitlines()[0]}") from None
        rejects = store.csv_rejects(conn)
        bad_encoding = any(r["kind"] == "INVALID ENCODING" for r in rejects)
        if bad_encoding and attempt == 1 and opts.encoding is None:
            encoding = "cp1251"
            continue
        if bad_encoding:
            raise InputError(f"{path.name} is not valid {encoding} (give the file's encoding with --encoding)")
        return headers, convert is not None
    raise AssertionError("unreachable")


def _stage_json_lines(session: Session, path: Path) -> list[str]:
    conn = session.conn
    try:
        store.stage_lines(conn, path)
    except Exception as exc:
        raise InputError(f"cannot read {path.name}: {str(exc).splitlines()[0]}") from None
    bad = store.json_line_problems(conn)
    if bad:
        details = [Problem(n, None, text, "is not a JSON object").line() for n, text in bad[:20]]
        raise InputError(f"{path.name}: {len(bad)} lines are not JSON objects; nothing was imported", details=details)
    keys = store.json_keys(conn)
    store.stage_json_objects(conn, keys)
    return keys


def _as_json_lines(path: Path, fmt: str, tmp: str) -> Path:
    """A YAML list (or a JSON array) of mappings, rewritten as JSON Lines for the reader."""
    from crmctl.domain.records import plain

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
    from ruamel.yaml import YAML
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
    from crmctl.domain.records import plain

    return value if isinstance(value, (str, bool, int, float)) or value is None else plain(value)


def stage(
    session: Session, opts: ImportOptions, tmp: str, progress: Progress | None, fused: Fused | None = None
) -> tuple[list[str], str | None]:
    """Put the file in import_src; returns its column names and the SQL for a row's number in the file (None
    when a fused conversion of a CSV file numbered the rows itself)."""
    path = opts.path
    _check_file(path)
    fmt = file_format(path)
    if fmt == "csv":
        headers, done = _stage_csv(session, path, opts, tmp, progress, fused)
        rejected = [r["row"] for r in store.csv_rejects(session.conn)]
        if done:
            store.number_rows(session.conn, rejected)
            return headers, None
        return headers, store.csv_row_number(store.row_index(session.conn), rejected)
    if fmt == "parquet":
        try:
            names = store.stage_parquet(session.conn, path)
            return names, store.row_index(session.conn)
        except Exception as exc:
            raise InputError(f"cannot read {path.name} as Parquet: {str(exc).splitlines()[0]}") from None
    if fmt == "json" and _starts_with_object(path):
        fmt = "jsonl"  # one object per line, as `export --format json` writes it, whatever the file's ending
    source = path if fmt == "jsonl" else _as_json_lines(path, fmt, tmp)
    return _stage_json_lines(session, source), "s.line_no"


def _starts_with_object(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def _reject_problems(session: Session) -> list[Problem]:
    found = []
    for r in store.csv_rejects(session.conn):
        counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", r["message"])
        if counts:
            expected, got = counts.groups()
            message = f"has {got} column{'s' if got != '1' else ''} where the header has {expected}"
        else:
            message = r["message"].splitlines()[0]
        found.append(Problem(r["row"], None, r["text"], message))
    return found


def _value_problem(
    session: Session, spec: FieldSpec, text: str, people: set[str] | None, target: FormDef | None
) -> str:
    """The words record create would use for a value that does not fit."""
    if spec.type == "ref" and target is not None:
        title = target.display_field or "title"
        found = store.title_matches(session.conn, target, text)
        if found > 1:
            return f"{found} {spec.form} records have {title} '{text}': give the key instead"
        return f"no {spec.form} record with key or {title} '{text}'"
    try:
        convert(spec, text, people=people)
    except ValueError as exc:
        return str(exc)
    return f"is not a valid {spec.type}"


def _defaults(form: FormDef, people: set[str] | None) -> dict[str, Any]:
    return {
        name: convert(spec, spec.default, people=people)
        for name, spec in form.fields.items()
        if spec.default is not None
    }


def _choose_key(form: FormDef, mapping: Mapping_, key: str | None) -> str | None:
    if key is None:
        return "key" if mapping.key_column is not None else None
    if key == "key":
        if mapping.key_column is None:
            raise UsageError("--key key needs a `key` column in the file")
        return key
    if key not in form.fields:
        raise UsageError(f"--key: form {form.name} has no field '{key}'")
    if key not in mapping.fields:
        raise UsageError(f"--key {key}: the file has no column for field '{key}'")
    return key


def import_records(session: Session, form_name: str, opts: ImportOptions, progress: Progress | None = None) -> Outcome:
    """Check every row of the file against the form; write them all (or, with skip, the good ones)."""

    form = session.defs.form(form_name)
    session.require("records.import", f"import {form.name} records", form.name)
    if opts.on_error not in ("abort", "skip"):
        raise UsageError(f"--on-error must be abort or skip, not '{opts.on_error}'")
    process_name = choose_process(session, form, opts.process)
    people = people_of(session)
    outcome = Outcome(source=opts.path.name, dry_run=opts.dry_run)
    with tempfile.TemporaryDirectory(prefix="crmctl-import-") as tmp:
        try:
            with session.transaction():
                _import(session, form, opts, tmp, progress, process_name, people, outcome)
                if opts.dry_run or (outcome.problems and opts.on_error == "abort"):
                    raise _DryRun
        except _DryRun:
            pass
    return outcome


def _import(
    session: Session,
    form: FormDef,
    opts: ImportOptions,
    tmp: str,
    progress: Progress | None,
    process_name: str | None,
    people: set[str] | None,
    outcome: Outcome,
) -> None:
    conn = session.conn
    renames = _read_map(opts.mapping)
    people_list = sorted(people) if people is not None else None
    found: dict[str, Any] = {}

    def mapped(headers: list[str]) -> Mapping_:
        mapping, problems = map_columns(headers, form.fields, renames)
        if problems:
            raise InputError(
                f"{opts.path.name}: the columns do not fit form {form.name}; nothing was imported",
                details=[p.line() for p in problems],
            )
        found.update(mapping=mapping, key=_choose_key(form, mapping, opts.key))
        return mapping

    def convert(mapping: Mapping_, row_number: str | None) -> None:
        store.convert_rows(
            conn,
            [(spec, mapping.fields.get(name)) for name, spec in form.fields.items()],
            session.defs.forms,
            people_list,
            _defaults(form, people),
            row_number,
            [("key", mapping.key_column)] if mapping.key_column is not None else [],
            flag_defaults=process_name is not None and not _plain_entry(session.defs.processes[process_name]),
        )

    def fused(headers: list[str]) -> Callable[[], None] | None:
        """Rows convert as the file is read (one pass over it) when every check looks at the cell alone: not
        for references, which join, nor for a list of more than LONG_LIST options or people, which the fused
        conversion compares one by one (staging the file first is cheaper then)."""
        mapping = mapped(headers)
        for spec in (form.fields[name] for name in mapping.fields):
            listed = spec.options if spec.type == "list" else people_list if spec.type == "person" else None
            if spec.type == "ref" or len(listed or ()) > LONG_LIST:
                return None
        return lambda: convert(mapping, None)

    headers, row_number = stage(session, opts, tmp, progress, fused)
    mapping = found["mapping"] if "mapping" in found else mapped(headers)
    key = found["key"]
    present = [form.fields[name] for name in form.fields if name in mapping.fields]
    with watched(conn, "checking", progress):
        if row_number is not None:
            convert(mapping, row_number)
        store.plan(conn, form, key)
    outcome.rows = store.row_count(conn) + len(store.csv_rejects(conn))
    found = _reject_problems(session)
    column_of = {name: headers[index] for name, index in mapping.fields.items()}
    bad_rids: set[int] = set()
    for row, rid, name, text in store.bad_values(conn, mapping.fields):
        spec = form.fields[name]
        target = session.defs.forms.get(spec.form) if spec.form else None
        found.append(Problem(row, column_of[name], text, _value_problem(session, spec, text, people, target)))
        bad_rids.add(rid)
    required = [name for name, spec in form.fields.items() if spec.required]
    missing_columns = [n for n in required if n not in mapping.fields and form.fields[n].default is None]
    for row, rid, name in store.missing(conn, required, creating=True):
        if name in missing_columns:
            continue
        found.append(Problem(row, column_of.get(name, name), None, f"field '{name}' is required"))
        bad_rids.add(rid)
    for row, rid, name in store.missing(conn, [n for n in required if n in mapping.fields], creating=False):
        found.append(Problem(row, column_of[name], None, f"field '{name}' is required and cannot be cleared"))
        bad_rids.add(rid)
    key_column = "key" if key == "key" else column_of.get(key or "", key)
    for row, rid, text, message in store.key_problems(conn, form, key):
        found.append(Problem(row, key_column, text, message))
        bad_rids.add(rid)
    creates = int(conn.execute("SELECT count(*) FROM import_plan WHERE status = 'create'").fetchone()[0])
    if missing_columns and creates:
        names = ", ".join(missing_columns)
        found.append(Problem(None, None, None, f"no column for required field {names}: the {creates} new rows need it"))
    found.sort(key=lambda p: (p.row is not None, p.row or 0))
    outcome.problems = found
    outcome.rejected = len({p.row for p in found if p.row is not None})
    if found and opts.on_error == "abort":
        return
    if missing_columns and creates:
        conn.execute("DELETE FROM import_plan WHERE status = 'create'")
        outcome.rejected += creates
    store.drop_rows(conn, bad_rids)
    counts = store.plan_counts(conn)
    if counts["update"]:
        with watched(conn, "writing", progress):
            outcome.updated = store.apply_updates(conn, form, present, actor=session.actor, now=session.now)
    outcome.created, outcome.unchanged = counts["create"], counts["update"] - outcome.updated
    with watched(conn, "writing", progress):
        store.insert_new(
            conn,
            form,
            [s.id for s in form.fields.values()],
            actor=session.actor,
            now=session.now,
            version=session.version,
            keep_keys=key == "key",
        )
    outcome.keys = store.new_keys(conn, form) if outcome.created <= 10000 else []
    if process_name and outcome.created:
        _enter_process(session, form, process_name, list(mapping.fields))
    if not (outcome.created or outcome.updated):
        return  # an import that changes nothing leaves no trace either
    outcome.import_id = store.record_batch(
        conn,
        {
            "kind": form.name,
            "source": opts.path.name,
            "actor": session.actor,
            "imported_at": session.now,
            "created": outcome.created,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "rejected": outcome.rejected,
        },
        form.name,
    )


def _plain_entry(process: ProcessDef) -> bool:
    """Whether entering the process's initial stage asks for nothing (no approvals, deadline, actions...)."""
    return not any(k in process.stages[process.initial].raw for k in _PLAIN_ENTRY)


def _enter_process(session: Session, form: FormDef, process_name: str, columns: list[str]) -> None:
    """New records enter the process's initial stage: all at once when entering asks for nothing, else each as
    `record create` does (approvals, the responsible person, deadlines, on_enter actions), with the writes of
    all of them made at the end, one statement per table."""
    from crmctl.store.process import Deferred

    process = session.defs.processes[process_name]
    if _plain_entry(process):
        initial = process.initial
        store.enter_plain_stage(session.conn, form, process_name, initial, actor=session.actor, now=session.now)
        return
    deferred = Deferred(form, process_name)
    for row, given in store.new_rows(session.conn, form, columns):  # given: what the row's cells set, as --set
        row["process"], row["stage"] = process_name, None
        enter(session, session.conn, form, row, process, process.initial, given=given, deferred=deferred)
    deferred.flush(session.conn)
