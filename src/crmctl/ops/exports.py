"""crmctl export: a form's records, tasks or time intervals as CSV, JSON Lines or Parquet, ready for import;
or the open work as a TaskJuggler project."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from crmctl.errors import InputError
from crmctl.ops import schedule
from crmctl.ops.session import Session
from crmctl.store import imports as import_store

SUFFIX = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}


@dataclass(frozen=True)
class ExportRequest:
    """crmctl export WHAT [--format F] [--out FILE]."""

    what: str  # a form's name, or "tasks", "time", "tjp"
    format: str = "csv"  # csv, json (JSON Lines) or parquet; not used for tjp
    report: str = "crmctl_schedule"  # tjp: the name of the report tj3 writes
    with_files: bool = False  # also the contents of the files the export lists (its crm.files column)


@dataclass(frozen=True)
class Exported:
    """An export's content: the bytes of the file (UTF-8 text but for Parquet)."""

    what: str
    format: str  # csv, json, parquet or tjp
    content: bytes
    files: dict[str, bytes] = field(default_factory=dict)  # sha256 -> content, with with_files


def export(session: Session, request: ExportRequest) -> Exported:
    """The export, whole: the caller writes it to a file or to stdout."""
    if request.what == "tjp":
        text = schedule.export_tjp(session, report=request.report)
        return Exported(request.what, "tjp", text.encode("utf-8"))
    if request.with_files and request.what == "time":
        raise InputError("--with-files: time intervals have no files (export a form's records or tasks)")
    sql = _sql(session, request.what, request.format)
    with tempfile.TemporaryDirectory(prefix="crmctl-export-") as tmp:
        path = Path(tmp) / f"export{SUFFIX[request.format]}"
        _copy(session, sql, request.format, path)
        content = path.read_bytes()
    files = import_store.exported_files(session.conn, sql) if request.with_files else {}
    return Exported(request.what, request.format, content, files)


def _sql(session: Session, what: str, fmt: str) -> str:
    guard = fmt == "csv"  # spreadsheets open CSV files; JSON and Parquet keep text exactly
    if what in ("tasks", "time"):
        session.require("tasks.view_others", "export everyone's tasks and time")
        return import_store.task_export_sql(guard) if what == "tasks" else import_store.time_export_sql(guard)
    form = session.defs.form(what)
    session.require("records.export", f"export {form.name} records", form.name)
    return import_store.record_export_sql(form, guard)


def _copy(session: Session, sql: str, fmt: str, path: Path) -> None:
    """The query's rows into the file at path, which DuckDB writes itself."""
    try:
        import_store.copy_out(session.conn, sql, path, fmt)
    except Exception as exc:
        if "IO Error" in type(exc).__name__ or "IOException" in type(exc).__name__:
            raise InputError(f"cannot write {path}: {str(exc).splitlines()[0]}") from None
        raise
