"""Files a command names, sent to the team server with its request (import, intake mail).

The client reads each file or folder a request names (a folder: the files directly in it) and sends them
under the request's reserved key "$files": {the path as given: {"dir": bool, "files": {name: base64}}}. The
server writes them to a folder of its own for the one request and runs the operation on those copies; the
names stay, so the output names the same files. A request that names a path it did not send is refused: the
server never reads a file of its own machine for a client.

Pure but for the client's reading and the server's writing of those files; nothing heavy is imported."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

from crmctl.errors import NotFound, UsageError

KEY = "$files"
LIMIT = 100 * 1024 * 1024  # bytes of files one request may carry


def named(request: Any) -> list[Path]:
    """The paths a request names: its fields holding a Path, or a list of them."""
    found: list[Path] = []
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if isinstance(value, Path):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += [v for v in value if isinstance(v, Path)]
    return found


def gather(request: Any) -> dict[str, Any]:
    """What the client sends of the files the request names; NotFound for one that is not there, UsageError
    past the size limit."""
    sent: dict[str, Any] = {}
    total = 0
    for path in named(request):
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise NotFound(f"no such file: {path}")
        contents = {}
        for file in files:
            data = file.read_bytes()
            total += len(data)
            if total > LIMIT:
                raise UsageError(f"the files are larger than the server takes in one command ({LIMIT >> 20} MiB)")
            contents[file.name] = base64.b64encode(data).decode("ascii")
        sent[str(path)] = {"dir": path.is_dir(), "files": contents}
    return sent


def place(request: Any, sent: dict[str, Any], folder: Path) -> Any:
    """On the server: the sent files written under `folder`, and the request naming those copies."""
    copies: dict[str, Path] = {}
    for n, (given, entry) in enumerate(sorted(sent.items())):
        home = folder / str(n)
        home.mkdir()
        name = Path(given).name or "upload"
        target = home / name if entry.get("dir") else home
        target.mkdir(exist_ok=True)
        for file_name, data in entry.get("files", {}).items():
            if Path(file_name).name != file_name or file_name in ("", ".", ".."):
                raise UsageError(f"a sent file is named {file_name!r}: a name, not a path")
            try:
                content = base64.b64decode(data, validate=True)
            except (ValueError, TypeError):
                raise UsageError(f"the sent file {file_name!r} is not base64") from None
            (target / file_name).write_bytes(content)
        if entry.get("dir"):
            copies[given] = target
        else:
            files = list(entry.get("files", {}))
            if len(files) != 1:
                raise UsageError(f"{given} was sent as a file but holds {len(files)}")
            copies[given] = target / files[0]
    return _replace(request, copies)


def _replace(request: Any, copies: dict[str, Path]) -> Any:
    def copy(path: Path) -> Path:
        if str(path) not in copies:
            raise UsageError(
                f"{path} was not sent with the request: the server reads no file of its own machine for a client"
            )
        return copies[str(path)]

    changed: dict[str, Any] = {}
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if isinstance(value, Path):
            changed[f.name] = copy(value)
        elif isinstance(value, list) and any(isinstance(v, Path) for v in value):
            changed[f.name] = [copy(v) if isinstance(v, Path) else v for v in value]
    return dataclasses.replace(request, **changed)
