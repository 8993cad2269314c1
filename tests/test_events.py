"""Named events: every kind crmctl writes is an Event, each with its one line in `record history`."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from crmctl.domain.events import Event
from crmctl.render.records import DESCRIBERS, describe_event
from crmctl.store.records import event_row

SRC = Path(__file__).resolve().parent.parent / "src" / "crmctl"


def test_every_event_has_a_describer_and_nothing_else_does() -> None:
    assert set(DESCRIBERS) == set(Event)


def test_the_stored_action_is_the_events_string() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    row = event_row(at, "ann", Event.STAGE_ENTERED, record="DEAL-1", data={"stage": "new"})
    assert row == (at, "ann", "stage.entered", "DEAL-1", None, '{"stage": "new"}')
    assert type(row[2]) is str


@pytest.mark.parametrize(
    ("action", "data", "line"),
    [
        ("record.created", {"values": {"name": "Acme", "size": None}}, "name=Acme, size=-"),
        ("record.updated", {"changes": {"size": [None, 5]}}, "size: - -> 5"),
        (
            "stage.entered",
            {"process": "sales", "stage": "won", "from": "offer", "reason": "approved", "approvers": ["bob", "eve"]},
            "sales: won from offer (approved); approvers bob, eve",
        ),
        ("approval.given", {"stage": "offer", "groups": ["boss"], "comment": "ok"}, "approved offer (boss): ok"),
        ("mail.received", {"from": "a@b.c", "subject": "", "task": "T-3"}, "e-mail from a@b.c: (no subject) -> T-3"),
        ("record.imported", {"source": "deals.csv", "import": 4}, "imported from deals.csv (import 4)"),
        ("reminder.added", {"text": "call", "due_at": "2026-01-02T09:30:00+01:00"}, "call at 2026-01-02 09:30"),
        (
            "project.launched",
            {"project": "P-1", "title": "Fit-out", "template": "fit", "tasks": [], "left_out": ["T-9"]},
            "P-1 Fit-out from fit: tasks none; left out T-9",
        ),
        ("task.assigned", {"task": "T-1", "from": None, "to": "ann"}, "T-1 nobody -> ann"),
        ("task.dependencies", {"task": "T-1", "removed": ["T-2"]}, "T-1 no longer waits for T-2"),
        ("timer.stopped", {"task": "T-1", "person": "ann", "minutes": 12.5}, "T-1 timer of ann after 12.5 min"),
        ("time.logged", {"task": "T-1", "minutes": 30, "person": None, "note": "x"}, "T-1 30 min by -: x"),
        ("sprint.created", {"sprint": "S1", "goal": None}, "sprint=S1, goal=-"),
        ("permission.refused", {"permission": "records.read"}, "permission=records.read"),
    ],
)
def test_an_event_describes_as_one_line(action: str, data: dict[str, object], line: str) -> None:
    assert describe_event({"action": action, "data": data}) == line


def test_an_event_without_data_describes() -> None:
    assert describe_event({"action": "stage.passed", "data": None}) == "None passed"
    assert describe_event({"action": "comment.added"}) == ""


def test_an_unknown_action_from_an_older_database_lists_its_data() -> None:
    event = {"action": "deal.frobbed", "data": {"by": "ann", "what": ""}}
    assert describe_event(event) == "by=ann, what=-"


def _bare_string_events() -> list[str]:
    """Calls of add_event (or projects' _event) in src whose event is a string literal, as file:line."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            position = {"add_event": 3, "event_row": 2, "_event": 2}.get(str(name))
            if position is None:
                continue
            args = node.args[position : position + 1] + [k.value for k in node.keywords if k.arg in ("event",)]
            if any(isinstance(a, ast.Constant | ast.JoinedStr) for a in args):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_no_event_is_written_with_a_bare_string() -> None:
    assert _bare_string_events() == []
