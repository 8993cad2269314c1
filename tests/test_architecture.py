"""The layers docs/architecture.md describes, checked on the source with `ast` (function-local imports included).

Each rule names the layer that breaks it, the file and line, and what it imports, so a failure says where to look.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "crmctl"
LONGEST = 60  # lines of a function, from its def to its last line
ONE_PIECE = "# One piece:"

# What each layer must not import (of crmctl's own layers); errors.py is beneath them all.
FORBIDDEN = {
    "domain": {"store", "cli", "config", "ops", "render", "server"},
    "config": {"store", "ops", "cli", "render", "server"},
    "store": {"ops", "cli", "render", "config", "server"},
    "render": {"store", "ops", "cli", "server"},
    "ops": {"cli", "server"},
}
# A layer may import a forbidden one for its types alone, under `if TYPE_CHECKING:` (nothing runs): render
# names the result types of the operations it lays out, and takes their fields from the objects themselves.
TYPES_ONLY = {"render": {"ops"}}
# The only layers that may speak typer (and click beneath it): the command line and the server.
TYPER_LAYERS = {"cli", "server"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. crmctl.ops.records
    target: str  # the module imported, e.g. crmctl.store.records or typer
    path: Path
    line: int
    end_line: int
    local: bool  # inside a function
    typing_only: bool = False  # under `if TYPE_CHECKING:`

    def where(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line}"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """crmctl.ops.records -> ops; crmctl.errors -> errors; typer.main -> typer."""
    parts = module.split(".")
    return parts[1] if parts[0] == "crmctl" and len(parts) > 1 else parts[0]


def targets(node: ast.Import | ast.ImportFrom, source: str, path: Path) -> list[str]:
    """The modules an import statement loads: `from crmctl.ops import records` is crmctl.ops.records."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    known = modules()
    return sorted({f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names})


def walk(node: ast.AST, local: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, local
        inside = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield from walk(child, inside)


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def typing_blocks(module: ast.Module) -> list[range]:
    """The lines of each `if TYPE_CHECKING:` block."""
    return [
        range(node.lineno, (node.end_lineno or node.lineno) + 1)
        for node in ast.walk(module)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
    ]


@cache
def imports() -> list[Import]:
    found = []
    for source, path in modules().items():
        blocks = typing_blocks(tree(path))
        for node, local in walk(tree(path)):
            typing_only = any(node.lineno in block for block in blocks)
            for target in targets(node, source, path):
                end = node.end_lineno or node.lineno
                found.append(Import(source, target, path, node.lineno, end, local, typing_only))
    return found


@cache
def comment_lines(path: Path) -> frozenset[int]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return frozenset(t.start[0] for t in tokens if t.type == tokenize.COMMENT)


def test_the_source_is_found() -> None:
    assert {"crmctl.domain.model", "crmctl.store.db", "crmctl.ops.records", "crmctl.cli.base"} <= set(modules())
    assert any(i.local for i in imports()), "function-local imports are not seen"


@pytest.mark.parametrize("lower", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_lies_beneath_it(lower: str) -> None:
    wrong = [
        f"{i.where()} {i.source} imports {i.target}"
        for i in imports()
        if layer(i.source) == lower
        and i.target.startswith("crmctl.")
        and layer(i.target) in FORBIDDEN[lower]
        and not (i.typing_only and layer(i.target) in TYPES_ONLY.get(lower, set()))
    ]
    assert not wrong, f"{lower} must import none of {sorted(FORBIDDEN[lower])}:\n" + "\n".join(wrong)


def test_only_the_command_line_and_the_server_speak_typer() -> None:
    wrong = [
        f"{i.where()} {i.source} imports {i.target}"
        for i in imports()
        if layer(i.target) in {"typer", "click"} and layer(i.source) not in TYPER_LAYERS
    ]
    assert not wrong, "typer outside cli/ and server/:\n" + "\n".join(wrong)


def ops_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules() if layer(m) == "ops"}
    for i in imports():
        if i.source in graph and i.target in graph and i.target != i.source:
            graph[i.source].add(i.target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as the path that closes it (a -> b -> a), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def test_find_cycle_finds_one_and_only_one_that_is_there() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"b"}}) == ["b", "c", "b"]


def test_operations_import_each_other_only_downward() -> None:
    cycle = find_cycle(ops_graph())
    assert not cycle, "ops has an import cycle: " + " -> ".join(cycle)


def one_piece(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The line above the def (or above its decorators) is a comment that starts `# One piece:`."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return first >= 2 and lines[first - 2].strip().startswith(ONE_PIECE)


def test_one_piece_needs_the_comment_right_above() -> None:
    source = "# One piece: why\n@dec\ndef f():\n    pass\n\n# not this\n\ndef g():\n    pass\n"
    functions = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert [one_piece(source.splitlines(), f) for f in functions] == [True, False]


def test_no_function_is_longer_than_60_lines_without_saying_why() -> None:
    long = []
    for path in modules().values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST and not one_piece(lines, node):
                    long.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {node.name} {length} lines")
    assert not long, f"over {LONGEST} lines without a '{ONE_PIECE}' comment above the def:\n" + "\n".join(long)


def test_an_operation_imports_inside_a_function_only_with_a_reason() -> None:
    silent = [
        f"{i.where()} {i.source} imports {i.target}"
        for i in imports()
        if i.local
        and layer(i.source) == "ops"
        and i.target.startswith("crmctl.")
        and not comment_lines(i.path) & set(range(i.line - 1, i.end_line + 1))
    ]
    reason = "a function-local import of crmctl's in an operation needs a comment saying why (line before or same)"
    assert not silent, reason + ":\n" + "\n".join(silent)
