"""`scamlens info MODEL`: what a loaded model decides with, in one place.

Kind, labels and thresholds, how the thresholds were chosen, calibration, pooling of long texts,
the CPU fast-path table measured at training with the variant chosen on this machine, the corpus
fingerprint and the metrics recorded at training; an ensemble lists its members the same way.
"""

from __future__ import annotations

from typing import Any

from .runtime.cpu import this_cpu
from .runtime.model import Model


def model_info(model: Model) -> dict[str, Any]:
    """A JSON-ready description of `model` as loaded here (the fast path is this machine's choice)."""
    meta, classifier = model.meta, model.classifier
    metrics = meta.get("metrics", {})
    info: dict[str, Any] = {
        "path": str(model.path),
        "name": meta.get("name"),
        "kind": meta.get("kind"),
        "labels": list(model.labels),
        "thresholds": {n: round(float(t), 6) for n, t in zip(model.labels, model.thresholds, strict=True)},
        "policy": (meta.get("decision") or {"name": "max_f1"}),
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
