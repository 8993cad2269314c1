"""What every command's --help shows beyond its docstring: its examples, the exit codes it can give, and its
options' values as words (TEXT, INTEGER, FILE; a --format's choices), its arguments as KEY, not {key}.

`polish` walks the command line's click commands once they are built (crmctl.cli.base.CrmGroup does it); the
examples are run by tests/test_help.py in a fresh example workspace."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument

from crmctl.errors import BUSY, ENVIRONMENT, INPUT, INTERNAL, NOT_FOUND, UNAUTHORIZED, USAGE

# 1 to 3 real invocations per command, run in order in a fresh pyrus-client-crm workspace that holds the
# records, tasks and sprint tests/test_help.py's SEED makes (service-desk-leads for intake mail).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "init": ("crmctl init crm --example pyrus-client-crm", "crmctl init --list-examples"),
    "validate": ("crmctl validate", "crmctl validate . --format sarif"),
    "schema": ("crmctl schema Process", "crmctl schema --out schemas"),
    "plan": ("crmctl --as sokolov plan", "crmctl --as sokolov plan --format json"),
    "apply": ("crmctl --as sokolov apply", "crmctl --as sokolov apply --archive"),
    "record create": (
        'crmctl record create client --set "name=ООО Ромашка" --set "phone=+7 (912) 345-67-89"',
        "crmctl record create client --set name=Вектор --format json",
    ),
    "record update": ("crmctl record update CL-1 --set status=active", 'crmctl record update CL-2 --set "needs=Сайт"'),
    "record show": ("crmctl record show CL-1", "crmctl record show DL-1 --format json"),
    "record list": (
        "crmctl record list client",
        "crmctl record list client --where status=new --sort -created_at --limit 10",
        "crmctl record list deal --format csv",
    ),
    "record history": ("crmctl record history CL-1", "crmctl record history DL-1 --format json"),
    "comment": ('crmctl comment CL-1 "Позвонили: ждут КП"',),
    "remind": ('crmctl remind CL-1 --at +1d "Отправить КП"', "crmctl remind --done 1"),
    "agenda": ("crmctl agenda", "crmctl agenda belov --days 7 --ics agenda.ics"),
    "advance": ('crmctl advance DL-2 --comment "Готово к согласованию"',),
    "approve": ('crmctl --as kuznetsova approve DL-1 --comment "Согласовано"',),
    "reject": ('crmctl --as kuznetsova reject DL-1 --comment "Нет поставщика"',),
    "board": ("crmctl board deal-approval", "crmctl board deal-approval --format html"),
    "simulate": ("crmctl simulate deal-approval --set amount=1500000 --set purchase_amount=50000",),
    "inbox": ("crmctl --as kuznetsova inbox", "crmctl inbox --format json"),
    "project create": ('crmctl project create "Клиенты / ООО Ромашка" --for CL-1',),
    "project list": ("crmctl project list", "crmctl project list --format csv"),
    "project show": ("crmctl project show P-1",),
    "project launch": ('crmctl project launch client-project --for CL-2 --param contact_person="Ирина Смирнова"',),
    "task add": ('crmctl task add "Позвонить клиенту" --for CL-1 -a belov -e 30m --due 2027-03-02T12:00',),
    "task show": ("crmctl task show T-1",),
    "task list": ("crmctl task list", "crmctl task list --assignee belov --format json"),
    "task assign": ("crmctl --as sokolov task assign T-3 nikitina",),
    "task depend": ("crmctl task depend T-3 --on T-2",),
    "task start": ("crmctl task start T-1",),
    "task stop": ("crmctl task start T-1", "crmctl task stop"),
    "task done": ('crmctl task done T-1 --comment "Контакты подтверждены"',),
    "task reopen": ("crmctl task done T-1", "crmctl task reopen T-1"),
    "task cancel": ("crmctl --as sokolov task cancel T-3",),
    "task comment": ('crmctl task comment T-1 "Клиент просит перезвонить"',),
    "time log": ('crmctl time log T-2 1h --at 2027-02-28T15:00 --note "подготовка к встрече"',),
    "time list": ("crmctl time list", "crmctl time list --person belov --from 2027-02-01 --format csv"),
    "queue": ("crmctl queue", "crmctl queue belov --format json"),
    "eta": ("crmctl eta CL-1", "crmctl eta T-2 --format json"),
    "sprint create": ('crmctl --as sokolov sprint create "Неделя 11" --from 2027-03-08 --to 2027-03-14 --goal "Сайт"',),
    "sprint add": (
        'crmctl --as sokolov sprint add "Неделя 10" T-1 T-2',
        'crmctl --as sokolov sprint add "Неделя 10" T-2 --remove',
    ),
    "sprint show": ('crmctl sprint show "Неделя 10"',),
    "sprint list": ("crmctl sprint list",),
    "report efficiency": (
        "crmctl --as sokolov report efficiency --by person,type --period week",
        "crmctl --as sokolov report efficiency --format html --out efficiency.html",
    ),
    "report estimates": ("crmctl --as sokolov report estimates --min-tasks 3",),
    "report funnel": ("crmctl --as sokolov report funnel deal-approval",),
    "import": ("crmctl import client clients.csv --dry-run", "crmctl import client clients.csv --key name"),
    "export": ("crmctl --as sokolov export client", "crmctl --as sokolov export tasks --format json --out tasks.jsonl"),
    "intake mail": ("crmctl --as alekseeva intake mail mail/crm-inbox.mbox --rule crm-mail --dry-run",),
    "whoami": ("crmctl whoami", "crmctl whoami --format json"),
    "token create": ("crmctl token create belov --name laptop --expires 30d",),
    "token list": ("crmctl token list", "crmctl --as sokolov token list --all"),
    "token revoke": ("crmctl token create belov", "crmctl token revoke 1"),
    "serve": ("crmctl serve --port 8765",),
    "login": ("crmctl login https://crm.example.com:8765",),
    "logout": ("crmctl logout",),
    "record assign": ("crmctl --as sokolov record assign CL-1 orlova",),
    "record delete": ("crmctl --as sokolov record delete DL-2",),
    "record restore": ("crmctl --as sokolov record delete DL-2", "crmctl --as sokolov record restore DL-2"),
    "task update": ("crmctl task update T-1 --priority 1 --estimate 2h",),
    "task stop-series": ('crmctl task add "Отчёт" --due 2027-03-05T17:00 --every 1w', "crmctl task stop-series T-5"),
    "project update": ("crmctl --as sokolov project update P-2 --priority 1 --due 2027-03-20",),
    "time edit": ("crmctl time log T-1 1h --at 2027-02-26T10:00", "crmctl time edit 1 --minutes 45"),
    "time delete": ("crmctl time log T-1 1h --at 2027-02-26T10:00", "crmctl time delete 1"),
    "load": ("crmctl --as sokolov load", "crmctl --as sokolov load --from 2027-03-01 --to 2027-03-15 --format json"),
    "tick": ("crmctl tick", "crmctl tick --now 2027-03-10T09:00 --format json"),
    "announce": (
        'crmctl --as sokolov announce "Офис закрыт 8 марта" --until 2027-03-08 --to role:manager',
        "crmctl announce --list",
    ),
    "attach": ("crmctl attach CL-1 clients.csv",),
    "files": ("crmctl attach CL-1 clients.csv", "crmctl files CL-1"),
    "file get": ("crmctl attach CL-1 clients.csv", "crmctl file get 1 --out copy.csv"),
    "file delete": ("crmctl attach CL-1 clients.csv", "crmctl --as sokolov file delete 1"),
    "template list": ("crmctl template list",),
    "template show": ("crmctl template show client-project",),
    "process list": ("crmctl process list",),
    "process show": ("crmctl process show client-work", "crmctl process show deal-approval --format json"),
    "form list": ("crmctl form list",),
    "form show": ("crmctl form show client",),
    "notices": ("crmctl notices", "crmctl --as sokolov notices --all --failed"),
    "audit verify": ("crmctl audit verify", "crmctl audit verify --format json"),
    "backup": ("crmctl --as sokolov backup crm-copy.duckdb",),
    "completion": ("crmctl completion bash",),
}

EXIT_WORDS = {
    0: "done",
    INPUT: "the input was refused",
    USAGE: "the command line is wrong",
    NOT_FOUND: "something named does not exist",
    BUSY: "the database is busy",
    INTERNAL: "an internal error (a bug)",
    ENVIRONMENT: "the machine refused (disk full, read-only, damaged file)",
    UNAUTHORIZED: "the team server did not accept you",
    130: "interrupted",
}
# the codes a command can give, by what it works on (crmctl.ops.registry's access), and for the commands
# that are no operation
_BY_ACCESS = {
    "none": (0, INPUT, USAGE, NOT_FOUND, INTERNAL, 130),
    "workspace": (0, INPUT, USAGE, NOT_FOUND, BUSY, INTERNAL, ENVIRONMENT, 130),
    "read": (0, INPUT, USAGE, NOT_FOUND, BUSY, INTERNAL, ENVIRONMENT, UNAUTHORIZED, 130),
}
_LOCAL = {
    "serve": _BY_ACCESS["workspace"],
    "login": (0, INPUT, USAGE, INTERNAL, UNAUTHORIZED, 130),
    "logout": (0, USAGE, INTERNAL, 130),
    "completion": (0, USAGE, INTERNAL, 130),
}
# where a command means something more particular by a code
_OWN_WORDS = {
    "validate": {
        INPUT: "problems were found (warnings alone give 0)",
        NOT_FOUND: "a PATH that does not exist or holds no workspace, or no workspace here",
    },
    "intake mail": {INPUT: "a message was rejected (the others were taken)"},
}


def exit_codes(path: str) -> list[tuple[int, str]]:
    """The exit codes the command `path` ("record create") can give, each with what it means there."""
    from crmctl.ops.registry import BY_NAME

    op = BY_NAME.get(path.replace(" ", "."))
    codes = _LOCAL[path] if op is None else _BY_ACCESS["read" if op.access == "write" else op.access]
    own = _OWN_WORDS.get(path, {})
    return [(code, own.get(code, EXIT_WORDS[code])) for code in codes]


def epilog(path: str) -> str:
    """The examples and exit codes, as lines click keeps as they are (a paragraph that starts with \\b)."""
    lines = ["\b", "Examples:", *(f"  {example}" for example in EXAMPLES.get(path, ()))]
    lines += ["", "\b", "Exit codes:", *(f"  {code:>3}  {words}" for code, words in exit_codes(path))]
    return "\n".join(lines)


class _Argument(TyperArgument):
    """An argument shown as KEY in the usage line ([KEY] when optional, KEY... when repeated), not {key}."""

    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:
        var = self.metavar or (self.name or "").upper()
        if self.nargs != 1 and not var.endswith("..."):
            var += "..."
        return f"[{var}]" if usage and not self.required and not var.startswith("[") else var


def _word(param: Any) -> str | None:
    """An option's value as a word, from its type: TEXT, INTEGER, NUMBER, FILE, a|b for choices."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    choices = getattr(param.type, "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    name = str(param.type.name).upper()
    words = {
        "STR": "TEXT",
        "INT": "INTEGER",
        "INT RANGE": "INTEGER",
        "FLOAT": "NUMBER",
        "FLOAT RANGE": "NUMBER",
        "PATH": "FILE",
        "FILENAME": "FILE",
    }
    return words.get(name, name)


def polish(command: Any, path: str = "") -> None:
    """Give the command (and those below it) its epilog, and its parameters their words."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
        elif param.metavar is None:
            param.metavar = _word(param)
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        if command.epilog is None:
            command.epilog = epilog(path)
        return
    for name, sub in subcommands.items():
        polish(sub, f"{path} {name}".strip())
