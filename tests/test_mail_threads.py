"""Mail threads: a reply (In-Reply-To or References naming a message taken in) joins the record or task of its
thread as a comment, with its attachments, instead of opening a new one."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import ok
from tests.dbstate import dump, query


def eml(folder: Path, name: str, mid: str, sender: str, to: str, subject: str, body: str, **headers: str) -> Path:
    m = EmailMessage()
    m["Message-ID"] = mid
    m["Date"] = "Mon, 01 Mar 2027 09:00:00 +0300"
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    for header, value in headers.items():
        m[header.replace("_", "-")] = value
    m.set_content(body)
    if name.startswith("att"):
        m.add_attachment(b"%PDF-1.4 act", maintype="application", subtype="pdf", filename="акт.pdf")
    path = folder / f"{name}.eml"
    path.write_bytes(bytes(m))
    return path


@pytest.fixture
def desk(example, cli, tmp_path: Path) -> Path:
    root = example("service-desk-leads")
    ok(
        cli,
        "--as",
        "petrov",
        "record",
        "create",
        "contact",
        "--set",
        "full_name=Ирина",
        "--set",
        "email=i@vector.example",
    )
    cli.actor = "alekseeva"  # mail.evaluate
    return root


def test_a_reply_joins_the_incident_as_a_comment_with_its_files(cli, desk: Path, tmp_path: Path) -> None:
    first = eml(
        tmp_path,
        "first",
        "<q1@vector.example>",
        "i@vector.example",
        "support@sd.example.ru",
        "Ошибка",
        "Не работает вход",
    )
    ok(cli, "intake", "mail", str(first), "--rule", "support-mail")
    reply = eml(
        tmp_path,
        "att-reply",
        "<q2@vector.example>",
        "i@vector.example",
        "support@sd.example.ru",
        "Re: Ошибка",
        "Прикладываю акт",
        In_Reply_To="<q1@vector.example>",
    )
    result = cli("intake", "mail", str(reply), "--rule", "support-mail")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "att-reply.eml from i@vector.example joins INC-1\n"
    assert result.stderr == "1 message: created 0, joined 1, duplicates 0, skipped 0, rejected 0\n"
    db = desk / "crmctl.duckdb"
    assert query(db, "SELECT count(*) FROM incident") == [(1,)]
    card = json.loads(ok(cli, "record", "show", "INC-1", "-f", "json"))
    assert [c["text"] for c in card["comments"]] == ["i@vector.example: Re: Ошибка\n\nПрикладываю акт"]
    assert [(f["name"], f["size"]) for f in card["files"]] == [("акт.pdf", 12)]
    history = json.loads(ok(cli, "record", "history", "INC-1", "-f", "json"))
    received = [e["data"] for e in history if e["action"] == "mail.received"]
    assert [(d["message_id"], d.get("reply_to")) for d in received] == [
        ("<q1@vector.example>", None),
        ("<q2@vector.example>", "<q1@vector.example>"),
    ]
    taken = json.loads(ok(cli, "intake", "mail", str(reply), "--rule", "support-mail", "-f", "json"))
    assert taken[0]["outcome"] == "duplicate" and taken[0]["key"] == "INC-1"
    # a reply to the reply, known only by its References, joins the same thread
    third = eml(
        tmp_path,
        "third",
        "<q3@vector.example>",
        "other@else.example",
        "support@sd.example.ru",
        "Re: Re: Ошибка",
        "Спасибо",
        References="<nowhere@x> <q1@vector.example> <q2@vector.example>",
        In_Reply_To="<unknown@x>",
    )
    rows = json.loads(ok(cli, "intake", "mail", str(third), "--rule", "support-mail", "-f", "json"))
    assert [(r["outcome"], r["key"], r["initiator"]) for r in rows] == [("joined", "INC-1", None)]
    assert query(db, "SELECT message_id, record FROM crm.mail_messages ORDER BY message_id") == [
        ("<q1@vector.example>", "INC-1"),
        ("<q2@vector.example>", "INC-1"),
        ("<q3@vector.example>", "INC-1"),
    ]


def test_a_reply_to_a_task_comments_on_the_task_and_keeps_the_sender(cli, desk: Path, tmp_path: Path) -> None:
    first = eml(tmp_path, "first", "<o1@new.example>", "new@new.example", "crm@sd.example.ru", "Заявка", "Хочу")
    ok(cli, "intake", "mail", str(first), "--rule", "crm-mail")  # a new prospect PC-1 and task T-1
    reply = eml(
        tmp_path,
        "att-r",
        "<o2@new.example>",
        "new@new.example",
        "crm@sd.example.ru",
        "Re: Заявка",
        "Реквизиты",
        References="<o1@new.example>",
    )
    rows = json.loads(ok(cli, "intake", "mail", str(reply), "--rule", "crm-mail", "-f", "json"))
    assert [(r["outcome"], r["key"], r["initiator"]) for r in rows] == [("joined", "T-1", "PC-1")]
    db = desk / "crmctl.duckdb"
    assert query(db, "SELECT count(*) FROM crm.tasks") == [(1,)] and query(db, "SELECT count(*) FROM prospect") == [
        (1,)
    ]
    assert [f["name"] for f in json.loads(ok(cli, "files", "T-1", "-f", "json"))] == ["акт.pdf"]
    comments = query(db, "SELECT data->>'text' FROM crm.events WHERE action = 'task.commented'")
    assert comments == [("new@new.example: Re: Заявка\n\nРеквизиты",)]


def test_a_reply_from_a_stranger_to_a_task_creates_nobody(cli, desk: Path, tmp_path: Path) -> None:
    first = eml(tmp_path, "first", "<s1@new.example>", "new@new.example", "crm@sd.example.ru", "Заявка", "Хочу")
    ok(cli, "intake", "mail", str(first), "--rule", "crm-mail")
    reply = eml(
        tmp_path,
        "reply",
        "<s2@x>",
        "colleague@new.example",
        "crm@sd.example.ru",
        "Re: Заявка",
        "Я тоже",
        In_Reply_To="<s1@new.example>",
    )
    rows = json.loads(ok(cli, "intake", "mail", str(reply), "--rule", "crm-mail", "-f", "json"))
    assert [(r["outcome"], r["key"], r["initiator"]) for r in rows] == [("joined", "T-1", None)]
    assert query(desk / "crmctl.duckdb", "SELECT count(*) FROM prospect") == [(1,)]


def test_a_reply_to_nothing_known_opens_a_new_one_and_dry_run_writes_nothing(cli, desk: Path, tmp_path: Path) -> None:
    first = eml(tmp_path, "first", "<d1@vector.example>", "i@vector.example", "support@sd.example.ru", "Ошибка", "А")
    ok(cli, "intake", "mail", str(first), "--rule", "support-mail")
    before = dump(desk / "crmctl.duckdb")
    reply = eml(
        tmp_path,
        "att-reply",
        "<d2@vector.example>",
        "i@vector.example",
        "support@sd.example.ru",
        "Re",
        "Б",
        In_Reply_To="<d1@vector.example>",
    )
    dry = json.loads(ok(cli, "intake", "mail", str(reply), "--rule", "support-mail", "--dry-run", "-f", "json"))
    assert [(r["outcome"], r["key"]) for r in dry] == [("joined", "INC-1")]
    assert dump(desk / "crmctl.duckdb") == before
    stray = eml(
        tmp_path,
        "stray",
        "<d3@vector.example>",
        "i@vector.example",
        "support@sd.example.ru",
        "Re: старое",
        "В",
        In_Reply_To="<long-gone@vector.example>",
    )
    rows = json.loads(ok(cli, "intake", "mail", str(stray), "--rule", "support-mail", "-f", "json"))
    assert [(r["outcome"], r["key"]) for r in rows] == [("created", "INC-2")]
