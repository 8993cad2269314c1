"""Finding workspaces and their files, and loading them through every check in one pass."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from crmctl.config.diagnostics import Diagnostic
from crmctl.config.yamlload import Document, load_file
from crmctl.errors import InputError, NotFound

WORKSPACE_FILE = "crmctl.yaml"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Unit:
    """A set of files checked together: a workspace (root set) or loose files (root None)."""

    root: Path | None
    files: list[Path] = field(default_factory=list)
    # the names diagnostics give files, where not their path from here (a workspace a client sent a server)
    names: dict[Path, str] = field(default_factory=dict)

    def shown(self, path: Path) -> str:
        return self.names.get(path) or display_path(path)


@dataclass
class Loaded:
    unit: Unit
    documents: list[Document]
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above start that holds crmctl.yaml."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    return None


def units_for(paths: list[Path]) -> list[Unit]:
    """Group the given paths into units. A file inside a workspace brings the whole workspace."""
    units: dict[Path | None, Unit] = {}
    loose = Unit(None)
    for path in paths:
        if not path.exists():
            raise NotFound(f"no such file or folder: {path}")
        if path.is_file():
            root = find_root(path)
            if root is None:
                loose.files.append(path)
            else:
                units.setdefault(root, Unit(root))
            continue
        if (path / WORKSPACE_FILE).is_file():
            units.setdefault(path.resolve(), Unit(path.resolve()))
            continue
        found = sorted(_nested_workspaces(path))
        if not found:
            raise NotFound(f"no workspace ({WORKSPACE_FILE}) in {path}")
        for root in found:
            units.setdefault(root, Unit(root))
    for unit in units.values():
        unit.files = workspace_files(unit.root) if unit.root else []
    result = sorted(units.values(), key=lambda u: str(u.root))
    if loose.files:
        result.append(loose)
    return result


def _nested_workspaces(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if WORKSPACE_FILE in filenames:
            found.append(Path(dirpath).resolve())
            dirnames[:] = []
    return found


def workspace_files(root: Path) -> list[Path]:
    """crmctl.yaml first, then every other YAML file below root (not hidden, not excluded, not nested workspaces)."""
    excludes = _excludes(root)
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d / WORKSPACE_FILE).is_file())
        for name in sorted(filenames):
            if not name.endswith(YAML_SUFFIXES) or name.startswith("."):
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            if rel == WORKSPACE_FILE or any(fnmatch.fnmatch(rel, pattern) for pattern in excludes):
                continue
            files.append(path)
    return [root / WORKSPACE_FILE, *files]


def _excludes(root: Path) -> list[str]:
    loaded = load_file(root / WORKSPACE_FILE)
    for doc in loaded.documents:
        patterns = doc.data.get("exclude") if doc.data.get("kind") == "Workspace" else None
        if isinstance(patterns, list):
            return [p for p in patterns if isinstance(p, str)]
    return []


def display_path(path: Path) -> str:
    """A path as users see it: relative to the current folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_unit(unit: Unit) -> Loaded:
    """Load, schema-check and semantically check every file of a unit; collect every problem."""
    from crmctl.config.checks import check
    from crmctl.config.schemas import validate_document

    documents: list[Document] = []
    clean: list[Document] = []
    diagnostics: list[Diagnostic] = []
    for path in unit.files:
        loaded = load_file(path, unit.shown(path))
        diagnostics.extend(loaded.diagnostics)
        for doc in loaded.documents:
            documents.append(doc)
            problems = validate_document(doc)
            diagnostics.extend(problems)
            if not problems:
                clean.append(doc)
    if unit.root is not None:
        workspace_docs = [d for d in documents if d.data.get("kind") == "Workspace"]
        first = unit.files[0]
        home = unit.shown(first)  # what the loader named crmctl.yaml's documents by
        if not any(d.file == home for d in workspace_docs):
            from crmctl.config.diagnostics import Location

            diagnostics.append(
                Diagnostic(Location(unit.shown(first)), "R004", f"{WORKSPACE_FILE} must hold the Workspace document")
            )
        at_home: list[Document] = []
        for doc in workspace_docs:
            if doc.file != home:
                diagnostics.append(
                    Diagnostic(doc.loc(("kind",)), "R004", f"a Workspace document belongs in {WORKSPACE_FILE} only")
                )
            elif at_home:
                line = at_home[0].loc(("kind",)).line
                message = f"a second Workspace document (the first is at line {line}): a workspace has one"
                diagnostics.append(Diagnostic(doc.loc(("kind",)), "R004", message))
            else:
                at_home.append(doc)
    partial = any(d.code.startswith("Y") for d in diagnostics)
    diagnostics.extend(check(clean, documents, partial))
    diagnostics.sort(key=Diagnostic.sort_key)
    return Loaded(unit, documents, diagnostics)


def sent_files(root: Path) -> tuple[tuple[str, str], ...]:
    """The workspace's YAML files as a client sends them to a team server (plan, apply): each as its path from
    the root and its text, crmctl.yaml first."""
    sent = []
    for path in workspace_files(root):
        name = path.resolve().relative_to(root.resolve()).as_posix()
        try:
            sent.append((name, path.read_bytes().decode("utf-8")))
        except UnicodeDecodeError:
            raise InputError(f"{name} is not UTF-8 text (crmctl validate says where)") from None
    return tuple(sent)
