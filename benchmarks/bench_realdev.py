"""Quality on real news: the default models and the keyword-regex anchor on realdev `val` and `test`.

    python benchmarks/bench_realdev.py [--model NAME=PATH ...] [--splits val test] [--text-root ../shared]
                                       [--operating-point feed --name realdev-feed]

realdev is real, labelled news held as references into ../shared (data/realdev/, built by
scripts/realdev_labels.py); the text is resolved at run time and never stored. Per model and split:
per-label precision, recall and F1 and macro F1, each with a 95% bootstrap interval (1,000
resamples of the items, thresholds fixed), then macro F1 sliced by source and by kind. `val` is for
choosing among configurations, `test` for reporting only. Without ../shared it says so and exits 0.

The "ceiling" column is the macro F1 each model's scores would give with thresholds fitted on the
split itself (scamlens.evaluation.metrics.threshold_ceiling). It is never a result: it says whether a
model's shortfall is in its thresholds (below the ceiling) or in its ranking (the ceiling itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import regex_anchor
from common import DEFAULT_MODELS, ROOT, report

REALDEV = ROOT / "data" / "realdev"
DEFAULT_TEXT_ROOT = ROOT.parent / "shared"
RESAMPLES = 1000


def predictors(specs: list[str], operating_point: str | None = None) -> dict:
    """name -> (labels -> 0/1 matrix, scores or None) functions; the regex anchor first. With
    `operating_point`, each model decides with that named point's thresholds (skipped if it has none)."""
    import scamlens

    out = {"regex": lambda texts, labels: (regex_anchor.predict(texts, labels), None)}
    models = dict(s.split("=", 1) for s in specs) if specs else {k: str(v) for k, v in DEFAULT_MODELS.items()}
    ensemble = ROOT / "train" / "ensemble" / "model-best"
    if not specs and ensemble.exists():
        models["ensemble"] = str(ensemble)
    for name, path in models.items():
        if not (Path(path) / "meta.json").exists() and not str(path).startswith("models:/"):
            print(f"skipping {name}: no model at {path} (run `make train`)")
            continue
        model = scamlens.load(path)
        if operating_point is not None:
            if operating_point not in model.operating_points():
                print(f"skipping {name}: {path} has no operating point {operating_point!r} (trained before it was configured)")
                continue
            model = model.at(operating_point)

        def predict(texts, labels, model=model):
            if tuple(labels) != model.labels:
                raise SystemExit(f"{model.path}: labels {model.labels} differ from realdev's {tuple(labels)}")
            scores = model.predict_proba(texts)
            return (scores >= model.thresholds).astype(np.int8), scores
        out[name] = predict
    return out


def score(y: np.ndarray, pred: np.ndarray, scores: np.ndarray | None, labels: list[str]) -> dict:
    from scamlens.evaluation.bootstrap import bootstrap_intervals
    from scamlens.evaluation.metrics import multilabel_report, threshold_ceiling

    point = multilabel_report(y, pred, scores, labels)
    intervals = bootstrap_intervals(y, pred, None, labels, resamples=RESAMPLES)
    ceiling = threshold_ceiling(y, scores, labels) if scores is not None else None
    return {"point": point, "ci95": intervals, "ceiling": ceiling}


def slices(y: np.ndarray, pred: np.ndarray, keys: list[str], labels: list[str]) -> dict[str, dict]:
    from scamlens.evaluation.metrics import multilabel_report

    out = {}
    for key in sorted(set(keys)):
        mask = np.array([k == key for k in keys])
        rep = multilabel_report(y[mask], pred[mask], None, labels)
        # A slice without positives or flags for a label (disaster messages, say) says nothing
        # about that label's F1: the slice's macro F1 averages the labels it can measure.
        active = [n for j, n in enumerate(labels) if y[mask][:, j].any() or pred[mask][:, j].any()]
        out[key] = {"items": int(mask.sum()),
                    "macro_f1": float(np.mean([rep["per_label"][n]["f1"] for n in active])) if active else None,
                    "false_positives": int((pred[mask] & ~y[mask]).sum()),
                    **{f"{n}_f1": rep["per_label"][n]["f1"] for n in labels},
                    "positives": {n: int(y[mask][:, j].sum()) for j, n in enumerate(labels)}}
    return out


def source_name(source: str) -> str:
    return Path(source).name.split(".")[0].removeprefix("rss2023_").removesuffix("_items")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH (default: the trained defaults)")
    parser.add_argument("--splits", nargs="+", default=["val", "test"])
    parser.add_argument("--text-root", type=Path, default=DEFAULT_TEXT_ROOT)
    parser.add_argument("--name", default="realdev", help="result file benchmarks/results/<name>.json")
    parser.add_argument("--operating-point", help="decide with this named operating point (e.g. feed) instead of the default")
    args = parser.parse_args()
    if not args.text_root.exists():
        print(f"skipped: {args.text_root} (the real text realdev refers to) is not here")
        return
    from scamlens.data import read_labelled

    runs = predictors(args.model, args.operating_point)
    rows, details = [], {}
    for split in args.splits:
        data = read_labelled(REALDEV / f"{split}.jsonl", text_root=args.text_root)
        labels, texts, y = list(data.labels), data.texts, data.y.astype(bool)
        sources = [source_name(e.extras.get("source", "")) for e in data.examples]
        kinds = [e.extras.get("kind", "") for e in data.examples]
        print(f"{split}: {len(texts)} items ({data.left_out} ambiguous left out)", file=sys.stderr)
        for name, predict in runs.items():
            pred, scores = predict(texts, labels)
            result = score(y, pred.astype(bool), scores, labels)
            point, ci = result["point"], result["ci95"]
            row = {"split": split, "model": name,
                   "macro F1": f"{point['macro_f1']:.3f} [{ci['macro_f1'][0]:.3f}, {ci['macro_f1'][1]:.3f}]",
                   "ceiling": "-" if result["ceiling"] is None else f"{result['ceiling']['macro_f1']:.3f}"}
            for n in labels:
                m, c = point["per_label"][n], ci["per_label"][n]
                row[n] = (f"P {m['precision']:.2f} R {m['recall']:.2f} F1 {m['f1']:.3f} "
                          f"[{c['f1'][0]:.2f}, {c['f1'][1]:.2f}]")
            rows.append(row)
            details[f"{split}/{name}"] = {**result, "by_source": slices(y, pred.astype(bool), sources, labels),
                                          "by_kind": slices(y, pred.astype(bool), kinds, labels),
                                          "left_out_ambiguous": data.left_out}
    result = report(args.name, rows, ["split", "model", "macro F1", "ceiling", *labels], details=details)
    for key, detail in result["details"].items():
        for axis in ("by_source", "by_kind"):
            cells = ", ".join(f"{k} {'-' if v['macro_f1'] is None else format(v['macro_f1'], '.2f')} "
                              f"({v['items']} items, {v['false_positives']} FP)" for k, v in detail[axis].items())
            print(f"- {key} macro F1 {axis.replace('_', ' ')}: {cells}")


if __name__ == "__main__":
    main()
