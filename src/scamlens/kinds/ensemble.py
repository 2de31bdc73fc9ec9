"""The ensemble kind: a weighted mean of trained models' calibrated probabilities.

Training loads the member folders named in the config, scores the written validation split with
each (through their own calibration), and tries every weighting on a grid (steps of `weight_step`
summing to 1): for each, thresholds are tuned by the run's policy and the weighting with the best
validation macro F1 wins (ties: the one nearest equal weights). With `per_label_weights` each label
takes the weighting that gives it the best validation F1 instead (macro F1 is a mean of per-label
F1s and each label has its own threshold, so this is the same search, decided label by label: the
members err on different labels). The run then fits its own
calibration and thresholds on the mixed scores like any kind. The saved folder holds copies of the
members, so it loads, exports and serves on its own (scamlens.runtime.ensemble).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from ..config import DecisionConfig, KindConfig
from ..evaluation.metrics import multilabel_report
from ..runtime.classifier import LabelledTexts, MetricsLogger
from ..runtime.decision import apply_thresholds, tune_by_policy
from ..runtime.ensemble import EnsemblePredictor
from ..runtime.errors import InputError
from . import Kind, TrainContext

logger = logging.getLogger(__name__)


class EnsembleConfig(KindConfig):
    kind: Literal["ensemble"] = "ensemble"
    # Model folders (or models:/ URIs) to combine, trained on the same corpus as this run.
    members: list[str] = Field(default_factory=lambda: ["train/baseline/model-best", "train/transformer/model-best"],
                               min_length=2)
    # Weights are tried on a grid of this step (0.1: 0, 0.1, ..., 1 for two members).
    weight_step: float = Field(0.1, gt=0, le=0.5)
    # One weighting per label (chosen on that label's validation F1) instead of one for all labels.
    per_label_weights: bool = False
    # Refuse members trained on another corpus: their training rows could sit in this validation split.
    require_same_corpus: bool = True


def weight_grid(members: int, step: float) -> list[tuple[float, ...]]:
    """Every weighting of `members` in multiples of `step` that sums to 1."""
    parts = round(1 / step)
    return [tuple(c / parts for c in combo) for combo in itertools.product(range(parts + 1), repeat=members)
            if sum(combo) == parts]


class EnsembleTrainer(EnsemblePredictor):
    def __init__(self, labels: Sequence[str], config: EnsembleConfig, context: TrainContext):
        super().__init__(labels)
        self.config, self.context = config, context
        self.weight_search: list[dict] = []

    def load_members(self) -> None:
        from .. import load, model_folder

        members = [load(model_folder(source)) for source in self.config.members]
        for source, member in zip(self.config.members, members, strict=True):
            if member.labels != self.labels:
                raise InputError(f"ensemble member {source} has labels {list(member.labels)}, "
                                 f"the run has {list(self.labels)}")
            fingerprint = member.meta.get("corpus_fingerprint")
            expected = self.context.corpus_fingerprint
            if self.config.require_same_corpus and expected and fingerprint != expected:
                raise InputError(f"ensemble member {source} was trained on corpus {str(fingerprint)[:16]}, this run's "
                                 f"is {expected[:16]}: its training rows may be in this validation split. Retrain it, "
                                 "or set model.require_same_corpus=false")
        names = [m.meta.get("name") or f"member{i}" for i, m in enumerate(members)]
        if len(set(names)) != len(names):
            names = [f"{n}-{i}" for i, n in enumerate(names)]
        self.members, self.names = members, names

    def fit(self, train: LabelledTexts, validation: LabelledTexts | None = None,
            log_metrics: MetricsLogger | None = None) -> EnsembleTrainer:
        if validation is None or not len(validation.texts):
            raise InputError("an ensemble chooses its weights on the validation split, which is empty")
        self.load_members()
        decision = self.context.decision or DecisionConfig()
        scores = np.stack([m.predict_proba(validation.texts) for m in self.members])
        grid = weight_grid(len(self.members), self.config.weight_step)
        # f1s[g, j]: label j's validation F1 under weighting g, with thresholds tuned for that weighting.
        f1s = np.zeros((len(grid), len(self.labels)))
        for g, weights in enumerate(grid):
            mixed = np.tensordot(np.asarray(weights), scores, axes=1)
            thresholds, _ = tune_by_policy(validation.y, mixed, decision.policy, decision.precision_target,
                                           decision.deployment_prior)
            report = multilabel_report(validation.y, apply_thresholds(mixed, thresholds), None, self.labels)
            f1s[g] = [report["per_label"][label]["f1"] for label in self.labels]
            self.weight_search.append({"weights": list(weights), "val_macro_f1": round(report["macro_f1"], 6)})
        # The best weighting by a column of F1s; ties go to the one nearest equal weights
        # (lexsort's last key is the primary one).
        uniform = np.full(len(self.members), 1 / len(self.members))
        spread = np.array([np.abs(np.asarray(w) - uniform).sum() for w in grid])

        def best(f1: np.ndarray) -> int:
            return int(np.lexsort((spread, -np.round(f1, 9)))[0])

        if self.config.per_label_weights:
            picks = [best(f1s[:, j]) for j in range(len(self.labels))]
            self.weights = np.asarray(grid)[picks].T.tolist()  # one list per member, a weight per label
            best_f1 = float(f1s[picks, range(len(self.labels))].mean())
        else:
            pick = best(f1s.mean(axis=1))
            self.weights = [float(w) for w in grid[pick]]
            best_f1 = float(f1s[pick].mean())
        logger.info("ensemble weights %s (validation macro F1 %.4f)", self.describe()["ensemble weights"], best_f1)
        if log_metrics is not None:
            flat = {f"weight_{n}": float(np.mean(w)) for n, w in zip(self.names, self.weights, strict=True)}
            log_metrics(flat | {"val_macro_f1_weighting": best_f1}, 0)
        return self


def build(config: EnsembleConfig, labels: Sequence[str], context: TrainContext) -> EnsembleTrainer:
    return EnsembleTrainer(labels, config, context)


KIND = Kind(name="ensemble", config=EnsembleConfig, trainer=build,
            predictor="scamlens.runtime.ensemble:EnsemblePredictor",
            requirements=("numpy", "sentencex"), versions=("numpy",))
