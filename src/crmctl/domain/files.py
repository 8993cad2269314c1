"""Attached files as the rules see them: what a file's bytes are (an image a page may show, or other), the
size limits, and sizes as people read them. No I/O."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

MB = 1024 * 1024
FILE_LIMIT_MB = 25.0  # the Workspace's max_file_mb: the largest one file may be
WORKSPACE_LIMIT_MB = 1024.0  # max_files_mb: all the files of the workspace together, each content once
PREVIEW_LIMIT = 2 * MB  # an image larger than this is listed on a card, not shown

# the first bytes of the image formats every browser shows: an image is known by its content, never its name
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# a fixed table, the same on every machine (the mimetypes module reads the system's own lists)
_BY_SUFFIX = {
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "xml": "application/xml",
    "zip": "application/zip",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "eml": "message/rfc822",
}


def digest(content: bytes) -> str:
    """The SHA-256 of a file's content, in hex: the key its content is stored under, once."""
    return hashlib.sha256(content).hexdigest()


_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Reference:
    """A file an export lists in its crm.files column: its name, size and the SHA-256 of its content (the name
    of its content in the folder `export --with-files` writes)."""

    name: str
    size: int
    sha256: str


def references(text: str) -> list[Reference]:
    """The files a crm.files cell lists (a JSON list of objects with name, size and sha256, as export writes
    it); ValueError saying what is wrong. The hash is checked for its shape: it names a file in a folder."""
    try:
        listed = json.loads(text)
    except ValueError:
        raise ValueError("is not JSON: a list of files (name, size, sha256) as export writes it") from None
    if not isinstance(listed, list):
        raise ValueError("is not a list of files (name, size, sha256) as export writes it")
    found = []
    for item in listed:
        name, size, sha = (item.get(k) for k in ("name", "size", "sha256")) if isinstance(item, dict) else (0, 0, 0)
        if not isinstance(name, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("lists a file without a name and a size in bytes")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ValueError(f"file {name}: its sha256 is not 64 hexadecimal digits")
        problem = check_name(name)
        if problem:
            raise ValueError(problem)
        found.append(Reference(name, size, sha))
    return found


def too_large(name: str, size: int, limit_mb: float) -> str | None:
    """Why one file is over the limit of one file, or None."""
    limit = int(limit_mb * MB)
    if size <= limit:
        return None
    return (
        f"{name} is {human_size(size)}: larger than the limit of one file "
        f"({human_size(limit)}, max_file_mb in crmctl.yaml)"
    )


def over_total(stored: int, added: int, limit_mb: float) -> str | None:
    """Why the workspace's files would be over their limit once `added` bytes join the `stored` ones, or None."""
    total = int(limit_mb * MB)
    if stored + added <= total:
        return None
    return (
        f"the workspace's files would take {human_size(stored + added)}: more than its limit "
        f"({human_size(total)}, max_files_mb in crmctl.yaml)"
    )


def media_type(name: str, content: bytes) -> str:
    """image/png, image/jpeg, image/gif (or image/webp) by the content's first bytes; otherwise a type by the
    name's suffix that is never an image (an image by name but not by content is not trusted as one)."""
    for magic, kind in _IMAGES:
        if content.startswith(magic):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    suffix = name.rpartition(".")[2].lower() if "." in name else ""
    return _BY_SUFFIX.get(suffix, "application/octet-stream")


def is_image(kind: str | None) -> bool:
    return bool(kind) and str(kind).startswith("image/")


def check_name(name: str) -> str | None:
    """Why a file's name cannot be kept, or None. The name is only ever shown, never used as a path."""
    if not name.strip():
        return "a file needs a name"
    if len(name) > 255:
        return "a file's name is at most 255 characters"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return f"the file name {name!r} holds control characters"
    return None


def human_size(size: int) -> str:
    """A size as people read it: 512 B, 1.2 KB, 3.4 MB."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
