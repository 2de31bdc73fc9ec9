"""The bundled corpus meets the targets it was written to (issue: corpus v1)."""

from __future__ import annotations

import sys

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def stats() -> dict:
    import os

    from corpus_report import measure

    cwd = os.getcwd()
    os.chdir(ROOT)  # the config's paths are relative to the repository root
    try:
        return measure("configs/baseline.yaml")
    finally:
        os.chdir(cwd)


def test_size_kinds_and_combinations(stats: dict) -> None:
    assert stats["examples"] >= 2000
    kinds = stats["kinds"]
    assert kinds["headline"] >= 450 and kinds["sentence"] >= 650 and kinds["paragraph"] >= 500 and kinds["article"] >= 250
    assert len(stats["combinations"]) == 8
    assert min(stats["combinations"].values()) >= 150
    assert set(stats["registers"]) == {"wire", "government", "ngo", "court", "social", "faq", "feature", "editorial"}


def test_hard_negatives_keyword_free_positives_countries_and_variety(stats: dict) -> None:
    assert stats["hard_negative_share"] >= 0.30
    assert stats["keyword_free_positive_share"] >= 0.40
    assert len(stats["countries"]) >= 30
    assert stats["max_trigram_overlap"]["share"] < 0.5
    assert stats["words_by_kind"]["article"]["min"] >= 150 and stats["words_by_kind"]["article"]["max"] <= 500


def test_splits_are_about_70_15_15_and_every_combination_is_in_every_split(stats: dict) -> None:
    total = stats["examples"]
    assert abs(stats["splits"]["train"] / total - 0.70) < 0.03
    for split in ("validation", "test"):
        assert abs(stats["splits"][split] / total - 0.15) < 0.03
        assert all(stats["combinations_by_split"][split].get(c, 0) >= 20 for c in stats["combinations"])


def test_no_story_straddles_two_splits() -> None:
    from scamlens.config import load_config
    from scamlens.data.dataset import build_corpus
    from scamlens.data.labels import load_labels

    config = load_config(ROOT / "configs" / "baseline.yaml", [f"data.source=[{ROOT}/data/corpus/*.jsonl]"])
    build = build_corpus(config.data, load_labels(ROOT / "configs" / "labels.yaml"))
    splits_of: dict[str, set[str]] = {}
    for example, split in zip(build.examples, build.splits, strict=True):
        splits_of.setdefault(example.group, set()).add(split)
    assert all(len(s) == 1 for s in splits_of.values())
    assert not [p for p in build.problems if p.severity == "error"]
