"""One operation run on a team server: the request as JSON over HTTP(S), the result (or the error, with its
message and exit code) back as the same types the local run gives."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from crmctl import wire
from crmctl.client.config import Server
from crmctl.errors import BY_EXIT_CODE, CrmError, Environment, InputError
from crmctl.uploads import KEY

TIMEOUT = 300.0  # seconds one operation may take on the server (a big import does)


def _context(server: Server) -> ssl.SSLContext | None:
    if not server.url.startswith("https:"):
        return None
    return ssl.create_default_context(cafile=server.ca_file)


def _raise(status: int, body: bytes) -> None:
    try:
        error = json.loads(body)["error"]
        message, details, code = str(error["message"]), list(error.get("details") or []), int(error["exit_code"])
    except (ValueError, KeyError, TypeError):
        raise Environment(f"the server answered HTTP {status} without crmctl's error (a proxy in between?)") from None
    failure: CrmError = BY_EXIT_CODE.get(code, InputError)(message, [str(d) for d in details])
    if code not in BY_EXIT_CODE:
        failure.exit_code = code  # e.g. INTERNAL: the server's bug, reported with its exit code
    raise failure


def send(server: Server, path: str, data: Any | None = None) -> Any:
    """GET (no data) or POST JSON to the server; the answer's JSON."""
    body = None if data is None else json.dumps(data, ensure_ascii=False).encode()
    request = urllib.request.Request(
        server.url + path,
        data=body,
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=_context(server)) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        _raise(exc.code, exc.read())
    except urllib.error.URLError as exc:
        raise Environment(f"cannot reach the server at {server.url}: {exc.reason}") from None
    except (TimeoutError, ConnectionError) as exc:
        raise Environment(f"the server at {server.url} did not answer: {exc}") from None
    except ValueError:
        raise Environment(f"the server at {server.url} answered something that is not JSON") from None


def call(
    server: Server,
    name: str,
    request: Any,
    request_type: Any,
    result_type: Any,
    files: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> Any:
    """Run the named operation on the server (with the files the request names: crmctl.uploads); its result
    as the local run would give it (with dry_run, result_type is a Rehearsal's: see wire.DRY_RUN)."""
    body = wire.encode(request, request_type)
    if files:
        body[KEY] = files
    if dry_run:
        body[wire.DRY_RUN] = True
    answer = send(server, f"/api/v1/ops/{name}", body)
    return wire.decode(result_type, answer["result"])
