"""scripts/ensemble_weight_rules.py: the weightings each rule reads, and what each rule picks."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))


def test_each_weighting_is_scored_on_written_validation_and_read_on_realdev() -> None:
    from ensemble_weight_rules import pick, score_weightings

    # One label; the transformer ranks both splits perfectly, the baseline puts a negative second.
    y = np.array([[1], [1], [0], [0]])
    baseline = np.array([[0.9], [0.2], [0.8], [0.1]])
    transformer = np.array([[0.6], [0.7], [0.4], [0.3]])
    rows = score_weightings({"validation": y, "realdev": y}, {"validation": baseline, "realdev": baseline},
                            {"validation": transformer, "realdev": transformer}, ["a"])

    assert [r["baseline_weight"] for r in rows] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    alone = rows[0]
    assert alone["max_f1"] == alone["realdev"] == alone["average_precision"] == 1.0
    assert alone["log_loss"] == pytest.approx(-(np.log(0.6) + np.log(0.7)) / 2)
    assert rows[-1]["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    # The mix ranks perfectly up to a baseline weight of 0.3; the ties go to the weighting nearest equal.
    assert pick(rows, "max_f1")["baseline_weight"] == 0.3
    assert pick(rows, "average_precision")["baseline_weight"] == 0.3
    assert pick(rows, "equal")["baseline_weight"] == 0.5


def test_log_loss_is_picked_lowest_and_ties_go_nearest_equal_weights() -> None:
    from ensemble_weight_rules import pick

    rows = [{"baseline_weight": w, "max_f1": f1, "log_loss": loss, "average_precision": ap, "realdev": 0.0}
            for w, f1, loss, ap in [(0.0, 0.9, 0.30, 0.95), (0.2, 0.8, 0.10, 0.99), (0.6, 0.9, 0.20, 0.90),
                                    (0.5, 0.7, 0.40, 0.80)]]
    assert pick(rows, "max_f1")["baseline_weight"] == 0.6
    assert pick(rows, "log_loss")["baseline_weight"] == 0.2
    assert pick(rows, "average_precision")["baseline_weight"] == 0.2
    assert pick(rows, "equal")["baseline_weight"] == 0.5
