"""Attached files as the rules see them: what a file's bytes are (an image a page may show, or other), the
size limits, and sizes as people read them. No I/O."""

from __future__ import annotations

import hashlib

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
