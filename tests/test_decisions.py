"""The decision layer: pooling of long texts' windows, calibration fitted on validation, threshold policies."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

import scamlens
from scamlens.config import DecisionConfig
from scamlens.decisions import decide, fit_calibration, fit_isotonic, fit_temperature
from scamlens.runtime.calibration import CALIBRATION_FILE, calibrate, check_calibration, logit, sigmoid, step_function
from scamlens.runtime.decision import precision_threshold, prior_threshold, tune_by_policy
from scamlens.runtime.errors import InputError
from scamlens.runtime.pooling import make_pooling, pool

WINDOWS = np.array([[0.9, 0.1], [0.5, 0.2], [0.1, 0.3]], dtype=np.float32)


# --- pooling -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "k", "expected"), [
    ("max", None, [0.9, 0.3]),
    ("mean_top_k", 2, [0.7, 0.25]),
    ("mean_top_k", 5, [0.5, 0.2]),  # k beyond the windows: all of them
    ("noisy_or", None, [1 - 0.1 * 0.5 * 0.9, 1 - 0.9 * 0.8 * 0.7]),
])
def test_pooling_methods_give_exact_scores(method, k, expected):
    np.testing.assert_allclose(pool(WINDOWS, make_pooling(method, k)), expected, rtol=1e-6)


def test_one_window_pools_to_itself_and_unknown_methods_are_named():
    for method in ("max", "mean_top_k", "noisy_or"):
        np.testing.assert_array_equal(pool(WINDOWS[:1], make_pooling(method)), WINDOWS[0])
    with pytest.raises(InputError, match="unknown pooling 'mean'; expected one of max, mean_top_k, noisy_or"):
        make_pooling("mean")
    with pytest.raises(InputError, match="pooling k must be at least 1, got 0"):
        make_pooling("mean_top_k", 0)


# --- threshold policies ------------------------------------------------------------------------------
Y = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
S = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.1])


def test_precision_target_takes_the_lowest_threshold_that_reaches_it():
    # Cuts (descending): 0.85 -> 1/1, 0.75 -> 2/2, 0.65 -> 2/3, 0.45 -> 3/4, 0.2 -> 3/5, just under 0.1 -> 3/6.
    assert precision_threshold(Y, S, 1.0) == pytest.approx(0.75)
    assert precision_threshold(Y, S, 0.75) == pytest.approx(0.45)
    assert precision_threshold(Y, S, 0.5) == pytest.approx(0.1 - 5e-7)
    assert precision_threshold(~np.ones(3, bool), S[:3], 0.5) is None


def test_policy_falls_back_to_max_f1_where_the_target_is_unreachable():
    y = np.c_[Y, [0, 1, 1, 0, 1, 0]]
    scores = np.c_[S, [0.9, 0.8, 0.7, 0.6, 0.3, 0.1]]  # label 2's best precision is 2/3
    max_f1, none_fell = tune_by_policy(y, scores, "max_f1")
    chosen, fell = tune_by_policy(y, scores, "precision_target", 0.9)
    assert none_fell == [] and fell == [1]
    assert chosen[0] == pytest.approx(0.75) and chosen[1] == max_f1[1]
    with pytest.raises(ValueError, match="unknown threshold policy 'recall'"):
        tune_by_policy(y, scores, "recall")


def test_prior_f1_weights_negatives_up_to_the_deployment_prior():
    # 3 positives, 3 negatives. At prior 0.5 each negative weighs 1: plain max-F1, the cut at 0.45 (F1 6/7).
    assert prior_threshold(Y, S, 0.5) == (pytest.approx(0.45), pytest.approx(6 / 7))
    # At prior 0.1 each negative weighs 9: the cut at 0.65 costs 9 false positives (F1 4/14), so the
    # threshold rises to 0.75, above every negative (F1 4/5).
    assert prior_threshold(Y, S, 0.1) == (pytest.approx(0.75), pytest.approx(0.8))
    thresholds, fell = tune_by_policy(np.c_[Y, Y], np.c_[S, S], "prior_f1", deployment_prior=0.1)
    assert thresholds.tolist() == pytest.approx([0.75, 0.75]) and fell == []
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match=f"deployment prior must be between 0 and 1, got {bad}"):
            prior_threshold(Y, S, bad)


def test_decide_fits_named_operating_points_beside_the_policy():
    config = DecisionConfig(operating_points={"feed": {"policy": "prior_f1", "deployment_prior": 0.1},
                                              "strict": {"policy": "precision_target", "precision_target": 1.0}})
    fitted = decide(np.c_[Y, Y], np.c_[S, S], config, ["a", "b"])
    assert fitted.thresholds.tolist() == pytest.approx([0.45, 0.45])  # the run's own policy: max-F1
    assert fitted.policy == {"name": "max_f1", "calibration": "none"}
    assert fitted.operating_points["feed"] == {"thresholds": pytest.approx([0.75, 0.75]),
                                               "decision": {"name": "prior_f1", "deployment_prior": 0.1}}
    assert fitted.operating_points["strict"]["decision"] == {"name": "precision_target", "precision_target": 1.0,
                                                             "fell_back_to_max_f1": []}
    for bad in ("default", "two words"):
        with pytest.raises(ValueError, match=f"operating point name '{bad}': use letters, digits, _ or -"):
            DecisionConfig(operating_points={bad: {}})


# --- calibration -------------------------------------------------------------------------------------
def test_isotonic_pools_adjacent_violators_into_a_step_function():
    x, y = fit_isotonic([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4])
    assert (x, y) == ([0.1, 0.2, 0.4], [0.0, 0.5, 1.0])
    # equal scores are one point; a one-class label is one block
    assert fit_isotonic([1, 0, 1], [0.5, 0.5, 0.9]) == ([0.5, 0.9], [0.5, 1.0])
    assert fit_isotonic([0, 0], [0.2, 0.7]) == ([0.2], [0.0])
    np.testing.assert_array_equal(step_function(np.array([0.0, 0.1, 0.25, 0.4, 1.0]), x, y), [0, 0, 0.5, 1, 1])


def test_temperature_recovers_the_scale_that_sharpened_calibrated_scores():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.02, 0.98, 20000)
    y = rng.uniform(size=true_p.size) < true_p
    overconfident = sigmoid(logit(true_p) * 2.0)  # what a model that is twice too sure would say
    assert fit_temperature(y, overconfident) == pytest.approx(2.0, rel=0.05)
    assert fit_temperature(np.zeros(4), np.full(4, 0.3)) == 1.0


def test_calibration_is_checked_and_applied_per_label():
    calibration = {"method": "temperature", "labels": [{"temperature": 2.0}, {"temperature": 1.0}]}
    scores = np.array([[0.8, 0.8]], dtype=np.float32)
    np.testing.assert_allclose(calibrate(scores, calibration), [[sigmoid(logit(0.8) / 2), 0.8]], rtol=1e-6)
    assert calibrate(scores, {"method": "none"}) is scores
    with pytest.raises(InputError, match=r"labels\[1\].temperature must be a positive number"):
        check_calibration({"method": "temperature", "labels": [{"temperature": 1}, {"temperature": 0}]}, 2)
    with pytest.raises(InputError, match=r"labels\[0\]: x must increase and y must not decrease"):
        check_calibration({"method": "isotonic", "labels": [{"x": [0.1, 0.2], "y": [0.5, 0.1]}]}, 1)
    with pytest.raises(InputError, match="method must be one of none, temperature, isotonic, got 'platt'"):
        check_calibration({"method": "platt"}, 1)
    fitted = fit_calibration(np.array([[0, 1], [1, 0], [1, 1]]), np.array([[0.2, 0.6], [0.7, 0.1], [0.9, 0.8]]), "isotonic")
    assert fitted == {"method": "isotonic", "labels": [{"x": [0.2, 0.7], "y": [0.0, 1.0]}, {"x": [0.1, 0.6], "y": [0.0, 1.0]}]}


# --- end to end: training stores the decisions, loading applies them --------------------------------
LONG = ("Police raided a scam compound near the border and arrested the bosses of the call centre. " * 6
        + "The weather was mild and the market opened early on Monday. " * 10
        + "Immigration deported forty foreign workers on a charter flight home. " * 6)


def test_trained_calibration_and_policy_are_saved_shown_and_applied(baseline_config, caplog):
    from scamlens.training import train

    config = baseline_config.model_copy(deep=True)
    config.decision = config.decision.model_copy(update={"calibration": "isotonic", "policy": "precision_target",
                                                         "precision_target": 0.99, "pooling": "mean_top_k"})
    with caplog.at_level(logging.WARNING, logger="scamlens"):
        result = train(config)
    folder = result.best_dir
    saved = json.loads((folder / CALIBRATION_FILE).read_text())
    meta = json.loads((folder / "meta.json").read_text())
    assert saved["method"] == "isotonic" and len(saved["labels"]) == 3
    assert meta["decision"]["name"] == "precision_target" and meta["decision"]["precision_target"] == 0.99
    assert meta["decision"]["pooling"] == {"method": "mean_top_k", "k": 2}
    fell = meta["decision"]["fell_back_to_max_f1"]
    assert all(f"label {n}: no threshold reaches validation precision 0.99" in caplog.text for n in fell)
    card = (folder / "README.md").read_text()
    assert "the lowest threshold whose validation precision reaches 0.99" in card and "`isotonic`" in card
    assert "the mean of the 2 best chunks" in card

    model = scamlens.load(folder)
    raw = model.classifier.predict_proba([LONG, "Flood victims received rice."])
    calibrated = model.predict_proba([LONG, "Flood victims received rice."])
    np.testing.assert_array_equal(calibrated, calibrate(raw, saved))
    assert set(np.unique(calibrated)) <= {np.float32(v) for entry in saved["labels"] for v in entry["y"]}
    prediction = model.predict(LONG)
    assert prediction["scores"] == {n: float(s) for n, s in zip(model.labels, calibrated[0], strict=True)}
    for name, chunks in prediction["evidence"].items():
        assert name in prediction["labels"] and chunks and all(c["text"] == LONG[c["start"]:c["end"]] for c in chunks)


def test_pooling_is_overridden_at_load_without_retraining(trained_baseline):
    folder = trained_baseline[1].best_dir
    record = json.loads((Path(folder) / "classifier.json").read_text())
    assert record["pooling"] == {"method": "max", "k": 2}  # the default, saved
    default = scamlens.load(folder)
    noisy = scamlens.load(folder, pooling="noisy_or")
    top = scamlens.load(folder, pooling="mean_top_k", pooling_k=3)
    chunks = default.classifier.score_chunks([LONG])[0].scores
    assert len(chunks) > 3
    np.testing.assert_allclose(noisy.predict_proba(LONG), 1 - np.prod(1 - chunks.astype(np.float64), axis=0), rtol=1e-5)
    np.testing.assert_allclose(top.predict_proba(LONG), np.sort(chunks, axis=0)[-3:].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(default.predict_proba(LONG), chunks.max(axis=0))
    with pytest.raises(InputError, match="unknown pooling 'min'"):
        scamlens.load(folder, pooling="min")
    with pytest.raises(InputError, match="a tfidf model has no fast path 'int8'; only transformer models have fast paths"):
        scamlens.load(folder, fast_path="int8")


def test_info_command_shows_what_the_model_decides_with(trained_baseline):
    from typer.testing import CliRunner

    from scamlens.cli import app

    result = CliRunner().invoke(app, ["info", str(trained_baseline[1].best_dir), "--pooling", "noisy_or"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout[result.stdout.index("{"):])
    assert info["kind"] == "tfidf" and info["labels"] == ["scam_operation", "deportation", "victim_assistance"]
    assert list(info["thresholds"]) == info["labels"] and info["calibration"] == "none"
    assert info["pooling"] == {"method": "noisy_or", "k": 2} and info["policy"]["name"] == "max_f1"
    assert info["corpus_fingerprint"] == trained_baseline[1].fingerprint and "fast_path" not in info
    assert set(info["metrics"]) == {"validation", "test"}


def test_operating_point_is_chosen_at_load_and_shown(trained_baseline):
    from typer.testing import CliRunner

    from scamlens.cli import app

    folder = trained_baseline[1].best_dir
    meta = json.loads((Path(folder) / "meta.json").read_text())
    feed = meta["operating_points"]["feed"]  # configs/baseline.yaml asks for it
    assert feed["decision"] == {"name": "prior_f1", "deployment_prior": 0.005}
    assert set(feed["metrics"]) == {"validation", "test"} and set(feed["metrics"]["test"]["per_label"]) == set(meta["labels"])
    default, fed = scamlens.load(folder), scamlens.load(folder, operating_point="feed")
    assert list(default.operating_points()) == ["default", "feed"] and default.operating_point == "default"
    np.testing.assert_array_equal(default.thresholds, np.float32(meta["thresholds"]))
    np.testing.assert_array_equal(fed.thresholds, np.float32(feed["thresholds"]))
    texts = [LONG, "Flood victims received rice.", "Immigration deported forty foreign workers on a charter flight."]
    for prediction, scores in zip(fed.predict(texts), fed.predict_proba(texts), strict=True):
        assert prediction["labels"] == [n for n, s, t in zip(fed.labels, scores, fed.thresholds, strict=True) if s >= t]
    with pytest.raises(InputError, match="no operating point 'nightly'; this model has default, feed"):
        scamlens.load(folder, operating_point="nightly")
    assert "Operating point `feed`" in (Path(folder) / "README.md").read_text()

    result = CliRunner().invoke(app, ["info", str(folder), "--operating-point", "feed"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout[result.stdout.index("{"):])
    assert info["operating_point"] == "feed" and info["policy"] == feed["decision"]
    assert list(info["thresholds"].values()) == [round(t, 6) for t in feed["thresholds"]]
    assert list(info["operating_points"]) == ["default", "feed"]
    assert info["operating_points"]["default"]["policy"]["name"] == "max_f1"
    # Another point of a loaded model shares its classifier; None is the default point.
    assert default.at("feed").classifier is default.classifier and default.at(None) is default
    np.testing.assert_array_equal(default.at("feed").thresholds, fed.thresholds)
    # A folder from before operating points has the default one only; a point without thresholds is named.
    old_meta = {k: v for k, v in meta.items() if k != "operating_points"}
    old = scamlens.Model(default.classifier, old_meta, Path(folder))
    assert list(old.operating_points()) == ["default"]
    with pytest.raises(InputError, match="no operating point 'feed'; this model has default$"):
        old.at("feed")
    with pytest.raises(InputError, match="operating point 'feed' has no thresholds"):
        scamlens.Model(default.classifier, {**meta, "operating_points": {"feed": {"decision": {}}}}, Path(folder))
    report = CliRunner().invoke(app, ["evaluate", str(folder), "--data", "test", "--operating-point", "feed",
                                      "--resamples", "20"])
    assert report.exit_code == 0, report.output
    saved = json.loads((Path(folder).parent / "reports" / f"{Path(folder).name}-test-feed" / "report.json").read_text())
    assert saved["model"]["operating_point"] == "feed" and saved["model"]["thresholds"] == fed.thresholds.tolist()
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    result = CliRunner().invoke(app, ["predict", str(folder), "-", "--operating-point", "feed", "--no-evidence"], input=lines)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["labels"] for line in result.stdout.splitlines()] == [p["labels"] for p in fed.predict(texts)]
