"""crmctl export: a form's records, tasks or time intervals as CSV, JSON Lines or Parquet, ready for import."""

from __future__ import annotations

import tempfile
from pathlib import Path

from crmctl.errors import InputError
from crmctl.ops.session import Session
from crmctl.store import imports as store

SUFFIX = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}


def _sql(session: Session, what: str, fmt: str) -> str:
    guard = fmt == "csv"  # spreadsheets open CSV files; JSON and Parquet keep text exactly
    if what in ("tasks", "time"):
        session.require("tasks.view_others", "export everyone's tasks and time")
        return store.task_export_sql(guard) if what == "tasks" else store.time_export_sql(guard)
    form = session.defs.form(what)
    session.require("records.export", f"export {form.name} records", form.name)
    return store.record_export_sql(form, guard)


def _copy(session: Session, sql: str, fmt: str, path: Path, shown: Path) -> None:
    """The query's rows into the file at path, which DuckDB writes itself; `shown` is the name in an error."""
    try:
        store.copy_out(session.conn, sql, path, fmt)
    except Exception as exc:
        if "IO Error" in type(exc).__name__ or "IOException" in type(exc).__name__:
            raise InputError(f"cannot write {shown}: {str(exc).splitlines()[0]}") from None
        raise


def export(session: Session, what: str, fmt: str, out: Path) -> None:
    """Export into the file out, through the safe writer: DuckDB fills a temp file beside it, renamed into place."""
    from crmctl.store.files import replacing

    sql = _sql(session, what, fmt)
    with replacing(out, [session.path]) as temp:
        _copy(session, sql, fmt, temp, out)


def export_text(session: Session, what: str, fmt: str) -> str:
    """The export as text, for stdout (by way of a private temp file)."""
    sql = _sql(session, what, fmt)
    with tempfile.TemporaryDirectory(prefix="crmctl-export-") as tmp:
        path = Path(tmp) / f"export{SUFFIX[fmt]}"
        _copy(session, sql, fmt, path, path)
        return path.read_text(encoding="utf-8")
