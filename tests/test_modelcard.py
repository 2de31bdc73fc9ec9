"""The model card's words for the task come from the label file, not from scamlens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scamlens.data.labels import LabelError, LabelSet, load_labels
from scamlens.modelcard import render_card

from .conftest import LABELS_FILE

OWN = {"scam_operation": "flood", "deportation": "wildfire", "victim_assistance": "evacuation"}
PROJECT_WORDS = ("online scam", "trafficked", "Immigration", "English", "deportations", "scamlens repository")


def own_meta(meta_file: Path) -> dict:
    """A trained model's meta.json as if its labels had been a user's own."""
    text = meta_file.read_text()
    for ours, theirs in OWN.items():
        text = text.replace(ours, theirs)
    return json.loads(text)


def test_a_label_set_without_a_card_section_gets_a_card_of_measurements_only(trained_baseline) -> None:
    _, result = trained_baseline
    card = render_card(own_meta(result.best_dir / "meta.json"), LabelSet(tuple(OWN.values())))
    for phrase in PROJECT_WORDS:
        assert phrase not in card
    assert "## Intended use" not in card
    assert "- `flood`: (no definition given)" in card
    assert 'model.predict("The text to classify.")' in card
    assert "## Out of scope and misuse\n- Treating a missing label as proof that a text is off-theme" in card
    assert "## Limits\n- Long texts are scored in chunks" in card


def test_the_label_files_card_section_is_what_the_card_says(tmp_path: Path, trained_baseline) -> None:
    _, result = trained_baseline
    labels_file = tmp_path / "labels.yaml"
    labels_file.write_text(
        "labels:\n  - name: flood\n    definition: Water over land.\n  - wildfire\n  - evacuation\n"
        "card:\n  summary: Tags Dutch weather alerts.\n  intended_use: >-\n    Routing alerts to\n    duty officers.\n"
        "  out_of_scope: [Forecasts]\n  training_data: Alerts from 2020-2024.\n  limits: [Dutch only]\n"
        "  example: 'Dijk bij Zwolle \"breekt\" door'\n", encoding="utf-8")
    label_set = load_labels(labels_file)
    assert label_set.card["intended_use"] == "Routing alerts to duty officers."
    card = render_card(own_meta(result.best_dir / "meta.json"), label_set)
    assert card.startswith("# baseline: scamlens tfidf classifier\n\nTags Dutch weather alerts.\nEach text")
    assert "## Intended use\nRouting alerts to duty officers.\n\n## Out of scope and misuse\n- Forecasts\n" in card
    assert "- Positives per label in training: flood " in card and "- Alerts from 2020-2024.\n\n## Metrics" in card
    assert "## Limits\n- Dutch only\n- Long texts" in card
    assert "- `flood`: Water over land." in card
    assert 'model.predict("Dijk bij Zwolle \\"breekt\\" door")' in card


def test_the_bundled_labels_card_is_the_projects(trained_baseline) -> None:
    _, result = trained_baseline
    card = (result.best_dir / "README.md").read_text()
    bundled = load_labels(LABELS_FILE).card
    assert card.startswith("# baseline: scamlens tfidf classifier\n\n" + bundled["summary"] + "\nEach text")
    assert f"## Intended use\n{bundled['intended_use']}\n" in card
    assert "## Out of scope and misuse\n" + "".join(f"- {line}\n" for line in bundled["out_of_scope"]) in card
    assert f"- {bundled['training_data']}\n\n## Metrics on the test split" in card
    assert "## Limits\n" + "".join(f"- {line}\n" for line in bundled["limits"]) + "- Long texts" in card
    assert f'model.predict("{bundled["example"]}")' in card


@pytest.mark.parametrize(("card", "message"), [
    ("card: [a]", r"labels\.yaml: card: expected a mapping of summary, intended_use"),
    ("card: {audience: analysts}", r"labels\.yaml: card\.audience: unknown field; expected one of summary"),
    ("card: {limits: Dutch only}", r"labels\.yaml: card\.limits: expected a list of non-empty strings, got 'Dutch only'"),
    ("card: {summary: ''}", r"labels\.yaml: card\.summary: expected a non-empty string, got ''"),
    ("card: {example: [a, b]}", r"labels\.yaml: card\.example: expected a non-empty string"),
])
def test_a_malformed_card_section_is_named(tmp_path: Path, card: str, message: str) -> None:
    labels_file = tmp_path / "labels.yaml"
    labels_file.write_text(f"labels: [flood, wildfire]\n{card}\n", encoding="utf-8")
    with pytest.raises(LabelError, match=message):
        load_labels(labels_file)
