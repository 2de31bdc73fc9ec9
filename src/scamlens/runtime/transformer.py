"""The transformer kind's predictor: a fine-tuned encoder with one sigmoid output per label.

Inference runs on the CPU unless a device is asked for explicitly. On the CPU the model may run a
fast path: a bfloat16 copy of the weights (where the CPU computes bf16 natively) or int8 dynamic
quantization of the linear layers. Training measures what each variant costs in validation macro
F1 and saves the table in classifier.json; loading chooses among them for the CPU it runs on
(cpu.py), unless the config forced one or `load(..., fast_path=)` overrides.

A saved model holds the encoder and tokenizer as safetensors and JSON under `encoder/`, so loading it
needs neither the base-model package nor the network. BERT-family encoders load into the plain-torch
runtime in bert.py; other architectures load through transformers.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import shutil
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import bert, cpu
from .classifier import Classifier
from .errors import InputError

logger = logging.getLogger(__name__)

# transformers is imported inside the functions that load non-BERT models: importing it costs ~3 s
# of a deployed model's cold start, and BERT models predict without it (see bert.py).

ENCODER_DIR = "encoder"
# CPU inference variants besides fp32.
FAST_PATHS = ("none", "int8", "bf16")


def resolve_device(device: str) -> torch.device:
    """The torch device for "auto" (CUDA when available, else the CPU), "cpu", "cuda" or "cuda:N"."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but CUDA is not available")
    return resolved


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None means plain fp32."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type != "cuda":
        raise InputError("precision fp16 needs CUDA; use bf16 or fp32 on the CPU")
    if precision not in ("bf16", "fp16"):
        raise InputError(f"unknown precision {precision!r}; expected auto, fp32, bf16 or fp16")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def cpu_computes_bf16() -> bool:
    """Whether this CPU has native bfloat16 matrix units (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False



def fast_copy(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """A copy of `model` for CPU inference in `mode` ("int8" or "bf16"); the fp32 model is kept."""
    if mode == "int8":
        return quantize_int8(model)
    if mode == "bf16":
        # Weights cast once rather than under autocast, which recasts them on every call: at batch 1
        # that recasting costs more than bf16 saves.
        return copy.deepcopy(model).to(torch.bfloat16).eval()
    raise InputError(f"unknown fast path {mode!r}; expected one of {FAST_PATHS}")


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` whose linear layers run in int8 (dynamic quantization, CPU only)."""
    with warnings.catch_warnings():
        # torch points eager quantization users at torchao, which is not a dependency of ours.
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False)


def logits_of(output: Any) -> torch.Tensor:
    """Logits from a transformers model output or from the plain-torch BERT (which returns them)."""
    return output if isinstance(output, torch.Tensor) else output.logits



def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Token ids padded to the longest sequence of the batch, with the attention mask."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}



class TransformerPredictor(Classifier):
    """A transformer encoder fine-tuned for multi-label classification, loaded for prediction.

    `params` are the settings the model was trained with (TransformerConfig's fields and the seed),
    as saved in classifier.json; prediction reads max_length, eval_batch_size and precision.
    """

    kind = "transformer"

    def __init__(self, labels: Sequence[str], params: dict[str, Any], max_tokens: int, whole_text_words: int,
                 chunk_long_texts: bool = True):
        super().__init__(labels, max_tokens, whole_text_words, chunk_long_texts)
        self.params = dict(params)
        self.model: torch.nn.Module | None = None
        self.tokenizer: Any = None
        # Where score_texts runs: the CPU unless _load_weights was given another device.
        self.inference_device = torch.device("cpu")
        # One of FAST_PATHS: what CPU inference runs; training decides it when fast_path is "auto".
        fast_path = self.params.get("fast_path", "none")
        self.fast_path_mode = "none" if fast_path == "auto" else fast_path
        self.fast_path_report: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.best_epoch = 0
        # bert.py's copy of a trained transformers model: what a loaded model runs.
        self._native: torch.nn.Module | None = None
        self._fast_model: torch.nn.Module | None = None  # the fp32 model's copy in fast_path_mode
        self._tokenizer_lock = threading.Lock()
        self._encoder_source: Path | None = None  # the encoder folder a native BERT was loaded from

    # --- prediction ----------------------------------------------------------------------------
    def score_texts(self, texts: list[str]) -> np.ndarray:
        self._require_model()
        texts = list(texts)
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not texts:
            return scores
        encoded = self._encode(texts)
        order = np.argsort([-len(e) for e in encoded], kind="stable")
        model, device = self.inference_model(), self.inference_device
        dtype = resolve_precision(self.params["precision"], device) if device.type == "cuda" else None
        size = self.params["eval_batch_size"]
        model.eval()
        with torch.inference_mode(), autocast(device, dtype):
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                batch = pad_batch([encoded[i] for i in rows], self.tokenizer.pad_token_id)
                logits = logits_of(model(**{k: v.to(device) for k, v in batch.items()}))
                scores[rows] = torch.sigmoid(logits.float()).cpu().numpy()
        return scores

    def count_tokens(self, text: str) -> int:
        self._require_model()
        with self._tokenizer_lock:
            return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def token_offsets(self, text: str) -> list[tuple[int, int]] | None:
        if not self._splits_at_words():
            return None
        with self._tokenizer_lock:
            return self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                  verbose=False)["offset_mapping"]

    def _splits_at_words(self) -> bool:
        """Whether the tokenizer pre-splits at every space and punctuation mark (BERT's WordPiece does),
        so a slice cut between words holds exactly the whole text's tokens inside it."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        return type(getattr(backend, "pre_tokenizer", None)).__name__ == "BertPreTokenizer"

    @property
    def fast_path_active(self) -> bool:
        """Whether `score_texts` runs a fast copy of the model: only on the CPU, and bf16 only where
        the CPU computes it natively (a model chosen on such a machine may be deployed on another)."""
        if self.fast_path_mode == "none" or self.inference_device.type != "cpu":
            return False
        return self.fast_path_mode != "bf16" or cpu_computes_bf16()

    def set_fast_path(self, mode: str) -> None:
        """Run CPU inference as `mode`: one of FAST_PATHS ("fp32" is "none"), or "auto", the fastest
        variant this CPU runs natively that training measured within its macro F1 budget."""
        mode = "none" if mode == "fp32" else mode
        if mode == "auto":
            mode = cpu.choose_at_load(self.fast_path_report, cpu.this_cpu())
            logger.info("fast path %s chosen for this CPU (native: %s; measured at training: %s)", mode,
                        ", ".join(sorted(cpu.this_cpu())) or "neither bf16 nor int8",
                        ", ".join(f"{k} macro F1 {v['val_macro_f1']:.4f}"
                                  for k, v in (self.fast_path_report.get("variants") or {}).items()) or "nothing")
        if mode not in FAST_PATHS:
            raise InputError(f"unknown fast path {mode!r}; expected auto, fp32 or one of {FAST_PATHS}")
        if mode != self.fast_path_mode:
            self.fast_path_mode, self._fast_model = mode, None

    def describe(self) -> dict[str, Any]:
        variants = (self.fast_path_report or {}).get("variants") or {}
        table = ", ".join(f"{k} {v['val_macro_f1']:.4f}" for k, v in variants.items())
        how = (f"chosen at load among validation macro F1 {table}" if variants and self.params.get("fast_path") == "auto"
               else f"fast_path: {self.params.get('fast_path', 'none')}")
        return {"CPU fast path": f"{self.fast_path_mode} on the training machine ({how})"}

    def inference_model(self) -> torch.nn.Module:
        """The module `score_texts` runs: the model as a loaded copy would run it (bert.py's runtime
        where it applies), or the fast copy of that while a fast path is active."""
        self._require_model()
        model = self._native if self._native is not None else self.model
        if not self.fast_path_active:
            return model
        if self._fast_model is None:
            self._fast_model = fast_copy(model, self.fast_path_mode)
        return self._fast_model

    # --- persistence ---------------------------------------------------------------------------
    def _save_weights(self, folder: Path) -> dict[str, Any]:
        self._require_model()
        encoder = folder / ENCODER_DIR
        if isinstance(self.model, bert.BertClassifier):  # loaded for inference: its files are the weights
            shutil.copytree(self._encoder_source, encoder)
        else:
            self.model.save_pretrained(encoder)  # safetensors
            self.tokenizer.save_pretrained(encoder)
        return {
            "params": self.params,
            "encoder_dir": ENCODER_DIR,
            "fast_path_decision": self.fast_path_mode,
            "fast_path_report": self.fast_path_report,
            "best_epoch": self.best_epoch,
            "history": self.history,
        }

    @classmethod
    def _load_weights(cls, folder: Path, settings: dict[str, Any], device: str = "cpu") -> TransformerPredictor:
        encoder = folder / settings.get("encoder_dir", ENCODER_DIR)
        target = resolve_device(device)
        config = json.loads((encoder / bert.CONFIG_FILE).read_text())
        labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        # Chunking is set by Classifier.load from classifier.json.
        classifier = TransformerPredictor(labels, settings.get("params", {}), 0, 0)
        classifier.inference_device = target
        if bert.supports(encoder):
            classifier.model = bert.load_bert(encoder, target)
            classifier.tokenizer = bert.FastTokenizer(encoder)
            classifier._encoder_source = encoder
        else:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            model = AutoModelForSequenceClassification.from_pretrained(encoder, local_files_only=True, dtype=torch.float32)
            classifier.model = model.to(target).eval()
            classifier.tokenizer = AutoTokenizer.from_pretrained(encoder, local_files_only=True)
        classifier.fast_path_report = settings.get("fast_path_report", {})
        if classifier.params.get("fast_path") == "auto" and "variants" in classifier.fast_path_report:
            classifier.set_fast_path("auto")  # this CPU decides, from what training measured
        else:  # forced by the config, or a folder saved when training decided by timing
            classifier.fast_path_mode = settings.get("fast_path_decision", "none")
        classifier.best_epoch = settings.get("best_epoch", 0)
        classifier.history = settings.get("history", [])
        return classifier

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        # A fast tokenizer changes its truncation state on each call and raises "Already borrowed"
        # when two threads do so at once; serving threads share one classifier, so calls are serialised.
        with self._tokenizer_lock:
            return self.tokenizer(list(texts), truncation=True, max_length=self.params["max_length"],
                                  verbose=False)["input_ids"]

    def _require_model(self) -> None:
        if self.model is None or self.tokenizer is None:
            raise RuntimeError("this transformer classifier is not fitted; call fit() or load()")


    def set_num_threads(self, threads: int) -> None:
        torch.set_num_threads(max(1, threads))
