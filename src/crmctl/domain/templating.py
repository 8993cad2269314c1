"""Jinja2 templates written by users: sandboxed, strict, bounded, and checkable before they run.

The sandbox keeps a template away from Python's internals. Bounds keep a short template from eating the
machine: every text or list it builds holds at most MAX_TEXT characters or items (checked before the
operators, filters and methods that multiply a size run, and after every filter and call); nothing made
into text (printed, joined, formatted, concatenated, escaped) weighs more than MAX_TEXT, counting a list as
the texts it holds; everything it writes, macros and blocks included, is at most MAX_OUTPUT characters; its
loops run at most MAX_ITERATIONS times in all, and it cannot load other templates. Whatever goes wrong
while it runs is a TemplateProblem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

MAX_TEXT = 100_000  # characters (or items) of one value a template builds
MAX_ITERATIONS = 100_000  # loop iterations of one render, all loops together
MAX_OUTPUT = 10 * MAX_TEXT  # characters one render writes, into macros, {% set %} and {% filter %} blocks too
MAX_POWER_BITS = 10_000  # the size of a number that ** may build
# globals of the compiled template (T702 if a template names them)
_LOOP, _SIZED, _TEXT, _EMIT = "crmctl__loop", "crmctl__sized", "crmctl__text", "crmctl__emit"
_PERCENT = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")

if TYPE_CHECKING:  # jinja2 is imported when a template is first used, not at start-up
    from jinja2.sandbox import SandboxedEnvironment


class TemplateProblem(ValueError):
    """What is wrong with a template, and where in it (line and column from 1)."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line, self.column = line, column


class _TooBig(Exception):
    """A bound was exceeded while rendering; render turns it into a TemplateProblem."""


@dataclass(frozen=True)
class TemplateNames:
    variables: frozenset[str]  # top-level names the template reads
    attributes: frozenset[tuple[str, str]]  # (name, attribute) pairs such as ("record", "amount")
    private: frozenset[str]  # attributes starting with '_' that it tries to reach


def _blank_none(value: Any) -> Any:
    """An empty field prints as nothing, not as 'None'."""
    return "" if value is None else value


# -- bounds --------------------------------------------------------------------------------------------------
_SIZED_TYPES = (str, bytes, bytearray, list, tuple, dict, set, frozenset)
_CONTAINERS = (list, tuple, dict, set, frozenset)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, _SIZED_TYPES) else 0


def _weight(value: Any, budget: int = MAX_TEXT) -> int:
    """About the characters str(value) makes: a text its length, a list its items and what they hold. Counted
    only until past the budget: [text] * 99999 is quick to build and to count, but 10**10 characters to print."""
    if not isinstance(value, _CONTAINERS):
        return _size(value)
    total = len(value)
    for item in (x for pair in value.items() for x in pair) if isinstance(value, dict) else value:
        if total > budget:
            break
        total += _weight(item, budget - total)
    return total


def _text(value: Any) -> Any:
    """A value about to be made into text: refused if that text would be too long."""
    if isinstance(value, _CONTAINERS):
        _limit(_weight(value), "a list too long to make into text")
    return value


def _listed(items: Any) -> list[Any]:
    """An iterator's items as a list, refused as soon as they weigh more than MAX_TEXT: map('upper') over
    99999 references to one long text makes 99999 new long texts."""
    out, total = [], 0
    for item in items:
        total += 1 + _weight(item)
        if total > MAX_TEXT:
            raise _TooBig(f"a sequence too long ({total:,}+; the limit is {MAX_TEXT:,})")
        out.append(item)
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _limit(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise _TooBig(f"{what} ({size:,}; the limit is {MAX_TEXT:,})")


def _sized(value: Any) -> Any:
    _limit(_size(value), "a text or list too long")
    return value


def _widths(values: Iterable[Any]) -> None:
    for value in values:
        _limit(_count(value), "a width or count too large")


def _percent(fmt: str, args: Any) -> None:
    """'%0999999999d' % 1 builds a huge text: the widths and precisions of a %-format are bounded."""
    for match in _PERCENT.finditer(fmt):
        for group in match.groups():
            if group and group != "*":
                _limit(int(group[:7]), "a format width too large")
    if "*" in fmt:
        _widths(args if isinstance(args, tuple) else (args,))


def _brace_format(fmt: str, args: Iterable[Any] = ()) -> None:
    """'{:>999999999}'.format(1): the widths of a str.format spec are bounded, nested ones ({0:{1}}) too."""
    from string import Formatter

    try:
        specs = [spec for _, _, spec, _ in Formatter().parse(fmt) if spec]
    except ValueError:
        return  # format() itself will say what is wrong
    if any("{" in spec for spec in specs):
        _widths(args)
    for spec in specs:
        for digits in _DIGITS.findall(spec):
            _limit(int(digits[:7]), "a format width too large")


def _replace_size(s: Any, old: Any, new: Any, count: Any = None) -> None:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        times = s.count(old) if old else len(s) + 1
        if _count(count) > 0:
            times = min(times, count)
        _limit(len(s) + times * len(new), "the text a replacement makes is too long")


def _join_size(items: Any, sep: Any = "") -> None:
    if isinstance(items, (list, tuple)):
        _limit(_weight(items) + len(items) * _size(sep), "the text a join makes is too long")


def _translate_size(s: str, table: Any) -> None:
    """'a' * 99999 translated with {97: long text}: each character may become a text."""
    if isinstance(table, dict):
        longest = max((_size(v) for v in table.values()), default=1)
        _limit(len(s) * max(longest, 1), "the text a translation makes is too long")


# Filters that keep their input's items as they are (references), or read only its size: no text is made
# of a list given to them. Every other filter is given only what may be made into text.
_KEEPING = frozenset(
    {"attr", "batch", "count", "d", "default", "dictsort", "first", "groupby", "items", "last", "length", "list"}
    | {"map", "max", "min", "random", "reject", "rejectattr", "reverse", "select", "selectattr", "slice", "sort"}
    | {"sum", "unique", "join"}  # join: its own check, as its text is its items' texts
)
_STREAMING = frozenset({"attr", "d", "default", "first", "map", "reject", "rejectattr", "select", "selectattr"})


def _filter_checks() -> dict[str, Callable[..., None]]:
    """Checks run before a filter, given its arguments as Jinja passes them."""

    def indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> None:
        lines = str(s).count("\n") + 1
        _limit(len(str(s)) + lines * (len(width) if isinstance(width, str) else _count(width)), "an indent too large")

    return {
        "center": lambda value, width=80, *_, **__: _widths([width]),
        "indent": indent,
        "wordwrap": lambda env, s, width=79, *a, **k: _widths([width]),
        "format": lambda value, *args, **kwargs: _percent(str(value), args or tuple(kwargs.values())),
        "replace": lambda ctx, s, old, new, count=None: _replace_size(s, old, new, count),
        "join": lambda ctx, items, d="", *_, **__: _join_size(items, d),
        "batch": lambda value, linecount=1, *_, **__: _widths([linecount]),
        "slice": lambda ctx, value, slices=1, *_, **__: _widths([slices]),
        "sum": lambda env, items, *_, **__: _limit(
            sum(_size(x) for x in items) if isinstance(items, (list, tuple)) else 0, "a sum too long"
        ),
    }


def _bounded(name: str, check: Callable[..., None] | None, original: Callable[..., Any]) -> Callable[..., Any]:
    """The filter with its bounds: an iterator it would gather is gathered here, within MAX_TEXT; a list it
    would make into text is weighed first; its own check runs; and what it returns is sized."""
    at = 1 if hasattr(original, "jinja_pass_arg") else 0  # the value comes after a context or environment

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if len(args) > at:
            value = args[at]
            if name not in _STREAMING and not isinstance(value, _SIZED_TYPES) and hasattr(value, "__next__"):
                args = (*args[:at], _listed(value), *args[at + 1 :])
            elif name not in _KEEPING:
                _text(value)
        if check is not None:
            check(*args, **kwargs)
        return _sized(original(*args, **kwargs))

    if hasattr(original, "jinja_pass_arg"):
        # jinja2 reads this mark off the function to pass it the context or environment; mypy knows no such attribute
        bounded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded


def _binop(operator: str, left: Any, right: Any) -> Any:
    """An operator that can build a huge value from a short template, run only when its result is in bounds."""
    if operator == "+":
        if _size(left) and _size(right):
            _limit(_size(left) + _size(right), "a text or list too long")
        return left + right
    if operator == "*":
        _limit(_size(left) * max(_count(right), 0) + _size(right) * max(_count(left), 0), "a repeat too long")
        return left * right
    if operator == "**":
        base, exponent = abs(_count(left)), _count(right)
        if base > 1 and exponent * base.bit_length() > MAX_POWER_BITS:
            raise _TooBig(f"{left} ** {right} is a number too large to compute")
        return left**right
    if isinstance(left, str):  # '%' as string formatting
        _percent(left, right)
        _text(right)
        return _sized(left % right)
    return left % right


def _check_call(owner: object, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The bounds of a method of a text (owner), or of lipsum, checked before it runs; the arguments to run it
    with (an iterator that join would gather is gathered here)."""
    if isinstance(owner, str):
        if name in ("center", "ljust", "rjust", "zfill", "expandtabs"):
            _widths([*args, *kwargs.values()])
        elif name in ("format", "format_map"):
            _brace_format(owner, [*args, *kwargs.values()])
            _text([*args, *kwargs.values()])
        elif name == "replace" and len(args) >= 2:
            _replace_size(owner, *args[:3])
        elif name == "join" and args:
            items = args[0] if isinstance(args[0], (list, tuple)) else _listed(args[0])
            _join_size(items, owner)
            args = (items, *args[1:])
        elif name == "translate" and args:
            _translate_size(owner, args[0])
    elif name == "generate_lorem_ipsum":  # lipsum(n, html, min, max)
        _limit(sum(_count(a) for a in (*args, *kwargs.values())) * 100, "lipsum asked for too much text")
    return args


@cache
def _env() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class Sandbox(SandboxedEnvironment):
        # Operators that can build a huge value from a short template: never folded at compile time
        # (the optimizer would build 'a' * 10**9 while checking a workspace), checked when they run.
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            return _binop(operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
            owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
            args = _check_call(owner, name, args, kwargs)
            result = _sized(super().call(__context, __obj, *args, **kwargs))
            if isinstance(owner, _CONTAINERS):  # append, extend, insert, update: the list itself grows
                _sized(owner)
            return result

    env = Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=_blank_none)
    checks = _filter_checks()
    for name, original in list(env.filters.items()):
        env.filters[name] = _bounded(name, checks.get(name), original)
    return env


class _Output:
    """Counts what one render writes, wherever it goes: a macro's or a {% set %} block's text is built in
    memory before anything checks its length, so each piece is counted as it is written."""

    def __init__(self) -> None:
        self.left = MAX_OUTPUT

    def __call__(self, value: Any) -> Any:
        self.left -= len(value) if isinstance(value, str) else _weight(_text(value))
        if self.left < 0:
            raise _TooBig(f"it writes more than {MAX_OUTPUT:,} characters, counting its macros and blocks")
        return value


class _Budget:
    """Counts the loop iterations of one render: nested loops over range(100000) are 10**10 steps."""

    def __init__(self) -> None:
        self.left = MAX_ITERATIONS

    def __call__(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.left -= 1
            if self.left < 0:
                raise _TooBig(f"its loops ran more than {MAX_ITERATIONS:,} times")
            yield item


# -- parse, inspect, render ----------------------------------------------------------------------------------
_OPENER = re.compile(r"\{\{|\{%|\{#")
_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _line_col(source: str, offset: int) -> tuple[int, int]:
    return source.count("\n", 0, offset) + 1, offset - source.rfind("\n", 0, offset)


def _opened_by(source: str, line: int) -> tuple[int, int]:
    """Where the expression or tag that Jinja stopped in (on line) begins: the last '{{', '{%' or '{#' at or
    before the end of that line; the line's start if there is none."""
    end = sum(len(text) + 1 for text in source.split("\n")[:line])
    last = None
    for match in _OPENER.finditer(source, 0, end):
        last = match
    return _line_col(source, last.start()) if last else (line, 1)


def syntax_problem(source: str, message: str, line: int) -> TemplateProblem:
    return TemplateProblem(f"template syntax error: {message}", *_opened_by(source, line))


def where(source: str, name: str | None, attribute: str | None = None) -> tuple[int, int]:
    """Line and column in a template where it first uses name (or name.attribute, or any .attribute when
    name is None) inside '{{ }}' or '{% %}'; (1, 1) when that is not found in the text."""
    if name is None:
        pattern = r"(?:\.\s*|\[\s*['\"])(" + re.escape(attribute or "") + r")\b"
    else:
        pattern = r"(?<![\w.])" + re.escape(name) + (r"\s*\.\s*" + re.escape(attribute) if attribute else "") + r"\b"
    found = re.compile(pattern)
    for block in _CODE.finditer(source):
        match = found.search(source, block.start(), block.end())
        if match:
            return _line_col(source, match.start(match.lastindex or 0))
    return 1, 1


def _parse(source: str) -> Any:
    from jinja2 import TemplateSyntaxError, nodes

    try:
        ast = _env().parse(source)
    except TemplateSyntaxError as exc:
        raise syntax_problem(source, exc.message or "", exc.lineno or 1) from None
    except (RecursionError, MemoryError):
        raise TemplateProblem("template syntax error: nested too deeply") from None
    loading = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
    for node in ast.find_all(loading):
        tag = {nodes.Extends: "extends", nodes.Include: "include", nodes.Import: "import"}.get(type(node), "from")
        message = f"{{% {tag} %}} is not allowed: a template cannot load other templates"
        raise syntax_problem(source, message, node.lineno or 1)
    return ast


def inspect(source: str) -> TemplateNames:
    """The names a template reads. TemplateProblem on a syntax error."""
    from jinja2 import TemplateSyntaxError, meta, nodes

    ast = _parse(source)
    attributes: set[tuple[str, str]] = set()
    private: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if not isinstance(attr, str):
            continue
        if attr.startswith("_"):
            private.add(attr)
        if isinstance(node.node, nodes.Name):
            attributes.add((node.node.name, attr))
    try:
        variables = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:  # found while compiling: a filter or test that does not exist
        raise syntax_problem(source, exc.message or "", exc.lineno or 1) from None
    except (RecursionError, MemoryError):
        raise TemplateProblem("template syntax error: nested too deeply") from None
    return TemplateNames(frozenset(variables), frozenset(attributes), frozenset(private))


def _bound(ast: Any) -> Any:
    """Every loop counts against the budget; every concatenation (~) is weighed and sized; every piece of
    output, literal text too, is counted."""
    from jinja2 import nodes

    def call(name: str, node: Any) -> Any:
        return nodes.Call(nodes.Name(name, "load"), [node], [], None, None, lineno=node.lineno)

    for loop in list(ast.find_all(nodes.For)):
        loop.iter = call(_LOOP, loop.iter)
    for concat in list(ast.find_all(nodes.Concat)):
        inner = nodes.Concat([call(_TEXT, n) for n in concat.nodes], lineno=concat.lineno)
        concat.nodes = [call(_SIZED, inner)]
    for output in list(ast.find_all(nodes.Output)):
        output.nodes = [
            call(_EMIT, nodes.Const(n.data, lineno=n.lineno) if isinstance(n, nodes.TemplateData) else n)
            for n in output.nodes
        ]
    return ast


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    """A template's code, compiled once per source text (the budgets are new for every render)."""
    return _env().compile(_bound(_parse(source)))


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render in the sandbox; an undefined name, a forbidden access or any failure is a TemplateProblem."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    plain = not any(mark in source for mark in ("{", "%", "#")) and not source.endswith("\n")
    if plain and len(source) <= MAX_TEXT:
        return source  # plain text renders as itself: no need to compile it (a launch renders thousands)
    env = _env()
    try:
        template = env.template_class.from_code(
            env, _compiled(source), env.make_globals({_LOOP: _Budget(), _SIZED: _sized, _TEXT: _text, _EMIT: _Output()})
        )
        pieces, length = [], 0
        for piece in template.generate(**context):  # stop as soon as the text is too long, not after
            length += len(piece)
            if length > MAX_TEXT:
                raise _TooBig(f"the text it makes is too long (more than {MAX_TEXT:,} characters)")
            pieces.append(piece)
        text = "".join(pieces)
    except SecurityError as exc:
        raise TemplateProblem(f"template tried something not allowed: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template error: {exc.message or exc}") from None
    except _TooBig as exc:
        raise TemplateProblem(f"template builds too much: {exc}") from None
    except RecursionError:
        raise TemplateProblem("template error: it calls itself without end") from None
    except MemoryError:
        raise TemplateProblem("template builds too much: out of memory") from None
    except Exception as exc:  # a user's template can fail as any Python code can: 1/0, wordwrap(0)
        raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None
    return text
