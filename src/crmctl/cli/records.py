"""crmctl record ..., comment, remind, agenda."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import (
    FormatOption,
    ListingFormat,
    call,
    check_output,
    choose_format,
    color_wanted,
    completes,
    emit,
    stdin_as_file,
    write_file,
)
from crmctl.render.tables import cell

record_app = typer.Typer(help="Create, change, show and list records.", no_args_is_help=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="field=value (repeat for more fields; an empty value clears a field)."),
]


FileOption = Annotated[
    Path | None, typer.Option("--file", help="Field values from a YAML or JSON file; - reads standard input.")
]


def _read_file(path: Path) -> dict[str, Any]:
    """Field values from a YAML or JSON mapping."""
    from crmctl.config.yamlload import load_file
    from crmctl.errors import InputError, NotFound

    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    loaded = load_file(path)
    if loaded.diagnostics:
        d = loaded.diagnostics[0]
        raise InputError(f"{d.location.file}:{d.location.line}:{d.location.column}: {d.message}")
    if len(loaded.documents) != 1:
        raise InputError(f"{path} must hold one mapping of field: value")
    return dict(loaded.documents[0].data)


def _values(assignments: list[str] | None, file: Path | None) -> dict[str, Any]:
    from crmctl.domain.records import parse_assignments

    values: dict[str, Any] = {}
    if file is not None:
        with stdin_as_file([file], ".yaml") as (path,):
            values = _read_file(path)
    values.update(parse_assignments(assignments or []))
    return values


@record_app.command("create")
def create(
    form: Annotated[str, typer.Argument(help="The form of the new record.", autocompletion=completes("form"))],
    assignments: SetOption = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Field values from a YAML or JSON file; - reads standard input.")
    ] = None,
    process: Annotated[
        str | None, typer.Option("--process", "-p", help="The process to enter.", autocompletion=completes("process"))
    ] = None,
    output: FormatOption = None,
) -> None:
    """Create a record and print its key (the whole record with --format json)."""
    from crmctl.ops.records import Created, CreateRequest
    from crmctl.render.records import card_json

    fmt = choose_format(output)
    created: Created = call("record.create", CreateRequest(form, _values(assignments, file), process, fmt == "json"))
    emit(card_json(created.card) if created.card else created.key + "\n")


@record_app.command("update")
def update(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    assignments: SetOption = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Field values from a YAML or JSON file; - reads standard input.")
    ] = None,
    output: FormatOption = None,
) -> None:
    """Change fields of a record; every change is kept in its history."""
    from crmctl.errors import UsageError
    from crmctl.ops.records import Updated, UpdateRequest
    from crmctl.render.records import card_json, updated

    fmt = choose_format(output)
    values = _values(assignments, file)
    if not values:
        raise UsageError("nothing to change: give --set field=value or --file")
    result: Updated = call("record.update", UpdateRequest(key, values, fmt == "json"))
    emit(card_json(result.card) if result.card else updated(result))


@record_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    output: FormatOption = None,
) -> None:
    """Show a record: its fields, stage, reminders and comments."""
    from crmctl.ops.records import Card, ShowRequest
    from crmctl.render.records import card_json, card_text

    fmt = choose_format(output)
    card: Card = call("record.show", ShowRequest(key))
    emit(card_json(card) if fmt == "json" else card_text(card, color=color_wanted()))


def _countable(value: int | None) -> int | None:
    """A --limit the database can count to (a 64-bit integer); said so, not as a range, in the help."""
    if value is not None and value > 2**63 - 1:
        raise typer.BadParameter(f"{value} is more than the database counts (at most {2**63 - 1})")
    return value


@record_app.command("list")
def list_(
    form: Annotated[str, typer.Argument(help="The form whose records to list.", autocompletion=completes("form"))],
    where: Annotated[
        list[str] | None,
        typer.Option("--where", help="field=value; also !=, >, >=, <, <= and ~ (contains). Repeat to combine."),
    ] = None,
    process: Annotated[
        str | None,
        typer.Option("--process", "-p", help="Only records in this process.", autocompletion=completes("process")),
    ] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only records in this stage.")] = None,
    sort: Annotated[list[str] | None, typer.Option("--sort", help="Sort by a field; -field for descending.")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, callback=_countable, help="At most this many records.")
    ] = None,
    output: ListingFormat = None,
) -> None:
    """List the records of a form."""
    from crmctl.ops.records import ListRequest
    from crmctl.render.records import record_list

    fmt = choose_format(output)
    request = ListRequest(form, where or [], process, stage, sort or [], limit)
    emit(record_list(fmt, call("record.list", request)))


@record_app.command("history")
def history(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    output: ListingFormat = None,
) -> None:
    """Everything that happened to a record, in order: field changes, comments, stages, approvals."""
    from crmctl.ops.records import HistoryRequest
    from crmctl.render.records import history as history_text

    fmt = choose_format(output)
    emit(history_text(fmt, call("record.history", HistoryRequest(key))))


def comment(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    text: Annotated[str, typer.Argument(help="The comment.")],
) -> None:
    """Add a comment to a record's history."""
    from crmctl.ops.records import Commented, CommentRequest

    added: Commented = call("comment", CommentRequest(key, text))
    emit(f"comment {added.id} added to {added.record}\n")


def remind(
    key: Annotated[
        str | None, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))
    ] = None,
    text: Annotated[str | None, typer.Argument(help="What to remember.")] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="WHEN", help="When: ISO date-time (2027-03-02T10:00), a date, or +2h, +1d."),
    ] = None,
    person: Annotated[
        str | None, typer.Option("--for", help="Whom to remind (default: you).", autocompletion=completes("person"))
    ] = None,
    done: Annotated[int | None, typer.Option("--done", help="Mark reminder ID as done instead.")] = None,
) -> None:
    """Set a reminder on a record (the next call, the next meeting), or mark one done with --done ID."""
    from crmctl.ops.records import Reminder, RemindRequest

    made: Reminder = call("remind", RemindRequest(key, text, at, person, done))
    if made.done:
        emit(f"reminder {made.id} done ({made.text})\n")
    else:
        emit(f"reminder {made.id} for {made.person or 'everyone'} at {cell(made.due_at)} on {made.record}\n")


def agenda(
    person: Annotated[
        str | None,
        typer.Argument(
            help="Whose agenda (default: yours; everyone's without --as).", autocompletion=completes("person")
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Also what is due in the next N days.")] = 0,
    ics: Annotated[Path | None, typer.Option("--ics", help="Write the agenda as an iCalendar file.")] = None,
    output: ListingFormat = None,
) -> None:
    """What is due today (and in the next --days), and what is overdue, in red on a terminal."""
    from crmctl.ops.agenda import Agenda, AgendaItem, AgendaRequest
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    if ics is not None:
        check_output(ics)
    result: Agenda = call("agenda", AgendaRequest(person, days))
    if ics is not None:
        from crmctl.render.ical import calendar

        write_file(ics, calendar(result), newline="")

    def overdue_mark(row: dict[str, Any], item: AgendaItem) -> None:
        if item.overdue:
            row["due"] = cell(item.due) + " overdue"

    emit(
        listing(
            fmt,
            result.items,
            AgendaItem,
            color=color_wanted(),
            flag=lambda item: item.overdue,
            table=overdue_mark,
        )
    )
