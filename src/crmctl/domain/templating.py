"""Jinja2 templates written by users: sandboxed, strict, and checkable before they run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any


class TemplateProblem(ValueError):
    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class TemplateNames:
    variables: frozenset[str]  # top-level names the template reads
    attributes: frozenset[tuple[str, str]]  # (name, attribute) pairs such as ("record", "amount")
    private: frozenset[str]  # attributes starting with '_' that it tries to reach


def _blank_none(value: Any) -> Any:
    """An empty field prints as nothing, not as 'None'."""
    return "" if value is None else value


@cache
def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=_blank_none
    )


def inspect(source: str) -> TemplateNames:
    """The names a template reads. TemplateProblem on a syntax error."""
    from jinja2 import TemplateSyntaxError, meta, nodes

    env = _env()
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", exc.lineno or 1) from None
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
    return TemplateNames(frozenset(meta.find_undeclared_variables(ast)), frozenset(attributes), frozenset(private))


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render in the sandbox; an undefined name or a forbidden access is a TemplateProblem."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    env = _env()
    try:
        return str(env.from_string(source).render(**context))
    except SecurityError as exc:
        raise TemplateProblem(f"template tried something not allowed: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template error: {exc.message or exc}") from None
