"""Reading and validating corpora: every kind of bad input is reported with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scamlens.config import DataConfig
from scamlens.data.corpus import CorpusError, load_examples, read_examples
from scamlens.data.dataset import validate_corpus
from scamlens.data.labels import LabelSet, load_labels

from .conftest import LABELS_FILE

LABELS = load_labels(LABELS_FILE)
GOOD = {"id": "x-1", "text": "Police raided a compound.", "labels": ["scam_operation"], "kind": "sentence",
        "story": "s1", "register": "wire"}


def config_for(*sources: Path, **changes) -> DataConfig:
    allowed = {"kind": ["headline", "sentence", "paragraph", "article"],
               "register": ["wire", "government", "ngo", "court", "social", "faq", "feature", "editorial"]}
    return DataConfig(source=[str(s) for s in sources], allowed_values=allowed, **changes)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_for(tmp_path: Path, bad_line: str) -> list[str]:
    path = write_lines(tmp_path / "c.jsonl", [json.dumps(GOOD), bad_line])
    _, problems = read_examples(config_for(path), LABELS)
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "x-2", "text": "oops"', "c.jsonl:2: json: not valid JSON"),
        ("[1, 2]", "c.jsonl:2: json: expected a JSON object"),
        (json.dumps({**GOOD, "id": "x-2", "text": None}), "c.jsonl:2: text: missing"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "text"} | {"id": "x-2"}), "c.jsonl:2: text: missing"),
        (json.dumps({**GOOD, "id": "x-2", "text": "   "}), "c.jsonl:2: text: empty"),
        (json.dumps({**GOOD, "id": "x-2", "text": 42}), "c.jsonl:2: text: expected a string, got int"),
        (json.dumps({**GOOD, "id": "x-2", "labels": ["fraud"]}), "c.jsonl:2: labels: unknown label 'fraud'"),
        (json.dumps({**GOOD, "id": "x-2", "labels": "scam_operation"}), "c.jsonl:2: labels: expected a list"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "labels"} | {"id": "x-2"}), "c.jsonl:2: labels: missing"),
        (json.dumps({**GOOD, "id": "x-2", "labels": ["deportation", "deportation"]}), "c.jsonl:2: labels: label listed twice"),
        (json.dumps(GOOD), "c.jsonl:2: id: duplicate id 'x-1' (first at"),
        (json.dumps({**GOOD, "id": "x-2", "kind": "tweet"}), "c.jsonl:2: kind: 'tweet' is not one of"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "story"} | {"id": "x-2"}), "c.jsonl:2: story: missing"),
    ],
)
def test_each_kind_of_bad_line_names_file_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    problems = problems_for(tmp_path, line)
    assert len(problems) == 1, problems
    assert expected in problems[0]
    assert problems[0].startswith(str(tmp_path / "c.jsonl"))


def test_all_problems_are_collected_and_raised_together(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", ["{bad", json.dumps({**GOOD, "labels": ["nope"]}), json.dumps(GOOD)])
    with pytest.raises(CorpusError) as error:
        load_examples(config_for(path), LABELS)
    assert len(error.value.problems) == 2
    assert "c.jsonl:1: json" in str(error.value) and "c.jsonl:2: labels" in str(error.value)


def test_missing_source_is_reported(tmp_path: Path) -> None:
    _, problems = read_examples(config_for(tmp_path / "none-*.jsonl"), LABELS)
    assert "no file matches" in str(problems[0])


def test_labels_are_stored_in_label_set_order(tmp_path: Path) -> None:
    line = json.dumps({**GOOD, "labels": ["victim_assistance", "scam_operation"]})
    examples = load_examples(config_for(write_lines(tmp_path / "c.jsonl", [line])), LABELS)
    assert examples[0].labels == ("scam_operation", "victim_assistance")
    assert examples[0].where.endswith("c.jsonl:1")


def test_csv_and_parquet_with_own_columns_and_labels(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = LabelSet(("phishing", "refund"))
    csv_path = tmp_path / "team.csv"
    csv_path.write_text('body,tags,event\n"A fake bank text asked for a PIN.",phishing,e1\n"The bank repaid her.",refund|phishing,e2\n'
                        '"Weather is fine.",,e3\n', encoding="utf-8")
    config = DataConfig(source=[str(csv_path)], text_column="body", labels_column="tags", id_column=None,
                        group_column="event", extra_columns=[])
    examples = load_examples(config, labels)
    assert [e.labels for e in examples] == [("phishing",), ("phishing", "refund"), ()]
    assert [e.group for e in examples] == ["e1", "e2", "e3"]

    pq.write_table(pa.table({"body": ["One", "Two"], "tags": [["refund"], []], "event": ["a", "b"]}), tmp_path / "t.parquet")
    examples = load_examples(config.model_copy(update={"source": [str(tmp_path / "t.parquet")]}), labels)
    assert [(e.text, e.labels) for e in examples] == [("One", ("refund",)), ("Two", ())]

    bad = tmp_path / "bad.csv"
    bad.write_text('body,tags,event\n"ok",phishing,e1\n"bad",spam,e2\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad.csv:3: tags: unknown label 'spam'"):
        load_examples(config.model_copy(update={"source": [str(bad)]}), labels)


def test_a_saved_dataset_dict_is_a_source(tmp_path: Path, baseline_config) -> None:
    from scamlens.data.dataset import build_corpus, save_build

    build = build_corpus(baseline_config.data, LABELS)
    folder = save_build(build, baseline_config.data, tmp_path / "built")
    config = baseline_config.data.model_copy(update={"source": [str(folder)]})
    again = load_examples(config, LABELS)
    assert sorted(e.canonical() for e in again) == sorted(e.canonical() for e in build.examples)


def test_near_duplicates_warn_within_a_split_and_fail_across_splits(tmp_path: Path) -> None:
    base = "Immigration officers put forty-one Nepali men on a chartered flight to Kathmandu on Friday evening."
    rows = [
        {**GOOD, "id": "a", "text": base, "story": "same"},
        {**GOOD, "id": "b", "text": base.replace("Friday", "Friday,"), "story": "same"},
    ]
    path = write_lines(tmp_path / "c.jsonl", [json.dumps(r) for r in rows])
    _, _, problems = validate_corpus(config_for(path), LABELS)
    assert [p.severity for p in problems] == ["warning"]
    assert "near-duplicate" in str(problems[0]) and "c.jsonl:2: text" in str(problems[0])

    # Many distinct stories so the two copies land in different splits.
    rows = [{**GOOD, "id": f"u{i}", "text": f"Story number {i} about a different raid in town {i * 7919}.",
             "story": f"u{i}"} for i in range(30)]
    rows += [{**GOOD, "id": "c1", "text": base, "story": "p"}, {**GOOD, "id": "c2", "text": base, "story": "q"}]
    path = write_lines(tmp_path / "d.jsonl", [json.dumps(r) for r in rows])
    examples, splits, problems = validate_corpus(config_for(path), LABELS)
    index = {e.id: i for i, e in enumerate(examples)}
    if splits[index["c1"]] != splits[index["c2"]]:
        assert any(p.severity == "error" and "across splits" in str(p) for p in problems)
    else:
        assert any(p.severity == "warning" and "exact duplicate" in str(p) for p in problems)
