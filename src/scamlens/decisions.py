"""Fitting the decision layer on the written validation split: calibration, then thresholds.

`decide()` is what training runs after a classifier is fitted: it fits the configured calibration on
the classifier's validation scores (per label: a temperature on the logit of the score, or an
isotonic step function), calibrates, and tunes thresholds by the configured policy. Everything it
fits is plain JSON (runtime/calibration.py applies it). Never fit this on realdev: that set is for
choosing among named configurations and for reporting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import DecisionConfig, ThresholdRule
from .runtime.calibration import Calibration, calibrate, logit, sigmoid
from .runtime.decision import tune_by_policy

logger = logging.getLogger(__name__)

# Temperatures searched on a log scale: beyond these a label's scores are all but constant or a step.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def fit_temperature(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The T minimising validation log loss of sigmoid(logit(score) / T); 1.0 for a one-class label."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(y_true, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        return 1.0
    z = logit(scores)
    result = minimize_scalar(lambda log_t: _log_loss(y, sigmoid(z / np.exp(log_t))),
                             bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)), method="bounded",
                             options={"xatol": 1e-6})
    return round(float(np.exp(result.x)), 6)


def fit_isotonic(y_true: np.ndarray, scores: np.ndarray) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators on (score, label): the step function's block starts x and values y.

    Equal scores are pooled first, so the function is well defined; a one-class label gets one block.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.float64)
    if len(scores) == 0:
        return [0.0], [0.0]
    starts, inverse = np.unique(scores, return_inverse=True)
    weights = np.bincount(inverse).astype(np.float64)
    sums = np.bincount(inverse, weights=y)
    blocks: list[list[float]] = []  # [start, weight, sum]
    for start, weight, total in zip(starts, weights, sums, strict=True):
        blocks.append([float(start), float(weight), float(total)])
        while len(blocks) > 1 and blocks[-2][2] / blocks[-2][1] >= blocks[-1][2] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1][1] += last[1]
            blocks[-1][2] += last[2]
    return [b[0] for b in blocks], [round(b[2] / b[1], 6) for b in blocks]


def fit_calibration(y_true: np.ndarray, scores: np.ndarray, method: str) -> Calibration:
    """A per-label calibration of `scores` (texts, labels) against `y_true`, in calibration.json's form."""
    if method == "none":
        return {"method": "none"}
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    per_label: list[dict[str, Any]] = []
    for j in range(scores.shape[1]):
        if method == "temperature":
            per_label.append({"temperature": fit_temperature(y_true[:, j], scores[:, j])})
        elif method == "isotonic":
            x, y = fit_isotonic(y_true[:, j], scores[:, j])
            per_label.append({"x": x, "y": y})
        else:
            raise ValueError(f"unknown calibration {method!r}; expected none, temperature or isotonic")
    return {"method": method, "labels": per_label}


@dataclass
class Decision:
    """What `decide` fitted: the calibration, the thresholds on calibrated scores, how they were chosen,
    and any named operating points (thresholds of other policies on the same calibrated scores)."""

    calibration: Calibration
    thresholds: np.ndarray
    policy: dict[str, Any] = field(default_factory=dict)
    operating_points: dict[str, dict[str, Any]] = field(default_factory=dict)

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        return calibrate(scores, self.calibration)


def _thresholds(y_true: np.ndarray, calibrated: np.ndarray, rule: ThresholdRule,
                labels: Sequence[str], what: str) -> tuple[np.ndarray, dict[str, Any]]:
    """One rule's thresholds, and its description for meta.json."""
    thresholds, fallbacks = tune_by_policy(y_true, calibrated, rule.policy, rule.precision_target,
                                           rule.deployment_prior)
    for j in fallbacks:
        logger.warning("%s, label %s: no threshold reaches validation precision %.2f; using the max-F1 threshold",
                       what, labels[j], rule.precision_target)
    policy: dict[str, Any] = {"name": rule.policy}
    if rule.policy == "precision_target":
        policy["precision_target"] = rule.precision_target
        policy["fell_back_to_max_f1"] = [labels[j] for j in fallbacks]
    if rule.policy == "prior_f1":
        policy["deployment_prior"] = rule.deployment_prior
    return thresholds, policy


def decide(y_true: np.ndarray, scores: np.ndarray, config: DecisionConfig, labels: Sequence[str]) -> Decision:
    """Fit calibration on validation scores, then thresholds on the calibrated scores by the policy
    (and by each named operating point's policy)."""
    calibration = fit_calibration(y_true, scores, config.calibration)
    calibrated = calibrate(scores, calibration)
    thresholds, policy = _thresholds(y_true, calibrated, config, labels, "policy")
    points = {}
    for name, rule in config.operating_points.items():
        point_thresholds, point_policy = _thresholds(y_true, calibrated, rule, labels, f"operating point {name}")
        points[name] = {"thresholds": [float(t) for t in point_thresholds], "decision": point_policy}
    return Decision(calibration, thresholds, {**policy, "calibration": config.calibration}, points)
