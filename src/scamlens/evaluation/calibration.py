"""Calibration of per-label scores: reliability bins and expected calibration error (ECE).

Each label is a binary problem whose score claims a probability. Scores are put into equal-width
bins on [0, 1] (the last bin includes 1.0); in each bin the mean score (confidence) is set
against the fraction of texts that carry the label (accuracy). ECE is the mean absolute gap
between the two, weighted by how many texts fall in each bin.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

DEFAULT_BINS = 10


class ReliabilityBins(TypedDict):
    edges: list[float]
    counts: list[int]
    confidence: list[float | None]  # mean score per bin; None for an empty bin
    accuracy: list[float | None]  # fraction of positives per bin; None for an empty bin


def bin_index(scores: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """The bin of each score: [0, 1/n), [1/n, 2/n), ..., [(n-1)/n, 1]."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.clip(np.floor(scores * n_bins).astype(np.int64), 0, n_bins - 1)


def reliability_bins(y_true: np.ndarray, scores: np.ndarray, n_bins: int = DEFAULT_BINS) -> ReliabilityBins:
    y_true = np.asarray(y_true, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    index = bin_index(scores, n_bins)
    counts = np.bincount(index, minlength=n_bins)
    score_sums = np.bincount(index, weights=scores, minlength=n_bins)
    hit_sums = np.bincount(index, weights=y_true, minlength=n_bins)
    return {
        "edges": [float(x) for x in np.linspace(0.0, 1.0, n_bins + 1)],
        "counts": [int(c) for c in counts],
        "confidence": [float(s / c) if c else None for s, c in zip(score_sums, counts, strict=True)],
        "accuracy": [float(h / c) if c else None for h, c in zip(hit_sums, counts, strict=True)],
    }


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, n_bins: int = DEFAULT_BINS) -> float:
    """sum over bins of (texts in bin / texts) * |accuracy - confidence|; 0.0 for no texts."""
    bins = reliability_bins(y_true, scores, n_bins)
    total = sum(bins["counts"])
    if total == 0:
        return 0.0
    return float(sum(c / total * abs(a - s) for c, a, s in zip(bins["counts"], bins["accuracy"], bins["confidence"],
                                                                strict=True) if c))
