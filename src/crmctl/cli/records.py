"""crmctl record ..., comment, remind, agenda."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import (
    DryRunOption,
    FormatOption,
    ListingFormat,
    call,
    check_output,
    choose_format,
    color_wanted,
    completes,
    emit,
    formats,
    rehearse,
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
    dry_run: DryRunOption = False,
    output: FormatOption = None,
) -> None:
    """Create a record and print its key (the whole record with --format json)."""
    from crmctl.ops.records import Created, CreateRequest
    from crmctl.render.records import card_json, launches, launches_json

    fmt = choose_format(output)
    if dry_run:
        return rehearse("record.create", CreateRequest(form, _values(assignments, file), process), fmt)
    created: Created = call("record.create", CreateRequest(form, _values(assignments, file), process, fmt == "json"))
    if created.card:
        emit(card_json(created.card, launches_json(created.launched)))
    else:
        said = launches(created.launched).removeprefix("; ")  # under the key, which scripts read off the first line
        emit(created.key + "\n" + (said + "\n" if said else ""))


@record_app.command("update")
def update(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    assignments: SetOption = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Field values from a YAML or JSON file; - reads standard input.")
    ] = None,
    dry_run: DryRunOption = False,
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
    if dry_run:
        return rehearse("record.update", UpdateRequest(key, values), fmt)
    result: Updated = call("record.update", UpdateRequest(key, values, fmt == "json"))
    emit(card_json(result.card) if result.card else updated(result))


@record_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    output: Annotated[str | None, formats("table", "json", "html")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Show a record: its fields, stage, files, reminders and comments (table, json, or an html page with
    thumbnails of the attached images)."""
    from crmctl.ops.records import Card, ShowRequest
    from crmctl.render.records import card_html, card_json, card_text

    fmt = choose_format(output)
    if out is not None:
        check_output(out)
    card: Card = call("record.show", ShowRequest(key, previews=fmt == "html"))
    if fmt == "json":
        text = card_json(card)
    elif fmt == "html":
        text = card_html(card)
    else:
        text = card_text(card, color=color_wanted() and out is None)
    if out is not None:
        write_file(out, text)
        emit(f"wrote {out}\n")
    else:
        emit(text)


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
    deleted: Annotated[
        bool, typer.Option("--deleted", help="The records deleted to the archive (`record restore` brings one back).")
    ] = False,
    output: ListingFormat = None,
) -> None:
    """List the records of a form."""
    from crmctl.ops.records import ListRequest
    from crmctl.render.records import record_list

    fmt = choose_format(output)
    request = ListRequest(form, where or [], process, stage, sort or [], limit, deleted)
    emit(record_list(fmt, call("record.list", request)))


@record_app.command("delete")
def delete(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.")],
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Also delete the records that refer to it (each needs records.delete).")
    ] = False,
    dry_run: DryRunOption = False,
) -> None:
    """Move a record to the archive (nothing is dropped: `record restore KEY` brings it back)."""
    from crmctl.ops.records import Deleted, DeleteRequest

    if dry_run:
        return rehearse("record.delete", DeleteRequest(key, cascade))
    result: Deleted = call("record.delete", DeleteRequest(key, cascade))
    rest = result.keys[1:]
    emit(
        f"{result.keys[0]} deleted"
        + (f" with {', '.join(rest)}" if rest else "")
        + " (record restore brings it back)\n"
    )


@record_app.command("restore")
def restore(key: Annotated[str, typer.Argument(help="The key of a deleted record.")]) -> None:
    """Bring a deleted record back from the archive, as it was."""
    from crmctl.ops.records import Restored, RestoreRequest

    result: Restored = call("record.restore", RestoreRequest(key))
    emit(f"{result.key} restored\n")


@record_app.command("history")
def history(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.", autocompletion=completes("record"))],
    related: Annotated[
        bool,
        typer.Option("--related", help="Also the events of the records that refer to it and of its projects' tasks."),
    ] = False,
    output: ListingFormat = None,
) -> None:
    """Everything that happened to a record, in order: field changes, comments, stages, approvals."""
    from crmctl.ops.records import HistoryRequest
    from crmctl.render.records import history as history_text

    fmt = choose_format(output)
    emit(history_text(fmt, call("record.history", HistoryRequest(key, related)), related=related))


@record_app.command("assign")
def assign(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.")],
    person: Annotated[str, typer.Argument(help="Who becomes responsible for the record's current stage.")],
) -> None:
    """Hand the record's current stage to another person, with the approvals it asks of its responsible person.

    Example: crmctl record assign CL-1 orlova
    """
    from crmctl.ops.process import AssignRequest

    done = call("record.assign", AssignRequest(key, person))
    was = f" (was {done.previous})" if done.previous else ""
    moved = f"; approvals moved: {', '.join(done.approvals)}" if done.approvals else ""
    emit(f"{done.key}: {done.person} is responsible at '{done.stage}'{was}{moved}\n")


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
    every: Annotated[
        str | None,
        typer.Option("--every", help="Repeat every 1d, 2w, 1mo: the next one comes when one is done or due."),
    ] = None,
    done: Annotated[int | None, typer.Option("--done", help="Mark reminder ID as done instead.")] = None,
    stop: Annotated[int | None, typer.Option("--stop", help="Stop the series of recurring reminder ID.")] = None,
    listing: Annotated[bool, typer.Option("--list", help="List open reminders (yours, or --for PERSON's).")] = False,
    output: ListingFormat = None,
) -> None:
    """Set a reminder on a record (the next call, the next meeting), a recurring one with --every; mark one done
    with --done ID, stop a recurring one with --stop ID, list them with --list.

    Example: crmctl remind CL-17 "Позвонить" --at 2027-03-02T10:00 --every 2w
    """
    from crmctl.ops.records import Reminded, Reminder, RemindRequest
    from crmctl.render.shapes import listing as rows

    fmt = choose_format(output)
    result: Reminded = call("remind", RemindRequest(key, text, at, person, done, every, stop, listing))
    if result.action == "list" or fmt != "table":
        emit(rows(fmt, result.reminders, Reminder))
        return
    made = result.reminders[0]
    if result.action == "done":
        emit(f"reminder {made.id} done ({made.text})\n")
    elif result.action == "stopped":
        emit(f"reminder {made.id}: its series {made.series} stopped ({made.text})\n")
    else:
        repeat = f", every {made.every}" if made.every else ""
        emit(f"reminder {made.id} for {made.person or 'everyone'} at {cell(made.due_at)} on {made.record}{repeat}\n")


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
