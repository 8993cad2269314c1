"""The files an import attaches. An export's crm.files column lists, per record (or task), its files by name,
size and SHA-256; importing that file gives each record or task those files again. Each content comes from
the workspace, when it is stored there already, or from the folder `export --with-files DIR` wrote (`import
--files DIR`), where it is named by its hash: read once, checked against its size and hash. A row whose files
cannot be had is a problem of that row, like a bad value. Once the rows are written each record or task gets
the files it lacks (a file of the same name and content attached already counts: importing twice attaches
nothing the second time), within the size limits, with the events `attach` writes.

Beneath crmctl.ops.imports and crmctl.ops.workimports; above attachments."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.domain import files as domain
from crmctl.domain.imports import FILES_COLUMN, Problem
from crmctl.domain.model import FormDef
from crmctl.errors import UsageError
from crmctl.ops.attachments import NewFile, Owner, attach_in
from crmctl.ops.session import Session
from crmctl.store import attachments as file_store


@dataclass
class Planned:
    """What the check found: the files each good row (by rid) lists, the contents read from the folder, and
    the problems with the rows they reject."""

    column: str  # the file's name for the crm.files column
    refs: dict[int, list[domain.Reference]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)  # sha256 -> content read from the folder
    problems: list[Problem] = field(default_factory=list)
    bad_rids: set[int] = field(default_factory=set)

    def reject(self, row: int, rid: int, value: str | None, message: str) -> None:
        self.problems.append(Problem(row, self.column, value, message))
        self.bad_rids.add(rid)


def no_column(path: Path) -> UsageError:
    """--files given for a file that lists no files."""
    return UsageError(f"--files: {path.name} has no {FILES_COLUMN} column naming files to attach")


def check(session: Session, listed: list[tuple[int, int, str]], folder: Path | None, column: str) -> Planned:
    """Every row's list of files (row, rid, the cell's text) checked: each file within the limit of one, its
    content in the workspace or in the folder, of the size and hash listed; and all the new contents together
    within the workspace's limit."""
    planned = Planned(column)
    parsed: dict[int, tuple[int, list[domain.Reference]]] = {}
    for row, rid, text in listed:
        try:
            parsed[rid] = (row, domain.references(text))
        except ValueError as exc:
            planned.reject(row, rid, text, str(exc))
    stored = file_store.content_sizes(session.conn, {r.sha256 for _, refs in parsed.values() for r in refs})
    for rid, (row, refs) in parsed.items():
        problems = [p for ref in refs if (p := _problem(session, ref, stored, folder, planned.contents))]
        for problem in problems:
            planned.reject(row, rid, None, problem)
        if not problems:
            planned.refs[rid] = refs
    added = sum(len(c) for c in planned.contents.values())
    over = domain.over_total(file_store.stored_size(session.conn), added, session.defs.max_files_mb)
    if over:
        planned.problems.append(Problem(None, column, None, over))
    return planned


def _problem(
    session: Session, ref: domain.Reference, stored: dict[str, int], folder: Path | None, read: dict[str, bytes]
) -> str | None:
    """What is wrong with one listed file, or None; a content read from the folder is kept in `read`."""
    large = domain.too_large(ref.name, ref.size, session.defs.max_file_mb)
    if large:
        return large
    if ref.sha256 in stored or ref.sha256 in read:
        size = stored[ref.sha256] if ref.sha256 in stored else len(read[ref.sha256])
        return None if size == ref.size else f"file {ref.name}: its content is {size} bytes, not {ref.size}"
    if folder is None:
        return (
            f"file {ref.name}: its content ({ref.sha256[:12]}...) is not in this workspace; give the folder "
            "`export --with-files` wrote: --files DIR"
        )
    path = folder / ref.sha256  # a name of 64 hexadecimal digits (domain.references): never a path elsewhere
    try:
        size = path.stat().st_size
        content = path.read_bytes() if size == ref.size else b""
    except FileNotFoundError:
        return f"file {ref.name}: the folder {folder.name} has no file {ref.sha256}"
    except OSError as exc:
        return f"file {ref.name}: cannot read {folder.name}/{ref.sha256}: {exc.strerror or exc}"
    if size != ref.size:
        return f"file {ref.name}: {folder.name}/{ref.sha256} is {size} bytes, not {ref.size}"
    if domain.digest(content) != ref.sha256:
        return f"file {ref.name}: the content of {folder.name}/{ref.sha256} does not match its SHA-256"
    read[ref.sha256] = content
    return None


def record_owners(keys: dict[int, str], form: FormDef) -> dict[int, Owner]:
    """rid -> the record each row of a records import was written to."""
    return {rid: Owner(key, "record", key, form.name) for rid, key in keys.items()}


def attach(session: Session, conn: Any, planned: Planned, owners: dict[int, Owner]) -> int:
    """Attach to each record or task written (owners: rid -> what the row was written to) the files its row
    lists that it lacks; returns how many were attached."""
    wanted = {owners[rid]: refs for rid, refs in planned.refs.items() if rid in owners}
    present = Counter((f["owner"], f["name"], f["sha256"]) for f in file_store.files(conn, [o.key for o in wanted]))
    missing: dict[Owner, list[domain.Reference]] = {}
    for owner, refs in wanted.items():
        for ref in refs:
            if present[(owner.key, ref.name, ref.sha256)]:
                present[(owner.key, ref.name, ref.sha256)] -= 1  # attached already: the same name and content
            else:
                missing.setdefault(owner, []).append(ref)
    needed = {ref.sha256 for refs in missing.values() for ref in refs} - set(planned.contents)
    contents = {**file_store.contents(conn, needed), **planned.contents}
    for owner, refs in missing.items():
        attach_in(session, conn, owner, [NewFile(ref.name, contents[ref.sha256]) for ref in refs], "import")
    return sum(len(refs) for refs in missing.values())
