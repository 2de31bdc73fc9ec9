"""The decision rule shared by every classifier: a label is on when its score reaches its threshold.

Thresholds are tuned per label on the validation split to maximise F1 and stored in the model's
meta.json; neither classifier knows about them.
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5


def apply_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Boolean label matrix: score >= threshold, column by column."""
    scores = np.asarray(scores)
    thresholds = np.asarray(thresholds, dtype=scores.dtype if scores.dtype.kind == "f" else np.float64)
    if scores.shape[-1] != thresholds.shape[0]:
        raise ValueError(f"{scores.shape[-1]} score columns but {thresholds.shape[0]} thresholds")
    return scores >= thresholds


def best_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 for one label.

    Every cut between two distinct scores is a candidate; the threshold is placed halfway between
    them so that small score drift does not flip decisions. Ties in F1 go to the threshold nearest
    0.5. A label without positives keeps the default threshold.
    """
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives = int(y_true.sum())
    if positives == 0 or len(scores) == 0:
        return DEFAULT_THRESHOLD, 0.0
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_true = scores[order], y_true[order]
    tp = np.cumsum(sorted_true)
    predicted = np.arange(1, len(scores) + 1)
    f1 = 2 * tp / (predicted + positives)
    cut = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]  # last index of each tie run
    below = np.r_[sorted_scores[1:], sorted_scores[-1] - 1e-6]
    candidates = np.flatnonzero(cut)
    thresholds = (sorted_scores[candidates] + below[candidates]) / 2
    best = f1[candidates].max()
    winners = candidates[np.isclose(f1[candidates], best)]
    chosen = thresholds[np.isin(candidates, winners)]
    threshold = float(chosen[np.argmin(np.abs(chosen - DEFAULT_THRESHOLD))])
    return threshold, float(best)


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-label thresholds maximising F1 on held-out data."""
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    return np.array([best_threshold(y_true[:, j], scores[:, j])[0] for j in range(scores.shape[1])])
