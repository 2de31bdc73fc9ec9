"""Training the transformer kind: a plain torch fine-tuning loop around the runtime predictor.

Binary cross-entropy (class-weighted and label-smoothed as configured, loss.py), AdamW with linear
warm-up and decay, length-bucketed batches with dynamic padding, gradient accumulation, mixed
precision on CUDA, early stopping on validation macro F1 (thresholds tuned on validation, as the
model folder will use them) and per-epoch checkpoints that an interrupted run resumes from. Long
training documents train as their chunk windows, with each document's logits max-pooled over its
windows. After training, the CPU fast path is chosen by measurement on the validation split.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...evaluation.metrics import multilabel_report
from ...progress import step_progress
from ...runtime import bert
from ...runtime import transformer as runtime_transformer
from ...runtime.classifier import LabelledTexts, MetricsLogger
from ...runtime.decision import apply_thresholds, tune_thresholds
from ...runtime.errors import InputError
from ...runtime.transformer import (
    TransformerPredictor,
    autocast,
    pad_batch,
    resolve_device,
    resolve_precision,
)
from .base_model import load_base_model
from .checkpoints import (
    CHECKPOINT_STATE_FILE,
    CHECKPOINT_SUBDIR,
    TrainState,
    cpu_state,
    load_checkpoint,
    save_checkpoint,
)
from .config import TransformerConfig
from .fastpath import measure_fast_paths
from .interpolation import pretrained_state, toward_pretrained
from .loss import build_loss
from .optimizer import build_optimizer, freeze_pre_trained

logger = logging.getLogger(__name__)

# Clipping keeps the first steps after warm-up stable when a rare label's pos_weight is large.
MAX_GRAD_NORM = 1.0
# Batches are sorted by length inside buckets of this many batches: little padding, yet the order of
# texts still changes every epoch.
BUCKET_BATCHES = 50
# Settings whose change would make a checkpoint meaningless for the run being resumed.
_RESUME_KEYS = ("base_model", "max_length", "batch_size", "gradient_accumulation_steps", "learning_rate",
                "weight_decay", "warmup_ratio", "epochs", "max_train_steps", "seed", "train_on_windows",
                "class_weights", "label_smoothing", "freeze_embeddings", "frozen_layers")
# Settings added after checkpoints were first written: at their defaults they stay out of the
# signature, so a checkpoint written before they existed still resumes.
_ADDED_RESUME_KEYS = ("freeze_embeddings", "frozen_layers")
# pretrained_share is left out on purpose: it acts after the last epoch, on weights checkpoints do
# not hold, so a run may resume under another share.


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def length_bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of texts of similar length (little padding, different order every epoch)."""
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    bucket = batch_size * BUCKET_BATCHES
    batches: list[np.ndarray] = []
    for start in range(0, len(order), bucket):
        part = order[start : start + bucket]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class TrainingPieces:
    """Training texts after long documents are cut into windows."""

    texts: list[str]  # every piece
    documents: np.ndarray  # per piece, the index of its document
    y: np.ndarray  # per document, its labels


@dataclass
class _Run:
    """Everything one call of fit() trains with."""

    encoded: list[list[int]]  # token ids of every training piece
    pieces_of: list[np.ndarray]  # per document, the indices of its pieces
    y: np.ndarray  # per document, its labels
    device: torch.device
    dtype: torch.dtype | None
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    steps_per_epoch: int
    total_steps: int
    signature: dict[str, Any]

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch)


class TransformerClassifier(TransformerPredictor):
    """A transformer predictor that can be fine-tuned. Keyword settings are `TransformerConfig`'s fields
    (its defaults are the only ones); chunk windows hold `TransformerConfig.window_tokens` word pieces:
    `max_length - 2` unless `chunking.max_tokens` sets fewer, so the special tokens fit.

    Args:
        labels: the label names, in score-column order.
        config: the validated settings; or pass them as keyword arguments.
        seed: seeds every RNG before training (the new head's initial weights included).
        checkpoint_dir: where a checkpoint is written after every epoch (None: no checkpoints).
        resume: continue from the checkpoint in `checkpoint_dir`.
    """

    def __init__(self, labels: Sequence[str], config: TransformerConfig | None = None, *, seed: int = 13,
                 checkpoint_dir: str | Path | None = None, resume: bool = False, **settings: Any):
        config = config or TransformerConfig(**settings)
        self.settings = config
        params = {**config.model_dump(mode="json", exclude={"kind", "chunking"}), "seed": seed}
        super().__init__(labels, params, config.window_tokens, config.chunking.whole_text_words)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.resume = resume
        self._last_weights: dict[str, torch.Tensor] | None = None
        self._pretrained: dict[str, torch.Tensor] = {}  # the base model's weights, kept when pretrained_share > 0

    @property
    def seed(self) -> int:
        return self.params["seed"]

    # --- training ------------------------------------------------------------------------------
    def fit(self, train: LabelledTexts, validation: LabelledTexts | None = None,
            log_metrics: MetricsLogger | None = None) -> TransformerClassifier:
        """Fine-tune the base model on `train`; `validation` drives early stopping and the fast path.

        Args:
            train: training texts and labels; long texts train as their chunk windows.
            validation: scored after every epoch (macro F1 with thresholds tuned on it); the best
                epoch's weights are kept. Without it every epoch counts as the best.
            log_metrics: called after every epoch with train_loss, learning_rate, global_step,
                val_macro_f1 (with validation) and epoch_seconds, and the 1-based epoch number.
        """
        run = self._prepare(train)
        state, best_weights = self._start_or_resume(run)
        for epoch in range(state.epoch, run.epochs):
            if state.stopped_early or state.global_step >= run.total_steps:
                break
            started = time.perf_counter()
            metrics = {"train_loss": self._train_epoch(run, state, epoch),
                       "learning_rate": run.scheduler.get_last_lr()[0], "global_step": float(state.global_step)}
            score = None
            if validation is not None:
                score = self._validation_macro_f1(validation)
                metrics["val_macro_f1"] = score
            if state.end_epoch(score, self.settings.early_stopping_patience):
                best_weights = cpu_state(self.model)
            metrics["epoch_seconds"] = time.perf_counter() - started
            state.history.append(metrics)
            logger.info("epoch %d: %s", state.epoch, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
            # Checkpoint before logging, so a failing logger never costs an epoch.
            if self.checkpoint_dir is not None:
                save_checkpoint(self.checkpoint_dir / CHECKPOINT_SUBDIR, self.model, run.optimizer, run.scheduler,
                                run.scaler, state, best_weights, run.signature)
            if log_metrics is not None:
                log_metrics(metrics, state.epoch)
        self._finish_training(state, best_weights)
        self._decide_fast_path(validation)
        return self

    def training_examples(self, train: LabelledTexts) -> TrainingPieces:
        """What the model trains on: short texts whole, long ones as their chunk windows.

        A document's windows keep its index in `documents`: the training loss is taken on the
        maximum of their logits per label (multiple-instance learning), the same rule as
        prediction, so windows of an article that mention a theme once are not each taught it.
        """
        if train.y.ndim != 2 or train.y.shape[1] != len(self.labels):
            raise InputError(f"label matrix has shape {train.y.shape}, expected (n, {len(self.labels)})")
        texts, documents = [], []
        for index, text in enumerate(train.texts):
            long = self.settings.train_on_windows and self.count_tokens(text) > self.max_tokens
            pieces = [c.text for c in self.chunk(text)] if long else [text]
            texts.extend(pieces)
            documents.extend([index] * len(pieces))
        return TrainingPieces(texts, np.asarray(documents, dtype=np.int64), train.y.astype(np.float32))

    def _prepare(self, train: LabelledTexts) -> _Run:
        """Seed, load the base model, tokenize, and build the optimizer and schedule."""
        s = self.settings
        if s.num_threads:
            torch.set_num_threads(s.num_threads)
        seed_everything(self.seed)  # before the base model loads: the new head's initial weights are drawn
        device = resolve_device(s.device)
        dtype = resolve_precision(s.precision, device)
        self._load_base_model()
        freeze_pre_trained(self.model, s.freeze_embeddings, s.frozen_layers)
        self.set_fast_path("none")  # validation during training scores with the fp32 model
        examples = self.training_examples(train)
        encoded = self._encode(examples.texts)
        pieces_of = [np.flatnonzero(examples.documents == d) for d in range(len(examples.y))]
        loss_fn = build_loss(examples.y, self.labels, s.class_weights, s.label_smoothing, device)
        self.model.to(device)
        self.inference_device = device
        steps_per_epoch = math.ceil(math.ceil(len(examples.y) / s.batch_size) / s.gradient_accumulation_steps)
        total_steps = math.ceil(s.epochs * steps_per_epoch)
        if s.max_train_steps is not None:
            total_steps = min(total_steps, s.max_train_steps)
        optimizer = build_optimizer(self.model, s.learning_rate, s.weight_decay)
        from transformers import get_linear_schedule_with_warmup

        scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(s.warmup_ratio * total_steps), total_steps)
        defaults = TransformerConfig.model_fields
        settings = {k: self.params[k] for k in _RESUME_KEYS
                    if k not in _ADDED_RESUME_KEYS or self.params[k] != defaults[k].default}
        signature = {**settings, "labels": list(self.labels),
                     "train_examples": len(examples.y), "train_pieces": len(encoded)}
        return _Run(encoded, pieces_of, examples.y, device, dtype, loss_fn, optimizer, scheduler,
                    torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
                    steps_per_epoch, total_steps, signature)

    def _train_epoch(self, run: _Run, state: TrainState, epoch: int) -> float:
        """One pass over the bucketed, shuffled batches; returns the mean training loss."""
        s = self.settings
        # The batch order depends on (seed, epoch) alone, so a resumed run sees the same batches.
        lengths = [max(len(run.encoded[p]) for p in pieces) for pieces in run.pieces_of]
        batches = length_bucketed_batches(lengths, s.batch_size, np.random.default_rng([self.seed, epoch]))
        self.model.train()
        run.optimizer.zero_grad(set_to_none=True)
        loss_sum, seen = torch.zeros((), device=run.device), 0
        steps = min(math.ceil(len(batches) / s.gradient_accumulation_steps), run.total_steps - state.global_step)
        with step_progress(f"epoch {epoch + 1}/{run.epochs}", steps) as progress:
            for index, batch in enumerate(batches):
                pieces = [run.pieces_of[d] for d in batch]
                inputs = pad_batch([run.encoded[p] for group in pieces for p in group], self.tokenizer.pad_token_id)
                with autocast(run.device, run.dtype):
                    logits = self.model(**{k: v.to(run.device) for k, v in inputs.items()}).logits.float()
                # A document's logit per label is the maximum over its pieces, as at prediction time.
                bounds = np.cumsum([0] + [len(group) for group in pieces])
                document_logits = torch.stack([logits[a:b].max(dim=0).values for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
                loss = run.loss_fn(document_logits, torch.as_tensor(run.y[batch], device=run.device))
                run.scaler.scale(loss / s.gradient_accumulation_steps).backward()
                loss_sum += loss.detach() * len(batch)
                seen += len(batch)
                if (index + 1) % s.gradient_accumulation_steps == 0 or index == len(batches) - 1:
                    self._optimizer_step(run)
                    state.global_step += 1
                    progress.step(seen, loss_sum)
                    if state.global_step >= run.total_steps:
                        break
        return float(loss_sum.item() / max(seen, 1))

    def _optimizer_step(self, run: _Run) -> None:
        run.scaler.unscale_(run.optimizer)  # clip the true gradients, not the fp16-scaled ones
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_GRAD_NORM)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)

    def _validation_macro_f1(self, validation: LabelledTexts) -> float:
        scores = self.predict_proba(validation.texts)
        return validation_macro_f1(validation, scores, tune_thresholds(validation.y, scores), self.labels)

    def _start_or_resume(self, run: _Run) -> tuple[TrainState, dict[str, torch.Tensor] | None]:
        if not self.resume:
            return TrainState(), None
        folder = self.checkpoint_dir / CHECKPOINT_SUBDIR if self.checkpoint_dir is not None else None
        if folder is None or not (folder / CHECKPOINT_STATE_FILE).is_file():
            logger.warning("resume asked for but there is no checkpoint in %s; training from the start", folder)
            return TrainState(), None
        state, best_weights = load_checkpoint(folder, self.model, run.optimizer, run.scheduler, run.scaler,
                                              run.signature)
        logger.info("resuming after epoch %d (step %d) from %s", state.epoch, state.global_step, folder)
        return state, best_weights

    def _finish_training(self, state: TrainState, best_weights: dict[str, torch.Tensor] | None) -> None:
        """Restore the best epoch's weights (keeping the last ones aside), move them `pretrained_share` of the
        way back to the pre-trained ones, and move the model to the CPU."""
        self._last_weights = None
        share = self.settings.pretrained_share
        if best_weights is not None and state.best_epoch != state.epoch:
            self._last_weights = toward_pretrained(cpu_state(self.model), self._pretrained, share)
            self.model.load_state_dict(best_weights)
        if share:
            if not self._pretrained:
                raise RuntimeError("pretrained_share is set but the base model's weights were not kept")
            self.model.load_state_dict(toward_pretrained(self.model.state_dict(), self._pretrained, share))
            logger.info("encoder weights moved %.2f of the way back to the pre-trained ones", share)
        self._pretrained = {}
        self.history, self.best_epoch = state.history, state.best_epoch
        trained_on_cuda = self.inference_device.type == "cuda"
        self.model.to("cpu").eval()
        self.inference_device = torch.device("cpu")
        self._native, self._fast_model = bert.from_transformers(self.model), None
        if trained_on_cuda:
            torch.cuda.empty_cache()

    def _decide_fast_path(self, validation: LabelledTexts | None) -> None:
        """For fast_path "auto": measure each variant's validation macro F1 (fp32, int8, and bf16 where this
        CPU computes it natively) for loading to choose from; this machine then runs what loading would pick."""
        s = self.settings
        self.fast_path_report = {}
        if s.fast_path != "auto" or validation is None:
            self.set_fast_path("none" if s.fast_path == "auto" else s.fast_path)
            return
        variants = ["int8"] + (["bf16"] if runtime_transformer.cpu_computes_bf16() else [])
        self.fast_path_report = measure_fast_paths(self, validation, variants, s.fast_path_max_f1_drop)
        self.set_fast_path("auto")
        logger.info("CPU fast paths measured (%s): %s", self.fast_path_report["timing"], ", ".join(
            f"{name} macro F1 {v['val_macro_f1']:.4f} in {v['val_seconds']:.1f} s"
            for name, v in self.fast_path_report["variants"].items()))

    def last_epoch_classifier(self) -> TransformerClassifier | None:
        """The final epoch's model when early stopping restored an earlier one, else None."""
        if self._last_weights is None or self.model is None:
            return None
        twin = copy.copy(self)
        twin.model = copy.deepcopy(self.model)
        twin.model.load_state_dict(self._last_weights)
        twin._fast_model, twin._last_weights = None, None
        twin._native = bert.from_transformers(twin.model)
        # The fast path was measured on the best epoch only; the last one keeps fp32 unless forced.
        twin.fast_path_mode = "none" if self.settings.fast_path == "auto" else self.settings.fast_path
        twin.fast_path_report = {}
        return twin

    # --- helpers -------------------------------------------------------------------------------
    def _load_base_model(self) -> None:
        self.tokenizer, self.model, newly_initialized = load_base_model(
            self.settings.base_model, self.labels, self.settings.allow_network)
        self._native, self._fast_model = None, None
        if self.settings.pretrained_share:
            self._pretrained = pretrained_state(self.model, newly_initialized)


def validation_macro_f1(data: LabelledTexts, scores: np.ndarray, thresholds: np.ndarray,
                        labels: Sequence[str]) -> float:
    """Macro F1 of `scores` on `data` under `thresholds`."""
    return multilabel_report(data.y, apply_thresholds(scores, thresholds), None, labels)["macro_f1"]
