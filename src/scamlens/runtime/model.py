"""Loading a trained model folder and predicting labels, scores and evidence.

This module imports neither mlflow, torch nor transformers for a baseline model: the classifier
kind named in the folder decides what gets imported. ``models:/`` URIs are resolved above the
runtime, by `scamlens.load`, so that nothing here (or in a wheel) imports mlflow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from .calibration import Calibration, calibrate, check_calibration, read_calibration
from .classifier import ChunkScores, Classifier
from .decision import DEFAULT_OPERATING_POINT, apply_thresholds
from .errors import InputError
from .folder import find_model_folder, read_meta, verify_manifest

logger = logging.getLogger(__name__)

MAX_EVIDENCE = 3


class Evidence(TypedDict):
    text: str
    start: int
    end: int
    score: float
    member: NotRequired[str]  # an ensemble's evidence: the member model whose chunk this is


class Prediction(TypedDict):
    labels: list[str]
    scores: dict[str, float]
    evidence: dict[str, list[Evidence]]


def check_texts(texts: str | Sequence[str]) -> tuple[list[str], bool]:
    """Validate input: a string or a sequence of strings. Returns (texts, was_single)."""
    if isinstance(texts, str):
        return [texts], True
    if texts is None or isinstance(texts, bytes | bytearray) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a str or a sequence of str, got {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            hint = "; decode bytes to str first" if isinstance(text, bytes | bytearray) else ""
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str{hint}")
    return list(texts), False


def operating_points(meta: dict[str, Any]) -> dict[str, list[float]]:
    """meta.json's thresholds by operating point: "default" first, then the named ones."""
    named = meta.get("operating_points") or {}
    broken = [name for name, point in named.items() if not isinstance(point, dict) or "thresholds" not in point]
    if broken:
        raise InputError(f"meta.json: operating point {broken[0]!r} has no thresholds")
    return {DEFAULT_OPERATING_POINT: meta["thresholds"], **{name: point["thresholds"] for name, point in named.items()}}


def point_thresholds(meta: dict[str, Any], name: str, path: Path | str | None) -> list[float]:
    """The thresholds of operating point `name`; InputError naming the model's points where it has no such one."""
    if name not in (points := operating_points(meta)):
        raise InputError(f"{path}: no operating point {name!r}; this model has {', '.join(points)}")
    return points[name]


class Model:
    """A classifier with its calibration, decision thresholds and description, as `scamlens.load` returns it."""

    def __init__(self, classifier: Classifier, meta: dict[str, Any], path: Path | None = None,
                 calibration: Calibration | None = None, operating_point: str | None = None):
        self.classifier = classifier
        self.meta = meta
        self.path = path
        self.calibration = check_calibration(calibration or {"method": "none"}, len(classifier.labels))
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        if self.labels != classifier.labels:
            raise InputError(f"{path}: meta.json labels {list(self.labels)} differ from the classifier's "
                             f"{list(classifier.labels)}")
        self.operating_point = operating_point or DEFAULT_OPERATING_POINT
        thresholds = point_thresholds(meta, self.operating_point, path)
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        if self.thresholds.shape != (len(self.labels),):
            raise InputError(f"{path}: operating point {self.operating_point}: expected {len(self.labels)} "
                             f"thresholds, got {thresholds!r}")
        if self.operating_point != DEFAULT_OPERATING_POINT:
            logger.info("%s: operating point %s, thresholds %s", path, self.operating_point,
                        dict(zip(self.labels, self.thresholds.round(3).tolist(), strict=True)))

    def operating_points(self) -> dict[str, list[float]]:
        """Each operating point's thresholds: "default" (the training run's policy) and any named ones
        fitted beside it (e.g. "feed", for a stream where almost nothing is on-theme)."""
        return operating_points(self.meta)

    def at(self, operating_point: str | None) -> Model:
        """This model deciding at another operating point: the same classifier (nothing reloads),
        that point's thresholds. None means the default point."""
        point = operating_point or DEFAULT_OPERATING_POINT
        if point == self.operating_point:
            return self
        return Model(self.classifier, self.meta, self.path, self.calibration, point)

    def __repr__(self) -> str:
        return f"Model(kind={self.meta.get('kind')!r}, labels={list(self.labels)}, path={str(self.path)!r})"

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Calibrated scores in [0, 1], shape (n_texts, n_labels); a single string gives shape (n_labels,)."""
        batch, single = check_texts(texts)
        scores = calibrate(self.classifier.predict_proba(batch), self.calibration)
        return scores[0] if single else scores

    def predict(self, texts: str | Sequence[str], evidence: bool = True) -> Prediction | list[Prediction]:
        """Labels over threshold, every label's score and, per predicted label, the chunks behind it.

        A single string gives a single prediction; a list gives a list. A blank text gets no labels.
        """
        batch, single = check_texts(texts)
        pooled, scored = self.classifier.score_documents(batch)
        pooled = calibrate(pooled, self.calibration)
        predictions = []
        for i in range(len(batch)):
            chunk_scores = scored[i]
            if chunk_scores is not None and self.classifier.chunks_on_own_scale:
                chunk_scores = ChunkScores(chunk_scores.chunks, calibrate(chunk_scores.scores, self.calibration))
            scores = pooled[i]
            on = apply_thresholds(scores[None, :], self.thresholds)[0]
            prediction: Prediction = {
                "labels": [n for n, flag in zip(self.labels, on, strict=True) if flag],
                "scores": {n: float(s) for n, s in zip(self.labels, scores, strict=True)},
                "evidence": {},
            }
            if evidence and chunk_scores:
                for j, name in enumerate(self.labels):
                    if on[j]:
                        prediction["evidence"][name] = _evidence(chunk_scores, j, float(self.thresholds[j]))
            predictions.append(prediction)
        return predictions[0] if single else predictions


def _evidence(chunk_scores: ChunkScores, label: int, threshold: float) -> list[Evidence]:
    """The best chunks that reach the threshold; the best one alone where none does (a mean or
    noisy-OR pool, or an ensemble, can put a text over threshold with no single chunk over it)."""
    column = chunk_scores.scores[:, label]
    order = np.argsort(-column, kind="mergesort")[:MAX_EVIDENCE]
    kept = [k for k in order if column[k] >= threshold] or list(order[:1])
    found: list[Evidence] = []
    for k in kept:
        chunk = chunk_scores.chunks[k]
        item: Evidence = {"text": chunk.text, "start": chunk.start, "end": chunk.end, "score": float(column[k])}
        member = getattr(chunk, "member", None)
        if member is not None:
            item["member"] = member
        found.append(item)
    return found


def load(folder: str | Path, device: str = "cpu", verify: bool = True, pooling: str | None = None,
         pooling_k: int | None = None, fast_path: str | None = None, operating_point: str | None = None) -> Model:
    """Load the model saved in `folder` (the one holding meta.json, or the single one below it).

    Args:
        folder: a model folder.
        device: "cpu" (default) or "cuda"/"cuda:N" for transformer models; nothing moves to a GPU
            unless asked for here.
        verify: check every file against the folder's sha256 manifest before loading.
        pooling: override the saved pooling of long documents' windows ("max", "mean_top_k",
            "noisy_or"; `pooling_k` for mean_top_k), to compare methods without retraining. The
            thresholds were tuned under the saved method.
        fast_path: override the CPU fast path chosen at load ("auto", "none", "int8", "bf16";
            transformer models and ensembles holding one).
        operating_point: serve with the thresholds of this named operating point instead of the
            default ones (`Model.operating_points()` lists them; "feed": tuned for a raw feed where
            almost nothing is on-theme, trading recall for precision).
    """
    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise InputError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    found = find_model_folder(Path(folder))
    if verify:
        verify_manifest(found)
    meta = read_meta(found)
    classifier = Classifier.load(found, device=device)
    if pooling is not None or pooling_k is not None:
        classifier.set_pooling(pooling or classifier.pooling["method"], pooling_k)
        logger.info("%s: pooling overridden at load: %s", found, classifier.pooling)
    if fast_path is not None:
        classifier.set_fast_path(fast_path)
    return Model(classifier, meta, found, read_calibration(found, len(classifier.labels)), operating_point)
