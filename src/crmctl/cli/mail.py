"""crmctl intake mail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmctl.cli.base import (
    ListingFormat,
    call,
    choose_format,
    emit,
    stdin_as_file,
)

intake_app = typer.Typer(help="Take in work from outside: e-mail messages by intake rules.", no_args_is_help=True)


@intake_app.command("mail")
def mail(
    rule: Annotated[str, typer.Option("--rule", "-r", help="The IntakeRule that says what messages become.")],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[FILE.eml|MAILBOX.mbox|DIR...]",
            help="Messages, mailboxes, folders (- reads one from standard input); none: fetch from the rule's "
            "IMAP mailbox.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what each message would become; write nothing.")
    ] = False,
    output: ListingFormat = None,
) -> None:
    """Turn e-mail messages into records (or tasks) by an intake rule: the sender is looked up as the rule
    says, each message goes into the history of what it made, and a Message-ID is never taken twice. A bad
    message is reported and skipped; the others are taken. Without files, the messages not taken yet are
    fetched once from the rule's IMAP mailbox (its mailbox: setting) and marked taken there."""
    from crmctl.errors import InputError
    from crmctl.ops.mail import Intake, IntakeRequest, Taken
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    with stdin_as_file(paths or [], ".eml") as given:
        result: Intake = call("intake.mail", IntakeRequest(given, rule, dry_run))
    taken = result.taken
    if fmt == "table":
        emit("".join(line + "\n" for line in result.lines))
        outcomes = ("created", "joined", "attached", "duplicate", "skipped", "rejected")
        counts = {k: sum(t.outcome == k for t in taken) for k in outcomes}
        verb = "would create" if result.dry_run else "created"
        joined = f", joined {counts['joined']}" if counts["joined"] else ""  # replies to a thread taken in
        attached = f"attached {counts['attached']}, " if counts["attached"] else ""
        typer.echo(
            f"{len(taken)} message{'' if len(taken) == 1 else 's'}: "
            f"{verb} {counts['created']}{joined}, {attached}duplicates {counts['duplicate']}, "
            f"skipped {counts['skipped']}, rejected {counts['rejected']}" + (" (dry run)" if result.dry_run else ""),
            err=True,
        )
    else:
        emit(listing(fmt, taken, Taken))
    rejected = sum(t.outcome == "rejected" for t in taken)
    if rejected:
        raise InputError(f"{rejected} message{'s were' if rejected != 1 else ' was'} rejected; the others were taken")
