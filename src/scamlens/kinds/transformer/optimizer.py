"""What the transformer's fine-tuning updates: the pre-trained parts it keeps fixed, and AdamW over the rest."""

from __future__ import annotations

import torch

from ...runtime.errors import InputError

# Parameters that take no weight decay (the usual BERT recipe).
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight")


def build_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if name.endswith(NO_DECAY) else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate)


def freeze_pre_trained(model: torch.nn.Module, embeddings: bool, layers: int) -> None:
    """Keep the word-piece embeddings, or the whole embedding block and the lowest `layers` transformer
    layers, as pre-trained; build_optimizer leaves out what takes no gradient."""
    if layers:
        # BERT-like encoders: base_model.embeddings, then the first list of modules is the layer stack.
        block = getattr(model.base_model, "embeddings", None)
        stack = next((m for m in model.base_model.modules() if isinstance(m, torch.nn.ModuleList)), None)
        if block is None or stack is None or layers > len(stack):
            raise InputError(f"frozen_layers is {layers}, but the base model has "
                             f"{0 if stack is None else len(stack)} layers in a stack it can freeze")
        for module in [block, *stack[:layers]]:
            module.requires_grad_(False)
    elif embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
