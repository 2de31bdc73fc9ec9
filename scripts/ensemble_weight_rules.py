"""An *experiment*: would another rule for the ensemble's weight, reading only written text, hold up better on real news?

    python scripts/ensemble_weight_rules.py NAME=TRANSFORMER [NAME=TRANSFORMER ...] \
        [--baseline train/baseline/model-best] [--realdev data/realdev/val.jsonl] [--text-root ../shared] \
        [--json PATH]

The ensemble kind weighs its members by the written validation split's macro F1 at max-F1 thresholds.
That split is nearly solved by both members (0.96-0.98), so the weight it picks rests on a handful of
texts; a rule that reads the whole score distribution might move less from one training run to the
next. For each transformer folder paired with the baseline, every weighting on the kind's grid is
scored on written validation by four rules, each picks its weighting there, and realdev is read only
to report the macro F1 the pick gives (thresholds, as in the kind, tuned on written validation):

- `max_f1`: the kind's rule (ties to the weighting nearest equal weights);
- `log_loss`: the lowest mean per-label log loss of the mixed probabilities;
- `average_precision`: the highest mean per-label average precision (ranking, no threshold);
- `equal`: half and half, reading nothing.

Nothing here is fitted or chosen on realdev, and nothing here is shipped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, log_loss

import scamlens
from scamlens.data.labels import LabelSet
from scamlens.evaluation.labelled import evaluation_data
from scamlens.evaluation.metrics import multilabel_report
from scamlens.kinds.ensemble import weight_grid
from scamlens.runtime.decision import apply_thresholds, tune_by_policy

RULES = ("max_f1", "log_loss", "average_precision", "equal")


def macro_f1(y: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, labels) -> float:
    return float(multilabel_report(y, apply_thresholds(scores, thresholds), None, labels)["macro_f1"])


def score_weightings(y: dict[str, np.ndarray], baseline: dict[str, np.ndarray], transformer: dict[str, np.ndarray],
                     labels) -> list[dict]:
    """Each weighting of (baseline, transformer): the written-validation figures every rule reads, and the
    realdev macro F1 at thresholds tuned on written validation."""
    rows = []
    for weights in weight_grid(2, 0.1):
        mixed = {k: weights[0] * baseline[k] + weights[1] * transformer[k] for k in y}
        thresholds, _ = tune_by_policy(y["validation"], mixed["validation"])
        clipped = np.clip(mixed["validation"], 1e-7, 1 - 1e-7)
        rows.append({
            "baseline_weight": round(weights[0], 1),
            "max_f1": macro_f1(y["validation"], mixed["validation"], thresholds, labels),
            "log_loss": float(np.mean([log_loss(y["validation"][:, j], clipped[:, j], labels=[0, 1])
                                       for j in range(len(labels))])),
            "average_precision": float(np.mean([average_precision_score(y["validation"][:, j], mixed["validation"][:, j])
                                                for j in range(len(labels))])),
            "realdev": macro_f1(y["realdev"], mixed["realdev"], thresholds, labels),
        })
    return rows


def pick(rows: list[dict], rule: str) -> dict:
    """The weighting `rule` picks from the written-validation figures; ties go nearest equal weights."""
    if rule == "equal":
        return next(r for r in rows if r["baseline_weight"] == 0.5)
    sign = 1 if rule == "log_loss" else -1  # lower log loss is better; higher F1 and precision are
    return min(rows, key=lambda r: (round(sign * r[rule], 9), abs(r["baseline_weight"] - 0.5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transformers", nargs="+", metavar="NAME=FOLDER")
    parser.add_argument("--baseline", default="train/baseline/model-best")
    parser.add_argument("--realdev", default="data/realdev/val.jsonl")
    parser.add_argument("--text-root", default="../shared")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    named = dict(item.split("=", 1) for item in args.transformers)

    baseline = scamlens.load(args.baseline)
    labels = baseline.labels
    examples = {k: evaluation_data(baseline, v, args.text_root).examples
                for k, v in {"validation": "validation", "realdev": args.realdev}.items()}
    texts = {k: [e.text for e in ex] for k, ex in examples.items()}
    label_set = LabelSet(labels)
    y = {k: label_set.encode_many([e.labels for e in ex]).astype(int) for k, ex in examples.items()}
    baseline_scores = {k: baseline.predict_proba(t) for k, t in texts.items()}

    results = {}
    for name, folder in named.items():
        model = scamlens.load(folder)
        if model.labels != labels:
            raise SystemExit(f"{folder}: labels {list(model.labels)}, the baseline has {list(labels)}")
        rows = score_weightings(y, baseline_scores, {k: model.predict_proba(t) for k, t in texts.items()}, labels)
        results[name] = {"folder": folder, "weightings": rows, "picks": {rule: pick(rows, rule) for rule in RULES}}

    print("| transformer | " + " | ".join(RULES) + " | realdev by baseline weight 0, 0.1, ..., 1 (read only) |")
    print("|---|" + "---|" * (len(RULES) + 1))
    for name, result in results.items():
        picks = " | ".join(f"{p['realdev']:.3f} ({p['baseline_weight']:g})" for p in result["picks"].values())
        row = " ".join(f"{r['realdev']:.3f}" for r in result["weightings"])
        print(f"| {name} | {picks} | {row} |")
    means = {rule: float(np.mean([r["picks"][rule]["realdev"] for r in results.values()])) for rule in RULES}
    print("| mean | " + " | ".join(f"{m:.3f}" for m in means.values()) + " | |")
    if args.json:
        args.json.write_text(json.dumps({"baseline": args.baseline, "realdev": args.realdev, "results": results,
                                         "mean_realdev_by_rule": means}, indent=2) + "\n")


if __name__ == "__main__":
    main()
