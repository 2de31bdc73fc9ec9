"""The decision rule shared by every classifier: a label is on when its score reaches its threshold.

Thresholds are tuned per label on the validation split by a policy and stored in the model's
meta.json; neither classifier knows about them. Policies: `max_f1` (the default) maximises F1;
`precision_target` takes the lowest threshold whose validation precision reaches a target, falling
back to max-F1 for a label where no threshold reaches it; `prior_f1` maximises the F1 that the
validation split would give if positives were as rare as they are where the model serves (a news
feed: well under 1% of items), by weighting each validation negative up to that prior.
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5
# The operating point meta.json's own thresholds make: the training run's policy. Others are named.
DEFAULT_OPERATING_POINT = "default"
POLICIES = ("max_f1", "precision_target", "prior_f1")


def apply_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Boolean label matrix: score >= threshold, column by column."""
    scores = np.asarray(scores)
    thresholds = np.asarray(thresholds, dtype=scores.dtype if scores.dtype.kind == "f" else np.float64)
    if scores.shape[-1] != thresholds.shape[0]:
        raise ValueError(f"{scores.shape[-1]} score columns but {thresholds.shape[0]} thresholds")
    return scores >= thresholds


def _cuts(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate cuts of one label: (thresholds, true positives, predicted positives) per cut.

    Every cut between two distinct scores is a candidate; the threshold is placed halfway between
    them so that small score drift does not flip decisions.
    """
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_true = scores[order], y_true[order]
    tp = np.cumsum(sorted_true)
    predicted = np.arange(1, len(scores) + 1)
    cut = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]  # last index of each tie run
    below = np.r_[sorted_scores[1:], sorted_scores[-1] - 1e-6]
    candidates = np.flatnonzero(cut)
    return (sorted_scores[candidates] + below[candidates]) / 2, tp[candidates], predicted[candidates]


def precision_threshold(y_true: np.ndarray, scores: np.ndarray, target: float) -> float | None:
    """The lowest threshold whose precision on (y_true, scores) reaches `target`; None where none does."""
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if not y_true.any() or len(scores) == 0:
        return None
    thresholds, tp, predicted = _cuts(y_true, scores)
    reaching = np.flatnonzero(tp / predicted >= target - 1e-12)
    return float(thresholds[reaching[-1]]) if len(reaching) else None


def best_threshold(y_true: np.ndarray, scores: np.ndarray, negative_weight: float = 1.0) -> tuple[float, float]:
    """(threshold, F1) maximising F1 for one label, each negative counting `negative_weight` times.

    Every cut between two distinct scores is a candidate; the threshold is placed halfway between
    them so that small score drift does not flip decisions. Ties in F1 go to the threshold nearest
    0.5. A label without positives keeps the default threshold.
    """
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives = int(y_true.sum())
    if positives == 0 or len(scores) == 0:
        return DEFAULT_THRESHOLD, 0.0
    thresholds, tp, predicted = _cuts(y_true, scores)
    f1 = 2 * tp / (tp + negative_weight * (predicted - tp) + positives)
    best = f1.max()
    chosen = thresholds[np.isclose(f1, best)]
    threshold = float(chosen[np.argmin(np.abs(chosen - DEFAULT_THRESHOLD))])
    return threshold, float(best)


def prior_threshold(y_true: np.ndarray, scores: np.ndarray, prior: float) -> tuple[float, float]:
    """(threshold, F1) maximising F1 on (y_true, scores) re-weighted so that positives make up `prior`.

    A split written with about one positive in four says little about a feed where one item in a few
    hundred is on-theme: there every false positive counts many times over. Weighting each negative by
    (positives / negatives) * (1 - prior) / prior gives the F1 expected at that prior, so the threshold
    rises until validation false positives are as rare as the prior demands. Recall is unchanged by the
    weighting. Ties go to the threshold nearest 0.5; a label without positives or negatives keeps the
    default threshold.
    """
    if not 0 < prior < 1:
        raise ValueError(f"deployment prior must be between 0 and 1, got {prior}")
    y_true = np.asarray(y_true, dtype=bool)
    positives, negatives = int(y_true.sum()), int((~y_true).sum())
    if positives == 0 or negatives == 0:
        return DEFAULT_THRESHOLD, 0.0
    return best_threshold(y_true, scores, negative_weight=positives / negatives * (1 - prior) / prior)


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-label thresholds maximising F1 on held-out data."""
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    return np.array([best_threshold(y_true[:, j], scores[:, j])[0] for j in range(scores.shape[1])])


def tune_by_policy(y_true: np.ndarray, scores: np.ndarray, policy: str = "max_f1",
                   precision_target: float = 0.9, deployment_prior: float = 0.005) -> tuple[np.ndarray, list[int]]:
    """Per-label thresholds under `policy`, and the columns where precision_target fell back to max-F1."""
    if policy not in POLICIES:
        raise ValueError(f"unknown threshold policy {policy!r}; expected one of {', '.join(POLICIES)}")
    if policy == "prior_f1":
        y_true, scores = np.asarray(y_true), np.asarray(scores)
        return np.array([prior_threshold(y_true[:, j], scores[:, j], deployment_prior)[0]
                         for j in range(scores.shape[1])]), []
    thresholds = tune_thresholds(y_true, scores)
    fallbacks: list[int] = []
    if policy == "precision_target":
        y_true, scores = np.asarray(y_true), np.asarray(scores)
        for j in range(scores.shape[1]):
            found = precision_threshold(y_true[:, j], scores[:, j], precision_target)
            if found is None:
                fallbacks.append(j)
            else:
                thresholds[j] = found
    return thresholds, fallbacks
