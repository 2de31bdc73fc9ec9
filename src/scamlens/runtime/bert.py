"""A plain-torch BERT sequence classifier for CPU inference, loaded straight from safetensors.

Importing transformers and building its model classes costs about 3 s before a single weight is
read, more than the rest of a cold start together. For the architecture the default encoder uses
(BERT: MiniLM, and most English encoders), this module runs the same forward pass with torch alone
and a `tokenizers` tokenizer, so a deployed transformer model starts in about 2 s. Its logits equal
transformers' `BertForSequenceClassification` in eval mode (tested); other architectures fall back
to transformers. Training always uses transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
_ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


def supports(folder: Path) -> bool:
    """Whether `folder` holds a model this runtime reproduces exactly."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (config.get("architectures") == ["BertForSequenceClassification"] and _supports_config(config)
            and (folder / WEIGHTS_FILE).is_file() and (folder / TOKENIZER_FILE).is_file())


def _supports_config(config: dict[str, Any]) -> bool:
    return (config.get("model_type") == "bert"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and config.get("hidden_act") in _ACTIVATIONS)


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float, activation: str):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

        context = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                                 attn_mask=mask)
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        x = self.attention_norm(self.attention_output(context) + x)
        return self.output_norm(self.output(self.activation(self.intermediate(x))) + x)


class BertClassifier(nn.Module):
    """Embeddings, encoder layers, tanh pooler over [CLS] and a linear head: BERT's classifier."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        hidden, eps = config["hidden_size"], config.get("layer_norm_eps", 1e-12)
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config.get("type_vocab_size", 2), hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps, config["hidden_act"])
            for _ in range(config["num_hidden_layers"]))
        self.pooler = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, config["num_labels"])

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last layer's token states, (batch, length, hidden)."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
        x = self.embedding_norm(x + self.token_type_embeddings.weight[0])
        mask = attention_mask[:, None, None, :].bool()  # True where a key may be attended to
        for layer in self.layers:
            x = layer(x, mask)
        return x

    def pool(self, states: torch.Tensor) -> torch.Tensor:
        """BERT's pooler: tanh of a dense layer over the [CLS] token's state, (batch, hidden)."""
        return torch.tanh(self.pooler(states[:, 0]))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.encode(input_ids, attention_mask)))


def _rename(key: str) -> str | None:
    """transformers' parameter name -> this module's, or None for what inference does not use."""
    parts = key.removeprefix("bert.").split(".")
    if parts[0] == "embeddings":
        return {"word_embeddings": "word_embeddings", "position_embeddings": "position_embeddings",
                "token_type_embeddings": "token_type_embeddings", "LayerNorm": "embedding_norm"}[parts[1]] + "." + parts[-1]
    if parts[0] == "encoder":
        index, rest = parts[2], ".".join(parts[3:-1])
        name = {"attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
                "attention.output.dense": "attention_output", "attention.output.LayerNorm": "attention_norm",
                "intermediate.dense": "intermediate", "output.dense": "output", "output.LayerNorm": "output_norm"}[rest]
        return f"layers.{index}.{name}.{parts[-1]}"
    if parts[0] == "pooler":
        return f"pooler.{parts[-1]}"
    if parts[0] == "classifier":
        return f"classifier.{parts[-1]}"
    return None


def load_bert(folder: Path, device: torch.device) -> BertClassifier:
    from safetensors.torch import load_file

    config = json.loads((folder / CONFIG_FILE).read_text())
    return build(config, load_file(str(folder / WEIGHTS_FILE))).to(device).eval()


def from_transformers(model: torch.nn.Module) -> BertClassifier | None:
    """This runtime's copy of a transformers `BertForSequenceClassification`, or None for other models.

    A model just trained with transformers predicts through the same runtime it will be deployed
    with, so thresholds tuned after training hold after loading even where reduced precision (the
    bf16 fast path) makes the two implementations round differently.
    """
    config = model.config.to_dict()
    if type(model).__name__ != "BertForSequenceClassification" or not _supports_config(config):
        return None
    state = {key: tensor.detach().clone() for key, tensor in model.state_dict().items()}
    return build(config, state).to(next(model.parameters()).device).eval()


def build(config: dict[str, Any], state: dict[str, torch.Tensor]) -> BertClassifier:
    """A BertClassifier from a transformers config and state dict (transformers' parameter names)."""
    config = {**config}
    config.setdefault("num_labels", len(config.get("id2label", {})) or 2)
    # Built on the CPU, not on the meta device: meta tensors' random init imports torch._dynamo (~1.8 s).
    model = BertClassifier(config)
    model.load_state_dict({new: tensor for key, tensor in state.items() if (new := _rename(key)) is not None},
                          strict=True, assign=True)
    return model


class FastTokenizer:
    """The model's `tokenizers` tokenizer with the small slice of the transformers API we call."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        settings = json.loads((folder / "tokenizer_config.json").read_text()) if (folder / "tokenizer_config.json").exists() else {}
        pad = settings.get("pad_token", "[PAD]")
        pad = pad.get("content", "[PAD]") if isinstance(pad, dict) else pad
        self.pad_token_id = self._tokenizer.token_to_id(pad) or 0
        self._max_length: int | None = None

    @property
    def backend_tokenizer(self) -> Any:
        return self._tokenizer

    def __call__(self, texts: str | list[str], truncation: bool = False, max_length: int | None = None,
                 add_special_tokens: bool = True, verbose: bool = False,
                 return_offsets_mapping: bool = False) -> dict[str, Any]:
        single = isinstance(texts, str)
        limit = max_length if truncation else None
        if limit != self._max_length:  # the backend keeps truncation as state; change it only when needed
            if limit is None:
                self._tokenizer.no_truncation()
            else:
                self._tokenizer.enable_truncation(limit)
            self._max_length = limit
        encodings = self._tokenizer.encode_batch(texts if not single else [texts], add_special_tokens=add_special_tokens)
        ids = [e.ids for e in encodings]
        out = {"input_ids": ids[0] if single else ids}
        if return_offsets_mapping:
            offsets = [e.offsets for e in encodings]
            out["offset_mapping"] = offsets[0] if single else offsets
        return out
