"""crmctl advance, approve, reject, board, simulate, inbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmctl.cli.base import (
    DryRunOption,
    FormatOption,
    ListingFormat,
    OutOption,
    call,
    check_output,
    choose_format,
    color_wanted,
    completes,
    emit,
    formats,
    rehearse,
    write_file,
)
from crmctl.errors import UsageError
from crmctl.render.tables import render

if TYPE_CHECKING:
    from crmctl.ops.process import SimulatedStage

KeyArgument = Annotated[str, typer.Argument(help="The record key, e.g. DL-3.", autocompletion=completes("record"))]


def _moved(stages: list[str]) -> str:
    return " -> ".join(stages)


def advance(
    key: KeyArgument,
    to: Annotated[str | None, typer.Option("--to", help="The stage to go to (needed when there are several).")] = None,
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="A comment for the history.")] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why: for a stage whose entry asks for a reason (a refusal).")
    ] = None,
    output: FormatOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Move a record along an allowed transition of its process; says which projects entering launched."""
    from crmctl.ops.process import AdvanceRequest
    from crmctl.render.records import launches, launches_json

    if dry_run:
        return rehearse("advance", AdvanceRequest(key, to, comment, reason))
    fmt = choose_format(output)
    moved = call("advance", AdvanceRequest(key, to, comment, reason))
    if fmt == "json":
        data = {"key": moved.key, "stages": moved.stages, "launched": launches_json(moved.launched)}
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        emit(f"{moved.key} -> {_moved(moved.stages)}{launches(moved.launched)}\n")


def approve(
    key: KeyArgument,
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="A comment for the history.")] = None,
    delegate: Annotated[
        str | None,
        typer.Option("--delegate", help="Hand your approval of this record to this person instead of deciding."),
    ] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Approve the record's current stage as one of its pending approvers (or hand it on with --delegate)."""
    from crmctl.ops.process import ApproveRequest
    from crmctl.render.records import launches

    if dry_run:
        return rehearse("approve", ApproveRequest(key, comment, delegate))
    decision = call("approve", ApproveRequest(key, comment, delegate))
    if decision.delegated_to:
        emit(f"{decision.key}: approval at '{decision.stage}' handed to {decision.delegated_to}\n")
    elif decision.remaining:
        emit(f"{decision.key}: approved; still waiting for {', '.join(decision.remaining)}\n")
    elif decision.moved_to:
        moved = _moved(decision.moved_to) + launches(decision.launched)
        emit(f"{decision.key}: approved; stage '{decision.stage}' passed -> {moved}\n")
    else:
        emit(f"{decision.key}: approved; stage '{decision.stage}' passed (advance it to go on)\n")


def reject(
    key: KeyArgument,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (required).")],
) -> None:
    """Reject the record's current stage; it goes where the stage's on_reject says."""
    from crmctl.ops.process import RejectRequest
    from crmctl.render.records import launches

    decision = call("reject", RejectRequest(key, comment))
    emit(
        f"{decision.key}: rejected at '{decision.stage}' -> {_moved(decision.moved_to)}{launches(decision.launched)}\n"
    )


def board(
    process_name: Annotated[
        str,
        typer.Argument(metavar="PROCESS", help="The process whose board to show.", autocompletion=completes("process")),
    ],
    output: Annotated[str | None, formats("table", "json", "html")] = None,
    out: OutOption = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, max=2**31 - 1, help="Cards per column, those longest in their stage (50)."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every record's card, however many.")] = False,
) -> None:
    """The kanban board of a process: a column per stage with counts and cards (table, json or html)."""
    from crmctl.ops.process import BOARD_LIMIT, BoardRequest
    from crmctl.render import board as render_board

    fmt = choose_format(output)
    if every and limit is not None:
        raise UsageError("--all shows every card: give --limit or --all, not both")
    if out is not None:
        check_output(out)
    found = call("board", BoardRequest(process_name, None if every else limit or BOARD_LIMIT))
    if fmt == "json":
        text = render_board.as_json(found)
    elif fmt == "html":
        text = render_board.html(found)
    else:
        text = render_board.table(found, color=color_wanted() and out is None)
    if out is not None:
        write_file(out, text)
        emit(f"wrote {out}\n")
    else:
        emit(text)


def _what_happens(step: SimulatedStage) -> str:
    if step.skipped:
        return f"skipped: {step.skipped}"
    if step.approvers:
        return "approval by " + ", ".join(step.approvers)
    if step.terminal:
        return "end"
    return f"work by {step.responsible}" if step.responsible else "work"


def simulate(
    process_name: Annotated[
        str, typer.Argument(metavar="PROCESS", help="The process to walk.", autocompletion=completes("process"))
    ],
    assignments: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="field=value of the imagined record (repeatable).")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Field values from a YAML or JSON file.")] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Stages to go through, in order: a,b,c (then first transitions).")
    ] = None,
    output: FormatOption = None,
) -> None:
    """Show, without writing anything, the stages and approvers a record with these values would meet.

    It follows the whole way to an end stage: through the stages of --path, then each stage's first
    transition to a stage not met yet; it says why a stage is skipped. It reads the workspace's files only.
    """
    from crmctl.cli.records import _values
    from crmctl.ops.process import SimulateRequest
    from crmctl.render.shapes import rows

    fmt = choose_format(output)
    stages = [s.strip() for s in path.split(",") if s.strip()] if path else []
    steps: list[SimulatedStage] = call("simulate", SimulateRequest(process_name, _values(assignments, file), stages))
    if fmt == "json":
        emit(json.dumps(rows(steps), ensure_ascii=False, indent=2) + "\n")
        return
    shown = [
        {"n": i, "stage": step.stage, "title": step.title, "what": _what_happens(step)}
        for i, step in enumerate(steps, 1)
    ]
    emit(render("table", shown, [("n", "#"), ("stage", "stage"), ("title", "title"), ("what", "what happens")]))


def inbox(
    person: Annotated[
        str | None,
        typer.Argument(
            help="Whose inbox (default: yours; everyone's without --as).", autocompletion=completes("person")
        ),
    ] = None,
    unread: Annotated[bool, typer.Option("--unread", help="Only what is not read yet.")] = False,
    mark_read: Annotated[bool, typer.Option("--mark-read", help="Mark everything shown as read.")] = False,
    output: ListingFormat = None,
) -> None:
    """Approval requests, stage entries and passed deadlines for a person, for scripts to forward."""
    from crmctl.ops.process import InboxItem, InboxRequest
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    items = call("inbox", InboxRequest(person, unread, mark_read))

    def unread_mark(row: dict[str, Any], item: InboxItem) -> None:
        row["new"] = "" if item.read_at else "*"

    emit(
        listing(
            fmt,
            items,
            InboxItem,
            color=color_wanted(),
            flag=lambda item: item.read_at is None and item.kind == "deadline",
            table=unread_mark,
            extra=[("new", "")],
        )
    )
