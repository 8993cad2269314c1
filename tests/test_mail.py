"""crmctl intake mail: messages become records or tasks by a rule; senders are found or created; a
Message-ID is taken once; a bad message is reported and skipped."""

from __future__ import annotations

import json
import mailbox
import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest

from crmctl.domain import mail as domain
from tests.conftest import ROOT, WIDE, ok
from tests.dbstate import dump, query

MAIL = ROOT / "examples" / "mail"


def message(mid: str, sender: str, to: str, subject: str, body: str = "Текст письма", **headers: str) -> bytes:
    m = EmailMessage()
    if mid:
        m["Message-ID"] = mid
    m["Date"] = "Mon, 01 Mar 2027 09:00:00 +0300"
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return bytes(m)


@pytest.fixture
def desk(example, cli) -> Path:
    root = example("service-desk-leads")
    ok(cli, "record", "create", "prospect", "--set", "name=АО Вектор", "--set", "email=office@vector.example")
    ok(cli, "record", "create", "contact", "--set", "full_name=Ирина Смирнова", "--set",
       "email=i.smirnova@vector.example", "--set", "prospect=PC-1")
    cli.actor = "alekseeva"  # the dispatcher: mail.evaluate
    return root


def test_a_known_contact_becomes_the_initiator_of_an_incident(cli, desk: Path, snapshot) -> None:
    result = cli("intake", "mail", str(MAIL / "01-known-contact.eml"), "--rule", "support-mail")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "01-known-contact.eml from i.smirnova@vector.example -> INC-1\n"
    assert result.stderr == "1 message: created 1, duplicates 0, skipped 0, rejected 0\n"
    card = json.loads(ok(cli, "record", "show", "INC-1", "-f", "json"))
    fields = card["fields"]
    assert (fields["subject"], fields["contact"], fields["client"]) == ("Не входит в личный кабинет", "CT-1", "PC-1")
    assert fields["reported_at"] == "2027-03-01T08:30:00+03:00" and fields["channel"] == "email"
    assert fields["description"].startswith("Добрый день!")
    assert ok(cli, "record", "history", "INC-1", env=WIDE) == snapshot  # the words, not the fit to 100 columns


def test_a_sender_found_second_in_the_search_order(cli, desk: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(message("<p1@x>", "Офис <Office@Vector.example>", "support@sd.example.ru", "Счёт"))
    ok(cli, "intake", "mail", str(path), "--rule", "support-mail")
    row = query(desk / "crmctl.duckdb", "SELECT contact, client, reporter_email FROM incident")
    assert row == [(None, "PC-1", "office@vector.example")]  # no contact has it; the prospect does


def test_an_unknown_sender_becomes_a_new_prospect_and_the_message_a_task(cli, desk: Path) -> None:
    result = cli("intake", "mail", str(MAIL / "crm-inbox.mbox"), "--rule", "crm-mail")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "crm-inbox.mbox#1 from o.kravtsov@stroymontazh.example -> T-1",
        "crm-inbox.mbox#2 from info@flowers-shop.example -> T-2",
        "crm-inbox.mbox#3 from o.kravtsov@stroymontazh.example duplicate of T-1",
    ]
    db = desk / "crmctl.duckdb"
    assert query(db, "SELECT key, name, email, stage FROM prospect ORDER BY number") == [
        ("PC-1", "АО Вектор", "office@vector.example", "new"),
        ("PC-2", "Олег Кравцов", "o.kravtsov@stroymontazh.example", "new"),
        ("PC-3", "info@flowers-shop.example", "info@flowers-shop.example", "new"),  # no name: the address
    ]
    tasks = query(db, "SELECT id, record, type, estimate_minutes, assignee IS NOT NULL FROM crm.tasks ORDER BY number")
    assert tasks == [("T-1", "PC-2", "mail", 15, True), ("T-2", "PC-3", "mail", 15, True)]
    html = query(db, "SELECT description FROM crm.tasks WHERE id = 'T-2'")[0][0]
    assert "Имя: Анна" in html and "<b>" not in html  # an HTML body is read as text
    actions = [e["action"] for e in json.loads(ok(cli, "record", "history", "PC-2", "-f", "json"))]
    assert actions == ["record.created", "stage.entered", "task.created", "mail.received"]


def test_the_same_message_id_never_creates_twice(cli, desk: Path) -> None:
    ok(cli, "intake", "mail", str(MAIL / "crm-inbox.mbox"), "--rule", "crm-mail")
    before = dump(desk / "crmctl.duckdb")
    again = cli("intake", "mail", str(MAIL / "crm-inbox.mbox"), "--rule", "crm-mail", "-f", "json")
    assert [r["outcome"] for r in json.loads(again.stdout)] == ["duplicate", "duplicate", "duplicate"]
    assert dump(desk / "crmctl.duckdb") == before


def test_only_messages_to_the_rules_address_are_taken(cli, desk: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "1.eml").write_bytes(message("<a1@x>", "a@client.example", "sales@sd.example.ru", "Не нам"))
    (folder / "2.eml").write_bytes(
        message("<a2@x>", "b@client.example", "sales@sd.example.ru", "Копия нам", Cc="Support <SUPPORT@sd.example.ru>")
    )
    (folder / "3.eml").write_bytes(
        message("<a3@x>", "c@client.example", "list@lists.example", "Рассылка", Delivered_To="support@sd.example.ru")
    )
    result = cli("intake", "mail", str(folder), "--rule", "support-mail", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert [(r["outcome"], r["key"]) for r in json.loads(result.stdout)] == [
        ("skipped", None),
        ("created", "INC-1"),
        ("created", "INC-2"),
    ]
    assert query(desk / "crmctl.duckdb", "SELECT key, process, stage FROM incident ORDER BY number") == [
        ("INC-1", "incident", "registered"),
        ("INC-2", "incident", "registered"),
    ]
    assert query(desk / "crmctl.duckdb", "SELECT count(*) FROM crm.mail_messages") == [(2,)]


def test_bad_messages_are_reported_and_the_batch_goes_on(cli, desk: Path, tmp_path: Path) -> None:
    box = mailbox.mbox(str(tmp_path / "mixed.mbox"), create=True)
    box.add(message("<ok-1@x>", "a@client.example", "support@sd.example.ru", "Первое"))
    box.add(b"Subject: no sender at all\n\njust text\n")
    box.add(message("<ok-2@x>", "b@client.example", "support@sd.example.ru", "Второе"))
    box.flush()
    box.close()
    shutil.copy(MAIL / "02-broken-charset.eml", tmp_path / "broken.eml")
    unknown = message("<cs@x>", "c@client.example", "support@sd.example.ru", "x", Content_Type="text/plain")
    (tmp_path / "charset.eml").write_bytes(unknown.replace(b"charset=\"utf-8\"", b"charset=\"klingon-8\""))
    result = cli("intake", "mail", str(tmp_path), "--rule", "support-mail", "-f", "json")
    assert result.exit_code == 1
    assert result.stderr == "crmctl: error: 3 messages were rejected; the others were taken\n"
    rows = {r["source"]: (r["outcome"], r["reason"]) for r in json.loads(result.stdout)}
    assert rows == {
        "broken.eml": ("rejected", "its text is not valid utf-8"),
        "charset.eml": ("rejected", "unknown charset 'klingon-8'"),
        "mixed.mbox#1": ("created", None),
        "mixed.mbox#2": ("rejected", "no From header: not an e-mail message"),
        "mixed.mbox#3": ("created", None),
    }
    assert query(desk / "crmctl.duckdb", "SELECT subject FROM incident ORDER BY number") == [("Первое",), ("Второе",)]


def test_a_message_the_form_refuses_is_rejected_alone(cli, desk: Path, tmp_path: Path) -> None:
    (tmp_path / "1.eml").write_bytes(message("<r1@x>", "root@localhost", "support@sd.example.ru", "Сбой"))
    (tmp_path / "2.eml").write_bytes(message("<r2@x>", "b@x.example", "support@sd.example.ru", ""))
    result = cli("intake", "mail", str(tmp_path), "--rule", "support-mail", "-f", "json")
    rows = [(r["outcome"], r["reason"]) for r in json.loads(result.stdout)]
    assert rows == [
        ("rejected", "field 'reporter_email': 'root@localhost' is not an e-mail address"),
        ("created", None),
    ]
    # an empty subject becomes '(без темы)' by the rule's template; the rejected message left nothing behind
    assert query(desk / "crmctl.duckdb", "SELECT subject FROM incident") == [("(без темы)",)]
    assert query(desk / "crmctl.duckdb", "SELECT count(*) FROM crm.mail_messages") == [(1,)]


def test_dry_run_and_mistakes(cli, desk: Path) -> None:
    db = desk / "crmctl.duckdb"
    before = dump(db)
    result = cli("intake", "mail", str(MAIL / "crm-inbox.mbox"), "--rule", "crm-mail", "--dry-run")
    assert result.exit_code == 0
    # the third message repeats the first one's Message-ID: a duplicate, as the real run finds it
    assert result.stderr == "3 messages: would create 2, duplicates 1, skipped 0, rejected 0 (dry run)\n"
    assert dump(db) == before
    for args, code, message_ in (
        (["--rule", "nope", str(MAIL)], 3, "no intake rule 'nope' (rules: crm-mail, support-mail)"),
        (["--rule", "crm-mail", "missing.eml"], 3, "no such file: missing.eml"),
    ):
        result = cli("intake", "mail", *args)
        assert (result.exit_code, result.stderr) == (code, f"crmctl: error: {message_}\n")
    refused = cli("--as", "romanov", "intake", "mail", str(MAIL), "--rule", "crm-mail")
    assert refused.stderr.endswith("permission mail.evaluate is missing\n")
    assert dump(db) == before


def test_parsing_without_a_message_id_or_a_date() -> None:
    raw = message("", "Тест <t@x.example>", "crm@sd.example.ru", "Тема")
    parsed = domain.parse(raw)
    assert parsed.message_id.startswith("<sha256-") and parsed.message_id == domain.parse(raw).message_id
    assert (parsed.sender, parsed.sender_name, parsed.subject) == ("t@x.example", "Тест", "Тема")
    with pytest.raises(domain.Unusable, match="not an e-mail address"):
        domain.parse(b"From: nobody\nSubject: x\n\nbody\n")
    assert domain.html_text("<p>a<br>b</p><script>x()</script>") == "a\nb"
