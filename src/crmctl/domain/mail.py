"""E-mail messages as intake rules see them: parsed from bytes, with every way a message can be unusable
named. No I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

BODY_LIMIT = 20_000  # characters of the body kept in the history and given to templates


class Unusable(Exception):
    """A message that cannot be taken in: malformed, or not text in its declared charset."""


@dataclass
class Mail:
    message_id: str
    sender: str  # the address, lower case
    sender_name: str
    subject: str
    body: str
    date: dt.datetime | None
    to: list[str] = field(default_factory=list)  # To, Cc and Delivered-To addresses, lower case
    attachments: list[tuple[str, bytes]] = field(default_factory=list)  # (file name as given, content)
    replies_to: list[str] = field(default_factory=list)  # In-Reply-To, then References newest first

    def context(self, initiator: dict[str, Any]) -> dict[str, Any]:
        """What the templates of an intake rule see."""
        return {
            "subject": self.subject,
            "body": self.body,
            "sender": self.sender,
            "sender_name": self.sender_name,
            "date": self.date.isoformat() if self.date else "",
            "message_id": self.message_id,
            "to": ", ".join(self.to),
            "initiator": initiator,
        }


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    text = html.unescape("".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


def _decoded(part: Any) -> str:
    """A text part's content, strictly in its declared charset (UTF-8 when it declares none)."""
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except LookupError:
        raise Unusable(f"unknown charset '{charset}'") from None
    except UnicodeDecodeError:
        named = "declares no charset and is not UTF-8" if part.get_content_charset() is None else ""
        raise Unusable(named or f"its text is not valid {charset}") from None


def _body(message: Any) -> str:
    plain = html_part = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html_part is None:
            html_part = part
    if plain is not None:
        text = _decoded(plain)
    elif html_part is not None:
        text = html_text(_decoded(html_part))
    else:
        text = ""
    return text.strip()[:BODY_LIMIT]


def _attachments(message: Any) -> list[tuple[str, bytes]]:
    """The attached files of a message: parts marked as attachments, and inline parts with a file name that
    are not the text shown as its body."""
    found = []
    for n, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        name = part.get_filename()
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (name and disposition == "inline"):
            found.append((str(name or f"attachment-{n}"), part.get_payload(decode=True) or b""))
    return found


_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def thread_ids(in_reply_to: str, references: str) -> list[str]:
    """The Message-IDs a reply names, the nearest first: In-Reply-To, then References from the last."""
    ids = _MESSAGE_ID.findall(in_reply_to) + list(reversed(_MESSAGE_ID.findall(references)))
    return list(dict.fromkeys(ids))


def parse(raw: bytes) -> Mail:
    """A message from its bytes; Unusable says why it cannot be taken in."""
    import email
    from email import policy
    from email.utils import getaddresses, parsedate_to_datetime

    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        sender_header = message.get("From")
        subject = str(message.get("Subject") or "").strip()
        to = [a.lower() for _, a in getaddresses([str(message.get(h) or "") for h in ("To", "Cc", "Delivered-To")])]
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise Unusable(f"malformed headers ({exc})") from None
    if not raw.strip() or sender_header is None:
        raise Unusable("no From header: not an e-mail message")
    addresses = getaddresses([str(sender_header)])
    name, address = addresses[0] if addresses else ("", "")
    if "@" not in address:
        raise Unusable(f"the sender '{sender_header}' is not an e-mail address")
    date = None
    if message.get("Date"):
        try:
            date = parsedate_to_datetime(str(message["Date"]))
        except (ValueError, TypeError):
            date = None
    message_id = str(message.get("Message-ID") or "").strip()
    if not message_id:  # a message without an id is known by its content
        message_id = f"<sha256-{hashlib.sha256(raw).hexdigest()[:32]}@crmctl>"
    try:
        files = _attachments(message)
        replies = thread_ids(str(message.get("In-Reply-To") or ""), str(message.get("References") or ""))
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise Unusable(f"malformed attachment or headers ({exc})") from None
    return Mail(
        message_id, address.lower(), name.strip(), subject, _body(message), date, [a for a in to if a], files, replies
    )
