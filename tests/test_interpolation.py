"""toward_pretrained: the weighted mean of fine-tuned and pre-trained weights (WiSE-FT), on tiny tensors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from scamlens.kinds.transformer.config import TransformerConfig  # noqa: E402
from scamlens.kinds.transformer.interpolation import pretrained_state, toward_pretrained  # noqa: E402


def test_mixes_the_weights_the_base_model_had_and_keeps_the_rest():
    tuned = {"layer.weight": torch.tensor([1.0, 2.0]), "head.weight": torch.tensor([5.0]),
             "ids": torch.tensor([3, 4])}
    pre = {"layer.weight": torch.tensor([3.0, 6.0])}
    mixed = toward_pretrained(tuned, pre, 0.25)
    assert mixed["layer.weight"].tolist() == [1.5, 3.0]
    assert mixed["head.weight"] is tuned["head.weight"] and mixed["ids"] is tuned["ids"]
    assert tuned["layer.weight"].tolist() == [1.0, 2.0]  # the input is not changed


def test_a_share_of_zero_returns_the_fine_tuned_weights_and_keeps_their_dtype():
    tuned = {"w": torch.tensor([1.0, 2.0], dtype=torch.bfloat16)}
    assert toward_pretrained(tuned, {"w": torch.tensor([9.0, 9.0])}, 0.0)["w"] is tuned["w"]
    assert toward_pretrained(tuned, {"w": torch.tensor([3.0, 4.0])}, 0.5)["w"].dtype == torch.bfloat16


@pytest.mark.parametrize("share", [-0.1, 1.0])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match=r"pre-trained share must be in \[0, 1\)"):
        toward_pretrained({}, {}, share)
    with pytest.raises(ValueError, match="pretrained_share"):
        TransformerConfig(pretrained_share=share)


def test_a_weight_whose_shape_changed_is_named():
    with pytest.raises(ValueError, match="'w' has shape \\(2,\\) after training but \\(3,\\) pre-trained"):
        toward_pretrained({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)


def test_pretrained_state_copies_what_the_checkpoint_held_and_leaves_out_the_new_head():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    state = pretrained_state(model, newly_initialized={"1.weight", "1.bias"})
    assert set(state) == {"0.weight", "0.bias"}
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(state["0.weight"], model[0].weight)  # a copy, not a view


def test_pre_trained_weights_the_model_lacks_are_named():
    with pytest.raises(ValueError, match="hold 1 the model lacks, such as 'extra'"):
        toward_pretrained({"w": torch.zeros(2)}, {"w": torch.zeros(2), "extra": torch.zeros(1)}, 0.5)
