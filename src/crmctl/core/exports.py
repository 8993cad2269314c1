"""crmctl export: a form's records, tasks or time intervals as CSV, JSON Lines or Parquet, ready for import."""

from __future__ import annotations

import tempfile
from pathlib import Path

from crmctl.core.session import Session
from crmctl.errors import InputError
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


def export(session: Session, what: str, fmt: str, out: Path) -> None:
    sql = _sql(session, what, fmt)
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: no folder {out.parent}")
    try:
        store.copy_out(session.conn, sql, out, fmt)
    except Exception as exc:
        if "IO Error" in type(exc).__name__ or "IOException" in type(exc).__name__:
            raise InputError(f"cannot write {out}: {str(exc).splitlines()[0]}") from None
        raise


def export_text(session: Session, what: str, fmt: str) -> str:
    """The export as text, for stdout."""
    with tempfile.TemporaryDirectory(prefix="crmctl-export-") as tmp:
        path = Path(tmp) / f"export{SUFFIX[fmt]}"
        export(session, what, fmt, path)
        return path.read_text(encoding="utf-8")
