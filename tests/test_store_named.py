"""The store's import graph (beneath the operations, without cycles), and the plan actions named, each handled."""

from __future__ import annotations

import ast
from pathlib import Path

import crmctl.store
from crmctl.domain.plan import Change, PlanAction
from crmctl.store.definitions import HANDLERS

STORE = Path(crmctl.store.__file__).parent


def _imported(path: Path) -> set[str]:
    """Every crmctl module a file imports, at its top or inside a function: `from crmctl.store import db` names
    crmctl.store.db."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module if node.level == 0 else "crmctl.store." + node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "crmctl" or name.startswith("crmctl.")}


def _store_graph() -> dict[str, set[str]]:
    modules = {f"crmctl.store.{path.stem}": path for path in STORE.glob("*.py") if path.stem != "__init__"}
    return {name: _imported(path) for name, path in modules.items()}


def test_the_store_imports_neither_operations_nor_the_command_line() -> None:
    above = ("crmctl.ops", "crmctl.cli", "crmctl.core", "crmctl.render", "crmctl.server", "crmctl.config")
    wrong = {
        module: sorted(name for name in imports if name.startswith(above))
        for module, imports in _store_graph().items()
        if any(name.startswith(above) for name in imports)
    }
    assert wrong == {}


def test_the_store_has_no_import_cycle() -> None:
    graph = _store_graph()
    edges = {
        module: {name for name in imports if name in graph and name != module} for module, imports in graph.items()
    }
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path[path.index(module) :], module])
        if module in done:
            return
        for name in sorted(edges[module]):
            visit(name, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
    assert "crmctl.store.definitions" not in edges["crmctl.store.db"]


def test_every_plan_action_has_a_handler() -> None:
    assert set(HANDLERS) == set(PlanAction)


def test_plan_actions_keep_their_verb_and_target() -> None:
    """The JSON of a plan (and crm.definitions.changes) spells each change as before: verb and target."""
    pairs = [(action.verb, action.target) for action in PlanAction]
    assert len(set(pairs)) == len(pairs)
    assert {verb for verb, _ in pairs} == {"add", "remove", "rename", "change"}
    change = Change(PlanAction.RENAME_STAGE, "sales.won", "renamed from closed")
    assert change.as_dict() == {
        "action": "rename",
        "target": "stage",
        "name": "sales.won",
        "detail": "renamed from closed",
    }
    assert change.symbol == "~"
    assert PlanAction.of("remove", "person") is PlanAction.REMOVE_PERSON
