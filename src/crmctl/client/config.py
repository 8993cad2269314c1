"""Which server the command line talks to, and with which token.

A server is chosen by CRMCTL_SERVER, else by `server:` in the workspace's crmctl.yaml, else by the last
`crmctl login` when no local workspace is found (no --db, no --workspace, no crmctl.yaml upwards). The token
comes from CRMCTL_TOKEN, else from the credentials file that `crmctl login` writes:
$XDG_CONFIG_HOME/crmctl/credentials.json (~/.config/crmctl/...), mode 0600, refused (as ssh refuses a key)
when anyone but its owner may read or write it.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crmctl.errors import InputError, Unauthorized, UsageError


@dataclass(frozen=True)
class Server:
    url: str  # https://crm.example.com:8765, without a trailing slash
    token: str
    ca_file: str | None = None  # a CA bundle (or the server's own certificate) to trust, for https


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crmctl" / "credentials.json"


def normal_url(url: str) -> str:
    """The server's URL as the credentials file keys it: scheme://host:port, no path or trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"'{url}' is not a server URL (http://host:port or https://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError(f"'{url}': give the server's address only, scheme://host:port")
    return f"{parts.scheme}://{parts.netloc}"


def read() -> dict[str, Any]:
    """The credentials file's content ({} when there is none); refused when others may read or change it."""
    path = credentials_path()
    try:
        info = path.lstat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file")
    if info.st_mode & 0o077:
        raise InputError(f"{path} may be read by others (mode {stat.S_IMODE(info.st_mode):o}): chmod 600 it")
    if info.st_uid != os.getuid():
        raise InputError(f"{path} belongs to someone else")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a credentials file crmctl wrote: {exc}") from None
    return data if isinstance(data, dict) else {}


def write(data: dict[str, Any]) -> Path:
    """The credentials file, written whole: mode 0600 from its first byte, then renamed into place."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def chosen(local_workspace: bool, workspace_server: str | None = None) -> Server | None:
    """The server this command talks to, or None to work on the local workspace."""
    url = os.environ.get("CRMCTL_SERVER", "").strip() or (workspace_server or "").strip()
    data: dict[str, Any] | None = None
    if not url:
        if local_workspace:
            return None
        data = read()
        url = str(data.get("default") or "")
        if not url:
            return None
    url = normal_url(url)
    token = os.environ.get("CRMCTL_TOKEN", "").strip()
    entry: dict[str, Any] = {}
    if not token:
        data = read() if data is None else data
        entry = data.get("servers", {}).get(url, {})
        token = str(entry.get("token") or "")
    if not token:
        raise Unauthorized(f"no token for {url}: run `crmctl login {url}` (or set CRMCTL_TOKEN)")
    return Server(url, token, os.environ.get("CRMCTL_CA_FILE") or entry.get("ca_file"))
