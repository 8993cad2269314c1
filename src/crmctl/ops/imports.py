"""crmctl import: a whole file checked against a form in DuckDB, then written in one transaction or not at all.

The operation `import_file` imports records of a form here, and tasks or time by way of crmctl.ops.workimports.
A records import goes in phases: the file staged and its columns mapped to the form's fields (crmctl.ops.staging),
every value converted and checked in SQL (crmctl.store.imports), the files an export's crm.files column lists
found and checked (crmctl.ops.importfiles), the problems gathered, then the good rows written: updates, new
records, their entry into the process, their files, and the import's own row.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.domain.imports import FILES_COLUMN, Mapping_, Outcome, Problem, map_columns
from crmctl.domain.model import FormDef, ProcessDef
from crmctl.domain.values import FieldSpec, convert
from crmctl.errors import InputError, UsageError
from crmctl.ops import importfiles, workimports
from crmctl.ops.lookups import people_of
from crmctl.ops.session import Session
from crmctl.ops.staging import Progress, Source, read_map, stage
from crmctl.store import imports as import_store
from crmctl.store.process import Deferred

_PLAIN_ENTRY = ("approvals", "due_in", "on_enter", "responsible", "skip_when")
LONG_LIST = 100  # options or people: a cell compared with each costs more than staging the file beyond this


@dataclass(frozen=True)
class ImportRequest:
    """crmctl import WHAT FILE [options]."""

    what: str  # a form's name, or "tasks", or "time"
    path: Path  # the file to import
    key: str | None = None  # the field that finds an existing record to update (upsert), or "key"
    dry_run: bool = False
    on_error: str = "abort"  # abort: write nothing if any row is bad; skip: write the good rows
    mapping: Path | None = None  # a YAML file of `file column: field` (or ~ to leave the column out)
    delimiter: str | None = None  # a CSV file's; None: the header line's
    encoding: str | None = None  # None: UTF-8, else cp1251
    process: str | None = None  # the process new records enter
    files: Path | None = None  # the folder `export --with-files` wrote: contents the crm.files column names
    # told how far each step is; the caller's own (metadata "local": never sent to a server)
    progress: Progress | None = field(default=None, compare=False, metadata={"local": True})

    @property
    def source(self) -> Source:
        return Source(self.path, self.delimiter, self.encoding, self.progress)


def import_file(session: Session, request: ImportRequest) -> Outcome:
    """Import a file of records of a form, or of tasks, or of time intervals: every row checked first, then
    everything written or nothing (with on_error "skip": the good rows)."""
    if request.files is not None and request.what == "time":
        raise UsageError("--files goes with records or tasks, not time")
    if request.files is not None and not request.files.is_dir():
        raise InputError(f"--files {request.files}: not a folder (give the one `export --with-files` wrote)")
    if request.what == "tasks":
        source, dry_run, on_error = request.source, request.dry_run, request.on_error
        return workimports.import_tasks(session, source, dry_run=dry_run, on_error=on_error, files=request.files)
    if request.what == "time":
        return workimports.import_time(session, request.source, dry_run=request.dry_run, on_error=request.on_error)
    return import_records(session, request)


class _DryRun(Exception):
    pass


@dataclass
class _Job:
    """A records import under way: what its phases share."""

    session: Session
    form: FormDef
    request: ImportRequest
    process: str | None  # the process new records enter
    people: set[str] | None  # the team's people (None: no team, any name goes)
    renames: dict[str, str | None]  # the --map file's
    mapping: Mapping_ | None = None  # file columns -> fields, once the header is read
    key: str | None = None  # what finds the record a row updates (see _choose_key)
    files: importfiles.Planned | None = None  # the files the rows list (an export's crm.files column)

    @property
    def people_list(self) -> list[str] | None:
        return sorted(self.people) if self.people is not None else None

    @property
    def progress(self) -> Progress | None:
        return self.request.progress


@dataclass
class _Checked:
    """What the checks found: the problems, the rows they reject, and required fields the file has no column
    for (which every new row then lacks)."""

    problems: list[Problem] = field(default_factory=list)
    bad_rids: set[int] = field(default_factory=set)
    missing_columns: list[str] = field(default_factory=list)
    creates: int = 0  # rows planned to create a record


def import_records(session: Session, request: ImportRequest) -> Outcome:
    """Check every row of the file against the form; write them all (or, with skip, the good ones)."""
    form = session.defs.form(request.what)
    session.require("records.import", f"import {form.name} records", form.name)
    if request.on_error not in ("abort", "skip"):
        raise UsageError(f"--on-error must be abort or skip, not '{request.on_error}'")
    from crmctl.ops.process import choose_process  # here: start-up; a task or time import enters no process

    process = choose_process(session, form, request.process)
    job = _Job(session, form, request, process, people_of(session), {})
    outcome = Outcome(source=request.path.name, dry_run=request.dry_run)
    with tempfile.TemporaryDirectory(prefix="crmctl-import-") as tmp:
        try:
            with session.transaction():
                _import(job, tmp, outcome)
                if request.dry_run or (outcome.problems and request.on_error == "abort"):
                    raise _DryRun
                _tell(job, "committing")  # the transaction ends here: its commit can take a while
        except _DryRun:
            pass
    return outcome


def _tell(job: _Job, phase: str) -> None:
    """A phase whose progress cannot be measured has begun (the progress line shows it with its time)."""
    if job.progress is not None:
        job.progress(phase, -1.0)


def _import(job: _Job, tmp: str, outcome: Outcome) -> None:
    job.renames = read_map(job.request.mapping)
    headers, mapping = _stage_and_convert(job, tmp)
    checked = _check(job, mapping, headers)
    outcome.rows = import_store.row_count(job.session.conn) + len(import_store.csv_rejects(job.session.conn))
    outcome.problems = checked.problems
    outcome.rejected = len({p.row for p in checked.problems if p.row is not None})
    if checked.problems and job.request.on_error == "abort":
        return
    _write(job, mapping, checked, outcome)


# -- staging and converting ------------------------------------------------------------------------------------


def _map(job: _Job, headers: list[str]) -> Mapping_:
    """The file's columns mapped to the form's fields (InputError when they do not fit), and the key chosen."""
    mapping, problems = map_columns(headers, job.form.fields, job.renames)
    if problems:
        raise InputError(
            f"{job.request.path.name}: the columns do not fit form {job.form.name}; nothing was imported",
            details=[p.line() for p in problems],
        )
    job.mapping, job.key = mapping, _choose_key(job.form, mapping, job.request.key)
    return mapping


def _convert(job: _Job, mapping: Mapping_, row_number: str | None) -> None:
    """import_rows from import_src: every field's value converted, or the text that does not fit."""
    session, form = job.session, job.form
    extra = [("key", mapping.key_column), (FILES_COLUMN, mapping.files_column)]
    import_store.convert_rows(
        session.conn,
        [(spec, mapping.fields.get(name)) for name, spec in form.fields.items()],
        session.defs.forms,
        job.people_list,
        _defaults(form, job.people),
        row_number,
        [(name, index) for name, index in extra if index is not None],
        flag_defaults=job.process is not None and not _plain_entry(session.defs.processes[job.process]),
    )


def _fused(job: _Job, headers: list[str]) -> Callable[[], None] | None:
    """Rows convert as the file is read (one pass over it) when every check looks at the cell alone: not for
    references, which join, nor for a list of more than LONG_LIST options or people, which the fused
    conversion compares one by one (staging the file first is cheaper then)."""
    mapping = _map(job, headers)
    people = job.people_list
    for spec in (job.form.fields[name] for name in mapping.fields):
        listed = spec.options if spec.type == "list" else people if spec.type == "person" else None
        if spec.type == "ref" or len(listed or ()) > LONG_LIST:
            return None
    return lambda: _convert(job, mapping, None)


def _stage_and_convert(job: _Job, tmp: str) -> tuple[list[str], Mapping_]:
    """Stage the file, map its columns, convert its rows and plan what each does; returns the header and the
    mapping."""
    conn = job.session.conn
    headers, row_number = stage(job.session, job.request.source, tmp, lambda names: _fused(job, names))
    mapping = job.mapping if job.mapping is not None else _map(job, headers)
    with import_store.watched(conn, "checking", job.progress):
        if row_number is not None:
            _convert(job, mapping, row_number)
        import_store.plan(conn, job.form, job.key)
    return headers, mapping


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


# -- checking --------------------------------------------------------------------------------------------------


def _check(job: _Job, mapping: Mapping_, headers: list[str]) -> _Checked:
    """Every problem of the staged rows, in the order of the file (problems of the whole file first)."""
    checked = _Checked(problems=_reject_problems(job.session))
    column_of = {name: headers[index] for name, index in mapping.fields.items()}
    _check_values(job, mapping, column_of, checked)
    _check_required(job, mapping, column_of, checked)
    key_column = "key" if job.key == "key" else column_of.get(job.key or "", job.key)
    for row, rid, text, message in import_store.key_problems(job.session.conn, job.form, job.key):
        checked.problems.append(Problem(row, key_column, text, message))
        checked.bad_rids.add(rid)
    _check_unique(job, mapping, column_of, checked)
    _check_files(job, mapping, headers, checked)
    checked.creates = import_store.plan_counts(job.session.conn)["create"]
    if checked.missing_columns and checked.creates:
        names = ", ".join(checked.missing_columns)
        message = f"no column for required field {names}: the {checked.creates} new rows need it"
        checked.problems.append(Problem(None, None, None, message))
    checked.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return checked


def _check_unique(job: _Job, mapping: Mapping_, column_of: dict[str, str], checked: _Checked) -> None:
    """A problem for every row whose values of a unique set of fields (all of them columns of the file) are
    another record's, or an earlier row's."""
    for fields in job.form.unique:
        if all(name in mapping.fields for name in fields):
            for row, rid, text, message in import_store.unique_problems(job.session.conn, job.form, fields):
                checked.problems.append(Problem(row, column_of[fields[0]], text, message))
                checked.bad_rids.add(rid)


def _check_files(job: _Job, mapping: Mapping_, headers: list[str], checked: _Checked) -> None:
    """The files each row lists in an export's crm.files column: their contents in the workspace or in the
    --files folder, whole (crmctl.ops.importfiles)."""
    if mapping.files_column is None:
        if job.request.files is not None:
            raise importfiles.no_column(job.request.path)
        return
    listed = import_store.listed_files(job.session.conn)
    job.files = importfiles.check(job.session, listed, job.request.files, headers[mapping.files_column])
    checked.problems += job.files.problems
    checked.bad_rids |= job.files.bad_rids


def _reject_problems(session: Session) -> list[Problem]:
    """The rows the CSV reader could not split into the header's columns."""
    found = []
    for r in import_store.csv_rejects(session.conn):
        counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", r["message"])
        if counts:
            expected, got = counts.groups()
            message = f"has {got} column{'s' if got != '1' else ''} where the header has {expected}"
        else:
            message = r["message"].splitlines()[0]
        found.append(Problem(r["row"], None, r["text"], message))
    return found


def _check_values(job: _Job, mapping: Mapping_, column_of: dict[str, str], checked: _Checked) -> None:
    """A problem for every value that does not fit its field."""
    session = job.session
    for row, rid, name, text in import_store.bad_values(session.conn, mapping.fields):
        spec = job.form.fields[name]
        target = session.defs.forms.get(spec.form) if spec.form else None
        problem = _value_problem(session, spec, text, job.people, target)
        checked.problems.append(Problem(row, column_of[name], text, problem))
        checked.bad_rids.add(rid)


def _value_problem(
    session: Session, spec: FieldSpec, text: str, people: set[str] | None, target: FormDef | None
) -> str:
    """The words record create would use for a value that does not fit."""
    if spec.type == "ref" and target is not None:
        title = target.display_field or "title"
        found = import_store.title_matches(session.conn, target, text)
        if found > 1:
            return f"{found} {spec.form} records have {title} '{text}': give the key instead"
        return f"no {spec.form} record with key or {title} '{text}'"
    try:
        convert(spec, text, people=people)
    except ValueError as exc:
        return str(exc)
    return f"is not a valid {spec.type}"


def _check_required(job: _Job, mapping: Mapping_, column_of: dict[str, str], checked: _Checked) -> None:
    """A problem for every required field left empty: on a new record, or cleared on one updated. A required
    field without a column nor a default is one problem of the file, not one per row."""
    conn, fields = job.session.conn, job.form.fields
    required = [name for name, spec in fields.items() if spec.required]
    checked.missing_columns = [n for n in required if n not in mapping.fields and fields[n].default is None]
    for row, rid, name in import_store.missing(conn, required, creating=True):
        if name in checked.missing_columns:
            continue
        checked.problems.append(Problem(row, column_of.get(name, name), None, f"field '{name}' is required"))
        checked.bad_rids.add(rid)
    for row, rid, name in import_store.missing(conn, [n for n in required if n in mapping.fields], creating=False):
        message = f"field '{name}' is required and cannot be cleared"
        checked.problems.append(Problem(row, column_of[name], None, message))
        checked.bad_rids.add(rid)


# -- writing ---------------------------------------------------------------------------------------------------


def _write(job: _Job, mapping: Mapping_, checked: _Checked, outcome: Outcome) -> None:
    """Write the good rows: updates, then new records (and their entry into the process), then the import's
    row; an import that changes nothing writes nothing."""
    session, form = job.session, job.form
    conn = session.conn
    if checked.missing_columns and checked.creates:
        import_store.drop_creates(conn)
        outcome.rejected += checked.creates
    import_store.drop_rows(conn, checked.bad_rids)
    counts = import_store.plan_counts(conn)
    if counts["update"]:
        present = [form.fields[name] for name in form.fields if name in mapping.fields]
        with import_store.watched(conn, "writing", job.progress):
            outcome.updated = import_store.apply_updates(conn, form, present, actor=session.actor, now=session.now)
    outcome.created, outcome.unchanged = counts["create"], counts["update"] - outcome.updated
    with import_store.watched(conn, "writing", job.progress):
        fields = [s.id for s in form.fields.values()]
        now, version = session.now, session.version
        import_store.insert_new(
            conn, form, fields, actor=session.actor, now=now, version=version, keep_keys=job.key == "key"
        )
    outcome.keys = import_store.new_keys(conn, form) if outcome.created <= 10000 else []
    if job.process and outcome.created:
        _tell(job, "launching stage actions")
        _enter_process(session, form, job.process, list(mapping.fields))
    if job.files is not None:
        keys = import_store.planned_keys(conn, form)
        outcome.files = importfiles.attach(session, conn, job.files, importfiles.record_owners(keys, form))
    if not (outcome.created or outcome.updated or outcome.files):
        return  # an import that changes nothing leaves no trace either
    actor, now = session.actor, session.now
    outcome.import_id = import_store.record_batch(conn, form.name, outcome, actor=actor, now=now, form=form.name)


def _plain_entry(process: ProcessDef) -> bool:
    """Whether entering the process's initial stage asks for nothing (no approvals, deadline, actions...)."""
    return not any(k in process.stages[process.initial].raw for k in _PLAIN_ENTRY)


def _enter_process(session: Session, form: FormDef, process_name: str, columns: list[str]) -> None:
    """New records enter the process's initial stage: all at once when entering asks for nothing, else each as
    `record create` does (approvals, the responsible person, deadlines, on_enter actions), with the writes of
    all of them made at the end, one statement per table."""
    process = session.defs.processes[process_name]
    if _plain_entry(process):
        initial = process.initial
        import_store.enter_plain_stage(session.conn, form, process_name, initial, actor=session.actor, now=session.now)
        return
    from crmctl.ops.process import enter  # here: start-up, as in import_records

    deferred = Deferred(form, process_name)
    for row, given in import_store.new_rows(session.conn, form, columns):  # given: what the row's cells set, as --set
        row["process"], row["stage"] = process_name, None
        enter(session, session.conn, form, row, process, process.initial, given=given, deferred=deferred)
    deferred.flush(session.conn)
