"""`-` is standard input for import, record create/update --file, validate and intake mail, and standard output
for --out; what standard input holds reaches the operation as a file given by name does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, ok
from .dbstate import dump

CSV = "name,phone\nООО Ромашка,+79123456789\nИП Васильев,\n"


def test_import_reads_standard_input_as_it_reads_a_file(cli, workspace: Path, tmp_path: Path) -> None:
    result = cli("import", "client", "-", input=CSV)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "stdin.csv: 2 rows: created 2, updated 0, unchanged 0, rejected 0\n"
    from_stdin = json.loads(ok(cli, "record", "list", "client", "--format", "json"))
    (workspace / "clients.csv").write_text(CSV, encoding="utf-8")
    ok(cli, "import", "client", "clients.csv")
    from_file = json.loads(ok(cli, "record", "list", "client", "--format", "json"))[2:]
    drop = ("key", "created_at", "updated_at")
    assert [{k: v for k, v in r.items() if k not in drop} for r in from_stdin] == [
        {k: v for k, v in r.items() if k not in drop} for r in from_file
    ]


@pytest.mark.parametrize(
    ("text", "source"),
    [('[{"name": "A"}, {"name": "B"}]', "stdin.json"), ('{"name": "A"}\n{"name": "B"}\n', "stdin.jsonl")],
)
def test_import_tells_json_from_its_first_bytes(cli, workspace: Path, text: str, source: str) -> None:
    result = cli("import", "client", "-", "--format", "json", input=text)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["source"] == source
    assert json.loads(result.stdout)["created"] == 2


def test_a_bad_row_on_standard_input_changes_nothing(cli, workspace: Path) -> None:
    before = dump(workspace / "crmctl.duckdb")
    result = cli("import", "client", "-", input="name,nonsense\nA,1\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("crmctl: error:")
    assert dump(workspace / "crmctl.duckdb") == before


def test_record_create_and_update_read_field_values_from_standard_input(cli, workspace: Path) -> None:
    created = cli("record", "create", "client", "--file", "-", input="name: ООО Ромашка\nphone: '+79123456789'\n")
    assert (created.exit_code, created.stdout) == (0, "CL-1\n"), created.stderr
    updated = cli("record", "update", "CL-1", "--file", "-", input='{"phone": "+79131234567"}')
    assert updated.exit_code == 0, updated.stderr
    card = json.loads(ok(cli, "record", "show", "CL-1", "--format", "json"))
    assert card["fields"]["name"] == "ООО Ромашка" and card["fields"]["phone"] == "+79131234567"


def test_validate_reads_definitions_from_standard_input_and_names_them_dash(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "-", input="kind: Form\nname: q\n")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("-:1:1: error S003 ")
    good = (ROOT / "tests" / "data" / "base" / "calendar.yaml").read_text(encoding="utf-8")
    assert cli("validate", "-", input=good).stdout == "ok: 1 documents in 0 workspaces\n"


def test_intake_mail_reads_a_message_or_a_mailbox_from_standard_input(cli, example) -> None:
    example("service-desk-leads")
    cli.actor = "alekseeva"
    message = (ROOT / "examples" / "mail" / "01-known-contact.eml").read_bytes().decode("utf-8")
    result = cli("intake", "mail", "-", "--rule", "support-mail", "--dry-run", input=message)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("stdin.eml from ")
    mailbox = (ROOT / "examples" / "mail" / "crm-inbox.mbox").read_bytes().decode("utf-8")
    result = cli("intake", "mail", "-", "--rule", "crm-mail", "--dry-run", "--format", "json", input=mailbox)
    assert result.exit_code == 0, result.stderr
    assert {row["source"].split("#")[0] for row in json.loads(result.stdout)} == {"stdin.mbox"}


def test_dash_twice_is_a_usage_error(cli, workspace: Path) -> None:
    result = cli("validate", "-", "-", input="kind: Form\n")
    assert result.exit_code == 2
    assert result.stderr == "crmctl: error: '-' (standard input) can be given once\n"


def test_out_dash_is_standard_output(cli, workspace: Path) -> None:
    ok(cli, "record", "create", "client", "--set", "name=ООО Ромашка")
    assert ok(cli, "export", "client", "--out", "-") == ok(cli, "export", "client")
    assert ok(cli, "board", "deals", "-o", "-") == ok(cli, "board", "deals")
    assert not (workspace / "-").exists()


def test_standard_input_goes_to_a_server_as_a_file_does(cli, tmp_path: Path, monkeypatch) -> None:
    """Standard input is sent as the file it was read into (crmctl.uploads): both reach for the server,
    here one that is not there (tests/test_server.py sends files to a real one)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clients.csv").write_text(CSV, encoding="utf-8")
    env = {"CRMCTL_SERVER": "http://127.0.0.1:9", "CRMCTL_TOKEN": "crm_1_x", "XDG_CONFIG_HOME": str(tmp_path)}
    by_file = cli("import", "client", "clients.csv", env=env)
    by_stdin = cli("import", "client", "-", env=env, input=CSV)
    assert by_file.exit_code == by_stdin.exit_code == 6
    assert (
        by_stdin.stderr
        == by_file.stderr
        == "crmctl: error: cannot reach the server at http://127.0.0.1:9: [Errno 111] Connection refused\n"
    )
