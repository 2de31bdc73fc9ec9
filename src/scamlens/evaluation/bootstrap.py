"""Bootstrap confidence intervals for the multi-label metrics, vectorised with numpy.

Texts are resampled with replacement (the unit an analyst samples is a text, not a text-label
pair), the model's thresholds stay fixed, and every metric is recomputed on each resample. A
resample is represented by how often it draws each text, so one matrix product gives the
confusion counts of all resamples at once; average precision is recomputed from weighted
cumulative sums over one global ranking, which equals scoring each resample separately because
copies of a text share its score and therefore its tie run. Intervals are percentile intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 13
DEFAULT_LEVEL = 0.95


def resample_indices(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Indices of each resample, shape (resamples, n); the same seed gives the same draws."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n)) if n else np.zeros((resamples, 0), dtype=np.int64)


def draw_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each resample draws each text, shape (resamples, n)."""
    resamples = indices.shape[0]
    offsets = (indices + np.arange(resamples)[:, None] * n).ravel()
    return np.bincount(offsets, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64),
                     where=denominator != 0)


def weighted_average_precision(y_true: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average precision of one label under each row of `counts` (weights per text), shape (rows,).

    Matches `scamlens.metrics.average_precision` on the resampled data: 0 without positives.
    """
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return np.zeros(counts.shape[0])
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    weights = counts[:, order]
    predicted = np.cumsum(weights, axis=1)
    hits = np.cumsum(weights * y_true[order], axis=1)
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    predicted, hits = predicted[:, last_of_tie], hits[:, last_of_tie]
    positives = hits[:, -1:]
    precision = _safe_ratio(hits, predicted)
    recall = _safe_ratio(hits, np.broadcast_to(positives, hits.shape))
    steps = np.diff(np.concatenate([np.zeros((len(recall), 1)), recall], axis=1), axis=1)
    return np.sum(steps * precision, axis=1)


def bootstrap_samples(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Every metric on every resample: per-label arrays of shape (resamples, labels), and
    micro/macro F1 of shape (resamples,)."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    n = len(y_true)
    counts = draw_counts(resample_indices(n, resamples, seed), n)
    tp = counts @ (y_true & y_pred).astype(np.float64)
    fp = counts @ (~y_true & y_pred).astype(np.float64)
    fn = counts @ (y_true & ~y_pred).astype(np.float64)
    f1 = _safe_ratio(2 * tp, 2 * tp + fp + fn)
    samples = {
        "precision": _safe_ratio(tp, tp + fp),
        "recall": _safe_ratio(tp, tp + fn),
        "f1": f1,
        "micro_f1": _safe_ratio(2 * tp.sum(1), 2 * tp.sum(1) + fp.sum(1) + fn.sum(1)),
        "macro_f1": f1.mean(axis=1) if f1.shape[1] else np.zeros(resamples),
    }
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        samples["average_precision"] = np.stack(
            [weighted_average_precision(y_true[:, j], scores[:, j], counts) for j in range(y_true.shape[1])], axis=1)
    return samples


def percentile_interval(values: np.ndarray, level: float = DEFAULT_LEVEL) -> np.ndarray:
    """(low, high) percentile interval along the first axis."""
    tail = (1 - level) / 2 * 100
    return np.percentile(values, [tail, 100 - tail], axis=0)


def bootstrap_intervals(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None,
                        labels: Sequence[str], resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                        level: float = DEFAULT_LEVEL) -> dict:
    """Percentile intervals, `[low, high]`, shaped like `metrics.multilabel_report`'s numbers.

    Args:
        y_true, y_pred: boolean matrices (texts, labels); the decisions use fixed thresholds.
        scores: the scores behind average precision, or None to skip it.
        labels: label names in column order.
        resamples: bootstrap resamples of the texts.
        seed: the seed of the resampling; the same inputs and seed give the same intervals.
        level: the coverage of the interval.
    """
    samples = bootstrap_samples(y_true, y_pred, scores, resamples, seed)
    per_label: dict[str, dict[str, list[float]]] = {name: {} for name in labels}
    for metric in ("precision", "recall", "f1", "average_precision"):
        if metric not in samples:
            continue
        low, high = percentile_interval(samples[metric], level)
        for j, name in enumerate(labels):
            per_label[name][metric] = [float(low[j]), float(high[j])]
    return {
        "per_label": per_label,
        "micro_f1": [float(x) for x in percentile_interval(samples["micro_f1"], level)],
        "macro_f1": [float(x) for x in percentile_interval(samples["macro_f1"], level)],
        "resamples": int(resamples),
        "seed": int(seed),
        "level": float(level),
    }
