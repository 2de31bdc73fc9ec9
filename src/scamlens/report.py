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

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_intervals
from .calibration import DEFAULT_BINS, expected_calibration_error, reliability_bins
from .corpus import Example
from .decision import apply_thresholds
from .inference import Model
from .metrics import multilabel_report

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
                 plots: bool = True) -> EvaluationReport:
    """Every number and plot of the report for `model` on labelled `examples`.

    Args:
        model: a loaded model; its own thresholds make the decisions.
        examples: the labelled texts, with extra columns to slice by.
        data_name: what the data is called in the report (a split name or a path).
        resamples: bootstrap resamples of the texts for the intervals.
        seed: the bootstrap seed; the same seed gives the same intervals.
        errors_per_label: false positives and false negatives to show per label.
        plots: render the PNG plots (the numbers do not depend on them).
    """
    from .labels import LabelSet

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
                  "labels": list(labels), "thresholds": [float(t) for t in model.thresholds],
                  "mlflow_run_id": mlflow.get("run_id")},
        "data": {"source": data_name, "examples": len(examples)},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics,
        "intervals": bootstrap_intervals(y_true, y_pred, scores, labels, resamples, seed),
        "calibration": calibration,
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


# --- rendering ----------------------------------------------------------------------------------
def plot_file(label: str, kind: str) -> str:
    return f"{PLOTS_DIR}/{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}-{kind}.png"


def _ci(value: float, interval: list[float] | None) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else f"{value:.3f}"


def overall_rows(data: dict[str, Any]) -> list[list[str]]:
    m, ci = data["metrics"], data["intervals"]
    return [["micro F1", _ci(m["micro_f1"], ci["micro_f1"])],
            ["macro F1", _ci(m["macro_f1"], ci["macro_f1"])],
            ["macro average precision", f"{m.get('macro_average_precision', 0.0):.3f}"],
            ["subset accuracy", f"{m['subset_accuracy']:.3f}"],
            ["Hamming loss", f"{m['hamming_loss']:.3f}"],
            ["examples", str(m["examples"])]]


PER_LABEL_HEADER = ["label", "precision", "recall", "F1", "average precision", "support", "threshold", "ECE"]


def per_label_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for j, (name, m) in enumerate(data["metrics"]["per_label"].items()):
        ci = data["intervals"]["per_label"][name]
        rows.append([name, _ci(m["precision"], ci.get("precision")), _ci(m["recall"], ci.get("recall")),
                     _ci(m["f1"], ci.get("f1")), _ci(m["average_precision"], ci.get("average_precision")),
                     str(m["support"]), f"{data['model']['thresholds'][j]:.3f}",
                     f"{data['calibration'][name]['ece']:.3f}"])
    return rows


def slice_table(data: dict[str, Any], column: str) -> tuple[list[str], list[list[str]]]:
    labels = data["model"]["labels"]
    header = [column, "examples", "micro F1", "macro F1"] + [f"{n} F1 (support)" for n in labels]
    rows = []
    for value, m in data["slices"][column].items():
        cells, undefined = [], []
        for n in labels:
            label = m["per_label"][n]
            undefined.append(label["support"] == 0 and label["predicted"] == 0)
            cells.append(f"{'n/a' if undefined[-1] else format(label['f1'], '.3f')} ({label['support']})")
        averages = ["n/a", "n/a"] if all(undefined) else [f"{m['micro_f1']:.3f}", f"{m['macro_f1']:.3f}"]
        rows.append([value, str(m["examples"]), *averages, *cells])
    return header, rows


SLICE_NOTE = ("n/a: no text in the slice has the label and the model gave it to none, so F1 is undefined "
              "(counted as 0 in the slice's macro F1; n/a for both averages when no label is defined). "
              "Slices are small: read them as pointers, not verdicts.")


ERROR_HEADER = ["id", "score", "threshold", "true labels", "predicted", "text (evidence marked)", "evidence chunks"]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _evidence_summary(evidence: list[dict[str, Any]]) -> str:
    return "; ".join(f"[{e['start']}:{e['end']}] {e['score']:.3f}" for e in evidence)


def render_markdown(report: EvaluationReport) -> str:
    data = report.data
    model = data["model"]
    ci = data["intervals"]
    out = [f"# Evaluation of {model['name'] or model['path']} on {data['data']['source']}", "",
           f"Model `{model['path']}` ({model['kind']}), {data['data']['examples']} examples, "
           f"created {data['created']}. "
           f"Intervals: {ci['level']:.0%} bootstrap percentile intervals over {ci['resamples']} resamples of the texts "
           f"(seed {ci['seed']}), thresholds fixed.", "", "## Overall", "",
           _md_table(["metric", "value"], overall_rows(data)), "", "## Per label", "",
           _md_table(PER_LABEL_HEADER, per_label_rows(data)), ""]
    if data["slices"]:
        out += ["## Slices", "", SLICE_NOTE, ""]
        for column in data["slices"]:
            header, rows = slice_table(data, column)
            out += [f"### By {column}", "", _md_table(header, rows), ""]
    if report.plots:
        out += ["## Plots", ""]
        for name, plots in report.plots.items():
            out += [f"### {name}", ""] + [f"![{name} {PLOT_KINDS[k]}]({plot_file(name, k)})" for k in plots] + [""]
    out += ["## Error analysis", "", f"Per label, up to {data['errors_per_label']} false positives and false "
            "negatives, farthest from the threshold first; evidence is the label's top-scoring chunks as "
            "[start:end] score, with character offsets into the text.", ""]
    for name, kinds in data["errors"].items():
        for kind, items in kinds.items():
            rows = [[e["id"], f"{e['score']:.3f}", f"{e['threshold']:.3f}", ", ".join(e["true_labels"]) or "-",
                     ", ".join(e["predicted_labels"]) or "-", e["text"], _evidence_summary(e["evidence"])]
                    for e in items]
            header = [*ERROR_HEADER[:5], "text", ERROR_HEADER[6]]
            out += [f"### {name}: {kind.replace('_', ' ')}", "", _md_table(header, rows) if rows else "None.", ""]
    return "\n".join(out)


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
mark { background: #ffe08a; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5em; }
.note { color: #555; font-size: 0.9em; }
"""


def _html_table(header: list[str], rows: list[list[str]], raw_columns: frozenset[int] = frozenset(),
                table_id: str = "") -> str:
    """A table; cells are escaped except in `raw_columns` (already HTML)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            numeric = re.fullmatch(r"[-0-9.\[\], ()]+", cell) is not None
            content = cell if k in raw_columns else html.escape(cell)
            cells.append(f'<td class="num">{content}</td>' if numeric else f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(header)}">none</td></tr>')
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def marked_text(text: str, evidence: list[dict[str, Any]], threshold: float | None = None) -> str:
    """The text, escaped, with evidence spans in <mark> (spans over threshold only, when given)."""
    spans = sorted((e["start"], e["end"]) for e in evidence if threshold is None or e["score"] >= threshold)
    pieces, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue
        pieces += [html.escape(text[cursor:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    return "".join(pieces)


def render_html(report: EvaluationReport) -> str:
    """One page, no external assets: plots are inline data URIs."""
    from .plots import png_data_uri

    data = report.data
    model = data["model"]
    ci = data["intervals"]
    title = f"Evaluation of {model['name'] or model['path']} on {data['data']['source']}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">Model <code>{html.escape(model["path"])}</code> ({html.escape(str(model["kind"]))}), '
             f"{data['data']['examples']} examples, created {html.escape(data['created'])}. Intervals: "
             f"{ci['level']:.0%} bootstrap percentile intervals over {ci['resamples']} resamples of the texts "
             f"(seed {ci['seed']}), thresholds fixed.</p>",
             "<h2>Overall</h2>", _html_table(["metric", "value"], overall_rows(data), table_id="overall"),
             "<h2>Per label</h2>", _html_table(PER_LABEL_HEADER, per_label_rows(data), table_id="per-label")]
    if data["slices"]:
        parts += ["<h2>Slices</h2>", f'<p class="note">{html.escape(SLICE_NOTE)}</p>']
        for column in data["slices"]:
            header, rows = slice_table(data, column)
            parts += [f"<h3>By {html.escape(column)}</h3>", _html_table(header, rows, table_id=f"slice-{column}")]
    if report.plots:
        parts.append("<h2>Plots</h2>")
        for name, plots in report.plots.items():
            images = "".join(f'<img src="{png_data_uri(png)}" alt="{html.escape(name)} {PLOT_KINDS[kind]}">'
                             for kind, png in plots.items())
            parts += [f"<h3>{html.escape(name)}</h3>", f'<div class="plots">{images}</div>']
    parts += ["<h2>Error analysis</h2>",
              f'<p class="note">Per label, up to {data["errors_per_label"]} false positives and false negatives, '
              "farthest from the threshold first. Marked: the label's chunks at or over the threshold; the "
              "last column lists the label's top-scoring chunks as [start:end] score.</p>"]
    for name, kinds in data["errors"].items():
        for kind, items in kinds.items():
            rows = [[html.escape(e["id"]), f"{e['score']:.3f}", f"{e['threshold']:.3f}",
                     html.escape(", ".join(e["true_labels"]) or "-"),
                     html.escape(", ".join(e["predicted_labels"]) or "-"),
                     marked_text(e["text"], e["evidence"], e["threshold"]),
                     html.escape(_evidence_summary(e["evidence"]))] for e in items]
            parts += [f"<h3>{html.escape(name)}: {kind.replace('_', ' ')}</h3>",
                      _html_table(ERROR_HEADER, rows, raw_columns=frozenset(range(len(ERROR_HEADER))),
                                  table_id=f"errors-{name}-{kind}")]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(report: EvaluationReport, out: str | Path) -> Path:
    """Write report.json, report.md, report.html and plots/*.png into `out` (created if needed)."""
    folder = Path(out)
    (folder / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    for name, plots in report.plots.items():
        for kind, png in plots.items():
            (folder / plot_file(name, kind)).write_bytes(png)
    (folder / REPORT_JSON).write_text(json.dumps(report.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / REPORT_MD).write_text(render_markdown(report), encoding="utf-8")
    (folder / REPORT_HTML).write_text(render_html(report), encoding="utf-8")
    return folder


# --- the plain function behind `scamlens evaluate` ----------------------------------------------
def data_slug(data: str) -> str:
    """"test" for the test split, "batch" for "inbox/batch.jsonl"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(data).stem or "data")


def default_report_dir(source: str | Path, model: Model, data: str) -> Path:
    """Beside a local model folder (never inside it: its manifest covers every file), else ./reports."""
    local = not (isinstance(source, str) and source.startswith(("models:/", "runs:/")))
    if local and model.path is not None:
        return model.path.parent / REPORTS_DIR / f"{model.path.name}-{data_slug(data)}"
    return Path(REPORTS_DIR) / f"{model.meta.get('name', 'model')}-{data_slug(data)}"


def log_to_model_run(model: Model, folder: Path) -> tuple[str | None, str | None]:
    """(artifact URI, None) when logged; (None, why not) when the model names a run but the store
    cannot take it; (None, None) when the model names no run."""
    mlflow = model.meta.get("mlflow") or {}
    run_id, uri = mlflow.get("run_id"), mlflow.get("tracking_uri")
    if not run_id or not uri:
        return None, None
    from .tracking import TrackingError, log_report_to_run

    try:
        return log_report_to_run(run_id, uri, folder), None
    except TrackingError as exc:
        return None, f"report not logged to MLflow run {run_id}: {exc}"


def evaluate_report(model: str | Path | Model, data: str = "test", out: str | Path | None = None,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, log: bool = True) -> ReportResult:
    """Evaluate a saved model on `data`, write the report folder and log it to the model's run.

    Args:
        model: a model folder, a ``models:/`` URI or a loaded `Model`.
        data: a split of the model's own corpus ("test", "validation", "train") or a labelled file.
        out: the report folder; default `<model folder's parent>/reports/<model folder>-<data>`.
        resamples, seed: the bootstrap settings.
        log: log the folder to the model's MLflow run when it has one and the store is reachable.
    """
    from .evaluation import labelled_examples
    from .inference import load

    loaded = model if isinstance(model, Model) else load(model)
    examples = labelled_examples(loaded, data)
    report = build_report(loaded, examples, data, resamples, seed)
    folder = write_report(report, out if out is not None else default_report_dir(model, loaded, data))
    logged_to, note = log_to_model_run(loaded, folder) if log else (None, None)
    return ReportResult(report, folder, logged_to, note)
