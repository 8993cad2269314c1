"""crmctl tick, announce."""

from __future__ import annotations

from typing import Annotated

import typer

from crmctl.cli.base import ListingFormat, call, choose_format, emit, settings
from crmctl.render.tables import cell


def tick(
    now: Annotated[
        str | None, typer.Option("--now", help="Do what is due at this ISO date-time instead of the clock's.")
    ] = None,
    output: ListingFormat = None,
) -> None:
    """Do everything that is due now: timed transitions, recurring tasks, reminders and scheduled launches,
    announcements that end, notices of passed stage deadlines and of reminders that have come. Safe to run
    from cron as often as you like: run twice at the same time, the second run changes nothing.

    Example: crmctl tick --now 2027-04-01T09:00
    """
    from crmctl.ops.tick import TickAction, TickRequest
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    if now is not None:
        settings().now = now
    done: list[TickAction] = call("tick", TickRequest())
    if fmt == "table" and not done:
        emit("nothing was due\n")
        return
    emit(listing(fmt, done, TickAction))


def announce(
    text: Annotated[str | None, typer.Argument(help="The announcement.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Shown through this date (or until this ISO date-time).")
    ] = None,
    to: Annotated[
        list[str] | None, typer.Option("--to", help="For a role (role:ROLE) or a person (repeat); default everyone.")
    ] = None,
    withdraw: Annotated[int | None, typer.Option("--withdraw", help="Withdraw announcement ID.")] = None,
    listing: Annotated[bool, typer.Option("--list", help="List the announcements shown now.")] = False,
    output: ListingFormat = None,
) -> None:
    """Make an announcement shown at the top of its audience's agenda and inbox until it ends; withdraw one;
    list them. Making and withdrawing take announcements.manage.

    Example: crmctl announce "Офис закрыт 8 марта" --until 2027-03-08 --to role:manager
    """
    from crmctl.ops.announcements import Announced, Announcement, AnnounceRequest
    from crmctl.render.shapes import listing as rows

    fmt = choose_format(output)
    result: Announced = call("announce", AnnounceRequest(text, until, to or [], withdraw, listing))
    if result.action == "list" or fmt != "table":
        emit(rows(fmt, result.announcements, Announcement))
        return
    made = result.announcements[0]
    if result.action == "withdrawn":
        emit(f"announcement {made.id} withdrawn\n")
        return
    until_text = f" until {cell(made.until)}" if made.until else ""
    emit(f"announcement {made.id} for {', '.join(made.to) or 'everyone'}{until_text}\n")
