"""Moving fine-tuned weights part of the way back to the pre-trained ones (WiSE-FT).

A weighted mean of one network's fine-tuned and pre-trained weights keeps most of what fine-tuning
learnt and more of what pre-training knew, and it holds up better under a shift of distribution than
either end (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022). Written-to-real
text is such a shift: with a share of 0.2 for the pre-trained weights, real `realdev/val` news is
ranked better on every label on each of three seeds (one seed's `deportation` only level), though
the model it gives flags more of a raw feed, so the default share is 0 (README, "Training recipe"). The new classification head has no
pre-trained counterpart, so it stays as trained.
"""

from __future__ import annotations

from collections.abc import Collection

import torch


def pretrained_state(model: torch.nn.Module, newly_initialized: Collection[str]) -> dict[str, torch.Tensor]:
    """A CPU copy of the floating-point weights `model` took from its checkpoint, before any training.

    Args:
        model: the model just loaded from its pre-trained checkpoint.
        newly_initialized: the names the checkpoint did not hold (Hugging Face's `missing_keys`),
            such as the new head's; they are left out.
    """
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()
            if name not in newly_initialized and value.is_floating_point()}


def toward_pretrained(state: dict[str, torch.Tensor], pretrained: dict[str, torch.Tensor],
                      share: float) -> dict[str, torch.Tensor]:
    """`state` with every weight that `pretrained` holds replaced by (1 - share) * fine-tuned + share * pre-trained.

    The mean is taken in float64 and stored in each tensor's own dtype and device; the rest of
    `state` (the new head, integer buffers) is returned as it is.
    """
    if not 0 <= share < 1:
        raise ValueError(f"the pre-trained share must be in [0, 1); got {share}")
    if share == 0:
        return dict(state)
    absent = sorted(pretrained.keys() - state.keys())
    if absent:
        raise ValueError(f"the pre-trained weights hold {len(absent)} the model lacks, such as {absent[0]!r}: "
                         "they are not this model's base model")
    mixed = dict(state)
    for name, base in pretrained.items():
        tuned = state[name]
        if tuned.shape != base.shape:
            raise ValueError(f"weight {name!r} has shape {tuple(tuned.shape)} after training but "
                             f"{tuple(base.shape)} pre-trained")
        value = (1 - share) * tuned.detach().double().cpu() + share * base.double()
        mixed[name] = value.to(device=tuned.device, dtype=tuned.dtype)
    return mixed
