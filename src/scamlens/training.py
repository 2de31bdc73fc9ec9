"""Training a classifier from a run config: corpus -> fit -> thresholds -> metrics -> model folders.

`train()` is the plain function behind `scamlens train`; it is also what tests and notebooks call.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .config import DecisionConfig, RunConfig, dump_config
from .data.dataset import BuildResult, build_corpus
from .data.labels import LabelSet, load_labels
from .decisions import Decision, decide
from .evaluation.metrics import flatten_report, multilabel_report
from .kinds import TrainContext, get_kind
from .modelcard import render_card
from .runtime.atomic import atomic_dir
from .runtime.calibration import write_calibration
from .runtime.classifier import Classifier, LabelledTexts
from .runtime.decision import apply_thresholds
from .runtime.folder import BEST_DIR, CARD_FILE, CONFIG_FILE, LAST_DIR, META_FILE, write_manifest
from .tracking import tracked_run

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    best_dir: Path
    metrics: dict[str, dict]
    thresholds: list[float]
    train_seconds: float
    fingerprint: str
    run_id: str | None
    registered_version: str | None


def build_classifier(config: RunConfig, labels: LabelSet, resume: bool = False,
                     fingerprint: str | None = None) -> Classifier:
    """The untrained classifier a config describes, built by its kind's trainer."""
    kind = get_kind(config.model.kind)
    context = TrainContext(config.seed, config.run_dir, resume, config.decision, fingerprint)
    classifier = kind.build(config.model, labels.names, context)
    # Before fit: validation scores during training (early stopping) pool as the saved model will.
    classifier.set_pooling(config.decision.pooling, config.decision.pooling_k)
    return classifier


def split_texts(build: BuildResult, split: str) -> LabelledTexts:
    rows = build.rows(split)
    return LabelledTexts([e.text for e in rows], build.labels.encode_many([e.labels for e in rows]))


def evaluate_scores(y_true: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, labels: LabelSet) -> dict:
    return multilabel_report(y_true, apply_thresholds(scores, thresholds), scores, labels.names)


def tune_and_evaluate(classifier: Classifier, validation: LabelledTexts, test: LabelledTexts,
                      labels: LabelSet, decision: DecisionConfig | None = None) -> tuple[Decision, dict[str, dict]]:
    """Calibration and thresholds fitted on validation, and the metrics they give on validation and test."""
    validation_scores = classifier.predict_proba(validation.texts)
    fitted = decide(validation.y, validation_scores, decision or DecisionConfig(), labels.names)
    test_scores = fitted.calibrated(classifier.predict_proba(test.texts))
    calibrated = {"validation": (validation.y, fitted.calibrated(validation_scores)), "test": (test.y, test_scores)}
    for point in fitted.operating_points.values():  # how each named point does on the written splits
        thresholds = np.asarray(point["thresholds"])
        point["metrics"] = {split: _summary(evaluate_scores(y, scores, thresholds, labels))
                            for split, (y, scores) in calibrated.items()}
    return fitted, {split: evaluate_scores(y, scores, fitted.thresholds, labels) for split, (y, scores) in calibrated.items()}


def _summary(report: dict) -> dict:
    """Macro F1 and each label's precision, recall and F1: what a model card shows per operating point."""
    return {"macro_f1": report["macro_f1"],
            "per_label": {label: {k: m[k] for k in ("precision", "recall", "f1")} for label, m in report["per_label"].items()}}


def decision_meta(classifier: Classifier, fitted: Decision) -> dict[str, Any]:
    """meta.json's thresholds and how they were chosen (policy, calibration, pooling)."""
    meta: dict[str, Any] = {"thresholds": [float(t) for t in fitted.thresholds],
                            "decision": {**fitted.policy, "pooling": dict(classifier.pooling)}}
    if fitted.operating_points:
        meta["operating_points"] = fitted.operating_points
    return meta


def library_versions(kind: str) -> dict[str, str]:
    names = ["scamlens", *get_kind(kind).versions]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_model_folder(classifier: Classifier, meta: dict[str, Any], config: RunConfig, labels: LabelSet,
                       target: Path, calibration: dict[str, Any] | None = None) -> Path:
    """Save a complete, self-describing model folder atomically (with its sha256 manifest)."""
    with atomic_dir(target) as staging:
        classifier.save(staging)
        if calibration is not None and calibration.get("method", "none") != "none":
            write_calibration(staging, calibration)
        (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        (staging / CONFIG_FILE).write_text(dump_config(config), encoding="utf-8")
        (staging / CARD_FILE).write_text(render_card(meta, labels), encoding="utf-8")
        write_manifest(staging)
    return target


def train(config: RunConfig, resume: bool = False) -> TrainResult:
    """Train, evaluate and save the model a config describes, tracked in MLflow unless disabled.

    Args:
        config: the validated run config.
        resume: continue an interrupted run from its last checkpoint (kinds that checkpoint).
    """
    labels = load_labels(config.data.labels)
    with tracked_run(config) as tracker:
        build = build_corpus(config.data, labels)
        train_set, validation, test = (split_texts(build, s) for s in ("train", "validation", "test"))
        tracker.log_dataset(build.fingerprint, {s: ([e.text for e in build.rows(s)], [list(e.labels) for e in build.rows(s)])
                                                for s in ("train", "validation", "test")}, ",".join(config.data.source))
        logger.info("corpus %s: %d train, %d validation, %d test examples", build.fingerprint[:16],
                    len(train_set.texts), len(validation.texts), len(test.texts))
        classifier = build_classifier(config, labels, resume, build.fingerprint)
        logger.info("training %s model %r", config.model.kind, config.name)
        started = time.perf_counter()
        classifier.fit(train_set, validation, log_metrics=lambda m, step: tracker.log_metrics(m, step))
        train_seconds = time.perf_counter() - started
        logger.info("trained in %.1f s; tuning thresholds and scoring the test split", train_seconds)
        fitted, reports = tune_and_evaluate(classifier, validation, test, labels, config.decision)
        tracker.log_metrics({"train_seconds": train_seconds, **flatten_report(reports["validation"], "val_"),
                             **flatten_report(reports["test"], "test_")})
        meta = {
            "name": config.name,
            "kind": config.model.kind,
            "labels": list(labels.names),
            **decision_meta(classifier, fitted),
            "metrics": reports,
            "corpus_fingerprint": build.fingerprint,
            "data": build.info(config.data),
            "chunking": classifier.chunking(),
            "settings": {k: v for k, v in config.model.model_dump(mode="json").items() if k not in {"kind", "chunking"}},
            "classifier": classifier.describe(),
            "train_seconds": round(train_seconds, 2),
            "versions": library_versions(config.model.kind),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "mlflow": {"run_id": tracker.run_id, "tracking_uri": tracker.uri,
                       "registered_model": config.tracking.registered_model if tracker.enabled else None},
        }
        run_dir = config.run_dir
        best_dir = write_model_folder(classifier, meta, config, labels, run_dir / BEST_DIR, fitted.calibration)
        # Classifiers that restore their best epoch (early stopping) also offer the final one.
        last = classifier.last_epoch_classifier() if hasattr(classifier, "last_epoch_classifier") else None
        if last is None:
            write_model_folder(classifier, meta, config, labels, run_dir / LAST_DIR, fitted.calibration)
        else:
            last_fitted, last_reports = tune_and_evaluate(last, validation, test, labels, config.decision)
            last_meta = {**meta, **decision_meta(last, last_fitted), "metrics": last_reports,
                         "classifier": last.describe()}
            write_model_folder(last, last_meta, config, labels, run_dir / LAST_DIR, last_fitted.calibration)
        tracker.log_files(best_dir, [META_FILE, CONFIG_FILE, CARD_FILE])
        version = tracker.log_model(best_dir, labels.names, validation.texts[:2])
    return TrainResult(run_dir, best_dir, reports, meta["thresholds"], train_seconds, build.fingerprint,
                       tracker.run_id, version)
