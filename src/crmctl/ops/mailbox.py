"""E-mail from a real mailbox: an intake rule's `mailbox:` (IMAP), fetched once by `crmctl intake mail --rule
NAME` or on every round of the team server's scheduler.

    mailbox: imaps://crm@mail.example.com/INBOX      # imaps:// (TLS, port 993) or imap:// (STARTTLS, 143)
    password_env: CRMCTL_IMAP_PASSWORD               # or password_file: /etc/crmctl/imap-password (0600)
    ca_file: /etc/crmctl/mail-ca.pem                 # optional: trust a private CA
    move_to: Taken                                   # optional: move taken messages there

Only messages without the keyword $CrmctlTaken are fetched; a taken message gets that keyword (and \\Seen), or
is moved to `move_to`. It is marked once it is in the database, so a message fetched again after a crash is a
duplicate by its Message-ID, never a second record."""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from crmctl.errors import Environment, InputError

TAKEN = "$CrmctlTaken"
TIMEOUT = 60.0
BATCH = 200  # messages fetched in one go; the rest wait for the next fetch


def secret(settings: dict[str, Any], where: str) -> str | None:
    """A password named by `password_env` (an environment variable) or `password_file` (a file only its owner
    may read; its first line): never written in YAML itself."""
    if settings.get("password_env"):
        name = str(settings["password_env"])
        if name not in os.environ:
            raise InputError(f"{where}: the environment variable {name} (password_env) is not set")
        return os.environ[name]
    if not settings.get("password_file"):
        return None
    path = Path(str(settings["password_file"])).expanduser()
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError(f"{where}: {path} (password_file) may be read by others: chmod 600 it")
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{where}: cannot read {path} (password_file): {exc.strerror or exc}") from None
    return lines[0].strip() if lines else ""


@dataclass(frozen=True)
class Mailbox:
    tls: bool  # imaps: TLS from the first byte; imap: STARTTLS
    user: str
    host: str
    port: int
    folder: str


_URL = re.compile(r"^imaps?://[^/\s]+@[^/@\s]+(/.*)?$")


def address(url: str) -> Mailbox:
    """imaps://user@host[:port]/FOLDER (the user may be an address: crm%40example.ru or crm@example.ru)."""
    if not _URL.match(url):
        raise InputError(f"mailbox {url}: expected imaps://user@host/FOLDER or imap://user@host/FOLDER")
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    tls = parts.scheme == "imaps"
    name, _, port = host.partition(":")
    if port and not port.isdigit():
        raise InputError(f"mailbox {url}: the port is a number")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return Mailbox(tls, unquote(user), name, int(port) if port else (993 if tls else 143), folder)


def _connect(rule: dict[str, Any]) -> tuple[imaplib.IMAP4, Mailbox]:
    where = f"intake rule {rule['name']}"
    box = address(str(rule["mailbox"]))
    context = ssl.create_default_context(cafile=rule.get("ca_file"))
    password = secret(rule, where) or ""
    client: imaplib.IMAP4 | None = None
    try:
        if box.tls:
            client = imaplib.IMAP4_SSL(box.host, box.port, ssl_context=context, timeout=TIMEOUT)
        else:
            client = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT)
            client.starttls(ssl_context=context)
        client.login(box.user, password)
        kind, _ = client.select(_quoted(box.folder))
        if kind != "OK":
            raise InputError(f"{where}: the mailbox has no folder {box.folder}")
        return client, box
    except (imaplib.IMAP4.error, OSError, InputError) as exc:
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown()
        if isinstance(exc, InputError):
            raise
        raise Environment(f"{where}: {box.host}:{box.port}: {_said(exc)}") from None


def _said(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text[2:-1] if text.startswith("b'") else text


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetch(rule: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The messages of the rule's mailbox not taken yet, oldest first: (UID, the message's bytes)."""
    client, _ = _connect(rule)
    try:
        kind, data = client.uid("SEARCH", "UNKEYWORD", TAKEN)
        uids = data[0].split()[:BATCH] if kind == "OK" and data and data[0] else []
        found = []
        for uid in uids:
            kind, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
            if kind == "OK" and isinstance(raw, bytes):
                found.append((uid.decode(), raw))
        return found
    except (imaplib.IMAP4.error, OSError) as exc:
        raise Environment(f"intake rule {rule['name']}: fetching failed: {_said(exc)}") from None
    finally:
        _logout(client)


def mark_taken(rule: dict[str, Any], uids: list[str]) -> None:
    """Flag the taken messages (or move them to the rule's move_to folder) so they are not fetched again."""
    if not uids:
        return
    client, _ = _connect(rule)
    try:
        numbers = ",".join(uids)
        client.uid("STORE", numbers, "+FLAGS", f"({TAKEN} \\Seen)")
        if rule.get("move_to"):
            kind, _ = client.uid("COPY", numbers, _quoted(str(rule["move_to"])))
            if kind == "OK":
                client.uid("STORE", numbers, "+FLAGS", "(\\Deleted)")
                client.expunge()
    except (imaplib.IMAP4.error, OSError) as exc:
        raise Environment(f"intake rule {rule['name']}: marking taken messages failed: {_said(exc)}") from None
    finally:
        _logout(client)


def _logout(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()
