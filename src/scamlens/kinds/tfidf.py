"""The TF-IDF baseline kind: its config schema (the one set of defaults) and its scikit-learn trainer.

The fitted model is a `scamlens.runtime.tfidf.TfidfPredictor`, which predicts with numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from ..config import ChunkingConfig, KindConfig
from ..runtime.classifier import LabelledTexts, MetricsLogger
from ..runtime.errors import InputError
from ..runtime.tfidf import TfidfPredictor
from . import Kind, TrainContext


class TfidfConfig(KindConfig):
    kind: Literal["tfidf"] = "tfidf"
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = Field(2, ge=1)
    max_df: float = Field(0.9, gt=0, le=1)
    max_word_features: int | None = 40000
    max_char_features: int | None = 80000
    sublinear_tf: bool = True
    C: float = Field(8.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=10)
    # Long texts: score each chunk and take the maximum per label (the corpus's labelling rule).
    chunk_long_texts: bool = True
    chunking: ChunkingConfig = Field(default_factory=lambda: ChunkingConfig(max_tokens=80))


class TfidfClassifier(TfidfPredictor):
    """A TF-IDF predictor that can also be fitted; keyword arguments are `TfidfConfig`'s fields."""

    def __init__(self, labels: Sequence[str], config: TfidfConfig | None = None, **settings):
        config = config or TfidfConfig(**settings)
        params = config.model_dump(mode="json", exclude={"kind", "chunking", "chunk_long_texts"})
        super().__init__(labels, params, config.chunking.max_tokens, config.chunking.whole_text_words,
                         config.chunk_long_texts)

    def fit(self, train: LabelledTexts, validation: LabelledTexts | None = None,
            log_metrics: MetricsLogger | None = None) -> TfidfClassifier:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        p = self.params
        common = {"lowercase": True, "min_df": min(p["min_df"], len(train.texts)), "max_df": p["max_df"],
                  "sublinear_tf": p["sublinear_tf"], "dtype": np.float64}
        vectorizers = [
            TfidfVectorizer(analyzer="word", ngram_range=tuple(p["word_ngrams"]),
                            max_features=p["max_word_features"], **common),
            TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(p["char_ngrams"]),
                            max_features=p["max_char_features"], **common),
        ]
        features = sp.hstack([v.fit_transform(train.texts) for v in vectorizers]).tocsr()
        estimators, coefs, intercepts = [], [], []
        for j, name in enumerate(self.labels):
            target = train.y[:, j].astype(int)
            if target.min() == target.max():
                raise InputError(f"label {name!r} has only {'positive' if target[0] else 'negative'} "
                                 "examples in the training split; a classifier cannot learn it")
            model = LogisticRegression(C=p["C"], class_weight=p["class_weight"], max_iter=p["max_iter"])
            model.fit(features, target)
            estimators.append(model)
            coefs.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
        self.coef = np.vstack(coefs)
        self.intercept = np.asarray(intercepts)
        self.set_spaces([{t: int(i) for t, i in v.vocabulary_.items()} for v in vectorizers],
                        [v.idf_.astype(np.float64) for v in vectorizers])
        # Kept in memory (never saved) so tests can compare against scikit-learn's own scores.
        self.sklearn_parts_ = (vectorizers, estimators)
        return self


def build(config: TfidfConfig, labels: Sequence[str], context: TrainContext) -> TfidfClassifier:
    return TfidfClassifier(labels, config)


KIND = Kind(name="tfidf", config=TfidfConfig, trainer=build, predictor=TfidfPredictor,
            requirements=("numpy", "sentencex"), versions=("numpy", "scikit-learn"))
