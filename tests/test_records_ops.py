"""The records commands as operations: what each gives, called through the registry as the server will."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from crmctl.errors import UsageError
from crmctl.ops.agenda import Agenda, AgendaRequest
from crmctl.ops.records import (
    Card,
    Created,
    CreateRequest,
    RemindRequest,
    ShowRequest,
    Updated,
    UpdateRequest,
)
from crmctl.ops.registry import run
from crmctl.ops.session import Options
from crmctl.render.records import card_json

from .conftest import NOW, ok


def call(workspace: Path, name: str, request: Any, actor: str = "anna") -> Any:
    return run(name, Options(workspace=workspace, actor=actor, now=NOW), request)


def test_create_gives_the_card_only_when_asked(cli, workspace: Path) -> None:
    bare: Created = call(workspace, "record.create", CreateRequest("client", {"name": "Альфа"}))
    assert (bare.key, bare.card) == ("CL-1", None)
    made: Created = call(workspace, "record.create", CreateRequest("deal", {"title": "Сайт"}, card=True))
    assert made.card is not None and made.card.key == made.key == "DL-1"
    assert card_json(made.card) == ok(cli, "--as", "anna", "record", "show", "DL-1", "-f", "json")


def test_the_cards_json_is_its_fields_but_the_view_in_order(workspace: Path) -> None:
    call(workspace, "record.create", CreateRequest("client", {"name": "Альфа"}))
    card: Card = call(workspace, "record.show", ShowRequest("cl-1"))
    data = json.loads(card_json(card))
    assert list(data) == [f.name for f in dataclasses.fields(Card) if f.name != "view"]
    assert data["fields"]["name"] == "Альфа" and card.view.title == "Альфа"
    assert isinstance(card.created_at, dt.datetime) and data["created_at"] == card.created_at.isoformat()


def test_update_lists_its_changes_and_none_when_nothing_changed(workspace: Path) -> None:
    call(workspace, "record.create", CreateRequest("client", {"name": "Альфа"}))
    changed: Updated = call(workspace, "record.update", UpdateRequest("CL-1", {"status": "active"}))
    assert [(c.field, c.before, c.after) for c in changed.changes] == [("status", "new", "active")]
    assert changed.card is None
    same: Updated = call(workspace, "record.update", UpdateRequest("CL-1", {"status": "active"}, card=True))
    assert same.changes == [] and same.card is not None and same.card.fields["status"] == "active"


def test_remind_sets_and_finishes_and_refuses_a_mixed_request(workspace: Path) -> None:
    call(workspace, "record.create", CreateRequest("client", {"name": "Альфа"}))
    result = call(workspace, "remind", RemindRequest("CL-1", "Позвонить", "+1d"))
    made = result.reminders[0]
    assert (result.action, made.record, made.person, made.every) == ("set", "CL-1", "anna", None)
    with pytest.raises(UsageError):
        call(workspace, "remind", RemindRequest("CL-1", done=made.id))
    finished = call(workspace, "remind", RemindRequest(done=made.id))
    assert (finished.action, finished.reminders[0].id, finished.reminders[0].text) == ("done", made.id, "Позвонить")


def test_the_agenda_carries_the_time_it_was_made(workspace: Path) -> None:
    call(workspace, "record.create", CreateRequest("client", {"name": "Альфа"}))
    call(workspace, "remind", RemindRequest("CL-1", "Позвонить", "+2h"))
    agenda: Agenda = call(workspace, "agenda", AgendaRequest(days=1))
    assert agenda.now == dt.datetime.fromisoformat(NOW)
    assert [(i.kind, i.id, i.record, i.title, i.overdue) for i in agenda.items] == [
        ("reminder", "reminder:1", "CL-1", "Альфа", False)
    ]
