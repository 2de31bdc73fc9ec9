from __future__ import annotations

import numpy as np
import pytest

from scamlens.evaluation.metrics import average_precision, flatten_report, multilabel_report, threshold_ceiling
from scamlens.runtime.decision import apply_thresholds, best_threshold, tune_thresholds

LABELS = ("a", "b")
Y_TRUE = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
Y_PRED = np.array([[1, 0], [0, 1], [1, 1], [0, 1]])
SCORES = np.array([[0.9, 0.2], [0.4, 0.8], [0.7, 0.6], [0.1, 0.7]])


def test_report_matches_hand_computed_values() -> None:
    report = multilabel_report(Y_TRUE, Y_PRED, SCORES, LABELS)
    a, b = report["per_label"]["a"], report["per_label"]["b"]
    # a: tp=1 fp=1 fn=1; b: tp=2 fp=1 fn=0
    assert (a["precision"], a["recall"], a["f1"], a["support"]) == (0.5, 0.5, 0.5, 2)
    assert b["precision"] == pytest.approx(2 / 3) and b["recall"] == 1.0 and b["f1"] == pytest.approx(0.8)
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8) / 2)
    assert report["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))  # tp=3 fp=2 fn=1
    assert report["subset_accuracy"] == 0.25  # only row 0 is exactly right
    assert report["hamming_loss"] == pytest.approx(3 / 8)
    # a ranked by score: 0.9(+) 0.7(-) 0.4(+) 0.1(-): AP = 0.5*1 + 0.5*(2/3)
    assert a["average_precision"] == pytest.approx(0.5 + 1 / 3)
    # b ranked: 0.8(+) 0.7(-) 0.6(+) 0.2(-): AP = 0.5*1 + 0.5*(2/3)
    assert b["average_precision"] == pytest.approx(0.5 + 1 / 3)


def test_average_precision_agrees_with_scikit_learn_including_ties() -> None:
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        y[0] = 1
        scores = np.round(rng.random(40), 1)  # many ties
        assert average_precision(y, scores) == pytest.approx(average_precision_score(y, scores))


def test_zero_division_is_zero_and_empty_label_has_no_ap() -> None:
    report = multilabel_report(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)), LABELS)
    assert report["per_label"]["a"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0,
                                        "average_precision": 0.0}
    assert report["subset_accuracy"] == 1.0 and report["hamming_loss"] == 0.0


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        multilabel_report(Y_TRUE, Y_PRED[:, :1], None, LABELS)


def test_flatten_report_names_metrics_for_mlflow() -> None:
    flat = flatten_report(multilabel_report(Y_TRUE, Y_PRED, SCORES, LABELS), "test_")
    assert flat["test_a_f1"] == 0.5 and flat["test_macro_f1"] == pytest.approx(0.65)


def test_best_threshold_maximises_f1_and_sits_between_scores() -> None:
    y = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.95, 0.8, 0.7, 0.6, 0.3, 0.1])
    threshold, f1 = best_threshold(y, scores)
    # Cutting below 0.6 catches all three positives with one false positive: F1 = 6/7.
    assert f1 == pytest.approx(6 / 7)
    assert threshold == pytest.approx((0.6 + 0.3) / 2)


def test_tune_thresholds_per_label_and_default_without_positives() -> None:
    y = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.2, 0.9], [0.1, 0.8], [0.3, 0.1]])
    thresholds = tune_thresholds(y, scores)
    assert thresholds[0] == pytest.approx(0.15)
    assert thresholds[1] == 0.5
    assert apply_thresholds(scores, thresholds).tolist() == [[True, True], [False, True], [True, False]]


def test_threshold_ceiling_is_the_best_f1_any_threshold_reaches_on_the_same_scores() -> None:
    # a ranked 0.9(+) 0.7(-) 0.4(+) 0.1(-): flagging the top three gives P 2/3, R 1, F1 0.8, the best cut.
    ceiling = threshold_ceiling(Y_TRUE, SCORES, LABELS)
    assert ceiling["per_label"]["a"] == {"threshold": pytest.approx(0.25), "f1": pytest.approx(0.8)}
    assert ceiling["per_label"]["b"]["f1"] == pytest.approx(0.8)
    assert ceiling["macro_f1"] == pytest.approx(0.8)
    assert multilabel_report(Y_TRUE, Y_PRED, SCORES, LABELS)["macro_f1"] < ceiling["macro_f1"]
    # Brute force over every cut of random scores: none beats the ceiling and one reaches it.
    rng = np.random.default_rng(1)
    y, scores = rng.integers(0, 2, (30, 2)), np.round(rng.random((30, 2)), 1)
    found = threshold_ceiling(y, scores, LABELS)
    for j, name in enumerate(LABELS):
        f1s = [multilabel_report(y[:, [j]], scores[:, [j]] >= t, None, ["x"])["macro_f1"]
               for t in np.r_[np.unique(scores[:, j]), 2.0]]
        assert found["per_label"][name]["f1"] == pytest.approx(max(f1s))
    with pytest.raises(ValueError, match="shape mismatch"):
        threshold_ceiling(Y_TRUE, SCORES[:, :1], LABELS)
