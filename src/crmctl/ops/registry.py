"""The operation registry: every command of crmctl as one operation, listed once.

An operation is a plain function in a module of crmctl.ops. It takes a typed request (a dataclass of the
command's arguments) and returns a typed result; it never prints, reads the terminal or knows the output
format. The acting person and the clock come with the session. Its access says what it is given:

- "write": a session that may write (one transaction per change, a turn in the lock file's queue);
- "read": a read-only session, which shares its turn with other readers;
- "workspace": the command line's options (`Options`), for what opens or creates the database itself
  (plan, apply, init);
- "none": nothing but the request (validate, schema: no workspace needed).

The command line (cli/) builds the request, calls `run` and renders the result; the server will do the
same from JSON. This module is imported by every command, so it imports nothing heavy: an operation's
module is imported when it runs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from crmctl.errors import UsageError

if TYPE_CHECKING:
    from crmctl.ops.session import Options

Access = Literal["write", "read", "workspace", "none"]


@dataclass(frozen=True)
class Operation:
    """One command: its name ("record.create"), the command line's words for it, where its function is,
    and what it is given."""

    command: str  # as typed after `crmctl`: "record create"
    module: str  # the module of crmctl.ops that holds the function
    function: str
    access: Access
    # it reads files the request names (import, intake): on a server those would be the server's own files,
    # so a server refuses it until files are uploaded with the request
    reads_files: bool = False
    # a "workspace" operation a team server runs too: the function it calls there (with an ops.definitions
    # Served), the client sending the workspace's files with the request
    served: str | None = None
    # a write that mostly has nothing to write (inbox: no deadline still to tell, nothing to mark read): the
    # function that gives its result as a read where it would write nothing, else None; a team server runs
    # it beside the writes first, and the write only where it said None
    read_first: str | None = None

    @property
    def name(self) -> str:
        """The operation's name, the API's: the command's words joined by dots ("record.create")."""
        return self.command.replace(" ", ".")

    def load(self) -> Callable[..., Any]:
        return getattr(importlib.import_module(f"crmctl.ops.{self.module}"), self.function)  # type: ignore[no-any-return]

    def load_served(self) -> Callable[..., Any]:
        assert self.served is not None
        return getattr(importlib.import_module(f"crmctl.ops.{self.module}"), self.served)  # type: ignore[no-any-return]

    def load_read_first(self) -> Callable[..., Any]:
        assert self.read_first is not None
        return getattr(importlib.import_module(f"crmctl.ops.{self.module}"), self.read_first)  # type: ignore[no-any-return]

    def types(self) -> tuple[type, type]:
        """The request and result types, from the function's annotations."""
        function = self.load()
        hints = get_type_hints(function)
        request = list(inspect.signature(function).parameters)[-1]  # after the session or options, if any
        return hints[request], hints["return"]


OPERATIONS: tuple[Operation, ...] = (
    # the workspace and its definitions
    Operation("init", "workspace", "init", "workspace"),
    Operation("validate", "workspace", "validate", "none"),
    Operation("schema", "workspace", "schema", "none"),
    # what the workspace's files define
    Operation("template list", "catalog", "template_list", "workspace"),
    Operation("template show", "catalog", "template_show", "workspace"),
    Operation("process list", "catalog", "process_list", "workspace"),
    Operation("process show", "catalog", "process_show", "workspace"),
    Operation("form list", "catalog", "form_list", "workspace"),
    Operation("form show", "catalog", "form_show", "workspace"),
    Operation("plan", "definitions", "plan", "workspace", served="plan_served"),
    Operation("apply", "definitions", "apply", "workspace", served="apply_served"),
    # records
    Operation("record create", "records", "create", "write"),
    Operation("record update", "records", "update", "write"),
    Operation("record show", "records", "show", "read"),
    Operation("record list", "records", "list_records", "read"),
    Operation("record history", "records", "history", "read"),
    Operation("record assign", "process", "assign", "write"),
    Operation("record delete", "records", "delete", "write"),
    Operation("record restore", "records", "restore", "write"),
    Operation("comment", "records", "comment", "write"),
    Operation("remind", "records", "remind", "write"),
    Operation("agenda", "agenda", "agenda", "read"),
    # attached files
    Operation("attach", "attachments", "attach", "write"),
    Operation("files", "attachments", "files", "read"),
    Operation("file get", "attachments", "get", "read"),
    Operation("file delete", "attachments", "delete", "write"),
    # processes
    Operation("advance", "process", "advance", "write"),
    Operation("approve", "process", "approve", "write"),
    Operation("reject", "process", "reject", "write"),
    Operation("board", "process", "board", "read"),
    Operation("simulate", "process", "simulate", "workspace"),
    Operation("inbox", "process", "inbox", "write", read_first="inbox_read"),
    # what falls due with time, and announcements
    Operation("tick", "tick", "tick", "write"),
    Operation("announce", "announcements", "announce", "write"),
    # projects, tasks and time
    Operation("project create", "projects", "create_project", "write"),
    Operation("project list", "projects", "list_projects", "read"),
    Operation("project show", "projects", "show_project", "read"),
    Operation("project launch", "projects", "launch", "write"),
    Operation("project update", "projects", "update_project", "write"),
    Operation("task add", "projects", "add_task", "write"),
    Operation("task show", "projects", "show_task", "read"),
    Operation("task list", "projects", "list_tasks", "read"),
    Operation("task update", "projects", "update_task", "write"),
    Operation("task assign", "projects", "assign", "write"),
    Operation("task depend", "projects", "depend", "write"),
    Operation("task start", "projects", "start", "write"),
    Operation("task stop", "projects", "stop", "write"),
    Operation("task done", "projects", "done", "write"),
    Operation("task reopen", "projects", "reopen", "write"),
    Operation("task cancel", "projects", "cancel", "write"),
    Operation("task comment", "projects", "comment", "write"),
    Operation("task stop-series", "projects", "stop_series", "write"),
    Operation("time log", "projects", "log_time", "write"),
    Operation("time list", "projects", "list_time", "read"),
    Operation("time edit", "timekeeping", "edit_time", "write"),
    Operation("time delete", "timekeeping", "delete_time", "write"),
    # schedule, sprints and reports
    Operation("queue", "schedule", "queue", "write", read_first="queue_read"),
    Operation("eta", "schedule", "eta", "read"),
    Operation("load", "schedule", "load", "read"),
    Operation("sprint create", "sprints", "create", "write"),
    Operation("sprint add", "sprints", "add", "write"),
    Operation("sprint show", "sprints", "show", "read"),
    Operation("sprint list", "sprints", "list_sprints", "read"),
    Operation("report efficiency", "reports", "efficiency", "read"),
    Operation("report estimates", "reports", "estimates", "read"),
    Operation("report funnel", "reports", "funnel", "read"),
    # moving data in and out
    Operation("import", "imports", "import_file", "write", reads_files=True),
    Operation("export", "exports", "export", "read"),
    Operation("intake mail", "mail", "intake", "write", reads_files=True),
    # people and their tokens for the team server
    Operation("whoami", "tokens", "whoami", "read"),
    Operation("token create", "tokens", "create", "write"),
    Operation("token list", "tokens", "list_tokens", "read"),
    Operation("token revoke", "tokens", "revoke", "write"),
    Operation("notices", "notices", "notices", "read"),
    Operation("audit verify", "audit", "verify", "read"),
    Operation("backup", "audit", "backup", "read"),
)

BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def local_only(op: Operation) -> str | None:
    """Why a server does not run the operation (it works on this machine's files: validate, schema, init), or
    None. An operation that reads files (import, intake mail) runs there on the files sent with the request
    (crmctl.uploads)."""
    if op.access not in ("read", "write") and op.served is None:
        return f"crmctl {op.command} works on this machine's files, not against a server"
    return None


def refuse_dry_run(op: Operation) -> None:
    """UsageError unless the operation writes (only a write has anything to rehearse)."""
    if op.access != "write":
        raise UsageError(f"crmctl {op.command} writes nothing: --dry-run does not apply")


def run(name: str, options: Options, request: Any, dry_run: bool = False) -> Any:
    """Run an operation here, on the local workspace: open what its access says, call it, close. A dry run
    of a write runs it in full and rolls it back, giving a Rehearsal (crmctl.ops.session) of what it did."""
    op = BY_NAME[name]
    function = op.load()
    if dry_run:
        refuse_dry_run(op)
        from crmctl.ops.session import open_session, rehearse  # the session module imports the definitions' types

        with open_session(options) as session:
            return rehearse(session, op.command, function, request)
    if op.access == "none":
        return function(request)
    if op.access == "workspace":
        return function(options, request)
    from crmctl.ops.session import open_session  # the session module imports the definitions' types

    with open_session(options, write=op.access == "write") as session:
        return function(session, request)
