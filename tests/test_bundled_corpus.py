"""The bundled corpus meets the targets it was written to (issue: corpus v2).

Targets are set against real news (realdev), not as quotas: the corpus-vs-real checks run where
../shared, the real text realdev refers to, is beside the checkout (CI has it), and skip elsewhere.
"""

from __future__ import annotations

import math
import os
import sys

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
TEXT_ROOT = ROOT.parent / "shared"
needs_shared = pytest.mark.skipif(not TEXT_ROOT.exists(), reason=f"{TEXT_ROOT} (realdev's text) is not here")


@pytest.fixture(scope="module")
def stats() -> dict:
    from corpus_report import measure

    cwd = os.getcwd()
    os.chdir(ROOT)  # the config's paths are relative to the repository root
    try:
        return measure("configs/baseline.yaml")
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def against_real() -> dict:
    from corpus_vs_real import compare, load_corpus, load_realdev

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return compare(load_corpus("configs/baseline.yaml"), load_realdev("data/realdev/val.jsonl", str(TEXT_ROOT)))
    finally:
        os.chdir(cwd)


def test_size_priors_and_forms(stats: dict) -> None:
    assert stats["examples"] >= 4500
    assert stats["no_label_share"] >= 0.55
    assert stats["kinds"]["feed"] >= 800
    assert stats["kinds"]["long"] >= 150
    assert {"feed_item", "wire_copy", "press_release", "live_blog", "court_ruling", "encyclopedic", "editorial",
            "feature"} <= set(stats["forms"])
    assert len(stats["combinations"]) == 8


def test_lengths_variety_and_countries(stats: dict) -> None:
    words = stats["words_by_kind"]
    assert words["long"]["min"] >= 600 and words["long"]["max"] <= 1500
    assert words["article"]["min"] >= 150 and words["article"]["max"] <= 500
    assert stats["max_trigram_overlap"]["share"] < 0.5
    assert stats["max_template_likeness"]["share"] <= 0.5
    assert len(stats["countries"]) >= 30


def test_splits_are_about_70_15_15_and_every_combination_is_in_every_split(stats: dict) -> None:
    total = stats["examples"]
    assert abs(stats["splits"]["train"] / total - 0.70) < 0.03
    for split in ("validation", "test"):
        assert abs(stats["splits"][split] / total - 0.15) < 0.03
        assert all(stats["combinations_by_split"][split].get(c, 0) >= 5 for c in stats["combinations"])


@needs_shared
def test_common_words_sit_within_10_points_of_real_news(against_real: dict) -> None:
    within = against_real["common_words"]["within_10_points"]
    assert within and all(all(sides.values()) for sides in within.values()), against_real["common_words"]


@needs_shared
def test_no_word_is_a_label_cue_in_the_corpus_that_real_news_does_not_share(against_real: dict) -> None:
    assert against_real["shortcut_words"] == []


@needs_shared
def test_places_nationalities_and_gender_are_no_shortcut(against_real: dict) -> None:
    assert all(against_real["groups"]["within_10_points"].values()), against_real["groups"]["corpus"]


def test_lift_gaps_divide_out_each_sides_prior() -> None:
    """A word twice as common among positives only because the corpus has twice the prior is no gap;
    a word the corpus ties to the label and real news does not is, with its counts and lifts."""
    from corpus_vs_real import Labelled, lift_gaps

    def labelled(rows: list[tuple[str, int]]) -> Labelled:
        return Labelled([t for t, _ in rows], [[y] for _, y in rows], ["article"] * len(rows), ["victim_assistance"])

    # Priors 40/100 in the corpus and 28/114 in real news. "shelter" is 30 of 30 positive in the corpus
    # (lift 2.46) and 0 of 15 in real news (0.13). "rescue" is 30 of 40 against 5 of 16: a rate 2.3
    # times real news's, but the corpus prior is 1.6 times too, so lifts 1.86 and 1.32 are no gap.
    # "sport" is 0 of 50 against 1 of 61: rare among positives on both sides, no theme word.
    corpus = labelled([("shelter rescue", 1)] * 30 + [("rescue", 0)] * 10 + [("weather", 1)] * 10 + [("sport", 0)] * 50)
    real = labelled([("shelter", 0)] * 15 + [("rescue", 1)] * 5 + [("rescue", 0)] * 11 + [("weather", 1)] * 22
                    + [("sport", 0)] * 60 + [("sport", 1)] * 1)
    assert lift_gaps(corpus, real) == [
        {"label": "victim_assistance", "word": "shelter*", "corpus": [30, 30], "real": [0, 15],
         "corpus_lift": 2.46, "real_lift": 0.13,
         "evidence": pytest.approx(math.log((30.5 / 31 / 0.4) / (0.5 / 16 / (28 / 114))) * math.sqrt(15))}]


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
