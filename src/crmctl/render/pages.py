"""Standalone HTML pages from the package's Jinja2 templates, autoescaped; no network needed to view them."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _env() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("crmctl", "templates"), autoescape=select_autoescape(["html", "j2"]))


def page(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)
