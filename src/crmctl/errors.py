"""One error hierarchy. Each class carries its exit code and, for the team server, its HTTP status; only the
CLI (cli/base.py) and the server (server/app.py) turn them into output."""

from __future__ import annotations

# Exit codes, documented in docs/cli.md.
OK = 0
INPUT = 1  # bad input, a rule refused the change, or validation found problems
USAGE = 2  # the command line itself is wrong
NOT_FOUND = 3  # an id, key, file or workspace that does not exist
BUSY = 4  # another process holds the database
INTERNAL = 5  # a bug: please report it (run with --debug for the traceback)
ENVIRONMENT = 6  # the machine, not crmctl: a full disk, a read-only file system, a damaged database file
UNAUTHORIZED = 7  # a team server did not accept the token: none, unknown, revoked or expired (crmctl login)


class CrmError(Exception):
    """An expected failure: shown as one line on stderr, never as a traceback."""

    exit_code = INPUT
    http_status = 422

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []  # lines shown before the message (diagnostics, refusals)


class InputError(CrmError):
    """Input that does not fit: a value, a file, a rule."""


class UsageError(CrmError):
    exit_code = USAGE
    http_status = 400


class NotFound(CrmError):
    exit_code = NOT_FOUND
    http_status = 404


class Busy(CrmError):
    exit_code = BUSY
    http_status = 503


class Environment(CrmError):
    """The machine refused: no space left, a read-only file system, a damaged database file, a lock file that
    is not a regular file. Nothing crmctl can fix, and nothing was changed."""

    exit_code = ENVIRONMENT
    http_status = 500


class ProblemsFound(CrmError):
    """Validation produced diagnostics; they have been reported already."""


class Unauthorized(CrmError):
    """No token, or one that is not valid (unknown, revoked, expired), for a team server."""

    exit_code = UNAUTHORIZED
    http_status = 401


BY_EXIT_CODE: dict[int, type[CrmError]] = {
    INPUT: InputError,
    USAGE: UsageError,
    NOT_FOUND: NotFound,
    BUSY: Busy,
    ENVIRONMENT: Environment,
    UNAUTHORIZED: Unauthorized,
}
