"""The evaluation report behind `scamlens evaluate`: numbers an analyst can check, and their doubt.

A report folder holds `report.json` (every number), `report.md` (tables, plots linked from
`plots/`) and one self-contained `report.html` (plots embedded as base64 PNG, styles inline, no
external assets). It covers per-label precision, recall, F1 and average precision with bootstrap
95% intervals, micro and macro F1 with intervals, results sliced by each extra column of the data
(`kind`, `register` in our corpus), per-label precision-recall curves, F1 by threshold and
reliability diagrams with ECE, and the worst false positives and false negatives per label with
their evidence chunks. When the model names an MLflow run, the folder is logged to that run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..data.corpus import Example
from ..runtime.decision import DEFAULT_OPERATING_POINT, apply_thresholds
from ..runtime.model import Model
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_intervals
from .calibration import DEFAULT_BINS, expected_calibration_error, reliability_bins
from .metrics import multilabel_report, threshold_ceiling

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PLOTS_DIR = "plots"
REPORTS_DIR = "reports"
ERRORS_PER_LABEL = 5
EVIDENCE_PER_ERROR = 3
PLOT_KINDS = {"pr": "precision-recall", "f1": "F1 by threshold", "calibration": "calibration"}


@dataclass
class EvaluationReport:
    """The report's numbers (`data`, what report.json holds) and its PNG plots per label and kind."""

    data: dict[str, Any]
    plots: dict[str, dict[str, bytes]] = field(default_factory=dict)


@dataclass
class ReportResult:
    report: EvaluationReport
    folder: Path
    logged_to: str | None  # the MLflow artifact URI of the folder, when it was logged
    note: str | None  # why it was not logged, when the model names a run

    @property
    def left_out(self) -> int:
        return self.report.data["data"].get("left_out_ambiguous", 0)


# --- computing ----------------------------------------------------------------------------------
def slice_columns(examples: list[Example]) -> list[str]:
    """Extra columns with at least one non-empty value, in the order the examples carry them."""
    columns: list[str] = []
    for example in examples:
        for column, value in example.extras.items():
            if value and column not in columns:
                columns.append(column)
    return columns


def sliced_metrics(examples: list[Example], y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray,
                   labels: tuple[str, ...]) -> dict[str, dict[str, dict]]:
    """`{column: {value: multilabel_report of the texts with that value}}`; empty values are "(none)".

    Each label also gets `predicted`, how many of the slice's texts the model gave it: F1 is
    undefined (reported as 0, as scikit-learn does) when both support and predicted are 0.
    """
    slices: dict[str, dict[str, dict]] = {}
    for column in slice_columns(examples):
        values = np.array([e.extras.get(column, "") or "(none)" for e in examples])
        slices[column] = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            report = multilabel_report(y_true[mask], y_pred[mask], scores[mask], labels)
            for j, name in enumerate(labels):
                report["per_label"][name]["predicted"] = int(y_pred[mask, j].sum())
            slices[column][value] = report
    return slices


def _evidence(model: Model, text: str, label: int) -> list[dict[str, Any]]:
    """The label's top-scoring chunks of a text, over threshold or not: where the model looked."""
    chunk_scores = model.classifier.score_chunks([text])[0]
    column = chunk_scores.scores[:, label]
    order = np.argsort(-column, kind="mergesort")[:EVIDENCE_PER_ERROR]
    return [{"text": chunk_scores.chunks[k].text, "start": chunk_scores.chunks[k].start,
             "end": chunk_scores.chunks[k].end, "score": float(column[k])} for k in order]


def worst_errors(model: Model, examples: list[Example], y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray,
                 per_label: int = ERRORS_PER_LABEL) -> dict[str, dict[str, list[dict]]]:
    """Per label, the false positives and false negatives farthest from the threshold."""
    errors: dict[str, dict[str, list[dict]]] = {}
    for j, name in enumerate(model.labels):
        threshold = float(model.thresholds[j])
        margin = scores[:, j] - threshold
        found = {}
        for kind, mask, distance in (("false_positives", ~y_true[:, j] & y_pred[:, j], margin),
                                     ("false_negatives", y_true[:, j] & ~y_pred[:, j], -margin)):
            candidates = np.flatnonzero(mask)
            ranked = candidates[np.argsort(-distance[candidates], kind="mergesort")][:per_label]
            found[kind] = [{
                "id": examples[i].id,
                "where": examples[i].where,
                "text": examples[i].text,
                "score": float(scores[i, j]),
                "threshold": threshold,
                "distance": float(distance[i]),
                "true_labels": list(examples[i].labels),
                "predicted_labels": [n for n, on in zip(model.labels, y_pred[i], strict=True) if on],
                "scores": {n: float(s) for n, s in zip(model.labels, scores[i], strict=True)},
                "extras": dict(examples[i].extras),
                "evidence": _evidence(model, examples[i].text, j),
            } for i in ranked]
        errors[name] = found
    return errors


def build_report(model: Model, examples: list[Example], data_name: str, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED, errors_per_label: int = ERRORS_PER_LABEL,
                 plots: bool = True, notes: list[str] | None = None, left_out: int = 0) -> EvaluationReport:
    """Every number and plot of the report for `model` on labelled `examples`.

    Args:
        model: a loaded model; its own thresholds make the decisions.
        examples: the labelled texts, with extra columns to slice by.
        data_name: what the data is called in the report (a split name or a path).
        resamples: bootstrap resamples of the texts for the intervals.
        seed: the bootstrap seed; the same seed gives the same intervals.
        errors_per_label: false positives and false negatives to show per label.
        plots: render the PNG plots (the numbers do not depend on them).
        notes: what the reader must know about the data (a forced fingerprint mismatch, rows left out).
        left_out: rows marked ambiguous and left out of the scores.
    """
    from ..data.labels import LabelSet

    labels = model.labels
    texts = [e.text for e in examples]
    y_true = LabelSet(labels).encode_many([e.labels for e in examples]).astype(bool)
    scores = model.predict_proba(texts) if texts else np.zeros((0, len(labels)), np.float32)
    y_pred = apply_thresholds(scores, model.thresholds)
    metrics = multilabel_report(y_true, y_pred, scores, labels)
    calibration = {}
    for j, name in enumerate(labels):
        bins = reliability_bins(y_true[:, j], scores[:, j], DEFAULT_BINS)
        calibration[name] = {"ece": expected_calibration_error(y_true[:, j], scores[:, j], DEFAULT_BINS), "bins": bins}
    mlflow = model.meta.get("mlflow") or {}
    data = {
        "model": {"path": str(model.path), "name": model.meta.get("name"), "kind": model.meta.get("kind"),
                  "labels": list(labels), "operating_point": model.operating_point,
                  "thresholds": [float(t) for t in model.thresholds],
                  "mlflow_run_id": mlflow.get("run_id")},
        "data": {"source": data_name, "examples": len(examples), "left_out_ambiguous": left_out,
                 "notes": list(notes or [])},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics,
        "intervals": bootstrap_intervals(y_true, y_pred, scores, labels, resamples, seed),
        "calibration": calibration,
        # What these scores would give with thresholds fitted on this data: the part of a shortfall
        # that thresholds could fix (macro F1 below it) and the part that only ranking can (above it).
        "ceiling": threshold_ceiling(y_true, scores, labels),
        "slices": sliced_metrics(examples, y_true, y_pred, scores, labels),
        "errors_per_label": errors_per_label,
        "errors": worst_errors(model, examples, y_true, y_pred, scores, errors_per_label),
    }
    report = EvaluationReport(data)
    if plots:
        report.plots = render_plots(labels, y_true, scores, model.thresholds, data)
    return report


def render_plots(labels: tuple[str, ...], y_true: np.ndarray, scores: np.ndarray, thresholds: np.ndarray,
                 data: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    from .plots import f1_threshold_png, precision_recall_png, reliability_png

    plots = {}
    for j, name in enumerate(labels):
        threshold = float(thresholds[j])
        plots[name] = {
            "pr": precision_recall_png(name, y_true[:, j], scores[:, j], threshold,
                                       data["metrics"]["per_label"][name]["average_precision"]),
            "f1": f1_threshold_png(name, y_true[:, j], scores[:, j], threshold),
            "calibration": reliability_png(name, data["calibration"][name]["bins"], data["calibration"][name]["ece"]),
        }
    return plots


# --- the plain function behind `scamlens evaluate` ----------------------------------------------
def data_slug(data: str) -> str:
    """"test" for the test split, "batch" for "inbox/batch.jsonl"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(data).stem or "data")


def default_report_dir(source: str | Path, model: Model, data: str) -> Path:
    """Beside a local model folder (never inside it: its manifest covers every file), else ./reports;
    a named operating point's report gets its own folder (`...-test-feed`)."""
    local = not (isinstance(source, str) and source.startswith(("models:/", "runs:/")))
    point = "" if model.operating_point == DEFAULT_OPERATING_POINT else f"-{model.operating_point}"
    if local and model.path is not None:
        return model.path.parent / REPORTS_DIR / f"{model.path.name}-{data_slug(data)}{point}"
    return Path(REPORTS_DIR) / f"{model.meta.get('name', 'model')}-{data_slug(data)}{point}"


def log_to_model_run(model: Model, folder: Path) -> tuple[str | None, str | None]:
    """(artifact URI, None) when logged; (None, why not) when the model names a run but the store
    cannot take it; (None, None) when the model names no run."""
    mlflow = model.meta.get("mlflow") or {}
    run_id, uri = mlflow.get("run_id"), mlflow.get("tracking_uri")
    if not run_id or not uri:
        return None, None
    from ..tracking import TrackingError, log_report_to_run

    try:
        return log_report_to_run(run_id, uri, folder), None
    except TrackingError as exc:
        return None, f"report not logged to MLflow run {run_id}: {exc}"


def evaluate_report(model: str | Path | Model, data: str = "test", out: str | Path | None = None,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, log: bool = True,
                    text_root: str | Path | None = None, force: bool = False,
                    operating_point: str | None = None) -> ReportResult:
    """Evaluate a saved model on `data`, write the report folder and log it to the model's run.

    Args:
        model: a model folder, a ``models:/`` URI or a loaded `Model`.
        data: a split of the model's own corpus ("test", "validation", "train") or a labelled file.
        out: the report folder; default `<model folder's parent>/reports/<model folder>-<data>`.
        resamples, seed: the bootstrap settings.
        log: log the folder to the model's MLflow run when it has one and the store is reachable.
        text_root: the folder that a labelled file's `source` references are relative to.
        force: score a rebuilt split whose corpus fingerprint differs from the model's (the report says so).
        operating_point: decide with this named operating point's thresholds (a loaded `Model`: at
            that point, on its classifier).
    """
    from .. import load
    from .labelled import evaluation_data
    from .render import write_report

    loaded = model if isinstance(model, Model) else load(model)
    if operating_point is not None:
        loaded = loaded.at(operating_point)
    data_set = evaluation_data(loaded, data, text_root, force)
    report = build_report(loaded, data_set.examples, data, resamples, seed, notes=data_set.notes,
                          left_out=data_set.left_out)
    folder = write_report(report, out if out is not None else default_report_dir(model, loaded, data))
    logged_to, note = log_to_model_run(loaded, folder) if log else (None, None)
    return ReportResult(report, folder, logged_to, note)
