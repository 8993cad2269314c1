"""Mail out: the SMTP settings of a workspace (`smtp:` in crmctl.yaml) and one notice sent as one message.

    smtp:
      host: smtp.example.com
      port: 587                        # default: 587 with starttls, 465 with tls, 25 with none
      security: starttls               # starttls (default), tls, or none (a relay on this machine)
      user: crm@example.com            # optional: sign in
      password_env: CRMCTL_SMTP_PASSWORD   # the password from this environment variable,
      password_file: /etc/crmctl/smtp-password   # or from this file (the first line), mode 0600
      from: "CRM <crm@example.com>"

No password is ever written in crmctl.yaml, and none is logged."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from crmctl.errors import InputError
from crmctl.ops.mailbox import secret
from crmctl.ops.notices import Outgoing

_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_KNOWN = {"host", "port", "security", "user", "password_env", "password_file", "from"}
TIMEOUT = 30.0  # seconds for one SMTP conversation


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str


def settings(data: Any) -> Smtp | None:
    """The `smtp:` block of crmctl.yaml, checked; None where there is none (no mail is sent)."""
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("host"), str) or not data["host"].strip():
        raise InputError("smtp: in crmctl.yaml needs at least host: (and from:)")
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise InputError(f"smtp: in crmctl.yaml has no setting '{unknown[0]}' (known: {', '.join(sorted(_KNOWN))})")
    security = str(data.get("security", "starttls"))
    if security not in _PORTS:
        raise InputError(f"smtp: security is starttls, tls or none, not '{security}'")
    port = data.get("port", _PORTS[security])
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise InputError(f"smtp: port is a number from 1 to 65535, not '{port}'")
    sender = data.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise InputError("smtp: from: is the address notices are sent from (crm@example.com)")
    user = data.get("user")
    return Smtp(data["host"].strip(), port, security, str(user) if user else None, secret(data, "smtp"), sender)


def message(smtp: Smtp, notice: Outgoing, workspace: str) -> EmailMessage:
    """One notice as a message: its text, what it is about, and how to see the rest."""
    mail = EmailMessage()
    about = f" {notice.record}" if notice.record else ""
    first = notice.text.splitlines()[0] if notice.text else notice.kind
    mail["Subject"] = f"[{workspace}]{about}: {first[:120]}"
    mail["From"] = smtp.sender
    mail["To"] = f"{notice.name} <{notice.address}>" if notice.name else notice.address
    mail["Date"] = format_datetime(notice.created_at)
    mail["Message-ID"] = make_msgid(f"notice-{notice.notice}", domain=smtp.sender.rsplit("@", 1)[1].strip(">"))
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Crmctl-Notice"] = str(notice.notice)  # the notice's number in the inbox: one message per notice
    mail.set_content(f"{notice.text}\n\n-- \n{notice.kind}{about}: crmctl inbox shows your notices.\n")
    return mail


def send(smtp: Smtp, mail: EmailMessage) -> None:
    """Send one message; smtplib's and the socket's errors are the caller's to record."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        client.send_message(mail)
