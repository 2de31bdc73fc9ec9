"""Multi-label metrics computed with numpy alone (no scikit-learn import on the evaluation path).

Conventions follow scikit-learn's: a ratio whose denominator is zero is 0, and average precision is
the step-wise area under the precision-recall curve, sum over thresholds of (R_n - R_{n-1}) * P_n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of one label; 0.0 when the label has no positive example."""
    y_true = np.asarray(y_true, dtype=bool)
    positives = int(y_true.sum())
    if positives == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(scores, dtype=np.float64)[order]
    hits = np.cumsum(y_true[order])
    # Only the last position of each run of tied scores is a real threshold.
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    tp = hits[last_of_tie]
    predicted = (np.arange(1, len(order) + 1))[last_of_tie]
    precision = tp / predicted
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def multilabel_report(
    y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None, labels: Sequence[str]
) -> dict:
    """Per-label precision, recall, F1, support and AP; micro/macro F1; subset accuracy; Hamming loss."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or y_true.shape[1] != len(labels):
        raise ValueError(f"shape mismatch: y_true {y_true.shape}, y_pred {y_pred.shape}, {len(labels)} labels")
    per_label = {}
    tp_all = fp_all = fn_all = 0
    for j, name in enumerate(labels):
        tp = int(np.sum(y_true[:, j] & y_pred[:, j]))
        fp = int(np.sum(~y_true[:, j] & y_pred[:, j]))
        fn = int(np.sum(y_true[:, j] & ~y_pred[:, j]))
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        per_label[name] = {
            "precision": precision,
            "recall": recall,
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "support": int(y_true[:, j].sum()),
        }
        if scores is not None:
            per_label[name]["average_precision"] = average_precision(y_true[:, j], scores[:, j])
    report = {
        "per_label": per_label,
        "micro_f1": _ratio(2 * tp_all, 2 * tp_all + fp_all + fn_all),
        "macro_f1": float(np.mean([m["f1"] for m in per_label.values()])),
        "subset_accuracy": float(np.mean(np.all(y_true == y_pred, axis=1))) if len(y_true) else 0.0,
        "hamming_loss": float(np.mean(y_true != y_pred)) if y_true.size else 0.0,
        "examples": int(len(y_true)),
    }
    if scores is not None:
        report["macro_average_precision"] = float(np.mean([m["average_precision"] for m in per_label.values()]))
    return report


def threshold_ceiling(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> dict:
    """Each label's F1 at the threshold best for these very labels and scores, and their mean.

    No threshold rule can do better with these scores, so the gap between a model's macro F1 and this
    ceiling is what its thresholds cost, and the gap from the ceiling to 1 is what its ranking costs.
    The thresholds are fitted on the data they score: a diagnosis, never a result to report.
    """
    from ..runtime.decision import best_threshold

    y_true, scores = np.asarray(y_true, dtype=bool), np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or y_true.ndim != 2 or y_true.shape[1] != len(labels):
        raise ValueError(f"shape mismatch: y_true {y_true.shape}, scores {scores.shape}, {len(labels)} labels")
    per_label = {}
    for j, name in enumerate(labels):
        threshold, f1 = best_threshold(y_true[:, j], scores[:, j])
        per_label[name] = {"threshold": threshold, "f1": f1}
    return {"per_label": per_label, "macro_f1": float(np.mean([m["f1"] for m in per_label.values()]))}


def flatten_report(report: dict, prefix: str = "") -> dict[str, float]:
    """`{"test_macro_f1": ..., "test_deportation_f1": ...}`: the form logged to MLflow."""
    flat = {f"{prefix}{k}": float(v) for k, v in report.items() if k != "per_label"}
    for label, values in report.get("per_label", {}).items():
        for metric, value in values.items():
            flat[f"{prefix}{label}_{metric}"] = float(value)
    return flat
