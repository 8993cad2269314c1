"""Safe YAML loading that keeps the line and column of every key and value.

The C parser composes a node tree (with marks); we construct plain Python values ourselves so that
we decide exactly what is allowed: only the standard scalar tags, no object construction, duplicate
keys rejected, timestamps kept as strings, alias expansion bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.config.diagnostics import Diagnostic, Location

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000  # per document, counting every alias expansion
MAX_DEPTH = 64  # lists and mappings inside each other; a configuration needs a handful

Path_ = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MAP, _SEQ = _YAML + "timestamp", _YAML + "map", _YAML + "seq"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, "!"}


@dataclass
class Document:
    """One YAML document of a file, with the position of each value and key."""

    file: str
    index: int
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def loc(self, path: Path_ = (), *, key: bool = False) -> Location:
        """The location of the value at path (or of its key); the nearest known ancestor otherwise."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            if p in table:
                line, col = table[p]
                return Location(self.file, line, col)
            if key and p in self.positions:
                line, col = self.positions[p]
                return Location(self.file, line, col)
            p = p[:-1]
        line, col = self.positions.get((), (1, 1))
        return Location(self.file, line, col)


@dataclass
class LoadedFile:
    path: str
    documents: list[Document]
    diagnostics: list[Diagnostic]


class _Problem(Exception):
    def __init__(self, code: str, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.col = code, message, line, col


def load_file(path: Path, display: str | None = None) -> LoadedFile:
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return _fail(name, "Y006", f"file is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})")
        raw = path.read_bytes()
    except OSError as exc:
        return _fail(name, "Y005", f"cannot read file: {exc.strerror or exc}")
    return load_bytes(raw, name)


def load_bytes(raw: bytes, name: str) -> LoadedFile:
    if b"\x00" in raw:
        return _fail(name, "Y005", "not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _fail(name, "Y005", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line)
    return load_text(text, name)


def load_text(text: str, name: str) -> LoadedFile:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") or ln.strip() in ("---", "...") for ln in text.splitlines()
    ):
        return _fail(name, "Y004", "empty file: no YAML document in it")
    deep = _too_deep(text)
    if deep is not None:
        return _fail(name, "Y009", f"document nests lists and mappings more than {MAX_DEPTH} deep", *deep)
    try:
        # The C parser is fast; it follows YAML 1.1 in a few corners (a ':' inside a flow list, as in
        # [role:ceo]), so anything it refuses is parsed again by the pure YAML 1.2 parser, whose verdict holds.
        nodes = list(YAML(typ="safe", pure=False).compose_all(text))
    except YAMLError:
        nodes = None
    except RecursionError:  # [[[[...]]]] thousands deep
        return _fail(name, "Y009", f"document nests lists and mappings more than {MAX_DEPTH} deep")
    try:
        if nodes is None:
            nodes = list(YAML(typ="safe", pure=True).compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        if "\t" in problem or "tab" in problem.lower() or _tab_at(text, line):
            return _fail(name, "Y002", "tab character in indentation; YAML indents with spaces", line, col)
        return _fail(name, "Y001", f"malformed YAML: {problem}", line, col)
    except YAMLError as exc:
        return _fail(name, "Y001", f"malformed YAML: {exc}")
    except RecursionError:
        return _fail(name, "Y009", f"document nests lists and mappings more than {MAX_DEPTH} deep")
    docs: list[Document] = []
    diags: list[Diagnostic] = []
    for index, node in enumerate(n for n in nodes if n is not None):
        doc = Document(name, index, None)
        try:
            doc.data = _Builder(doc).build(node, ())
        except _Problem as p:
            diags.append(Diagnostic(Location(name, p.line, p.col), p.code, p.message))
            continue
        if not isinstance(doc.data, dict):
            what = "a list" if isinstance(doc.data, list) else "a single value"
            diags.append(
                Diagnostic(doc.loc(), "Y007", f"a document must be a mapping with 'kind' and 'name', not {what}")
            )
            continue
        docs.append(doc)
    if not nodes:
        diags.append(Diagnostic(Location(name), "Y004", "empty file: no YAML document in it"))
    return LoadedFile(name, docs, diags)


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where the text first nests deeper than MAX_DEPTH, found without building anything.

    The C composer recurses once per level and crashes the process (a segmentation fault) at some tens of
    thousands of levels: '[' * 30000, or '- ' * 30000 on one line. Its event stream is flat, so the levels
    are counted there first, when there are enough brackets and indicators for a deep document at all.
    Indentation alone cannot nest that deep within MAX_FILE_BYTES."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

    if sum(text.count(c) for c in ("[", "{", "- ", "? ", ": ")) <= 1000:
        return None
    depth = 0
    try:
        for event in YAML(typ="safe", pure=False).parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return (mark.line + 1, mark.column + 1)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return None  # malformed: the parsers below say where
    return None


def _tab_at(text: str, line: int) -> bool:
    lines = text.splitlines()
    return any(ln[: len(ln) - len(ln.lstrip())].count("\t") for ln in lines[max(0, line - 2) : line])


def _fail(name: str, code: str, message: str, line: int = 1, col: int = 1) -> LoadedFile:
    return LoadedFile(name, [], [Diagnostic(Location(name, line, col), code, message)])


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0

    def build(self, node: Any, path: Path_) -> Any:
        self.count += 1
        mark = node.start_mark
        if self.count > MAX_NODES:
            raise _Problem(
                "Y009", f"document expands to more than {MAX_NODES:,} values (aliases nested too deep)", 1, 1
            )
        if len(path) > MAX_DEPTH:
            raise _Problem(
                "Y009",
                f"document nests lists and mappings more than {MAX_DEPTH} deep",
                mark.line + 1,
                mark.column + 1,
            )
        self.doc.positions[path] = (mark.line + 1, mark.column + 1)
        kind = node.id
        if kind == "scalar":
            return self._scalar(node)
        if kind == "sequence":
            if node.tag not in (_SEQ, "!"):
                raise self._tag(node)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag not in (_MAP, "!"):
            raise self._tag(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            km = key_node.start_mark
            if key_node.id != "scalar":
                raise _Problem("Y001", "malformed YAML: a key must be a plain value", km.line + 1, km.column + 1)
            key = self._scalar(key_node)
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                first = self.doc.key_positions[(*path, key)]
                raise _Problem("Y003", f"duplicate key '{key}' (first at line {first[0]})", km.line + 1, km.column + 1)
            self.doc.key_positions[(*path, key)] = (km.line + 1, km.column + 1)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _tag(self, node: Any) -> _Problem:
        m = node.start_mark
        tag = node.tag.replace(_YAML, "!!")
        return _Problem("Y008", f"unsupported YAML tag '{tag}': only plain data is allowed", m.line + 1, m.column + 1)

    def _scalar(self, node: Any) -> Any:
        tag, value = node.tag, node.value
        if tag not in _SCALAR_TAGS:
            raise self._tag(node)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a "\ud800" escape: half of a character, which no text can hold
            m = node.start_mark
            raise _Problem(
                "Y005", "text holds a lone surrogate escape, which is not a character", m.line + 1, m.column + 1
            ) from None
        if tag in (_STR, "!", _TIMESTAMP) or node.style:
            return value
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return value.lower() == "true"
        if tag == _INT:
            digits = value.replace("_", "")
            try:
                return int(digits)
            except ValueError:
                try:
                    return int(digits, 0)
                except ValueError:
                    return value
        if tag == _FLOAT:
            low = value.lower().replace("_", "")
            if low in (".inf", "+.inf"):
                return math.inf
            if low == "-.inf":
                return -math.inf
            if low == ".nan":
                return math.nan
            try:
                return float(low)
            except ValueError:
                return value
        return value
