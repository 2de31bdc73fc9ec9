"""`scamlens info MODEL`: what a loaded model decides with, in one place.

Kind, labels and thresholds (of the operating point loaded, and every other one), how they were chosen, calibration, pooling of long texts,
the CPU fast-path table measured at training with the variant chosen on this machine, the corpus
fingerprint and the metrics recorded at training; an ensemble lists its members the same way.
"""

from __future__ import annotations

from typing import Any

from .runtime.cpu import this_cpu
from .runtime.model import Model


def _by_label(model: Model, values) -> dict[str, float]:
    return {n: round(float(v), 6) for n, v in zip(model.labels, values, strict=True)}


def _operating_points(model: Model) -> dict[str, dict[str, Any]]:
    """Every operating point's thresholds and the rule that chose them on the written validation split."""
    named = model.meta.get("operating_points") or {}
    default_policy = model.meta.get("decision") or {"name": "max_f1"}
    return {name: {"thresholds": _by_label(model, thresholds),
                   "policy": named[name]["decision"] if name in named else default_policy}
            for name, thresholds in model.operating_points().items()}


def model_info(model: Model) -> dict[str, Any]:
    """A JSON-ready description of `model` as loaded here (the fast path is this machine's choice)."""
    meta, classifier = model.meta, model.classifier
    metrics = meta.get("metrics", {})
    points = _operating_points(model)
    info: dict[str, Any] = {
        "path": str(model.path),
        "name": meta.get("name"),
        "kind": meta.get("kind"),
        "labels": list(model.labels),
        "operating_point": model.operating_point,
        "thresholds": _by_label(model, model.thresholds),
        "policy": points[model.operating_point]["policy"],
        "operating_points": points,
        "calibration": model.calibration["method"],
        "pooling": dict(classifier.pooling),
        "corpus_fingerprint": meta.get("corpus_fingerprint"),
        "metrics": {split: {"macro_f1": round(m["macro_f1"], 4),
                            "f1": {n: round(v["f1"], 4) for n, v in m.get("per_label", {}).items()}}
                    for split, m in metrics.items()},
    }
    report = getattr(classifier, "fast_path_report", None)
    if report is not None:
        info["fast_path"] = {"chosen": classifier.fast_path_mode, "active": bool(classifier.fast_path_active),
                             "this_cpu_native": sorted(this_cpu()), "max_f1_drop": report.get("max_f1_drop"),
                             "variants": report.get("variants", {}),
                             "configured": getattr(classifier, "params", {}).get("fast_path")}
    members = getattr(classifier, "members", None)
    if members:
        info["members"] = [{"weight": w, **model_info(m)} for m, w in zip(members, classifier.weights, strict=True)]
    return info
