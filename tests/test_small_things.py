"""Small things users noticed (issue 17, section 7): numbers in the workspace's locale, ..."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from crmctl.domain.values import FieldSpec, convert

from .conftest import ok
from .dbstate import dump, query


# -- numbers as the workspace's people write them ----------------------------------------------------------------
@pytest.fixture
def russian(example, cli) -> Path:
    root = example("crm-orders")
    settings = root / "crmctl.yaml"
    settings.write_text(settings.read_text() + "locale: ru\n")
    ok(cli, "apply")
    ok(cli, "record", "create", "client", "--set", "name=Альфа")
    ok(cli, "record", "create", "deal", "--set", "title=Сделка", "--set", "client=CL-1")
    return root


def test_a_russian_workspace_takes_numbers_as_russians_write_them(cli, russian) -> None:
    sets = ["title=Сайт", "deal=DL-1", "order_type=website", "budget=1 000 000,50"]
    ok(cli, "record", "create", "order", *[x for s in sets for x in ("--set", s)])
    ok(cli, "record", "create", "order_item", "--set", "order=ORD-1", "--set", "product=Баннер",
       "--set", "quantity=1\u00a0500", "--set", "unit_price=2 500,5")  # fmt: skip  # a no-break space
    db = Path("crmctl.duckdb")
    assert query(db, 'SELECT budget FROM "order"') == [(Decimal("1000000.50"),)]
    assert query(db, "SELECT quantity, unit_price FROM order_item") == [(1500.0, Decimal("2500.50"))]
    ok(cli, "record", "update", "ORD-1", "--set", "budget=1 000", "--set", "budget=1000.5")  # a point is read too
    assert query(db, 'SELECT budget FROM "order"') == [(Decimal("1000.50"),)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1,000", "'1,000' is ambiguous: the decimal mark is a comma here, so write 1000 (or 1 000) for thousands, "
                  "or 1,0 for the fraction"),
        ("12.500", "'12.500' is ambiguous: the decimal mark is a comma here, so write 12500 (or 12 500) for "
                   "thousands, or 12,5 for the fraction"),
        ("1,000.50", "'1,000.50': write digit groups with spaces and the decimal part after a comma (1 000,50)"),
        ("1,000,000", "'1,000,000': write digit groups with spaces"),
    ],
)  # fmt: skip
def test_an_ambiguous_number_is_refused_with_what_to_write(cli, russian, value, message) -> None:
    before = dump(Path("crmctl.duckdb"))
    result = cli("record", "create", "order", "--set", "title=Сайт", "--set", "deal=DL-1",
                 "--set", "order_type=website", "--set", f"budget={value}")  # fmt: skip
    assert (result.exit_code, result.stdout) == (1, "")
    assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert dump(Path("crmctl.duckdb")) == before


def test_an_english_workspace_reads_numbers_as_before() -> None:
    money = FieldSpec("amount", "money")
    assert convert(money, "1 000.50") == Decimal("1000.50")
    with pytest.raises(ValueError, match="expected a number, got '1 000,50'"):
        convert(money, "1 000,50")
    ru = FieldSpec("amount", "money", locale="ru")
    assert (convert(ru, "0,12"), convert(ru, "-1 234,5")) == (
        Decimal("0.12"),
        Decimal("-1234.50"),
    )
    assert convert(FieldSpec("n", "number", locale="ru"), "1234,567") == 1234.567  # four digits: no group


def test_the_workspace_locale_is_checked(cli, example) -> None:
    root = example("crm-orders")
    settings = root / "crmctl.yaml"
    settings.write_text(settings.read_text() + "locale: de\n")
    result = cli("validate", "-f", "json")
    (problem,) = json.loads(result.stdout)
    assert (result.exit_code, problem["code"], problem["message"]) == (1, "S004", "'de': locale is en or ru")


# -- counts as integers, options by their labels in tables ---------------------------------------------------------
CARD = ["title=Визитки", "client=CL-1", "print_run=500", "colour=4+4", "sides=two_sided", "paper=matte_350",
        "amount=3000"]  # fmt: skip


@pytest.fixture
def cards(example, cli) -> Path:
    root = example("freshoffice-templates")
    ok(cli, "record", "create", "client", "--set", "name=ООО Ромашка")
    ok(cli, "record", "create", "card_order", *[x for s in CARD for x in ("--set", s)])
    return root


def test_counts_print_as_integers_and_tables_show_option_labels(cli, cards) -> None:
    card = ok(cli, "record", "show", "BC-1")
    assert "Тираж, шт.           500\n" in card and "Печать               Двусторонняя\n" in card
    table = ok(cli, "record", "list", "card_order", env={"COLUMNS": "250"})
    header, _, row = table.splitlines()[:3]
    cells = {k.strip(): v.strip() for k, v in zip(
        [h for h in header.split("  ") if h], [c for c in row.split("  ") if c], strict=False)}  # fmt: skip
    assert (cells["Тираж, шт."], cells["Печать"], cells["Бумага"]) == ("500", "Двусторонняя", "Матовая 350 г/м²")
    assert cells["Стоимость заказа"] == "3000.00"  # money keeps its cents
    (data,) = json.loads(ok(cli, "record", "list", "card_order", "-f", "json"))
    assert (data["print_run"], data["sides"], data["paper"]) == (500.0, "two_sided", "matte_350")  # codes
    csv = ok(cli, "record", "list", "card_order", "-f", "csv").splitlines()[1]
    assert ",two_sided,matte_350," in csv
    assert ok(cli, "record", "update", "BC-1", "--set", "print_run=1000") == "BC-1 print_run: 500 -> 1000\n"


def test_a_timer_stopped_after_whole_minutes_says_so(cli, cards) -> None:
    ok(cli, "task", "add", "Макет", "--for", "BC-1", "--assignee", "pavlova", "--estimate", "2h")
    ok(cli, "--as", "pavlova", "task", "start", "T-1")
    ok(cli, "--as", "pavlova", "--now", "2027-03-01T11:30:00+03:00", "task", "stop")
    ok(
        cli,
        "--as",
        "pavlova",
        "--now",
        "2027-03-01T11:30:00+03:00",
        "time",
        "log",
        "T-1",
        "45m",
        "--at",
        "2027-03-01T08:00",
    )
    history = ok(cli, "record", "history", "BC-1", env={"COLUMNS": "250"})
    assert "T-1 timer of pavlova after 90 min" in history and "T-1 45 min by pavlova" in history
    ok(cli, "--as", "pavlova", "--now", "2027-03-01T11:31:00+03:00", "task", "start", "T-1")
    ok(cli, "--as", "pavlova", "--now", "2027-03-01T11:31:30+03:00", "task", "stop")
    assert "after 0.5 min" in ok(cli, "record", "history", "BC-1", env={"COLUMNS": "250"})  # a fraction stays


# -- intake mail --dry-run says what the real run does --------------------------------------------------------------
def _mail(mid: str, sender: str, subject: str, to: str = "crm@sd.example.ru") -> bytes:
    from email.message import EmailMessage

    m = EmailMessage()
    m["Message-ID"], m["Date"], m["From"], m["To"], m["Subject"] = (
        mid,
        "Mon, 01 Mar 2027 09:00:00 +0300",
        sender,
        to,
        subject,
    )
    m.set_content("Текст письма")
    return bytes(m)


def test_a_dry_run_gives_the_real_runs_counts_and_ids(cli, example, tmp_path: Path) -> None:
    import mailbox

    example("service-desk-leads")
    ok(cli, "record", "create", "prospect", "--set", "name=АО Вектор", "--set", "email=office@vector.example")
    box = mailbox.mbox(str(tmp_path / "inbox.mbox"))
    for raw in (
        _mail("<a@x>", "Новый <new@a.example>", "Первое"),
        _mail("<b@x>", "root@localhost", "Не адрес"),  # the new prospect's e-mail does not fit: rejected
        _mail("<c@x>", "office@vector.example", "Второе"),
        _mail("<a@x>", "Новый <new@a.example>", "Первое ещё раз"),  # the same Message-ID in the same file
        _mail("<d@x>", "office@vector.example", "Не нам", to="sales@sd.example.ru"),
    ):
        box.add(raw)
    box.close()
    args = ("--as", "alekseeva", "intake", "mail", str(tmp_path / "inbox.mbox"), "--rule", "crm-mail")
    db = Path("crmctl.duckdb")
    before = dump(db)
    dry = cli(*args, "--dry-run")
    assert dump(db) == before
    real = cli(*args)
    assert (dry.exit_code, real.exit_code) == (1, 1), (dry.stderr, real.stderr)  # one message was rejected
    assert dry.stdout == real.stdout
    assert dry.stdout.splitlines()[0::2] == [
        "inbox.mbox#1 from new@a.example -> T-1",
        "inbox.mbox#3 from office@vector.example -> T-2",
        "inbox.mbox#5 from office@vector.example skipped: not addressed to crm@sd.example.ru",
    ]
    assert dry.stdout.splitlines()[3] == "inbox.mbox#4 from new@a.example duplicate of T-1"
    assert dry.stderr.startswith("5 messages: would create 2, duplicates 1, skipped 1, rejected 1 (dry run)\n")
    assert real.stderr.startswith("5 messages: created 2, duplicates 1, skipped 1, rejected 1\n")
    assert query(db, "SELECT id, record FROM crm.tasks ORDER BY number") == [("T-1", "PC-2"), ("T-2", "PC-1")]


# -- the figures the README and the docs show are what the commands print ------------------------------------------
def _console_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [part.split("\n```", 1)[0] for part in text.split("```console\n")[1:]]


@pytest.mark.parametrize("page", ["README.md", "docs/cli.md"])
def test_the_documents_validate_counts_are_what_it_prints(cli, page: str, monkeypatch) -> None:
    from .conftest import ROOT

    monkeypatch.chdir(ROOT)
    shown = [
        block.split("\n")[i + 1]
        for block in _console_blocks(ROOT / page)
        for i, line in enumerate(block.split("\n"))
        if line == "$ crmctl validate examples/processes"
    ]
    assert shown, f"{page} shows no `crmctl validate examples/processes`"
    printed = ok(cli, "validate", "examples/processes").rstrip("\n")
    assert shown == [printed] * len(shown)


def test_the_readmes_first_session_prints_what_it_shows(tmp_path: Path) -> None:
    import os
    import shlex
    import subprocess
    import sys

    from .conftest import ROOT

    (block,) = [b for b in _console_blocks(ROOT / "README.md") if "crmctl init crm" in b]
    script = ["set -e"]
    for line in block.splitlines():
        if line.startswith("$ "):
            script += [f"printf '%s\\n' {shlex.quote(line)}", line[2:]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMCTL_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", COLUMNS="100", NO_COLOR="1")
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == block + "\n"
