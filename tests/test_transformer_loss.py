"""The transformer's training loss (kinds/transformer/loss.py): class weights and label smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from scamlens.kinds.transformer.config import TransformerConfig
from scamlens.kinds.transformer.loss import MultiLabelLoss, build_loss, positive_weights
from scamlens.runtime.errors import InputError

# Four documents, two labels: "a" on two of them, "b" on one.
Y = np.array([[1, 0], [0, 0], [1, 1], [0, 0]], dtype=np.float32)


def test_positive_weights_per_mode():
    assert positive_weights(Y, ["a", "b"], "balanced").tolist() == [1.0, 3.0]
    assert positive_weights(Y, ["a", "b"], "sqrt").tolist() == pytest.approx([1.0, math.sqrt(3.0)])
    assert positive_weights(Y, ["a", "b"], "none") is None


def test_a_label_without_positives_is_named():
    with pytest.raises(InputError, match="label 'b' has no positive examples"):
        positive_weights(Y[:2], ["a", "b"], "none")


def test_pos_weight_scales_only_the_positive_term():
    loss = MultiLabelLoss(torch.tensor([3.0]))
    zero = torch.zeros(1, 1)
    assert loss(zero, torch.ones(1, 1)).item() == pytest.approx(3 * math.log(2))
    assert loss(zero, torch.zeros(1, 1)).item() == pytest.approx(math.log(2))


def test_smoothing_moves_the_optimum_to_the_smoothed_target():
    # With smoothing 0.1 a positive trains towards 0.95: the loss is flat at logit log(0.95 / 0.05).
    logit = torch.tensor([[math.log(19.0)]], requires_grad=True)
    MultiLabelLoss(label_smoothing=0.1)(logit, torch.ones(1, 1)).backward()
    assert logit.grad.item() == pytest.approx(0.0, abs=1e-6)
    # and a negative towards 0.05, with the value BCE gives that target.
    x = torch.tensor([[1.5]])
    expected = -(0.05 * math.log(torch.sigmoid(x).item()) + 0.95 * math.log(1 - torch.sigmoid(x).item()))
    assert MultiLabelLoss(label_smoothing=0.1)(x, torch.zeros(1, 1)).item() == pytest.approx(expected)


def test_no_smoothing_and_no_weights_is_plain_bce():
    logits, targets = torch.tensor([[0.3, -1.2], [2.0, 0.1]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    built = build_loss(np.array([[1, 0], [0, 1]]), ["a", "b"], "none", 0.0, torch.device("cpu"))
    assert built(logits, targets).item() == pytest.approx(plain.item())


def test_recipe_settings_are_checked():
    assert TransformerConfig().class_weights == "balanced" and TransformerConfig().label_smoothing == 0.0
    with pytest.raises(ValidationError, match="label_smoothing"):
        TransformerConfig(label_smoothing=0.5)
    with pytest.raises(ValidationError, match="class_weights"):
        TransformerConfig(class_weights="inverse")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 0.5\)"):
        MultiLabelLoss(label_smoothing=-0.1)
