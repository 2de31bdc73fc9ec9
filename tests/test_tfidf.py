"""The TF-IDF baseline predicts from its own arrays, with exactly scikit-learn's scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scamlens.data.labels import load_labels
from scamlens.kinds.tfidf import TfidfClassifier
from scamlens.runtime.classifier import Classifier, LabelledTexts
from scamlens.runtime.tfidf import TfidfPredictor, char_wb_ngrams, word_ngrams

from .conftest import LABELS_FILE, TINY_CORPUS

LABELS = load_labels(LABELS_FILE)
ROWS = [json.loads(line) for line in TINY_CORPUS.read_text().splitlines()]
TEXTS = [r["text"] for r in ROWS]
ODD = ["  Weird \t\n spacing  ÉCOLE naïve — 312 “quoted” words", "", "a", "x" * 3000, "日本語のテキスト 詐欺"]


@pytest.fixture(scope="module")
def fitted() -> TfidfClassifier:
    return TfidfClassifier(LABELS.names, min_df=1).fit(LabelledTexts(TEXTS, LABELS.encode_many([r["labels"] for r in ROWS])))


def test_analyzers_match_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    for text in TEXTS[:5] + ODD:
        word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2)).build_analyzer()
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
        assert word_ngrams(text, (1, 2)) == word(text)
        assert char_wb_ngrams(text, (2, 5)) == char(text)
        assert word_ngrams(text, (2, 3)) == TfidfVectorizer(analyzer="word", ngram_range=(2, 3)).build_analyzer()(text)


def test_scores_equal_scikit_learn(fitted: TfidfClassifier) -> None:
    import scipy.sparse as sp

    vectorizers, estimators = fitted.sklearn_parts_
    texts = TEXTS + ODD
    features = sp.hstack([v.transform(texts) for v in vectorizers]).tocsr()
    expected_decision = np.column_stack([e.decision_function(features) for e in estimators])
    expected_proba = np.column_stack([e.predict_proba(features)[:, 1] for e in estimators])
    np.testing.assert_allclose(fitted.decision_function(texts), expected_decision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.score_texts(texts), expected_proba.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_save_load_round_trip_gives_identical_scores(fitted: TfidfClassifier, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    loaded = Classifier.load(tmp_path / "m")
    assert isinstance(loaded, TfidfPredictor) and loaded.labels == LABELS.names
    texts = TEXTS + ODD + [" ".join(TEXTS)]
    np.testing.assert_array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))
    assert not any(p.suffix in {".pkl", ".pickle", ".joblib"} for p in (tmp_path / "m").iterdir())


def test_object_arrays_are_refused_on_load(fitted: TfidfClassifier, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    arrays = dict(np.load(tmp_path / "m" / "tfidf_arrays.npz"))
    arrays["coef"] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "m" / "tfidf_arrays.npz", **arrays)
    with pytest.raises(ValueError, match="pickle"):
        Classifier.load(tmp_path / "m")


def test_long_text_scores_are_the_max_over_chunks(fitted: TfidfClassifier) -> None:
    long_text = " ".join(["The weather in Kampot was dry and the harbour was quiet."] * 20 + [TEXTS[0]])
    scored = fitted.score_chunks([long_text])[0]
    assert len(scored.chunks) > 1
    for chunk in scored.chunks:
        assert long_text[chunk.start:chunk.end] == chunk.text
        assert fitted.count_tokens(chunk.text) <= fitted.max_tokens
    np.testing.assert_array_equal(fitted.predict_proba([long_text])[0], scored.scores.max(axis=0))


def test_single_class_label_is_refused() -> None:
    y = np.zeros((4, 3), dtype=np.float32)
    y[:, 0] = [1, 0, 1, 0]
    with pytest.raises(ValueError, match="'deportation' has only negative examples"):
        TfidfClassifier(LABELS.names, min_df=1).fit(LabelledTexts(["alpha beta", "gamma delta", "epsilon zeta", "eta theta"], y))


def test_loading_and_predicting_never_imports_scikit_learn(fitted: TfidfClassifier, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    code = (
        "import sys; from scamlens.runtime.classifier import Classifier;"
        f"c = Classifier.load({str(tmp_path / 'm')!r}); c.predict_proba(['a raid on a compound']);"
        "heavy = [m for m in ('sklearn', 'scipy', 'torch', 'transformers', 'mlflow', 'datasets', 'pandas') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_card_says_how_long_texts_are_scored(baseline_config) -> None:
    from scamlens.training import train

    chunked = train(baseline_config).best_dir
    assert "chunks of at most 80 tokens" in (chunked / "README.md").read_text()
    whole = train(baseline_config.model_copy(update={
        "model": baseline_config.model.model_copy(update={"chunk_long_texts": False}),
        "output_dir": baseline_config.output_dir + "-whole"})).best_dir
    card = (whole / "README.md").read_text()
    assert "Long texts are scored whole" in card and "chunks of at most" not in card
