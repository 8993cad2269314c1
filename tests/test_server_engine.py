"""The team server's engine in this process: what it keeps from one request to the next (definitions, tokens,
the writer's cursor and the event chain's head) and the writes that run as reads when they have nothing to
write (inbox, queue) give what they gave before, and a read never waits for the writer."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crmctl.domain.events import Event
from crmctl.errors import NotFound, Unauthorized
from crmctl.ops.process import InboxRequest
from crmctl.ops.records import CommentRequest, CreateRequest, UpdateRequest
from crmctl.ops.registry import BY_NAME, run
from crmctl.ops.schedule import QueueRequest
from crmctl.ops.session import Options
from crmctl.ops.tokens import TokenCreateRequest, TokenRevokeRequest
from crmctl.server.engine import Engine
from crmctl.store import audit, db
from crmctl.store.records import add_event
from tests.conftest import Run, ok

LATER = "2027-03-10T10:00:00+03:00"  # a week after the clock the `cli` fixture pins: the first stage's deadline passed
FIELDS = {"name": "Ромашка", "contact_person": "Иван Петров", "phone": "+7 (900) 123-45-67"}


@pytest.fixture
def ws(example: Callable[[str], Path], cli: Callable[..., Run]) -> Path:
    """pyrus-client-crm with one client of belov's, made at the pinned clock."""
    target = example("pyrus-client-crm")
    ok(cli, "--as", "sokolov", "apply")
    assert ok(cli, "--as", "belov", "record", "create", "client", *_sets(FIELDS)) == "CL-1\n"
    return target


@pytest.fixture
def engine(ws: Path) -> Iterator[Engine]:
    served = Engine(Options(workspace=ws, now=LATER))
    try:
        yield served
    finally:
        served.close()


def _sets(values: dict[str, str]) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--set", f"{name}={value}")]


def _call(engine: Engine, name: str, person: str, request: Any) -> Any:
    return engine.run(BY_NAME[name], person, request)


def _while_the_writer_works(engine: Engine, work: Callable[[], Any]) -> tuple[bool, Any]:
    """Run work in a thread while this one holds the writer's turn; whether it finished meanwhile, and what
    it gave (once the turn is let go, in any case)."""
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(work()))
    with engine.writing:
        thread.start()
        thread.join(timeout=5)
        finished = not thread.is_alive()
    thread.join(timeout=60)
    assert done, "the work did not finish"
    return finished, done[0]


def _notices(items: list[Any]) -> list[tuple[Any, ...]]:
    return [(i.id, i.person, i.kind, i.record, i.text, i.read_at) for i in items]


def test_inbox_tells_a_passed_deadline_as_here_then_reads_beside_the_writer(ws: Path, engine: Engine) -> None:
    here = ws.parent / "here"
    shutil.copytree(ws, here, ignore=shutil.ignore_patterns("*.lock"))
    wanted = run("inbox", Options(workspace=here, actor="belov", now=LATER), InboxRequest())
    assert any(item.kind == "deadline" for item in wanted)  # the deadline is told: a write

    first = _call(engine, "inbox", "belov", InboxRequest())
    assert _notices(first) == _notices(wanted)
    # nothing more to tell: the same notices, read while the writer holds its turn
    finished, again = _while_the_writer_works(engine, lambda: _call(engine, "inbox", "belov", InboxRequest()))
    assert finished
    assert _notices(again) == _notices(wanted)
    # marking read writes: it waits for the turn, then marks
    finished, marking = _while_the_writer_works(
        engine, lambda: _call(engine, "inbox", "belov", InboxRequest(mark_read=True))
    )
    assert not finished
    assert _notices(marking) == _notices(wanted)
    after = _call(engine, "inbox", "belov", InboxRequest())
    assert after and all(item.read_at is not None for item in after if item.kind != "announcement")
    # with nothing unread, --mark-read too is a read
    finished, _ = _while_the_writer_works(engine, lambda: _call(engine, "inbox", "belov", InboxRequest(mark_read=True)))
    assert finished


def test_a_refused_inbox_refuses_once_and_writes_one_event(ws: Path, engine: Engine) -> None:
    with pytest.raises(Exception, match="read others' inboxes"):
        _call(engine, "inbox", "belov", InboxRequest(person="kuznetsova"))
    engine.close()
    conn = duckdb.connect(str(ws / "crmctl.duckdb"), read_only=True)
    try:
        refused = conn.execute("SELECT actor FROM crm.events WHERE action = 'permission.refused'").fetchall()
    finally:
        conn.close()
    assert refused == [("belov",)]


def test_queue_reads_a_schedule_that_holds_beside_the_writer(engine: Engine) -> None:
    first = _call(engine, "queue", "belov", QueueRequest())  # computed and stored: a write
    finished, again = _while_the_writer_works(engine, lambda: _call(engine, "queue", "belov", QueueRequest()))
    assert finished
    assert again == first
    with pytest.raises(NotFound):
        _call(engine, "queue", "belov", QueueRequest(sprint="no-such-sprint"))


def test_a_known_token_is_refused_at_once_when_revoked(engine: Engine) -> None:
    made = _call(engine, "token.create", "sokolov", TokenCreateRequest("belov", name="laptop"))
    assert engine.person(made.token) == "belov"
    assert engine.person(made.token) == "belov"  # known now: no scrypt, no query
    _call(engine, "token.revoke", "sokolov", TokenRevokeRequest(made.id))
    with pytest.raises(Unauthorized, match="revoked"):
        engine.person(made.token)
    with pytest.raises(Unauthorized):
        engine.person(made.token[:-1] + ("A" if made.token[-1] != "A" else "B"))


def test_the_event_chain_holds_when_another_connection_seals_between_the_writers_commits(
    ws: Path, engine: Engine
) -> None:
    _call(engine, "comment", "belov", CommentRequest("CL-1", "first"))
    # the server's own connection writes an event of its own between two of the writer's
    with db.transaction(engine.conn) as conn:
        add_event(conn, engine._start(conn, None, write=False).now, "sokolov", Event.PERMISSION_REFUSED, record="CL-1")
    _call(engine, "comment", "belov", CommentRequest("CL-1", "second"))
    with pytest.raises(NotFound):  # a write that fails: the writer's cursor is made anew
        _call(engine, "record.update", "belov", UpdateRequest("CL-404", {"name": "x"}))
    made = _call(engine, "record.create", "belov", CreateRequest("client", dict(FIELDS)))
    engine.close()
    conn = duckdb.connect(str(ws / "crmctl.duckdb"), read_only=True)
    try:
        chain = audit.check(conn)
        keys = {row[0] for row in conn.execute("SELECT key FROM client").fetchall()}
    finally:
        conn.close()
    assert chain.breaks == []
    assert made.key in keys
