"""Personal access tokens for the team server: made, listed, revoked, and checked.

A token reads `crm_<id>_<secret>`. Only a salted scrypt hash of the secret is stored; a presented token is
checked against it in constant time. The first token of a workspace may be made by whoever can write the
database file (the administrator, on the server's machine); after that, a person may make and revoke their
own, and making, listing or revoking anyone else's takes team.manage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from crmctl.domain.shapes import column
from crmctl.errors import InputError, NotFound, Unauthorized
from crmctl.ops import clock
from crmctl.ops.lookups import team_person
from crmctl.ops.session import Session
from crmctl.store import tokens as token_store

_TOKEN = re.compile(r"^crm_([1-9][0-9]{0,9})_([A-Za-z0-9_-]{20,100})$")
_RELATIVE = re.compile(r"^\d{1,5}[mhdw]$")
MANAGE = ("team.manage", "manage the team's tokens")
_REFUSED = "the server does not accept this token (run `crmctl login`)"


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


@dataclass(frozen=True)
class TokenCreateRequest:
    person: str
    name: str = "default"  # what the token is for: "laptop", "ci"
    expires: str = "90d"  # 90d, 12h, 2w, a date-time, or "never"


@dataclass(frozen=True)
class CreatedToken:
    id: int
    person: str
    name: str
    expires_at: dt.datetime | None
    token: str  # shown this once: only its hash is kept


@dataclass(frozen=True)
class TokenRow:
    id: int
    person: str
    name: str
    created_at: dt.datetime = column("created")
    created_by: str | None = column(table=False)
    expires_at: dt.datetime | None = column("expires")
    revoked_at: dt.datetime | None = column("revoked")
    last_used_at: dt.datetime | None = column("last used")


@dataclass(frozen=True)
class TokenListRequest:
    person: str | None = None  # whose tokens (default: your own; everyone's takes team.manage)
    everyone: bool = False


@dataclass(frozen=True)
class TokenRevokeRequest:
    id: int


def _expiry(session: Session, text: str) -> dt.datetime | None:
    text = text.strip()
    if text == "never":
        return None
    if _RELATIVE.match(text):
        text = "+" + text
    value = clock.parse_instant(text, session.defs.timezone, session.now)
    if value <= session.now:
        raise InputError(f"--expires {text}: that is not in the future")
    return value


def create(session: Session, request: TokenCreateRequest) -> CreatedToken:
    """Make a token for a person of the team; it is shown once."""
    person = team_person(session, request.person, "token") or ""
    if not person:
        raise InputError("a token is made for a person: give their name")
    name = request.name.strip()
    if not name or len(name) > 100:
        raise InputError("--name is 1 to 100 characters")
    expires = _expiry(session, request.expires)
    with session.transaction() as conn:
        # the first token is the administrator's to make (who can write the database file); after that a
        # person may make their own, and team.manage makes anyone's
        if token_store.listing(conn, None) and person != session.actor:
            session.require(*MANAGE)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        token_id = token_store.add(conn, person, name, salt, _hash(secret, salt), session.now, session.actor, expires)
    return CreatedToken(token_id, person, name, expires, f"crm_{token_id}_{secret}")


def _rows(found: list[dict[str, Any]]) -> list[TokenRow]:
    return [TokenRow(**row) for row in found]


def list_tokens(session: Session, request: TokenListRequest) -> list[TokenRow]:
    """Tokens of a person (yours by default), or everyone's: their names and dates, never the tokens."""
    person = None if request.everyone else (request.person or session.actor)
    if person is None or person != session.actor:
        session.require(*MANAGE)
    return _rows(token_store.listing(session.conn, person))


def revoke(session: Session, request: TokenRevokeRequest) -> TokenRow:
    """Revoke a token at once: your own, or anyone's with team.manage."""
    found = token_store.get(session.conn, request.id)
    if found is None:
        raise NotFound(f"no token {request.id}")
    if found["person"] != session.actor:
        session.require(*MANAGE)
    if found["revoked_at"] is not None:
        raise InputError(f"token {request.id} was revoked already, at {found['revoked_at']:%Y-%m-%d %H:%M}")
    with session.transaction() as conn:
        token_store.revoke(conn, request.id, session.now, session.actor)
    revoked = token_store.get(session.conn, request.id)
    assert revoked is not None
    return TokenRow(**revoked)


def authenticate(
    conn: Any, token: str, now: dt.datetime, verified: dict[int, bytes] | None = None
) -> tuple[int, str, dt.datetime | None]:
    """(token id, person, expiry) of a valid token; Unauthorized for any other, with one message for every case
    a caller could use to probe (unknown, wrong secret) and a plain one for revoked and expired tokens.

    scrypt is slow on purpose; a server passes `verified` (token id -> SHA-256 of the secret scrypt accepted)
    so that it pays that once per token, and compares the digests in constant time on later requests."""
    match = _TOKEN.match(token)
    found = token_store.secret_of(conn, int(match.group(1))) if match else None
    if match is None or found is None:
        raise Unauthorized(_REFUSED)
    token_id, secret = int(match.group(1)), match.group(2)
    person, salt, digest, expires_at, revoked_at = found
    quick = hashlib.sha256(secret.encode()).digest()
    known = (verified or {}).get(token_id)
    if known is None or not hmac.compare_digest(quick, known):
        if not hmac.compare_digest(_hash(secret, salt), digest):
            raise Unauthorized(_REFUSED)
        if verified is not None:
            verified[token_id] = quick
    if revoked_at is not None:
        raise Unauthorized("this token was revoked (make a new one: crmctl token create)")
    unexpired(expires_at, now)
    return token_id, person, expires_at


def unexpired(expires_at: dt.datetime | None, now: dt.datetime) -> None:
    """Unauthorized if a token with this expiry has expired by now."""
    if expires_at is not None and expires_at <= now:
        raise Unauthorized(f"this token expired at {expires_at:%Y-%m-%d %H:%M} (make a new one)")


@dataclass(frozen=True)
class WhoamiRequest:
    pass


@dataclass(frozen=True)
class Identity:
    person: str | None  # None: nobody (a local workspace used without --as)
    name: str | None
    roles: list[str]
    workspace: str  # the database the session works on


def whoami(session: Session, request: WhoamiRequest) -> Identity:
    """Who the commands act as: the token's person against a server, the --as person locally."""
    who = session.defs.people.get(session.actor) if session.actor else None
    return Identity(session.actor, who.name if who else None, list(who.roles) if who else [], session.path.name)
