"""Files attached to records, tasks and projects: attach, list (a project's whole tree too), get the bytes,
delete to the archive. Each content is stored once by its SHA-256; the name is kept as given and only shown.

Attaching takes what changing the owner takes (records.update on a record's form, reading a task as for
`task comment`, tasks.add on a project); listing and getting what reading it takes; deleting takes
files.delete besides. It sits just above the look-ups: records (the card), mail (attachments of messages)
and exports use it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crmctl.domain import files as domain
from crmctl.domain.events import Event
from crmctl.domain.shapes import column
from crmctl.errors import InputError, NotFound
from crmctl.ops.lookups import get_task, locate, require_reading
from crmctl.ops.session import Session
from crmctl.store import attachments as file_store
from crmctl.store import projects as project_store
from crmctl.store import records as record_store


@dataclass(frozen=True)
class Owner:
    """What files are attached to: a record (CL-3), a task (T-4) or a project (P-2), and the record its
    events go on (a task's or project's record, if it has one)."""

    key: str
    kind: str  # record, task, project
    record: str | None
    form: str | None


def owner_of(session: Session, key: str, *, change: bool) -> Owner:
    """The record, task or project a key names (a record first: a form may use the prefix T or P), checked
    for reading it, or for changing it when `change`."""
    text = key.strip().upper()
    prefix, _, number = text.partition("-")
    if record_store.form_of(session.conn, text) is None and prefix in ("T", "P") and number.isdigit():
        if prefix == "T":
            task = get_task(session, text)
            require_reading(session, task)
            return Owner(task["id"], "task", task["record"], _form(session, task["record"]))
        project = project_store.project(session.conn, text)
        if project is None:
            raise NotFound(f"no project {text}")
        if change:
            session.require("tasks.add", "add tasks", record=project["record"])
        else:
            session.require("tasks.read", "read tasks", record=project["record"])
        return Owner(project["id"], "project", project["record"], _form(session, project["record"]))
    form, row = locate(session, text)
    if change:
        session.require("records.update", f"change {form.name} records", form.name, row["key"])
    else:
        session.require("records.read", f"read {form.name} records", form.name, row["key"])
    return Owner(row["key"], "record", row["key"], form.name)


def _form(session: Session, record: str | None) -> str | None:
    return record_store.form_of(session.conn, record) if record else None


@dataclass(frozen=True)
class NewFile:
    """A file to attach: its name as given (only ever shown) and its bytes."""

    name: str
    content: bytes


@dataclass(frozen=True)
class FileRow:
    """An attached file: a row of `files`, and what `attach` and `file delete` give."""

    id: int = column()
    owner: str = column()  # the record key, task or project id it is attached to
    name: str = column()
    size: int = column()  # bytes
    media_type: str = column("type")
    sha256: str = column(table=False)
    added_at: dt.datetime = column("added")
    added_by: str | None = column("by")
    source: str | None = column(table=False)  # how it came: attach, mail
    deleted_at: dt.datetime | None = column(table=False)


def _row(found: dict[str, Any]) -> FileRow:
    return FileRow(**found)


@dataclass(frozen=True)
class AttachRequest:
    key: str  # a record key, a task id (T-3) or a project id (P-2)
    files: list[NewFile]


def attach(session: Session, request: AttachRequest) -> list[FileRow]:
    """Attach files to a record, a task or a project; their contents are stored once each."""
    if not request.files:
        raise InputError("give at least one file to attach")
    owner = owner_of(session, request.key, change=True)
    with session.transaction() as conn:
        ids = attach_in(session, conn, owner, request.files, "attach")
    return [_row(f) for f in file_store.files(session.conn, [owner.key]) if f["id"] in ids]


def attach_in(session: Session, conn: Any, owner: Owner, new: list[NewFile], source: str) -> list[int]:
    """Attach files inside the caller's transaction, within the size limits; an event on the owner's record.
    InputError (and nothing written) when a file is too large or the workspace's files would be."""
    contents = {domain.digest(f.content): f.content for f in new}
    known = file_store.content_sizes(conn, contents).keys()
    fresh = {sha: content for sha, content in contents.items() if sha not in known}
    _check(session, conn, new, sum(len(c) for c in fresh.values()))
    file_store.add_contents(conn, fresh)
    ids = []
    for f in new:
        sha = domain.digest(f.content)
        row = {
            "owner": owner.key,
            "name": f.name,
            "size": len(f.content),
            "media_type": domain.media_type(f.name, f.content),
            "sha256": sha,
            "added_at": session.now,
            "added_by": session.actor,
            "source": source,
        }
        ids.append(file_store.add_file(conn, row))
        data = {owner.kind: owner.key, "file": ids[-1], "name": f.name, "size": len(f.content)}
        record_store.add_event(
            conn, session.now, session.actor, Event.FILE_ATTACHED, record=owner.record, form=owner.form, data=data
        )
    return ids


def _check(session: Session, conn: Any, new: list[NewFile], added: int) -> None:
    """InputError for a name that cannot be kept, a file over the limit of one, or the workspace's files over
    theirs once `added` bytes of new contents are stored."""
    for f in new:
        problem = domain.check_name(f.name) or domain.too_large(f.name, len(f.content), session.defs.max_file_mb)
        if problem:
            raise InputError(problem)
    problem = domain.over_total(file_store.stored_size(conn), added, session.defs.max_files_mb)
    if problem:
        raise InputError(problem)


@dataclass(frozen=True)
class FilesRequest:
    key: str  # a record key, a task id or a project id
    tree: bool = False  # a project's files with those of its subprojects and their tasks
    archived: bool = False  # deleted files too


def files(session: Session, request: FilesRequest) -> list[FileRow]:
    """The files attached to a record, a task or a project (with --tree, a project's whole library)."""
    owner = owner_of(session, request.key, change=False)
    owners = [owner.key]
    if request.tree:
        if owner.kind != "project":
            raise InputError(f"--tree lists a project's files; {owner.key} is a {owner.kind}")
        tree = project_store.project_tree(session.conn, owner.key)
        tasks = project_store.tasks(session.conn, projects=tree)
        owners = [*tree, *(t["id"] for t in tasks if session.may_read_task(t))]
    return [_row(f) for f in file_store.files(session.conn, owners, deleted=request.archived)]


def card_files(session: Session, key: str, previews: bool) -> list[CardFile]:
    """The files of a record as its card shows them: images with their bytes when previews are wanted."""
    found = file_store.files(session.conn, [key])
    shown = [f for f in found if previews and domain.is_image(f["media_type"]) and f["size"] <= domain.PREVIEW_LIMIT]
    data = file_store.contents(session.conn, {f["sha256"] for f in shown})
    wanted = {f["id"] for f in shown}
    return [
        CardFile(f["id"], f["name"], f["size"], f["media_type"], data[f["sha256"]] if f["id"] in wanted else None)
        for f in found
    ]


@dataclass(frozen=True)
class CardFile:
    """A file on a record's card: an image's bytes come along for the HTML card's thumbnail."""

    id: int
    name: str
    size: int
    media_type: str
    preview: bytes | None = field(default=None, metadata={"json": False})


@dataclass(frozen=True)
class FileGetRequest:
    id: int  # the file's id (from `crmctl files KEY`)


@dataclass(frozen=True)
class FileContent:
    """A file's bytes with its name and type."""

    file: FileRow
    content: bytes


def _found(session: Session, file_id: int) -> dict[str, Any]:
    found = file_store.file(session.conn, file_id)
    if found is None:
        raise NotFound(f"no file {file_id}")
    return found


def get(session: Session, request: FileGetRequest) -> FileContent:
    """A file's bytes (a deleted one's too: the archive keeps them)."""
    found = _found(session, request.id)
    owner_of(session, found["owner"], change=False)
    return FileContent(_row(found), file_store.content(session.conn, found["sha256"]))


@dataclass(frozen=True)
class FileDeleteRequest:
    id: int  # the file's id


def delete(session: Session, request: FileDeleteRequest) -> FileRow:
    """Move a file to the archive: it leaves its record's, task's or project's list; its bytes are kept."""
    found = _found(session, request.id)
    owner = owner_of(session, found["owner"], change=True)
    session.require("files.delete", "delete attached files", owner.form, owner.record)
    if found["deleted_at"] is not None:
        raise InputError(f"file {request.id} is deleted already")
    with session.transaction() as conn:
        file_store.delete_file(conn, request.id, session.now, session.actor)
        data = {owner.kind: owner.key, "file": request.id, "name": found["name"]}
        record_store.add_event(
            conn, session.now, session.actor, Event.FILE_DELETED, record=owner.record, form=owner.form, data=data
        )
    return _row(_found(session, request.id))
