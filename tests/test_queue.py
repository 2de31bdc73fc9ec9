"""The labelling queue: ranking, Label Studio tasks and config, and the export back into the corpus."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import scamlens
from scamlens.cli import app
from scamlens.config import load_config
from scamlens.data.corpus import read_examples
from scamlens.data.dataset import validate_corpus
from scamlens.data.labels import LabelSet, load_labels
from scamlens.evaluation.queue import (
    annotated_choices,
    choices_result,
    export_to_lines,
    import_export,
    label_config,
    queue_to_files,
    uncertainty_order,
)
from scamlens.runtime.model import Model

from .conftest import LABELS_FILE, ROOT

UNLABELLED = [
    {"id": "u-1", "text": "Police in Manila raided an online gaming hub and arrested 200 foreign staff.",
     "kind": "sentence", "register": "wire", "story": "manila-raid"},
    {"id": "u-2", "text": "The ministry said 50 rescued workers will receive shelter and legal aid.",
     "kind": "sentence"},
    {"text": "Immigration deported 120 Chinese nationals on a chartered plane."},
    {"text": "Rice prices rose in the provinces this week."},
    {"text": "Suspects from a pig-butchering ring were handed to Chinese police while victims got counselling."},
    {"text": "   "},
    {"text": "The airport opened a new terminal for budget airlines."},
]


@pytest.fixture(scope="module")
def model(trained_baseline) -> scamlens.Model:
    return scamlens.load(trained_baseline[1].best_dir)


@pytest.fixture()
def unlabelled(tmp_path: Path) -> Path:
    path = tmp_path / "inbox.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in UNLABELLED))
    return path


def corpus_config(source: Path):
    """The bundled corpus's data rules (required kind/register values, story groups) on `source`."""
    data = load_config(ROOT / "configs" / "baseline.yaml").data
    return data.model_copy(update={"source": [str(source)], "labels": str(LABELS_FILE)})


def test_uncertainty_order_is_smallest_margin_first() -> None:
    scores = np.array([[0.9, 0.1], [0.52, 0.9], [0.2, 0.38], [0.5, 0.6]])
    thresholds = np.array([0.5, 0.4])
    # smallest |score - threshold|: 0.3/0.3, 0.02/0.5, 0.3/0.02, 0.0/0.2 -> text 3, then 1 and 2 tied (input order)
    assert uncertainty_order(scores, thresholds).tolist() == [3, 1, 2, 0]


def test_label_config_lists_every_label_as_a_multiple_choice() -> None:
    labels = load_labels(LABELS_FILE)
    root = ET.fromstring(label_config(labels))
    text, choices = root.find("Text"), root.find("Choices")
    assert text.get("name") == "text" and text.get("value") == "$text"
    assert choices.get("name") == "labels" and choices.get("toName") == "text" and choices.get("choice") == "multiple"
    assert [c.get("value") for c in choices.findall("Choice")] == list(labels.names)
    assert choices.find("Choice").get("hint") == labels.definitions[labels.names[0]]


def test_queue_tasks_follow_the_label_studio_format(model: Model, unlabelled: Path, tmp_path: Path) -> None:
    result = queue_to_files(model, unlabelled, tmp_path / "queue.jsonl", limit=4)
    assert result.candidates == 6 and len(result.tasks) == 4  # the blank text is never queued
    lines = [json.loads(line) for line in (tmp_path / "queue.jsonl").read_text().splitlines()]
    assert lines == result.tasks
    assert result.label_config == tmp_path / "queue.label_config.xml" and result.label_config.exists()
    margins = [t["predictions"][0]["score"] for t in lines]
    assert margins == sorted(margins)
    texts = [r["text"] for r in UNLABELLED if r["text"].strip()]
    scores = dict(zip(texts, model.predict_proba(texts), strict=True))
    assert margins[0] == pytest.approx(min(np.abs(s - model.thresholds).min() for s in scores.values()), abs=1e-6)
    for rank, task in enumerate(lines, 1):
        assert set(task) == {"data", "predictions"} and task["data"]["queue_rank"] == rank
        assert isinstance(task["data"]["text"], str) and isinstance(task["data"]["id"], str)
        (prediction,) = task["predictions"]
        assert set(prediction) == {"model_version", "score", "result"}
        on = scores[task["data"]["text"]] >= model.thresholds
        assert prediction["result"] == choices_result([n for n, flag in zip(model.labels, on, strict=True) if flag])
        for item in prediction["result"]:
            assert item["from_name"] == "labels" and item["to_name"] == "text" and item["type"] == "choices"
    ids = {t["data"]["id"] for t in lines}
    assert ids <= {"u-1", "u-2", "inbox-3", "inbox-4", "inbox-5", "inbox-7"}


def test_a_second_model_queues_the_texts_they_disagree_on(model: Model, unlabelled: Path, tmp_path: Path) -> None:
    meta = {**model.meta, "thresholds": [0.99, 0.01, 0.5]}
    other = Model(model.classifier, meta, model.path)
    result = queue_to_files(model, unlabelled, tmp_path / "queue.json", second_model=other, limit=3)
    tasks = json.loads((tmp_path / "queue.json").read_text())
    assert tasks == result.tasks and all(len(t["predictions"]) == 2 for t in tasks)
    assert tasks[0]["predictions"][0]["result"] != tasks[0]["predictions"][1]["result"]
    assert "differently" in tasks[0]["data"]["queue_reason"]


def annotate(task: dict, k: int, choices: list[str] | None, **extra) -> dict:
    """A task as Label Studio exports it after an annotator chose `choices` (None: skipped)."""
    annotation = {"id": 100 + k, "result": choices_result(choices or []), "was_cancelled": choices is None,
                  "created_at": "2025-01-01T10:00:00Z", "completed_by": 1, **extra}
    return {"id": k, "data": task["data"], "annotations": [annotation], "predictions": task["predictions"]}


def test_label_studio_round_trip_gives_valid_corpus_lines(model: Model, unlabelled: Path, tmp_path: Path) -> None:
    result = queue_to_files(model, unlabelled, tmp_path / "queue.json", limit=6)
    chosen = [["scam_operation"], ["victim_assistance", "scam_operation"], [], ["deportation"], None, ["deportation"]]
    export = [annotate(task, k + 1, choices)
              for k, (task, choices) in enumerate(zip(result.tasks, chosen, strict=True))]
    # A re-annotation: the later one wins.
    export[5]["annotations"].append({"id": 999, "result": choices_result(["scam_operation", "deportation"]),
                                     "was_cancelled": False, "created_at": "2025-01-02T10:00:00Z"})
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(export))

    out, written, skipped = import_export(export_path, tmp_path / "new.jsonl", LABELS_FILE, kind="paragraph",
                                          register="ngo", story_prefix="ls-")
    assert (written, skipped) == (5, 1)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(line) == {"id", "text", "labels", "kind", "story", "register", "form"} for line in lines)
    by_text = {line["text"]: line for line in lines}
    expected = {t["data"]["text"]: c for t, c in zip(result.tasks, chosen, strict=True) if c is not None}
    expected[result.tasks[5]["data"]["text"]] = ["scam_operation", "deportation"]
    names = load_labels(LABELS_FILE).names
    in_label_order = {t: [n for n in names if n in c] for t, c in expected.items()}
    assert {t: line["labels"] for t, line in by_text.items()} == in_label_order
    for task in result.tasks:
        line = by_text.get(task["data"]["text"])
        if line is None:
            continue
        assert line["id"] == task["data"]["id"]
        assert line["kind"] == task["data"].get("kind", "paragraph")
        assert line["register"] == task["data"].get("register", "ngo")
        assert line["story"] == task["data"].get("story", f"ls-{task['data']['id']}")

    config = corpus_config(out)
    labels = load_labels(LABELS_FILE)
    examples, _, problems = validate_corpus(config, labels)
    assert [p for p in problems if p.severity == "error"] == [] and len(examples) == 5
    examples, problems = read_examples(config, labels)
    assert {e.text: list(e.labels) for e in examples} == {t: line["labels"] for t, line in by_text.items()}


def test_import_refuses_unknown_labels_and_reads_jsonl_exports(tmp_path: Path) -> None:
    labels = LabelSet(("a", "b"))
    task = {"id": 7, "data": {"text": "x"}, "annotations": [{"result": choices_result(["c"])}]}
    with pytest.raises(ValueError, match=r"task 7: unknown label\(s\) \['c'\]"):
        export_to_lines([task], labels)
    assert annotated_choices({"data": {}, "annotations": []}) is None
    path = tmp_path / "export.jsonl"
    exported = {"id": 3, "data": {"text": "y"}, "annotations": [{"result": choices_result(["b"])}]}
    path.write_text(json.dumps(exported) + "\n")
    out, written, _ = import_export(path, tmp_path / "lines.jsonl", labels)
    assert json.loads(out.read_text()) == {"id": "ls-3", "text": "y", "labels": ["b"], "kind": "paragraph",
                                           "story": "story-ls-3", "register": "wire", "form": "news"}


def test_queue_commands(trained_baseline, unlabelled: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    model_dir = str(trained_baseline[1].best_dir)
    result = runner.invoke(app, ["queue", model_dir, "--data", str(unlabelled), "--out", str(tmp_path / "q.json"),
                                 "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "2 of 6 texts queued" in result.output
    tasks = json.loads((tmp_path / "q.json").read_text())
    export = [annotate(task, k + 1, ["deportation"]) for k, task in enumerate(tasks)]
    (tmp_path / "export.json").write_text(json.dumps(export))
    result = runner.invoke(app, ["queue-import", str(tmp_path / "export.json"), "--out", str(tmp_path / "new.jsonl"),
                                 "--labels", str(LABELS_FILE), "--story-prefix", "batch7-"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "new.jsonl").read_text().splitlines()]
    assert [line["labels"] for line in lines] == [["deportation"], ["deportation"]]
    result = runner.invoke(app, ["queue", model_dir, "--data", str(tmp_path / "missing.jsonl"), "--out", "x.json"])
    assert result.exit_code == 1 and "Traceback" not in result.output
