"""crmctl import, export."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmctl.cli.base import (
    FormatOption,
    OutOption,
    call,
    check_output,
    choose_format,
    completes,
    emit,
    formats,
    settings,
    stdin_as_file,
    write_bytes,
    write_file,
)
from crmctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from crmctl.domain.imports import Outcome, Problem
    from crmctl.ops.exports import Exported
    from crmctl.ops.imports import ImportRequest

SHOW_PROBLEMS = 50


class Bar:
    """A progress line on stderr that keeps moving: the phase, how far (a bar, when the database can say) or a
    spinner, the phase's elapsed time, and rows per second while reading (estimated from the file). A thread
    redraws it five times a second, so that a long statement or the commit does not look frozen."""

    SPIN = "|/-\\"

    def __init__(self, path: Path) -> None:
        import threading  # here: only an import on a terminal draws a progress line

        self.started = self.phase_started = time.monotonic()
        self.rows = _estimated_rows(path)
        self.phase, self.percent, self.ticks = "", -1.0, 0
        self.shown = False
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def __call__(self, what: str, percent: float) -> None:
        with self.lock:
            if what != self.phase:
                self.phase, self.phase_started = what, time.monotonic()
            self.percent = percent
            self._draw()

    def _tick(self) -> None:
        while not self.done.wait(0.2):
            with self.lock:
                if self.phase:
                    self.ticks += 1
                    self._draw()

    def _draw(self) -> None:
        now = time.monotonic()
        elapsed = now - self.phase_started
        if self.percent < 0:
            how = f"{self.SPIN[self.ticks % 4]}"
        else:
            filled = int(self.percent / 100 * 30)
            how = f"[{'#' * filled}{'.' * (30 - filled)}] {self.percent:5.1f}%"
        rate = ""
        if self.phase.startswith("reading") and self.percent > 0:
            rate = f"  {self.rows * self.percent / 100 / max(now - self.started, 1e-6):,.0f} rows/s"
        sys.stderr.write(f"\r{self.phase:<28} {how} {elapsed:5.1f}s{rate}\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        self.done.set()
        self.ticker.join()
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def progress_wanted(quiet: bool) -> bool:
    """A progress line only on a terminal, and not with --quiet (the command's or the global one)."""
    return not quiet and not settings().quiet and sys.stderr.isatty()


def _estimated_rows(path: Path) -> int:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            sample = f.read(65536)
    except OSError:
        return 0
    lines = sample.count(b"\n") or 1
    return int(size / (len(sample) / lines)) if sample else 0


def _write_report(path: Path, problems: Sequence[Problem]) -> None:
    from crmctl.render.tables import as_csv, as_json  # here: only with --report

    rows = [p.as_dict() for p in problems]
    columns = [("row", "row"), ("column", "column"), ("value", "value"), ("problem", "problem")]
    text = as_json(rows, columns) if path.suffix.lower() == ".json" else as_csv(rows, columns)
    write_file(path, text)


WhatArgument = Annotated[
    str,
    typer.Argument(
        metavar="FORM|tasks|time", help="The form of the records, or tasks, or time.", autocompletion=completes("form")
    ),
]
ProcessOption = Annotated[
    str | None, typer.Option("--process", "-p", help="Process new records enter.", autocompletion=completes("process"))
]


def import_(
    what: WhatArgument,
    file: Annotated[
        Path, typer.Argument(help="CSV, JSON Lines (.jsonl), JSON, YAML or Parquet file; - reads standard input.")
    ],
    key: Annotated[
        str | None, typer.Option("--key", help="Field that finds an existing record to update (upsert); or key.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything and say what would change.")] = False,
    on_error: Annotated[
        str, typer.Option("--on-error", help="abort: write nothing if any row is bad; skip: write the good rows.")
    ] = "abort",
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every problem to this file (CSV, or JSON by its name).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--map", help="YAML file of `column: field` (column: ~ leaves it out).")
    ] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="File encoding (default: UTF-8, else cp1251).")
    ] = None,
    process: ProcessOption = None,
    files: Annotated[
        Path | None,
        typer.Option(
            "--files", metavar="DIR", help="The folder `export --with-files` wrote: the files to attach again."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, even on a terminal.")] = False,
    output: FormatOption = None,
) -> None:
    """Import records of a form (or tasks, or time intervals) from a file: every row is checked first, all
    problems are reported at once, and the import writes everything or nothing (--on-error skip: the good rows).
    With --key, running the same import twice changes nothing the second time."""
    from crmctl.ops.imports import ImportRequest  # here: the operation's module imports duckdb

    fmt = choose_format(output)
    if report is not None:
        check_output(report)  # before the import writes anything
    with stdin_as_file([file], ".csv") as (path,):
        request = ImportRequest(what, path, key, dry_run, on_error, mapping, delimiter, encoding, process, files)
        outcome = _run_import(request, quiet)
    if report is not None:
        _write_report(report, outcome.problems)
    _show(outcome, fmt, report)
    if outcome.problems and on_error == "abort":
        rows = outcome.rejected
        what_failed = f"{rows} row{'s have' if rows != 1 else ' has'} problems" if rows else "the file has problems"
        raise InputError(f"{what_failed}; nothing was imported")


def _run_import(request: ImportRequest, quiet: bool) -> Outcome:
    """The import, with a progress line on a terminal."""
    import dataclasses

    bar = Bar(request.path) if progress_wanted(quiet) else None
    try:
        outcome: Outcome = call("import", dataclasses.replace(request, progress=bar))
    finally:
        if bar is not None:
            bar.close()
    return outcome


def _show(outcome: Outcome, fmt: str, report: Path | None) -> None:
    """What an import did: as JSON on stdout; or its problems (the first SHOW_PROBLEMS) on stderr and a
    summary line on stdout."""
    if fmt == "json":
        emit(json.dumps(outcome.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    for problem in outcome.problems[:SHOW_PROBLEMS]:
        typer.echo(problem.line(), err=True)
    hidden = len(outcome.problems) - SHOW_PROBLEMS
    if hidden > 0:
        where = f" (all of them are in {report})" if report else " (see them all with --report FILE)"
        typer.echo(f"... and {hidden} more problems{where}", err=True)
    typer.echo(outcome.summary())


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Each file's content as DIR/<sha256>: the export's crm.files column names it; a name given by a person is
    never a path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--with-files: cannot make {folder}: {exc.strerror}") from None
    for sha, content in sorted(files.items()):
        write_bytes(folder / sha, content)


def export(
    what: Annotated[str, typer.Argument(metavar="FORM|tasks|time|tjp", help="A form's records, tasks, time, or tjp.")],
    out: OutOption = None,
    output: Annotated[str | None, formats("csv", "json", "parquet")] = None,
    with_files: Annotated[
        Path | None,
        typer.Option(
            "--with-files", metavar="DIR", help="Also write the attached files to DIR, each named by its SHA-256."
        ),
    ] = None,
) -> None:
    """Write data out: a form's records, tasks or time intervals as csv, json (JSON Lines) or parquet, ready
    for `crmctl import`; `export tjp` gives TaskJuggler (tj3) the open tasks, people, calendars, holidays and
    absences."""
    from crmctl.ops.exports import ExportRequest  # here: the operation's module imports duckdb

    if out is not None:
        check_output(out)
    if what == "tjp" and with_files is not None:
        raise UsageError("--with-files goes with a form's records or tasks, not tjp")
    if what == "tjp":
        request = ExportRequest(what, report=(out.stem if out else "crmctl") + "_schedule")
    else:
        fmt = choose_format(output)
        if fmt == "parquet" and out is None:
            raise UsageError("--format parquet needs --out FILE (Parquet is binary)")
        request = ExportRequest(what, format=fmt, with_files=with_files is not None)
    exported: Exported = call("export", request)
    if with_files is not None:
        _write_files(with_files, exported.files)
    if out is None:
        emit(exported.content.decode("utf-8"))
    else:
        write_bytes(out, exported.content)
