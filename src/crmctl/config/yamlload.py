"""Safe YAML loading that keeps the line and column of every key and value.

The C parser composes a node tree (with marks); we construct plain Python values ourselves so that
we decide exactly what is allowed: only the standard scalar tags, no object construction, duplicate
keys rejected, timestamps kept as strings, alias expansion bounded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.config.diagnostics import Diagnostic, Location

if TYPE_CHECKING:  # ruamel.yaml is imported when a file is read, not when the module is
    from ruamel.yaml.error import MarkedYAMLError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000  # per document, counting every alias expansion
MAX_DEPTH = 64  # lists and mappings inside each other; a configuration needs a handful
MAX_EXPANDED = 2 * MAX_FILE_BYTES  # characters of keys and values per document, counting every alias use

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
    # A value reached through an alias: its path -> (the anchor's name, where the value itself is written).
    # Its position above is the alias's own, so that each use of a wrong value is reported where it is used.
    through: dict[Path_, tuple[str, int, int]] = field(default_factory=dict)
    # A text value written over several lines: its path -> (the value, where it begins and ends in `text`).
    spans: dict[Path_, tuple[str, int, int]] = field(default_factory=dict)
    text: str = field(default="", repr=False)  # the whole file

    def loc(self, path: Path_ = (), *, key: bool = False) -> Location:
        """The location of the value at path (or of its key); the nearest known ancestor otherwise."""
        return Location(self.file, *self._known(path, key)[1])

    def diagnostic(
        self, path: Path_, code: str, message: str, *, key: bool = False, inside: tuple[int, int] | None = None
    ) -> Diagnostic:
        """A problem with the value at path (or its key), saying which anchor it comes from if an alias brought it.

        `inside` is a line and column within a text value (a template's own): for a text written over several
        lines, the problem is reported there in the file."""
        found, (line, col) = self._known(path, key)
        if inside is not None and not key and found in self.spans:
            line, col = self._within(found, *inside) or (line, col)
        via = self.through.get(found)
        if via is not None:
            anchor, at_line, at_col = via
            message += f" (through the alias *{anchor}; the value is written at {at_line}:{at_col}, under &{anchor})"
        return Diagnostic(Location(self.file, line, col), code, message)

    def _within(self, path: Path_, line: int, col: int) -> tuple[int, int] | None:
        """Where in the file the character at line:col of a multi-line text value is written.

        The value's lines are not the file's: a block scalar drops its indentation, a folded one (>), a plain
        or a quoted one joins lines with spaces, a quoted one has escapes. So the text that begins there (the
        rest of its line, else its first word) is looked for in what the file holds between the value's start
        and end; it is used only when it occurs as often in the file's text as in the value (it is then the
        same occurrence), else None."""
        value, start, end = self.spans[path]
        lines = value.split("\n")
        if not 1 <= line <= len(lines) or not 1 <= col <= len(lines[line - 1]):
            return None
        offset = sum(len(text) + 1 for text in lines[: line - 1]) + col - 1
        rest = lines[line - 1][col - 1 :]
        raw = self.text[start:end]
        for snippet in (rest[:40].rstrip(), rest.split()[0] if rest.split() else ""):
            pattern = re.compile(re.escape(snippet)) if snippet else None
            if pattern is None or len(pattern.findall(value)) != len(pattern.findall(raw)):
                continue
            nth = len(pattern.findall(value, 0, offset))
            found = list(pattern.finditer(raw))[nth].start()
            line_start = raw.rfind("\n", 0, found)
            first_line, first_col = self.positions[path]
            if line_start < 0:
                return first_line, first_col + found
            return first_line + raw.count("\n", 0, found), found - line_start
        return None

    def _known(self, path: Path_, key: bool) -> tuple[Path_, tuple[int, int]]:
        """The path itself or its nearest ancestor with a known position, and that position."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            if p in table:
                return p, table[p]
            if key and p in self.positions:
                return p, self.positions[p]
            p = p[:-1]
        return (), self.positions.get((), (1, 1))


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
    nul = raw.find(b"\x00")
    if nul >= 0:
        return _fail(name, "Y005", f"not a text file (a NUL byte at offset {nul})", *_byte_position(raw, nul))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        return _fail(name, "Y005", message, *_byte_position(raw, exc.start))
    return load_text(text, name)


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    """Line and column (in characters, the bytes before it on its line read as UTF-8) of a byte of a file."""
    start = raw.rfind(b"\n", 0, offset) + 1
    if start == 0 and raw.startswith(b"\xef\xbb\xbf"):
        start = 3  # the byte-order mark is not a character of the line
    before = raw[start:offset].decode("utf-8", errors="replace")
    return raw.count(b"\n", 0, offset) + 1, len(before) + 1


def load_text(text: str, name: str) -> LoadedFile:
    try:
        if _no_document(text):
            raise _Problem("Y004", "empty file: no YAML document in it", 1, 1)
        deep = _too_deep(text)
        if deep is not None:
            raise _Problem("Y009", f"document nests lists and mappings more than {MAX_DEPTH} deep", *deep)
        nodes, parsed_by_c = _compose(text)
    except _Problem as p:
        return _fail(name, p.code, p.message, p.line, p.col)
    return _documents(text, name, nodes, parsed_by_c)


def _no_document(text: str) -> bool:
    """Whether the text holds nothing but blank lines, comments and document markers."""
    return not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") or ln.strip() in ("---", "...") for ln in text.splitlines()
    )


def _compose(text: str) -> tuple[list[Any], bool]:
    """The node trees of the text's documents (None for an empty one; ruamel's nodes are untyped), and whether
    the C parser composed them; _Problem when the text is not YAML."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    too_deep = _Problem("Y009", f"document nests lists and mappings more than {MAX_DEPTH} deep", 1, 1)
    try:
        # The C parser is fast; it follows YAML 1.1 in a few corners (a ':' inside a flow list, as in
        # [role:ceo]), so anything it refuses is parsed again by the pure YAML 1.2 parser, whose verdict holds.
        return list(YAML(typ="safe", pure=False).compose_all(text)), True
    except YAMLError:
        pass
    except RecursionError:  # [[[[...]]]] thousands deep
        raise too_deep from None
    try:
        return list(YAML(typ="safe", pure=True).compose_all(text)), False
    except MarkedYAMLError as exc:
        raise _malformed(text, exc) from None
    except YAMLError as exc:
        raise _Problem("Y001", f"malformed YAML: {exc}", 1, 1) from None
    except RecursionError:
        raise too_deep from None


def _malformed(text: str, exc: MarkedYAMLError) -> _Problem:
    """What the parser's complaint means, and where the construct it failed on began."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = (exc.problem or exc.context or "malformed YAML").strip()
    if "\t" in problem or "tab" in problem.lower() or _tab_at(text, line):
        return _Problem("Y002", "tab character in indentation; YAML indents with spaces", line, col)
    began = _where_it_began(text, exc)
    if began is not None:
        words, line_b, col_b = began
        return _Problem("Y001", f"malformed YAML: {words} (parser, at {line}:{col}: {problem})", line_b, col_b)
    return _Problem("Y001", f"malformed YAML: {problem}", line, col)


def _documents(text: str, name: str, nodes: list[Any], parsed_by_c: bool) -> LoadedFile:
    """The composed trees as documents of plain values, and the problems of those that cannot be."""
    docs: list[Document] = []
    diags: list[Diagnostic] = []
    # Aliases need their own marks (the composed tree has only the anchor's), read from the parser's events
    # for the rare document that has an anchor at all.
    uses = _alias_uses(text, pure=not parsed_by_c) if "&" in text else None
    present = [(n, uses[i] if uses else None) for i, n in enumerate(nodes) if n is not None]
    for index, (node, aliases) in enumerate(present):
        doc = Document(name, index, None, text=text)
        if node.id == "scalar" and node.value == "" and not node.style:
            line = _separator_line(text, node.start_mark.index)
            message = "empty document after this '---': remove the separator or write the document"
            diags.append(Diagnostic(Location(name, line, 1), "Y007", message))
            continue
        try:
            doc.data = _Builder(doc, aliases).build(node, ())
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


@dataclass(frozen=True)
class _Use:
    """An alias where it is written: *anchor at line:col."""

    anchor: str
    line: int
    col: int


def _alias_uses(text: str, *, pure: bool) -> list[list[_Use]]:
    """The aliases of each document, in the order they are written (the order a walk of its tree meets them)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import AliasEvent, DocumentStartEvent

    documents: list[list[_Use]] = []
    for event in YAML(typ="safe", pure=pure).parse(text):
        if isinstance(event, DocumentStartEvent):
            documents.append([])
        elif isinstance(event, AliasEvent):
            documents[-1].append(_Use(event.anchor, event.start_mark.line + 1, event.start_mark.column + 1))
    return documents


def _separator_line(text: str, index: int) -> int:
    """The line of the '---' that opens the (empty) document found at index."""
    start = text.rfind("\n---", 0, index + 1)
    if start >= 0:
        return text.count("\n", 0, start) + 2
    return 1


# A key with no space after its colon ('name:order'), and a line of a quoted text that looks like a key of
# its own: signs of what broke a file that does not parse.
_NO_SPACE = re.compile(r"([A-Za-z_][\w-]*):([^\s:/][^\n]*)")
_KEY_LINE = re.compile(r"\n[ \t]*(?:- )?[\w-]+:(?: |$)", re.MULTILINE)


def _where_it_began(text: str, exc: Any) -> tuple[str, int, int] | None:
    """For a file that does not parse: the construct that broke it, where it began, in words.

    The parser stops where it gives up, often lines after the mistake: an unclosed quote swallows the lines
    up to the next quote, an unclosed '{' reads on into the next line, a 'key:value' joins the next line.
    None when no such construct is found; the parser's own place then stands."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.tokens import ScalarToken

    context, began = exc.context or "", exc.context_mark
    stop = exc.problem_mark or began
    if stop is None:
        return None
    if began is not None:
        # what the parser was inside when it stopped, when that began on an earlier line
        if "quoted scalar" in context:
            return "this quote is never closed", began.line + 1, began.column + 1
        if "simple key" in context:
            words = _no_space(text, began.index)
            if words:
                return words, began.line + 1, began.column + 1
        if "flow" in context and (exc.problem or "").startswith("expected ','") and stop.line > began.line:
            bracket = "{" if "mapping" in context else "["
            return f"this '{bracket}' is never closed", began.line + 1, began.column + 1
    tokens: list[Any] = []
    try:
        for token in YAML(typ="safe", pure=True).scan(text):
            if token.start_mark.index >= stop.index:
                break
            tokens.append(token)
    except YAMLError:
        pass
    for token in reversed(tokens):
        if not isinstance(token, ScalarToken):
            continue
        start, end = token.start_mark, token.end_mark
        if token.style in ('"', "'") and end.line > start.line and _KEY_LINE.search(text, start.index, end.index):
            words = f"this quote is never closed on its line (the text runs on to line {end.line + 1})"
            return words, start.line + 1, start.column + 1
        line_start = text.rfind("\n", 0, start.index) + 1
        joined = token.plain and end.line > start.line and stop.line - end.line <= 1  # 'id:x' + the next line
        if joined and not text[line_start : start.index].strip(" -"):
            words = _no_space(text, start.index)
            if words:
                return words, start.line + 1, start.column + 1
    return None


def _no_space(text: str, index: int) -> str | None:
    match = _NO_SPACE.match(text, index)
    if match is None:
        return None
    key, rest = match.group(1), match.group(2).rstrip()
    return f"a space is needed after ':' ('{key}:{rest}' is one text; write '{key}: {rest}')"


def _tab_at(text: str, line: int) -> bool:
    lines = text.splitlines()
    return any(ln[: len(ln) - len(ln.lstrip())].count("\t") for ln in lines[max(0, line - 2) : line])


def _fail(name: str, code: str, message: str, line: int = 1, col: int = 1) -> LoadedFile:
    return LoadedFile(name, [], [Diagnostic(Location(name, line, col), code, message)])


class _Builder:
    """Plain values from a composed tree. An alias is the anchored node itself in that tree, met again: with
    `uses` (the document's aliases in order) each such meeting is matched with its alias, whose line and
    column the values it brings are given."""

    def __init__(self, doc: Document, uses: list[_Use] | None = None) -> None:
        self.doc = doc
        self.count = 0  # values, counting each alias's every time
        self.size = 0  # characters of keys and values, the same way
        self.uses = iter(uses) if uses else None
        self.seen: set[int] = set()
        self.via: _Use | None = None  # the alias being expanded

    def build(self, node: Any, path: Path_) -> Any:
        use = self._alias(node)
        if use is not None:
            self.via = use
            try:
                return self.build(node, path)
            finally:
                self.via = None
        self.count += 1
        if self.count > MAX_NODES:
            message = f"document expands to more than {MAX_NODES:,} values{self._blame()}"
            raise _Problem("Y009", message, *self._at(node))
        if len(path) > MAX_DEPTH:
            raise _Problem("Y009", f"document nests lists and mappings more than {MAX_DEPTH} deep", *self._at(node))
        self.doc.positions[path] = self._at(node)
        if self.via is not None:
            self.doc.through[path] = (self.via.anchor, node.start_mark.line + 1, node.start_mark.column + 1)
        kind = node.id
        if kind == "scalar":
            value = self._scalar(node)
            if node.end_mark.line > node.start_mark.line and self.via is None and isinstance(value, str):
                self.doc.spans[path] = (value, node.start_mark.index, node.end_mark.index)
            return value
        if kind == "sequence":
            if node.tag not in (_SEQ, "!"):
                raise self._tag(node)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag not in (_MAP, "!"):
            raise self._tag(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                raise _Problem("Y001", "malformed YAML: a key must be a plain value", *self._at(key_node))
            outer = self.via
            self.via = self._alias(key_node) or outer
            key = self._scalar(key_node)
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                first = self.doc.key_positions[(*path, key)]
                raise _Problem("Y003", f"duplicate key '{key}' (first at line {first[0]})", *self._at(key_node))
            self.doc.key_positions[(*path, key)] = self._at(key_node)
            self.via = outer
            out[key] = self.build(value_node, (*path, key))
            if value_node.id == "scalar" and value_node.value == "" and not value_node.style:
                # 'key:' with nothing after it: the parser marks the empty value where the next key begins
                self.doc.positions[(*path, key)] = self.doc.key_positions[(*path, key)]
        return out

    def _alias(self, node: Any) -> _Use | None:
        """The alias this meeting of node is, if the node was met before (outside an alias being expanded)."""
        if self.uses is None or self.via is not None:
            return None
        if id(node) in self.seen:
            return next(self.uses, None)
        self.seen.add(id(node))
        return None

    def _at(self, node: Any) -> tuple[int, int]:
        """Where a value is reported: at the alias that brought it, else where it is written."""
        if self.via is not None:
            return self.via.line, self.via.col
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _blame(self) -> str:
        if self.via is None:
            return ""
        return f" (here, where the alias *{self.via.anchor} repeats what &{self.via.anchor} holds)"

    def _tag(self, node: Any) -> _Problem:
        tag = node.tag.replace(_YAML, "!!")
        return _Problem("Y008", f"unsupported YAML tag '{tag}': only plain data is allowed", *self._at(node))

    def _scalar(self, node: Any) -> Any:
        tag, value = node.tag, node.value
        if tag not in _SCALAR_TAGS:
            raise self._tag(node)
        self.size += len(value)
        if self.size > MAX_EXPANDED:
            message = f"document expands to more than {MAX_EXPANDED:,} characters{self._blame()}"
            raise _Problem("Y009", message, *self._at(node))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a "\ud800" escape: half of a character, which no text can hold
            message = "text holds a lone surrogate escape, which is not a character"
            raise _Problem("Y005", message, *self._at(node)) from None
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
