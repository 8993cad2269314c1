"""The YAML loader: positions, scalars, and everything it refuses."""

from __future__ import annotations

from pathlib import Path

from crmctl.config.yamlload import load_bytes, load_text


def test_positions_of_values_and_keys() -> None:
    loaded = load_text("kind: Form\nname: a\nfields:\n  - id: x\n    type: text\n", "f.yaml")
    doc = loaded.documents[0]
    loc = doc.loc(("fields", 0, "type"))
    assert (loc.line, loc.column) == (5, 11)
    key = doc.loc(("fields", 0, "type"), key=True)
    assert (key.line, key.column) == (5, 5)
    assert doc.loc(("fields", 0, "nope")).line == 4  # nearest known ancestor


def test_scalars_follow_yaml_1_2_and_dates_stay_text() -> None:
    data = load_text(
        "a: yes\nb: 0x1f\nc: 010\nd: 2027-01-01\ne: 1.5\nf: ~\ng: true\nh: '12'\ni: 12:30\n", "s"
    ).documents[0]
    assert data.data == {
        "a": "yes",
        "b": 31,
        "c": 10,
        "d": "2027-01-01",
        "e": 1.5,
        "f": None,
        "g": True,
        "h": "12",
        "i": "12:30",
    }


def test_colon_inside_flow_list_is_plain_text() -> None:
    doc = load_text("approvers: [role:ceo, author]\n", "s").documents[0]
    assert doc.data == {"approvers": ["role:ceo", "author"]}


def test_several_documents_in_one_file() -> None:
    loaded = load_text("kind: A\nname: a\n---\nkind: B\nname: b\n", "m.yaml")
    assert [d.data["kind"] for d in loaded.documents] == ["A", "B"]
    assert loaded.documents[1].loc(("kind",)).line == 4


def test_bom_is_accepted() -> None:
    loaded = load_bytes("\ufeffkind: Form\n".encode(), "bom.yaml")
    assert loaded.documents[0].data == {"kind": "Form"}


def test_anchors_and_aliases_are_plain_data() -> None:
    doc = load_text('a: &h ["09:00-13:00"]\nb: *h\n', "x").documents[0]
    assert doc.data == {"a": ["09:00-13:00"], "b": ["09:00-13:00"]}


def test_custom_local_tag_is_refused() -> None:
    loaded = load_text("a: !include other.yaml\n", "x")
    assert [d.code for d in loaded.diagnostics] == ["Y008"]


def test_non_scalar_key_is_refused() -> None:
    loaded = load_text("? [a, b]\n: c\n", "x")
    assert [d.code for d in loaded.diagnostics] == ["Y001"]


def test_a_lone_surrogate_escape_is_a_problem_not_a_crash(cli, base_workspace: Path, monkeypatch) -> None:
    monkeypatch.chdir(base_workspace)
    (base_workspace / "odd.yaml").write_text('kind: Calendar\nname: x\nhours: {"\\ud800": []}\n', encoding="utf-8")
    result = cli("validate")
    assert result.exit_code == 1
    assert "odd.yaml:3:9: error Y005 text holds a lone surrogate escape, which is not a character" in result.stdout
