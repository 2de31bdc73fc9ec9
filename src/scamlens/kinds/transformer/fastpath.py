"""Measuring the transformer's CPU inference variants on the validation split (fp32, int8, bf16).

Training records each variant's validation macro F1 (under the fp32 model's thresholds: a variant is
judged by the decisions it changes) and its time; the model folder keeps the table and loading
chooses for the CPU it runs on (scamlens.runtime.cpu). Times are the minimum of three runs, the
least disturbed by other work on the machine, and are for reference: loading does not use them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...evaluation.metrics import multilabel_report
from ...runtime.classifier import LabelledTexts
from ...runtime.decision import apply_thresholds, tune_thresholds

TIMING_RUNS = 3


@dataclass(frozen=True)
class FastPathTrial:
    """One inference variant scored on the validation split."""

    macro_f1: float
    seconds: float


def timed_scores(classifier: Any, texts: Sequence[str], runs: int = TIMING_RUNS) -> tuple[np.ndarray, float]:
    """Scores of `texts` and the fastest of `runs` timings (after a warm-up that builds the fast copy)."""
    classifier.predict_proba(list(texts[:8]))
    best, scores = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        scores = classifier.predict_proba(list(texts))
        best = min(best, time.perf_counter() - started)
    return scores, best


def macro_f1(data: LabelledTexts, scores: np.ndarray, thresholds: np.ndarray, labels: Sequence[str]) -> float:
    return multilabel_report(data.y, apply_thresholds(scores, thresholds), None, labels)["macro_f1"]


def measure_fast_paths(classifier: Any, validation: LabelledTexts, variants: Sequence[str],
                       max_f1_drop: float) -> dict[str, Any]:
    """The table a model folder keeps: {"max_f1_drop", "variants": {name: {val_macro_f1, val_seconds}}}.

    `classifier` is a TransformerPredictor; its fast path is left at "none" (fp32).
    """
    classifier.set_fast_path("none")
    fp32_scores, fp32_seconds = timed_scores(classifier, validation.texts)
    thresholds = tune_thresholds(validation.y, fp32_scores)
    trials = {"fp32": FastPathTrial(macro_f1(validation, fp32_scores, thresholds, classifier.labels), fp32_seconds)}
    for mode in variants:
        classifier.set_fast_path(mode)
        scores, seconds = timed_scores(classifier, validation.texts)
        trials[mode] = FastPathTrial(macro_f1(validation, scores, thresholds, classifier.labels), seconds)
    classifier.set_fast_path("none")
    return {"max_f1_drop": max_f1_drop, "timing": f"minimum of {TIMING_RUNS} runs, for reference",
            "variants": {name: {"val_macro_f1": round(t.macro_f1, 6), "val_seconds": round(t.seconds, 3)}
                         for name, t in trials.items()}}
