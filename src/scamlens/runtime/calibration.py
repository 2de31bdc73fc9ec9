"""Calibrated scores: a per-label monotone map applied to a classifier's scores before thresholds.

Saved as `calibration.json` in the model folder (plain JSON, never pickle), fitted on the
validation split when the model is trained (scamlens.decisions). `Model.predict_proba` returns
calibrated scores and the thresholds in meta.json were tuned on them. Both maps are monotone, so a
document's calibrated best window is the calibrated best score (evidence and decisions agree).

    {"method": "none"}
    {"method": "temperature", "labels": [{"temperature": 1.7}, ...]}      sigmoid(logit(s) / T)
    {"method": "isotonic", "labels": [{"x": [0.0, 0.31, ...], "y": [0.02, 0.4, ...]}, ...]}
        a step function: a score s maps to y[i] for the last x[i] <= s (y[0] below x[0])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

CALIBRATION_FILE = "calibration.json"
CALIBRATION_METHODS = ("none", "temperature", "isotonic")
# Scores are clipped this far from 0 and 1 before the logit: a sigmoid in float32 saturates to
# exactly 0 or 1, whose logit is infinite.
EPSILON = 1e-7

Calibration = dict[str, Any]
IDENTITY: Calibration = {"method": "none"}


def logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(scores, dtype=np.float64), EPSILON, 1 - EPSILON)
    return np.log(clipped) - np.log1p(-clipped)


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def step_function(scores: np.ndarray, x: list[float], y: list[float]) -> np.ndarray:
    """The isotonic step function at `scores`: y[i] for the last x[i] <= score, y[0] below x[0]."""
    index = np.searchsorted(np.asarray(x, dtype=np.float64), scores, side="right") - 1
    return np.asarray(y, dtype=np.float64)[np.clip(index, 0, len(y) - 1)]


def check_calibration(calibration: Calibration, labels: int, where: str = CALIBRATION_FILE) -> Calibration:
    """Raise `InputError` naming what is wrong with a saved calibration; returns it."""
    method = calibration.get("method") if isinstance(calibration, dict) else None
    if method not in CALIBRATION_METHODS:
        raise InputError(f"{where}: method must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}")
    if method == "none":
        return calibration
    per_label = calibration.get("labels")
    if not isinstance(per_label, list) or len(per_label) != labels:
        raise InputError(f"{where}: expected {labels} per-label entries under 'labels'")
    for j, entry in enumerate(per_label):
        if method == "temperature" and not (isinstance(entry.get("temperature"), int | float) and entry["temperature"] > 0):
            raise InputError(f"{where}: labels[{j}].temperature must be a positive number")
        if method == "isotonic":
            x, y = entry.get("x"), entry.get("y")
            if not (isinstance(x, list) and isinstance(y, list) and len(x) == len(y) and x):
                raise InputError(f"{where}: labels[{j}] needs lists x and y of one non-zero length")
            if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
                raise InputError(f"{where}: labels[{j}]: x must increase and y must not decrease")
    return calibration


def calibrate(scores: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """Calibrated copy of a (..., labels) score array, float32 like the classifiers' scores."""
    scores = np.asarray(scores)
    method = (calibration or IDENTITY)["method"]
    if method == "none" or scores.size == 0:
        return scores
    out = np.empty(scores.shape, dtype=np.float64)
    for j, entry in enumerate(calibration["labels"]):
        column = scores[..., j].astype(np.float64)
        if method == "temperature":
            out[..., j] = sigmoid(logit(column) / entry["temperature"])
        else:
            out[..., j] = step_function(column, entry["x"], entry["y"])
    return out.astype(np.float32)


def read_calibration(folder: Path, labels: int) -> Calibration:
    """The folder's calibration.json, or the identity for folders saved without one."""
    path = Path(folder) / CALIBRATION_FILE
    if not path.is_file():
        return dict(IDENTITY)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg})") from None
    return check_calibration(record, labels, str(path))


def write_calibration(folder: Path, calibration: Calibration) -> None:
    (Path(folder) / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=1) + "\n", encoding="utf-8")
