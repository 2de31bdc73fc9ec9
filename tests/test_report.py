"""The evaluation report and the model comparison: intervals, calibration, plots, errors, agreement."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import scamlens
from scamlens.cli import app
from scamlens.evaluation.bootstrap import bootstrap_intervals, bootstrap_samples, resample_indices
from scamlens.evaluation.calibration import bin_index, expected_calibration_error, reliability_bins
from scamlens.evaluation.compare import cohen_kappa, compare_models, disagreement_order, mcnemar
from scamlens.evaluation.metrics import multilabel_report
from scamlens.evaluation.render import marked_text
from scamlens.evaluation.report import (
    REPORT_HTML,
    REPORT_JSON,
    REPORT_MD,
    evaluate_report,
    log_to_model_run,
)
from scamlens.runtime.model import Model

from .conftest import TINY_CORPUS

IMG = '<img src="data:image/png;base64,'
LABELS = ("a", "b")
Y_TRUE = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
SCORES = np.array([[0.9, 0.2], [0.4, 0.8], [0.7, 0.6], [0.1, 0.7], [0.8, 0.1], [0.3, 0.9], [0.6, 0.4], [0.2, 0.3]])
Y_PRED = SCORES >= 0.5


@pytest.fixture(scope="module")
def model(trained_baseline) -> scamlens.Model:
    return scamlens.load(trained_baseline[1].best_dir)


def shifted(model: Model, delta: float) -> Model:
    """The same classifier with every threshold moved: a second model that disagrees a little."""
    meta = {**model.meta, "thresholds": [min(0.99, max(0.01, t + delta)) for t in model.meta["thresholds"]]}
    return Model(model.classifier, meta, model.path)


# --- bootstrap ----------------------------------------------------------------------------------
def test_vectorised_bootstrap_equals_scoring_each_resample() -> None:
    rng = np.random.default_rng(0)
    y = rng.random((25, 3)) < 0.4
    scores = np.round(rng.random((25, 3)), 1)  # rounded: ties, the hard case for average precision
    pred = scores >= 0.5
    samples = bootstrap_samples(y, pred, scores, resamples=40, seed=5)
    for b, rows in enumerate(resample_indices(25, 40, 5)):
        report = multilabel_report(y[rows], pred[rows], scores[rows], "xyz")
        for j, name in enumerate("xyz"):
            for metric in ("precision", "recall", "f1", "average_precision"):
                assert samples[metric][b, j] == pytest.approx(report["per_label"][name][metric])
        assert samples["micro_f1"][b] == pytest.approx(report["micro_f1"])
        assert samples["macro_f1"][b] == pytest.approx(report["macro_f1"])


def test_intervals_are_deterministic_for_a_seed_and_contain_the_estimate() -> None:
    first = bootstrap_intervals(Y_TRUE, Y_PRED, SCORES, LABELS, resamples=500, seed=7)
    assert first == bootstrap_intervals(Y_TRUE, Y_PRED, SCORES, LABELS, resamples=500, seed=7)
    assert first != bootstrap_intervals(Y_TRUE, Y_PRED, SCORES, LABELS, resamples=500, seed=8)
    point = multilabel_report(Y_TRUE, Y_PRED, SCORES, LABELS)
    for name in LABELS:
        for metric, (low, high) in first["per_label"][name].items():
            assert 0.0 <= low <= point["per_label"][name][metric] <= high <= 1.0, (name, metric)
    for key in ("micro_f1", "macro_f1"):
        low, high = first[key]
        assert low <= point[key] <= high and low < high


def test_a_perfect_model_has_a_degenerate_interval() -> None:
    intervals = bootstrap_intervals(Y_TRUE, Y_TRUE, Y_TRUE.astype(float), LABELS, resamples=200)
    assert intervals["per_label"]["a"] == {m: [1.0, 1.0] for m in ("precision", "recall", "f1", "average_precision")}
    assert intervals["micro_f1"] == [1.0, 1.0]


# --- calibration ---------------------------------------------------------------------------------
def test_ece_matches_a_hand_computed_example() -> None:
    y = np.array([0, 1, 1, 1])
    scores = np.array([0.05, 0.15, 0.85, 0.95])
    # bins 0, 1, 8, 9 hold one text each: |0 - .05| + |1 - .15| + |1 - .85| + |1 - .95| = 1.1, over 4 texts
    assert expected_calibration_error(y, scores) == pytest.approx(0.275)
    bins = reliability_bins(y, scores)
    assert bins["counts"] == [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    assert bins["confidence"][1] == pytest.approx(0.15) and bins["accuracy"][1] == 1.0
    assert bins["confidence"][2] is None and bins["accuracy"][2] is None
    # One quarter positive at score 0.25: perfectly calibrated.
    assert expected_calibration_error(np.array([1, 0, 0, 0]), np.full(4, 0.25)) == pytest.approx(0.0)
    assert bin_index(np.array([0.0, 0.1, 0.3, 0.7, 0.999, 1.0])).tolist() == [0, 1, 3, 7, 9, 9]


# --- agreement -----------------------------------------------------------------------------------
def test_kappa_and_mcnemar_match_hand_computed_values() -> None:
    a = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    b = np.array([1, 0, 0, 0, 1, 1], dtype=bool)
    # observed agreement 4/6; chance agreement .5 * .5 + .5 * .5 = .5; kappa = (2/3 - 1/2) / (1/2)
    assert cohen_kappa(a, b) == pytest.approx(1 / 3)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(a, ~a) == pytest.approx(-1.0)
    assert cohen_kappa(np.zeros(4, bool), np.zeros(4, bool)) is None  # both constant: undefined

    # 1 text only A gets wrong, 5 only B: exact two-sided p = 2 * P(X <= 1 | n=6, p=1/2) = 2 * 7/64
    a_wrong = np.array([1, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    b_wrong = np.array([0, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    exact = mcnemar(a_wrong, b_wrong)
    assert (exact["only_a_wrong"], exact["only_b_wrong"], exact["both_wrong"]) == (1, 5, 1)
    assert exact["method"] == "exact binomial" and exact["p_value"] == pytest.approx(14 / 64)

    # 10 vs 30 discordant texts: chi-square with continuity correction, (|10 - 30| - 1)^2 / 40
    a_wrong = np.r_[np.ones(10), np.zeros(30)].astype(bool)
    chi = mcnemar(a_wrong, ~a_wrong)
    assert chi["method"].startswith("chi-square") and chi["statistic"] == pytest.approx(361 / 40)
    assert chi["p_value"] == pytest.approx(math.erfc(math.sqrt(361 / 40 / 2)))  # chi2(1) survival
    assert mcnemar(a_wrong, a_wrong)["p_value"] == 1.0


def test_disagreement_order_puts_differing_decisions_first() -> None:
    a = np.array([[0.9, 0.1], [0.6, 0.1], [0.2, 0.2], [0.55, 0.45]])
    b = np.array([[0.1, 0.1], [0.4, 0.1], [0.2, 0.2], [0.45, 0.55]])
    thresholds = np.array([0.5, 0.5])
    # text 3 differs on both labels; 0 and 1 on one (0 by the wider gap); 2 agrees exactly
    assert disagreement_order(a, thresholds, b, thresholds).tolist() == [3, 0, 1, 2]


# --- the report end to end -----------------------------------------------------------------------
def long_labelled_file(tmp_path: Path) -> Path:
    """The tiny corpus plus a long text labelled with nothing that the model surely flags."""
    sentences = [json.loads(line)["text"] for line in TINY_CORPUS.read_text().splitlines()[:13]]
    rows = [json.loads(line) for line in TINY_CORPUS.read_text().splitlines()]
    rows.append({"id": "long-1", "text": "  ".join(sentences * 2), "labels": [], "kind": "article",
                 "story": "long", "register": "feature"})
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_report_folder_has_every_table_plot_and_exact_evidence(model: Model, trained_baseline, tmp_path: Path) -> None:
    data = long_labelled_file(tmp_path)
    result = evaluate_report(model, str(data), tmp_path / "report", resamples=200)
    folder = result.folder
    report = json.loads((folder / REPORT_JSON).read_text())
    labels = list(model.labels)

    from scamlens.evaluation.labelled import evaluate_model

    assert report["metrics"] == evaluate_model(model, str(data))
    assert report["data"]["examples"] == 31 and list(report["slices"]) == ["kind", "register", "form"]
    assert report["slices"]["kind"]["article"]["examples"] == 1
    assert set(report["intervals"]["per_label"]) == set(labels)
    # The ceiling: each label's best F1 over thresholds on this data, at or above the model's own.
    for name in labels:
        best, own = report["ceiling"]["per_label"][name], report["metrics"]["per_label"][name]
        assert own["f1"] <= best["f1"] + 1e-12
    assert report["ceiling"]["macro_f1"] == pytest.approx(np.mean([report["ceiling"]["per_label"][n]["f1"] for n in labels]))

    page = (folder / REPORT_HTML).read_text()
    assert page.count(IMG) == 3 * len(labels)
    assert page.count("<table") == 2 + len(report["slices"]) + 2 * len(labels)
    for table_id in ["overall", "per-label", "slice-kind", "slice-register"] + [
            f"errors-{n}-{k}" for n in labels for k in ("false_positives", "false_negatives")]:
        assert f'<table id="{table_id}">' in page
    # Self-contained: no external stylesheet, script or image.
    assert not re.search(r'<(link|script)\b|src="(?!data:)', page)
    assert "<mark>" in page
    markdown = (folder / REPORT_MD).read_text()
    assert "## Per label" in markdown and "### By register" in markdown
    assert f"| macro F1 at thresholds fitted on this data (ceiling) | {report['ceiling']['macro_f1']:.3f} |" in markdown
    assert len(list((folder / "plots").glob("*.png"))) == 3 * len(labels)

    long_errors = 0
    for name, kinds in report["errors"].items():
        j = labels.index(name)
        for kind, items in kinds.items():
            assert len(items) <= 5
            distances = [e["distance"] for e in items]
            assert distances == sorted(distances, reverse=True) and all(d >= 0 for d in distances)
            for item in items:
                predicted = item["score"] >= model.thresholds[j]
                assert predicted == (kind == "false_positives") and (name in item["true_labels"]) != predicted
                for chunk in item["evidence"]:
                    assert item["text"][chunk["start"]:chunk["end"]] == chunk["text"]
                long_errors += item["id"] == "long-1" and any(c["start"] > 0 for c in item["evidence"])
    assert long_errors >= 1  # the long text is a false positive quoted chunk by chunk

    # Logged to the model's MLflow run.
    from mlflow import MlflowClient

    assert result.logged_to and result.note is None
    uri = model.meta["mlflow"]["tracking_uri"]
    artifacts = MlflowClient(tracking_uri=uri).list_artifacts(model.meta["mlflow"]["run_id"], "reports/report")
    assert {Path(a.path).name for a in artifacts} >= {REPORT_JSON, REPORT_MD, REPORT_HTML, "plots"}


def test_a_plain_labelled_file_is_not_sliced(model: Model, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in TINY_CORPUS.read_text().splitlines()]
    data = tmp_path / "plain.jsonl"
    data.write_text("".join(json.dumps({"text": r["text"], "labels": r["labels"]}) + "\n" for r in rows))
    result = evaluate_report(model, str(data), tmp_path / "out", resamples=50, log=False)
    assert result.report.data["slices"] == {}
    page = (result.folder / REPORT_HTML).read_text()
    assert "slice-" not in page and page.count("<table") == 2 + 2 * len(model.labels)
    items = [e for kinds in result.report.data["errors"].values() for found in kinds.values() for e in found]
    assert items and all(e["id"].startswith("row-") for e in items)


def test_logging_is_skipped_with_a_note_when_the_store_is_unavailable(model: Model, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / REPORT_JSON).write_text("{}")
    missing_store = {"run_id": "abc", "tracking_uri": f"sqlite:///{tmp_path}/none.db"}
    gone = Model(model.classifier, {**model.meta, "mlflow": missing_store}, model.path)
    logged_to, note = log_to_model_run(gone, folder)
    assert logged_to is None and "not logged" in note and "does not exist" in note
    untracked = Model(model.classifier, {**model.meta, "mlflow": {"run_id": None, "tracking_uri": None}}, model.path)
    assert log_to_model_run(untracked, folder) == (None, None)


def test_marked_text_escapes_and_marks_only_spans_over_threshold() -> None:
    text = "a <b> c. Second part."
    evidence = [{"start": 0, "end": 8, "score": 0.9}, {"start": 9, "end": 21, "score": 0.1}]
    assert marked_text(text, evidence, 0.5) == "<mark>a &lt;b&gt; c.</mark> Second part."


# --- compare -------------------------------------------------------------------------------------
def test_compare_reports_agreement_of_the_actual_decisions(model: Model) -> None:
    other = shifted(model, 0.08)
    comparison = compare_models(model, other, str(TINY_CORPUS), resamples=100)
    rows = [json.loads(line) for line in TINY_CORPUS.read_text().splitlines()]
    texts = [r["text"] for r in rows]
    truth = np.array([[n in r["labels"] for n in model.labels] for r in rows])
    scores = model.predict_proba(texts)
    for j, name in enumerate(model.labels):
        a, b = scores[:, j] >= model.thresholds[j], scores[:, j] >= other.thresholds[j]
        entry = comparison["per_label"][name]
        assert entry["kappa"] == cohen_kappa(a, b)
        assert entry["mcnemar"] == mcnemar(a != truth[:, j], b != truth[:, j])
        assert entry["decisions_differ"] == int(np.sum(a != b))
        low, high = entry["f1_difference_interval"]
        assert low <= entry["f1_difference"] <= high
    first = comparison["disagreements"][0]
    assert first["decisions_differ"] and first["label"] in first["decisions_differ"]


def test_compare_command_writes_json_and_markdown(trained_baseline, tmp_path: Path) -> None:
    model_dir = str(trained_baseline[1].best_dir)
    result = CliRunner().invoke(app, ["compare", model_dir, model_dir, "--data", str(TINY_CORPUS),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "McNemar p" in result.output and "kappa" in result.output
    comparison = json.loads((tmp_path / "compare.json").read_text())
    assert all(m["kappa"] == 1.0 and m["mcnemar"]["p_value"] == 1.0 for m in comparison["per_label"].values())
    assert "| label | F1 A | F1 B |" in (tmp_path / "compare.md").read_text()
