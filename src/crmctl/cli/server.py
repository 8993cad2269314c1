"""crmctl serve, login, logout, whoami, token ...: the team server and signing in to it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crmctl.cli.base import (
    FormatOption,
    ListingFormat,
    call,
    choose_format,
    color_wanted,
    completes,
    emit,
    options,
)

token_app = typer.Typer(help="Personal access tokens for the team server.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The port to listen on.")] = 8765,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM): serve https.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM).")] = None,
    every: Annotated[
        float, typer.Option("--every", min=0.1, max=3600, help="Seconds between the scheduler's rounds.")
    ] = 60.0,
) -> None:
    """Serve the workspace's database to the team over HTTP(S): the server is the only process that opens the
    file; people sign in with tokens (crmctl token create, crmctl login) and act as themselves.

    Example: crmctl serve --port 8765 --tls-cert cert.pem --tls-key key.pem
    """
    from crmctl.errors import UsageError
    from crmctl.server.app import serve as run_server
    from crmctl.server.engine import Engine
    from crmctl.server.mailer import settings as mail_settings
    from crmctl.server.scheduler import Scheduler

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("give --tls-cert and --tls-key together")
    for given in (tls_cert, tls_key):
        if given is not None and not given.is_file():
            raise UsageError(f"no such file: {given}")
    if options().actor:
        raise UsageError("the server acts for each person by their token: leave out --as (and CRMCTL_USER)")
    engine = Engine(options())
    try:
        smtp = mail_settings(engine.settings().get("smtp"))
    except BaseException:
        engine.close()
        raise
    scheduler = Scheduler(engine, smtp, every)
    scheme = "https" if tls_cert else "http"
    mailing = f"mail through {smtp.host}:{smtp.port}" if smtp else "no smtp: notices stay in the inbox"
    typer.echo(
        f"crmctl serve: {engine.path} on {scheme}://{host}:{port}; {mailing} (Ctrl-C or SIGTERM stops)", err=True
    )
    cert, key = (str(tls_cert) if tls_cert else None), (str(tls_key) if tls_key else None)
    run_server(engine, host, port, cert, key, scheduler)


def login(
    url: Annotated[str, typer.Argument(help="The server, e.g. https://crm.example.com:8765.")],
    token_stdin: Annotated[bool, typer.Option("--token-stdin", help="Read the token from stdin.")] = False,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="Trust this CA bundle or certificate for https.")
    ] = None,
) -> None:
    """Sign in to a team server with your token; later commands outside a local workspace go to it.

    The token is kept in ~/.config/crmctl/credentials.json (mode 0600).

    Example: crmctl login https://crm.example.com:8765 --token-stdin < token.txt
    """
    from crmctl.client import config
    from crmctl.client.remote import call as remote
    from crmctl.errors import UsageError
    from crmctl.ops.tokens import Identity, WhoamiRequest

    server_url = config.normal_url(url)
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"no such file: {ca_file}")
    token = sys.stdin.readline().strip() if token_stdin else typer.prompt("token", hide_input=True).strip()
    if not token:
        raise UsageError("no token given")
    ca = str(ca_file.resolve()) if ca_file else None
    me = remote(config.Server(server_url, token, ca), "whoami", WhoamiRequest(), WhoamiRequest, Identity)
    data = config.read()
    data.setdefault("servers", {})[server_url] = {"token": token, **({"ca_file": ca} if ca else {})}
    data["default"] = server_url
    config.write(data)
    emit(f"signed in to {server_url} as {me.person}\n")


def logout(
    url: Annotated[str | None, typer.Argument(help="The server (default: the one signed in to last).")] = None,
) -> None:
    """Forget the token of a server on this machine (revoke it with `crmctl token revoke` to end it).

    Example: crmctl logout
    """
    from crmctl.client import config
    from crmctl.errors import NotFound

    data = config.read()
    server_url = config.normal_url(url) if url else str(data.get("default") or "")
    if not server_url or server_url not in data.get("servers", {}):
        raise NotFound(f"not signed in to {server_url or 'any server'}")
    del data["servers"][server_url]
    if data.get("default") == server_url:
        data.pop("default")
    config.write(data)
    emit(f"signed out of {server_url}\n")


def whoami(output: FormatOption = None) -> None:
    """Who your commands act as: the token's person against a server, the --as person locally.

    Example: crmctl whoami
    """
    import json

    from crmctl.ops.tokens import WhoamiRequest
    from crmctl.wire import encode

    fmt = choose_format(output)
    me = call("whoami", WhoamiRequest())
    if fmt == "json":
        emit(json.dumps(encode(me), ensure_ascii=False, indent=2) + "\n")
    else:
        roles = f" ({', '.join(me.roles)})" if me.roles else ""
        emit(f"{me.person or 'nobody'}{roles}\n")


@token_app.command("create")
def token_create(
    person: Annotated[str, typer.Argument(help="Whose token.", autocompletion=completes("person"))],
    name: Annotated[str, typer.Option("--name", help="What it is for: laptop, ci.")] = "default",
    expires: Annotated[
        str, typer.Option("--expires", metavar="DURATION|DATETIME|never", help="90d, 12h, 2w, a date-time, or never.")
    ] = "90d",
) -> None:
    """Make a personal access token and print it, this once (only its hash is kept).

    Example: crmctl token create anna --name laptop --expires 30d
    """
    from crmctl.ops.tokens import TokenCreateRequest

    made = call("token create", TokenCreateRequest(person, name, expires))
    until = f"until {made.expires_at:%Y-%m-%d %H:%M}" if made.expires_at else "with no expiry"
    typer.echo(f"token {made.id} for {made.person} ({made.name}), {until}; it is shown only now:", err=True)
    emit(made.token + "\n")


@token_app.command("list")
def token_list(
    person: Annotated[
        str | None, typer.Argument(help="Whose tokens (default: yours).", autocompletion=completes("person"))
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Everyone's tokens (takes team.manage).")] = False,
    output: ListingFormat = None,
) -> None:
    """Your tokens (or a person's, or everyone's): names and dates, never the tokens themselves.

    Example: crmctl token list --all
    """
    from crmctl.ops.tokens import TokenListRequest, TokenRow
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    emit(listing(fmt, call("token list", TokenListRequest(person, everyone)), TokenRow, color=color_wanted()))


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's number.")]) -> None:
    """Revoke a token at once: your own, or anyone's with team.manage.

    Example: crmctl token revoke 3
    """
    from crmctl.ops.tokens import TokenRevokeRequest

    revoked = call("token revoke", TokenRevokeRequest(token_id))
    emit(f"token {revoked.id} of {revoked.person} ({revoked.name}) revoked\n")


def notices(
    person: Annotated[str | None, typer.Argument(metavar="PERSON", help="Whose (default: yours).")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Everyone's (takes team.manage).")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only those that failed.")] = False,
    output: ListingFormat = None,
) -> None:
    """Notices delivered by mail by the team server: sent, waiting for a retry, or failed for good.

    Example: crmctl notices --all --failed
    """
    from crmctl.ops.notices import DeliveryRow, NoticesRequest
    from crmctl.render.shapes import listing

    fmt = choose_format(output)
    rows = call("notices", NoticesRequest(person, everyone, failed))
    emit(listing(fmt, rows, DeliveryRow, color=color_wanted()))


audit_app = typer.Typer(help="The event log's integrity.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(output: FormatOption = None) -> None:
    """Check the event log's hash chain, every event from the first: exit 1 names the first event that was
    changed, deleted or written outside crmctl. Prints the head hash: keep it elsewhere to compare later.

    Example: crmctl audit verify
    """
    import json

    from crmctl.ops.audit import AuditVerifyRequest
    from crmctl.wire import encode

    fmt = choose_format(output)
    report = call("audit verify", AuditVerifyRequest())
    if fmt == "json":
        emit(json.dumps(encode(report), ensure_ascii=False, indent=2) + "\n")
    else:
        emit(f"event log intact: {report.events} events, head {report.head or '(empty)'}\n")


def backup(
    out: Annotated[Path, typer.Argument(metavar="FILE", help="The new file to write the copy to.")],
) -> None:
    """Write a consistent copy of the whole database to a new file, while others work (needs team.manage).
    Against a team server the copy is made there and downloaded.

    Example: crmctl backup crm-2026-12-03.duckdb
    """
    from crmctl.cli.base import check_output, write_bytes
    from crmctl.errors import UsageError
    from crmctl.ops.audit import BackupRequest

    check_output(out)  # never the database, a folder, a device or a symlink: as for every output file
    if out.exists():
        raise UsageError(f"{out} exists: a backup is written to a new file")
    made = call("backup", BackupRequest())
    write_bytes(out, made.content, 0o600)  # the whole database: for its owner's eyes only
    emit(f"backup: {out} ({len(made.content)} bytes, {made.events} events, head {made.head or '(empty)'})\n")
