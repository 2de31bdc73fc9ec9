"""How a long document's score per label comes from the scores of its windows.

- `max` (the default): the best window's score, the corpus's labelling rule ("any part counts").
- `mean_top_k`: the mean of the k best windows (all of them when there are fewer): one stray
  window that mentions a theme in passing counts for less.
- `noisy_or`: 1 - prod(1 - s): every window is independent evidence, so several weak windows add up.

The method is saved with the classifier (classifier.json) and can be overridden when a model is
loaded (`load(path, pooling="noisy_or")`) to compare methods on real text without retraining; the
thresholds were tuned under the saved method, so an override is for measurement.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from .errors import InputError

POOLING_METHODS = ("max", "mean_top_k", "noisy_or")
DEFAULT_TOP_K = 2


class Pooling(TypedDict):
    method: str
    k: int


def make_pooling(method: str = "max", k: int | None = None) -> Pooling:
    """A checked pooling setting; `k` is used by mean_top_k only."""
    if method not in POOLING_METHODS:
        raise InputError(f"unknown pooling {method!r}; expected one of {', '.join(POOLING_METHODS)}")
    k = DEFAULT_TOP_K if k is None else int(k)
    if k < 1:
        raise InputError(f"pooling k must be at least 1, got {k}")
    return {"method": method, "k": k}


def pool(scores: np.ndarray, pooling: Pooling) -> np.ndarray:
    """One row per label from a document's (windows, labels) score matrix."""
    scores = np.asarray(scores)
    method = pooling["method"]
    if method == "max" or len(scores) == 1:
        return scores.max(axis=0)
    if method == "mean_top_k":
        k = min(pooling["k"], len(scores))
        return np.sort(scores, axis=0)[-k:].mean(axis=0).astype(scores.dtype)
    if method == "noisy_or":
        # In float64: the product of many (1 - s) underflows and rounds badly in float32.
        complement = np.prod(1.0 - scores.astype(np.float64), axis=0)
        return (1.0 - complement).astype(scores.dtype)
    raise InputError(f"unknown pooling {method!r}; expected one of {', '.join(POOLING_METHODS)}")
