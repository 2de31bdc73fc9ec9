"""The transformer kind's training loss: per-label binary cross-entropy, weighted and smoothed.

Two recipe settings live here (issue 14's training recipe):
- `class_weights` sets BCE's pos_weight per label. "balanced" weighs a label's positives by
  negatives / positives, so a rare label pulls as hard as a common one; "sqrt" takes the square root of
  that ratio, a middle way that fires less on a rare label; "none" weighs every example alike.
- `label_smoothing` moves each 0/1 target towards 0.5 by that amount (0.1 trains on 0.05 and 0.95), so the
  model is not pushed to certainty on a corpus whose wording it could learn by heart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ...runtime.errors import InputError
from .config import ClassWeights


def positive_weights(y: np.ndarray, labels: Sequence[str], mode: ClassWeights = "balanced") -> torch.Tensor | None:
    """Per-label BCE pos_weight from the training labels, or None for unweighted BCE."""
    positives = y.sum(axis=0)
    for name, count in zip(labels, positives, strict=True):
        if count == 0:
            raise InputError(f"label {name!r} has no positive examples in the training split; "
                             "a classifier cannot learn it")
    if mode == "none":
        return None
    ratio = np.maximum(len(y) - positives, 1) / positives
    return torch.as_tensor(np.sqrt(ratio) if mode == "sqrt" else ratio, dtype=torch.float32)


class MultiLabelLoss(torch.nn.Module):
    """BCE with logits against smoothed targets, with an optional per-label pos_weight."""

    def __init__(self, pos_weight: torch.Tensor | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5); got {label_smoothing}")
        self.label_smoothing = label_smoothing
        self.bce = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.label_smoothing:
            targets = targets * (1.0 - self.label_smoothing) + self.label_smoothing / 2
        return self.bce(logits, targets)


def build_loss(y: np.ndarray, labels: Sequence[str], class_weights: ClassWeights, label_smoothing: float,
               device: torch.device) -> MultiLabelLoss:
    weights = positive_weights(y, labels, class_weights)
    return MultiLabelLoss(None if weights is None else weights.to(device), label_smoothing)
