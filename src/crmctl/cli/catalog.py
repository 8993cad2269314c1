"""crmctl template list|show, process list|show, form list|show: what the workspace's files define."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crmctl.cli.base import FormatOption, ListingFormat, call, choose_format, emit

template_app = typer.Typer(help="The workspace's project templates and their parameters.", no_args_is_help=True)
process_app = typer.Typer(help="The workspace's processes and their stages.", no_args_is_help=True)
form_app = typer.Typer(help="The workspace's forms and their fields.", no_args_is_help=True)


def _listing(name: str, output: str | None) -> None:
    """A kind's list (`template list` ...) in a listing format, its row type from the result."""
    from crmctl.ops.catalog import CatalogRequest, FormRow, ProcessRow, TemplateRow
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    shape = {"template.list": TemplateRow, "process.list": ProcessRow, "form.list": FormRow}[name]
    emit(listing(fmt, call(name, CatalogRequest()), shape))


def _card(name: str, key: str, output: str | None) -> None:
    """One definition (`template show NAME` ...) as text or JSON."""
    from crmctl.ops.catalog import CatalogRequest
    from crmctl.render.catalog import card_json, card_text

    fmt = choose_format(output)
    card: Any = call(name, CatalogRequest(key))
    emit(card_json(card) if fmt == "json" else card_text(card))


NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Its name, as in the YAML.")]


@template_app.command("list")
def template_list(output: ListingFormat = None) -> None:
    """List the project templates with their parameters."""
    _listing("template.list", output)


@template_app.command("show")
def template_show(name: NameArgument, output: FormatOption = None) -> None:
    """Show a project template: its parameters (types, allowed values, defaults) and tasks."""
    _card("template.show", name, output)


@process_app.command("list")
def process_list(output: ListingFormat = None) -> None:
    """List the processes with their stages."""
    _listing("process.list", output)


@process_app.command("show")
def process_show(name: NameArgument, output: FormatOption = None) -> None:
    """Show a process: each stage's responsible person, approvers and transitions."""
    _card("process.show", name, output)


@form_app.command("list")
def form_list(output: ListingFormat = None) -> None:
    """List the forms with their fields."""
    _listing("form.list", output)


@form_app.command("show")
def form_show(name: NameArgument, output: FormatOption = None) -> None:
    """Show a form: its fields (types, allowed values, defaults) and what is unique."""
    _card("form.show", name, output)
