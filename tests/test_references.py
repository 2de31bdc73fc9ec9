"""Labels by reference: rows holding source + key resolved under a text root (issue 12, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scamlens.cli import app
from scamlens.data import read_labelled
from scamlens.data import references as references_module
from scamlens.data.reader import CorpusError

from .conftest import FIXTURES, LABELS_FILE, ROOT

REFROOT = FIXTURES / "refroot"
SHARED = ROOT.parent / "shared"
REALDEV_TEST = ROOT / "data" / "realdev" / "test.jsonl"


def write_labels(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ref(i: int, source: str, key: dict, labels: list[str], kind: str = "feed", **extra) -> dict:
    return {"id": f"r-{i}", "source": source, "key": key, "labels": labels, "kind": kind, **extra}


GOOD = [
    ref(1, "feeds/world.jsonl", {"line": 1, "title": "Police raid scam compound in Myawaddy"}, ["scam_operation"]),
    ref(2, "feeds/world.jsonl", {"line": 2, "id": "f2"}, []),
    ref(3, "feeds/world.jsonl.gz", {"line": 3, "title": "Court hears deportation appeal"}, ["deportation"]),
    ref(4, "feeds/world.jsonl.gz", {"line": 5, "id": "f4"}, []),
    ref(5, "feeds/world.jsonl.gz", {"line": 6, "id": "f5"}, ["victim_assistance"], kind="message"),
    ref(6, "forums/posts.csv", {"row": 1, "id": "p1"}, ["deportation"], kind="post"),
    ref(7, "forums/posts.csv", {"row": 2, "id": "p2"}, ["victim_assistance"], kind="post"),
    ref(8, "forums/posts.csv", {"row": 3, "id": "p3"}, ["scam_operation"], kind="post"),
    {"id": "t-9", "text": "A plain row with its own text.", "labels": [], "kind": "feed"},
    ref(10, "feeds/world.jsonl", {"line": 1, "id": "f1"}, ["scam_operation"], ambiguous=True, note="rules cannot decide"),
]


def test_every_key_form_resolves_to_the_documented_text(tmp_path: Path) -> None:
    data = read_labelled(write_labels(tmp_path / "labels.jsonl", GOOD), text_root=REFROOT, labels=LABELS_FILE)
    assert data.texts == [
        "Police raid scam compound in Myawaddy. Officers freed 40 workers forced to run romance scams.",
        "Weather turns cold\n\nSnow is expected in the north this weekend.",  # a null description does not count
        "Court hears deportation appeal\n\nA judge heard the appeal of three men facing removal to Vietnam.",
        "Bare text about a football match that ended in a draw.",
        "Shelter opens hotline for survivors of trafficking.",
        "Thailand deported 120 foreigners after the raid.",
        "Victims get shelter and counselling.",
        "Body text: the ring ran fake investment chats.",
        "A plain row with its own text.",
    ]
    assert data.left_out == 1  # the ambiguous row
    np.testing.assert_array_equal(data.y[:3], [[1, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert [e.extras["kind"] for e in data.examples][-4:] == ["post", "post", "post", "feed"]
    assert data.examples[0].extras["source"] == "feeds/world.jsonl"


BAD = [
    (ref(1, "feeds/missing.jsonl", {"line": 1, "id": "x"}, []), f"source: file not found: {REFROOT / 'feeds/missing.jsonl'}"),
    (ref(2, "feeds/world.jsonl", {"line": 5000, "id": "f1"}, []), "key.line: 5000 is out of range (file has 7 lines)"),
    (ref(3, "feeds/world.jsonl", {"line": 1, "title": "Another title"}, []),
     'key.title: does not match the record\'s title ("Police raid scam compound in Myawaddy")'),
    (ref(4, "feeds/world.jsonl", {"line": 2, "id": "f9"}, []), 'key.id: does not match the record\'s id ("f2")'),
    (ref(5, "forums/posts.csv", {"row": 9, "id": "p1"}, []), "key.row: 9 is out of range (file has 4 data rows)"),
    (ref(6, "forums/posts.csv", {"line": 1, "id": "p1"}, []), "key.row: expected a positive integer"),
    (ref(7, "feeds/world.jsonl", {"line": 4, "id": "f4"}, []), "key.line: line 4 of"),  # the blank line
    (ref(8, "feeds/world.jsonl.gz", {"line": 8, "id": "x"}, []), "key.line: line 8 of"),  # not JSON
    (ref(9, "feeds/world.jsonl", {"line": 7, "id": "f6"}, []), "key.line: the record at line 7 has no text"),
    (ref(10, "forums/posts.csv", {"row": 4, "id": "p4"}, []), "key.row: the record at row 4 has no text"),
    (ref(11, "feeds/world.jsonl", "line 3", []), "key: expected"),
    ({"id": "r-12", "labels": [], "kind": "feed"}, "text: missing (give text, or source and key"),
]


def test_every_unresolvable_reference_is_collected_with_file_line_and_field(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "bad.jsonl", [row for row, _ in BAD])
    with pytest.raises(CorpusError) as error:
        read_labelled(labels, text_root=REFROOT, labels=LABELS_FILE)
    messages = [str(p) for p in error.value.problems]
    assert len(messages) == len(BAD)  # collected, not raised one at a time
    for line, (_, expected) in enumerate(BAD, 1):
        assert any(m.startswith(f"{labels}:{line}: {expected}") for m in messages), (line, expected, messages)


def test_references_without_a_text_root_are_one_clear_error(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", GOOD)
    with pytest.raises(CorpusError) as error:
        read_labelled(labels, labels=LABELS_FILE)
    assert [str(p) for p in error.value.problems] == [
        f"{labels}:1: source: references need a text root: pass --text-root DIR or set data.text_root"]


def test_many_references_into_one_file_read_it_once(tmp_path: Path, monkeypatch) -> None:
    opened: list[str] = []
    real = references_module.open_lines

    def counting(path, *args, **kwargs):
        opened.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(references_module, "open_lines", counting)
    rows = [ref(i, "feeds/world.jsonl.gz", {"line": n, "id": f"f{k}"}, []) for i, (n, k) in enumerate([(1, 1), (2, 2), (3, 3), (5, 4), (6, 5)])]
    assert len(read_labelled(write_labels(tmp_path / "l.jsonl", rows), text_root=REFROOT, labels=LABELS_FILE).texts) == 5
    assert opened == ["world.jsonl.gz"]


def test_evaluate_with_references_writes_the_report_sliced_by_kind_and_source(trained_baseline, tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "test.jsonl", GOOD)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["evaluate", str(trained_baseline[1].best_dir), "--data", str(labels),
                                      "--text-root", str(REFROOT), "--out", str(out), "--resamples", "20"])
    assert result.exit_code == 0, result.output
    assert "1 row(s) marked ambiguous left out of the scores" in " ".join(result.output.split())
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["examples"] == 9 and report["data"]["left_out_ambiguous"] == 1
    assert set(report["slices"]) >= {"kind", "source"}
    assert set(report["slices"]["source"]) == {"feeds/world.jsonl", "feeds/world.jsonl.gz", "forums/posts.csv", "(none)"}
    missing_root = CliRunner().invoke(app, ["evaluate", str(trained_baseline[1].best_dir), "--data", str(labels)])
    assert missing_root.exit_code == 1
    assert "source: references need a text root" in missing_root.output


@pytest.mark.skipif(not (SHARED.is_dir() and REALDEV_TEST.is_file()), reason="needs ../shared and data/realdev/test.jsonl")
def test_the_committed_realdev_set_resolves_against_shared() -> None:
    data = read_labelled(REALDEV_TEST, text_root=SHARED, labels=LABELS_FILE)
    assert data.texts and all(t.strip() for t in data.texts)
    assert data.y.shape == (len(data.texts), 3)
