"""The ensemble kind: a weighted mean of trained models' calibrated probabilities.

Training loads the member folders named in the config, scores the written validation split with
each (through their own calibration), and tries every weighting on a grid (steps of `weight_step`
summing to 1): for each, thresholds are tuned by the run's policy and the weighting with the best
validation macro F1 wins (ties: the one nearest equal weights). The run then fits its own
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
        uniform = np.full(len(self.members), 1 / len(self.members))
        best, best_key = None, None
        for weights in weight_grid(len(self.members), self.config.weight_step):
            mixed = np.tensordot(np.asarray(weights), scores, axes=1)
            thresholds, _ = tune_by_policy(validation.y, mixed, decision.policy, decision.precision_target,
                                           decision.deployment_prior)
            f1 = multilabel_report(validation.y, apply_thresholds(mixed, thresholds), None, self.labels)["macro_f1"]
            self.weight_search.append({"weights": list(weights), "val_macro_f1": round(f1, 6)})
            key = (round(f1, 9), -float(np.abs(np.asarray(weights) - uniform).sum()))
            if best_key is None or key > best_key:
                best, best_key = weights, key
        self.weights = [float(w) for w in best]
        logger.info("ensemble weights %s (validation macro F1 %.4f)",
                    ", ".join(f"{n} {w:g}" for n, w in zip(self.names, self.weights, strict=True)), best_key[0])
        if log_metrics is not None:
            log_metrics({f"weight_{n}": w for n, w in zip(self.names, self.weights, strict=True)}
                        | {"val_macro_f1_weighting": best_key[0]}, 0)
        return self


def build(config: EnsembleConfig, labels: Sequence[str], context: TrainContext) -> EnsembleTrainer:
    return EnsembleTrainer(labels, config, context)


KIND = Kind(name="ensemble", config=EnsembleConfig, trainer=build,
            predictor="scamlens.runtime.ensemble:EnsemblePredictor",
            requirements=("numpy", "sentencex"), versions=("numpy",))
