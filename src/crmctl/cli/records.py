"""crmctl record ..., comment, remind, agenda."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli.base import (
    LISTING_FORMATS,
    FormatOption,
    check_output,
    choose_format,
    color_wanted,
    emit,
    options,
    write_file,
)
from crmctl.render.tables import FLAG, cell, clip, hidden_line, pairs, render, terminal_width

record_app = typer.Typer(help="Create, change, show and list records.", no_args_is_help=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="field=value (repeat for more fields; an empty value clears a field)."),
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

    values: dict[str, Any] = _read_file(file) if file else {}
    values.update(parse_assignments(assignments or []))
    return values


@record_app.command("create")
def create(
    form: Annotated[str, typer.Argument(help="The form of the new record.")],
    assignments: SetOption = None,
    file: Annotated[Path | None, typer.Option("--file", help="Field values from a YAML or JSON file.")] = None,
    process: Annotated[str | None, typer.Option("--process", "-p", help="The process to enter.")] = None,
    output: FormatOption = None,
) -> None:
    """Create a record and print its key (the whole record with --format json)."""
    from crmctl.ops import records
    from crmctl.ops.session import open_session

    fmt = choose_format(output, ("table", "json"))
    with open_session(options()) as session:
        record = records.create(session, form, _values(assignments, file), process)
        if fmt == "json":
            emit(_card_json(records.show(session, record["key"])))
        else:
            emit(record["key"] + "\n")


@record_app.command("update")
def update(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.")],
    assignments: SetOption = None,
    file: Annotated[Path | None, typer.Option("--file", help="Field values from a YAML or JSON file.")] = None,
    output: FormatOption = None,
) -> None:
    """Change fields of a record; every change is kept in its history."""
    from crmctl.errors import UsageError
    from crmctl.ops import records
    from crmctl.ops.session import open_session

    fmt = choose_format(output, ("table", "json"))
    values = _values(assignments, file)
    if not values:
        raise UsageError("nothing to change: give --set field=value or --file")
    with open_session(options()) as session:
        row, changes = records.update(session, key, values)
        if fmt == "json":
            emit(_card_json(records.show(session, row["key"])))
        elif changes:
            emit(
                "".join(
                    f"{row['key']} {name}: {cell(a) or '-'} -> {cell(b) or '-'}\n" for name, (a, b) in changes.items()
                )
            )
        else:
            emit(f"{row['key']}: no changes\n")


def _card_json(card: Any) -> str:
    return json.dumps(card.as_dict(), ensure_ascii=False, indent=2) + "\n"


def _card_text(session: Any, card: Any) -> str:
    from crmctl.ops.lookups import title_of

    form, row = card.form, card.record
    width = terminal_width()
    head = clip(cell(f"{row['key']}  {title_of(form, row)}".rstrip(), width), width)
    meta: list[tuple[str, Any]] = [("form", form.title)]
    if row.get("process"):
        process = session.defs.processes.get(row["process"])
        stage = process.stages.get(row["stage"]) if process and row.get("stage") else None
        meta.append(("process", process.title if process else row["process"]))
        meta.append(("stage", stage.title if stage else row.get("stage")))
        if row.get("responsible"):
            meta.append(("responsible", row["responsible"]))
        if row.get("stage_due"):
            late = " (overdue)" if row["stage_due"] < session.now else ""
            meta.append(("stage due", cell(row["stage_due"]) + late))
        if card.pending:
            meta.append(("waiting for", ", ".join(card.pending)))
    meta += [("author", row.get("author")), ("created", row.get("created_at")), ("updated", row.get("updated_at"))]
    fields = [(spec.name, _display(spec, row.get(spec.id))) for spec in form.fields.values()]
    fields += [(r.label, cell(card.rollups.get(r.id)) or ("0" if r.aggregate == "count" else "")) for r in form.rollups]
    text = head + "\n\n" + pairs(meta) + "\n" + pairs(fields)
    if card.related:
        text += "\nrelated\n" + "".join(
            clip(
                f"  {r['key']}  {session.defs.forms[r['form']].title}"
                + (f": {cell(r['title'], width)}" if r["title"] else "")
                + (f"  [{r['stage']}]" if r["stage"] else "")
                + (f"  tasks {r['tasks_done']}/{r['tasks']} done" if r["tasks"] else ""),
                width,
            )
            + "\n"
            for r in card.related
        )
    if card.tasks:
        text += "\ntasks\n" + _task_lines(card.tasks)
    if any(card.hidden.values()):
        text += "\n" + hidden_line(card.hidden)
    if card.reminders:
        text += "\nreminders\n" + "".join(
            f"  {cell(r['due_at'])}  {cell(r['text'])}" + (f" ({r['person']})" if r["person"] else "") + "\n"
            for r in card.reminders
        )
    if card.comments:
        text += "\ncomments\n" + "".join(
            f"  {cell(c['at'])}  {c['author'] or '-'}: {cell(c['text'])}\n" for c in card.comments
        )
    return text


def _task_lines(tasks: list[dict[str, Any]]) -> str:
    from crmctl.render.tables import red

    lines, width = [], terminal_width()
    for t in tasks:
        due = f"  due {cell(t['due_at'])}" + (" overdue" if t["overdue"] else "") if t["due_at"] else ""
        title = cell(t["title"], width).replace("\n", " ")
        who = f"({t['assignee'] or 'unassigned'}, {t['record']})"
        line = clip(f"  {t['id']}  {t['status']:<11}  {title}  {who}{due}", width)
        lines.append(red(line) if t["overdue"] and color_wanted() else line)
    return "\n".join(lines) + "\n"


def _display(spec: Any, value: Any) -> str:
    if value is None:
        return ""
    if spec.type == "list":
        return spec.option_labels.get(value, value)
    if spec.type == "money" and spec.currency:
        return f"{cell(value)} {spec.currency}"
    return cell(value)


@record_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.")],
    output: FormatOption = None,
) -> None:
    """Show a record: its fields, stage, reminders and comments."""
    from crmctl.ops import records
    from crmctl.ops.session import open_session

    fmt = choose_format(output, ("table", "json"))
    with open_session(options(), write=False) as session:
        card = records.show(session, key)
        emit(_card_json(card) if fmt == "json" else _card_text(session, card))


@record_app.command("list")
def list_(
    form: Annotated[str, typer.Argument(help="The form whose records to list.")],
    where: Annotated[
        list[str] | None,
        typer.Option("--where", help="field=value; also !=, >, >=, <, <= and ~ (contains). Repeat to combine."),
    ] = None,
    process: Annotated[str | None, typer.Option("--process", "-p", help="Only records in this process.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only records in this stage.")] = None,
    sort: Annotated[list[str] | None, typer.Option("--sort", help="Sort by a field; -field for descending.")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, max=2**63 - 1, help="At most this many records.")
    ] = None,
    output: FormatOption = None,
) -> None:
    """List the records of a form."""
    from crmctl.ops import records
    from crmctl.ops.session import open_session

    fmt = choose_format(output, LISTING_FORMATS)
    with open_session(options(), write=False) as session:
        form_def, rows = records.list_records(
            session, form, where or [], process=process, stage=stage, sort=sort or [], limit=limit
        )
    has_process = bool(session.defs.processes_of(form_def.name))
    columns = [("key", "key")]
    if has_process:
        columns.append(("stage", "stage"))
    if fmt == "table":
        columns += [(spec.id, spec.label or spec.id) for spec in form_def.fields.values()]
    else:
        columns = [
            ("key", "key"),
            ("process", "process"),
            ("stage", "stage"),
            ("author", "author"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
        ]
        columns += [(spec.id, spec.id) for spec in form_def.fields.values()]
    emit(render(fmt, rows, columns))


@record_app.command("history")
def history(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.")],
    output: FormatOption = None,
) -> None:
    """Everything that happened to a record, in order: field changes, comments, stages, approvals."""
    from crmctl.ops import records
    from crmctl.ops.session import open_session
    from crmctl.render.records import describe_event

    fmt = choose_format(output, LISTING_FORMATS)
    with open_session(options(), write=False) as session:
        events = records.history(session, key)
    if fmt == "json":
        emit(
            json.dumps(
                [{**e, "at": cell(e["at"]) and e["at"].isoformat()} for e in events], ensure_ascii=False, indent=2
            )
            + "\n"
        )
        return
    rows = [
        {"at": e["at"], "actor": e["actor"] or "-", "action": e["action"], "details": describe_event(e)} for e in events
    ]
    emit(render(fmt, rows, [("at", "at"), ("actor", "actor"), ("action", "action"), ("details", "details")]))


def comment(
    key: Annotated[str, typer.Argument(help="The record key, e.g. CL-17.")],
    text: Annotated[str, typer.Argument(help="The comment.")],
) -> None:
    """Add a comment to a record's history."""
    from crmctl.ops import records
    from crmctl.ops.session import open_session

    with open_session(options()) as session:
        comment_id = records.comment(session, key, text)
    emit(f"comment {comment_id} added to {key.upper()}\n")


def remind(
    key: Annotated[str | None, typer.Argument(help="The record key, e.g. CL-17.")] = None,
    text: Annotated[str | None, typer.Argument(help="What to remember.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When: ISO date-time (2027-03-02T10:00), a date, or +2h, +1d.")
    ] = None,
    person: Annotated[str | None, typer.Option("--for", help="Whom to remind (default: you).")] = None,
    done: Annotated[int | None, typer.Option("--done", help="Mark reminder ID as done instead.")] = None,
) -> None:
    """Set a reminder on a record (the next call, the next meeting), or mark one done with --done ID."""
    from crmctl.errors import UsageError
    from crmctl.ops import records
    from crmctl.ops.session import open_session

    with open_session(options()) as session:
        if done is not None:
            if key or text or at:
                raise UsageError("--done takes only the reminder id")
            found = records.finish_reminder(session, done)
            emit(f"reminder {done} done ({found['text']})\n")
            return
        if not key or not text or not at:
            raise UsageError("give KEY, TEXT and --at WHEN (or --done ID)")
        made = records.remind(session, key, at, text, person)
    emit(f"reminder {made['id']} for {made['person'] or 'everyone'} at {cell(made['due_at'])} on {made['record']}\n")


def agenda(
    person: Annotated[
        str | None, typer.Argument(help="Whose agenda (default: yours; everyone's without --as).")
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Also what is due in the next N days.")] = 0,
    ics: Annotated[Path | None, typer.Option("--ics", help="Write the agenda as an iCalendar file.")] = None,
    output: FormatOption = None,
) -> None:
    """What is due today (and in the next --days), and what is overdue, in red on a terminal."""
    from crmctl.ops import agenda as agenda_op
    from crmctl.ops.session import open_session

    fmt = choose_format(output, LISTING_FORMATS)
    if ics is not None:
        check_output(ics)
    with open_session(options(), write=False) as session:
        items = agenda_op.agenda(session, person, days)
        now = session.now
    if ics is not None:
        from crmctl.render.ical import calendar

        write_file(ics, calendar(items, now), newline="")
    rows = [{**item.as_dict(), "due": item.due, FLAG: item.overdue} for item in items]
    columns = [("due", "due"), ("record", "record"), ("title", "title"), ("text", "what"), ("person", "for")]
    if fmt != "table":
        columns = [
            ("due", "due"),
            ("kind", "kind"),
            ("id", "id"),
            ("record", "record"),
            ("title", "title"),
            ("text", "text"),
            ("person", "person"),
            ("overdue", "overdue"),
        ]
    else:
        for row in rows:
            if row[FLAG]:
                row["due"] = cell(row["due"]) + " overdue"
    emit(render(fmt, rows, columns, color=color_wanted()))
