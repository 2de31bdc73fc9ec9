"""Training checkpoints of the transformer kind: weights, optimizer, schedule and every RNG, without pickle.

A checkpoint folder is swapped in atomically after every epoch; an interrupted run resumes from it
to the same result as an uninterrupted one (tested with SIGKILL).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ...runtime.atomic import atomic_dir
from ...runtime.errors import InputError

CHECKPOINT_SUBDIR = "latest"
CHECKPOINT_STATE_FILE = "state.json"
CHECKPOINT_MODEL_FILE = "model.safetensors"
CHECKPOINT_BEST_FILE = "best.safetensors"
CHECKPOINT_OPTIMIZER_FILE = "optimizer.safetensors"
CHECKPOINT_RNG_FILE = "rng.safetensors"


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's weights (the best epoch's are kept this way)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


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
        raise InputError(f"checkpoint in {folder} was written with different settings "
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
