"""The HTTP API over the operation registry (Starlette on uvicorn).

    GET  /healthz                 {"status": "ok", "scheduler_rounds": 3}
    GET  /version                 {"crmctl": "0.1.0", "api": 1}
    POST /api/v1/ops/{name}       body: the operation's request as JSON (crmctl.wire); header
                                  `Authorization: Bearer <token>`; answer {"result": ...} or, with the error's
                                  HTTP status, {"error": {"message", "details", "exit_code"}}

Every request is one log line on stderr: person, operation, status, milliseconds; never a token or a value.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmctl import __version__, uploads, wire
from crmctl.errors import INTERNAL, CrmError, Unauthorized, UsageError
from crmctl.ops.registry import BY_NAME, Operation
from crmctl.ops.session import Rehearsal
from crmctl.server.engine import Engine
from crmctl.server.scheduler import Scheduler

API = 1
MAX_REQUEST = 1_000_000  # bytes of one operation's JSON request
MAX_UPLOAD = uploads.LIMIT * 4 // 3 + MAX_REQUEST  # of one that carries files (base64: 4 bytes for 3)
log = logging.getLogger("crmctl.server")


def _error(exc: CrmError) -> JSONResponse:
    body = {"error": {"message": exc.message, "details": exc.details, "exit_code": exc.exit_code}}
    return JSONResponse(body, status_code=exc.http_status)


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("no token: sign in with `crmctl login URL` (or set CRMCTL_TOKEN)")
    return token.strip()


async def _body(request: Request, limit: int = MAX_REQUEST) -> Any:
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > limit):
        raise UsageError(f"the request is larger than {limit} bytes")
    chunks, length = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        length += len(chunk)
        if length > limit:
            raise UsageError(f"the request is larger than {limit} bytes")
    data = b"".join(chunks)
    try:
        return json.loads(data or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise UsageError("the request is not JSON") from None


def _answer(engine: Engine, op: Operation, person: str, body: Any) -> bytes:
    """Run the operation the body asks for as the person; the answer's JSON, made here in the request's thread
    (a result of thousands of rows takes a while to encode: not on the event loop)."""
    request_type, result_type = op.types()
    files = body.pop(uploads.KEY, None) if isinstance(body, dict) else None
    dry_run = body.pop(wire.DRY_RUN, False) if isinstance(body, dict) else False
    try:
        given = wire.decode(request_type, body)
    except (wire.WireError, TypeError) as exc:
        raise UsageError(f"the request does not fit {op.name}: {exc}") from None
    if files is not None and not isinstance(files, dict):
        raise UsageError(f"the request's {uploads.KEY} is not an object")
    if not isinstance(dry_run, bool):
        raise UsageError(f"the request's {wire.DRY_RUN} is not true or false")
    result = engine.run(op, person, given, files, dry_run)
    answer = {"result": wire.encode(result, Rehearsal if dry_run else result_type)}
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def create_app(engine: Engine, scheduler: Scheduler | None = None) -> Starlette:
    async def health(request: Request) -> Response:
        rounds = {"scheduler_rounds": scheduler.rounds} if scheduler is not None else {}
        return JSONResponse({"status": "ok", **rounds})

    async def version(request: Request) -> Response:
        return JSONResponse({"crmctl": __version__, "api": API})

    async def operation(request: Request) -> Response:
        name = request.path_params["name"]
        started, person, status = time.monotonic(), "-", 500
        try:
            op = BY_NAME.get(name)
            person = await run_in_threadpool(engine.person, _token(request))
            if op is None:
                raise UsageError(f"the server has no operation '{name}' (is the client newer than the server?)")
            body = await _body(request, MAX_UPLOAD if op.reads_files else MAX_REQUEST)
            answer = await run_in_threadpool(_answer, engine, op, person, body)
            status = 200
            return Response(answer, media_type="application/json")
        except CrmError as exc:
            status = exc.http_status
            return _error(exc)
        except Exception:
            log.error("internal error in %s:\n%s", name, traceback.format_exc())
            body = {"message": "internal error on the server (see its log)", "details": [], "exit_code": INTERNAL}
            return JSONResponse({"error": body}, status_code=500)
        finally:
            elapsed = (time.monotonic() - started) * 1000
            shown = name if name in BY_NAME else "(unknown)"  # a name from the URL is the client's text: not logged
            log.info("%s %s %d %.0fms", person, shown, status, elapsed)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        yield
        # uvicorn has stopped taking requests and finished those in flight (SIGTERM, Ctrl-C): the scheduler
        # finishes its round, the running write is done, so the database is closed here, before uvicorn hands
        # the signal back to the process
        if scheduler is not None:
            await run_in_threadpool(scheduler.stop)
        await run_in_threadpool(engine.close)

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/healthz", health),
            Route("/version", version),
            Route("/api/v1/ops/{name}", operation, methods=["POST"]),
        ],
    )


def serve(
    engine: Engine, host: str, port: int, cert: str | None, key: str | None, scheduler: Scheduler | None = None
) -> None:
    """Serve until SIGINT or SIGTERM: uvicorn finishes the requests in flight, the scheduler its round, then
    the database is closed."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="crmctl serve: %(message)s")
    config = uvicorn.Config(
        create_app(engine, scheduler),
        host=host,
        port=port,
        ssl_certfile=cert,
        ssl_keyfile=key,
        access_log=False,  # one line per request is ours: it names the person and the operation
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if scheduler is not None:
            scheduler.stop()
        engine.close()  # if the lifespan's shutdown did not run (the server failed to start): closing twice is fine
