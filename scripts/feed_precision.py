"""Precision at the feed: how many of a model's flags on a real news feed are right.

    python scripts/feed_precision.py draw baseline=train/baseline/model-best transformer=train/transformer/model-best
    python scripts/feed_precision.py draw ensemble-feed=train/ensemble/model-best --operating-point feed
    python scripts/feed_precision.py export --out /tmp/feed_sample_texts.jsonl   # texts for blind labelling
    python scripts/feed_precision.py report
    python scripts/feed_precision.py curve NAME      # precision at stricter thresholds, from the same sample

`draw` scores every item of the 2023 world feeds (171,739 headlines with their summaries, almost
none on-theme) with each model, records the share flagged per label in data/realdev/feed_flags.json,
and draws a fixed random
sample of 50 flagged items per label per model into data/realdev/feed_sample.jsonl, as references
(file, line, title). Items already labelled there keep their labels, so a new model only adds the
items it alone flags. `export` resolves the unlabelled items' text for a labeller, with no model,
score or label attached; `curve` reads precision at thresholds above the model's off the labelled
sample (the flags at a stricter threshold are a subset, so the sample restricted to them is still a
random sample of them), from the scores `draw` saved; `merge` writes a labeller's labels back into the sample file by id. `report` prints
precision per label per model with a 95% Wilson interval beside the flag rate, and writes
benchmarks/results/feed_precision.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
from pathlib import Path

import numpy as np
from realdev_sample import WORLD, feed_text, read_jsonl, ref

from scamlens.runtime.decision import DEFAULT_OPERATING_POINT

SAMPLE = Path("data/realdev/feed_sample.jsonl")
FLAGS = Path("data/realdev/feed_flags.json")
RESULT = Path("benchmarks/results/feed_precision.json")
TABLE = Path("data/realdev/feed_precision.md")
PER_LABEL = 50
SEED = 50


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion: sound at small n and at 0 or 1."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def read_sample() -> dict[str, dict]:
    if not SAMPLE.exists():
        return {}
    return {row["id"]: row for row in map(json.loads, SAMPLE.read_text(encoding="utf-8").splitlines()) if row}


def write_sample(rows: dict[str, dict]) -> None:
    ordered = sorted(rows.values(), key=lambda r: r["key"]["line"])
    SAMPLE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered), encoding="utf-8")


def score(model, texts: list[str], batch_size: int, cache: dict[str, np.ndarray]) -> np.ndarray:
    """The model's probabilities on every text; an ensemble is scored from its members' scores.

    Scores are cached by the model folder's manifest, so an ensemble drawn after its members (whose
    folders it holds byte-identical copies of) costs no second pass of the transformer over the feed.
    This is exactly what EnsemblePredictor.predict_proba computes: the weighted sum of the members'
    calibrated probabilities.
    """
    key = (model.path / "manifest.json").read_text(encoding="utf-8") if model.path else None
    if key is not None and key in cache:
        return cache[key]
    if model.classifier.kind == "ensemble":
        combined = np.zeros((len(texts), len(model.labels)), dtype=np.float64)
        for _, member, weight in model.classifier.live_members():
            combined += weight * score(member, texts, batch_size, cache)
        scores = combined.astype(np.float32)
    else:
        scores = np.concatenate([model.predict_proba(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)])
    if key is not None:
        cache[key] = scores
    return scores


def scores_key(folder: Path) -> str:
    """A digest of the files that decide a model folder's scores: its manifest less the files that
    only describe it or hold its thresholds (README.md, meta.json, config.yaml). Two folders with this
    key score every text alike, so a new operating point or a re-registered copy needs no second pass."""
    import hashlib

    files = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"]
    kept = sorted((path, entry["sha256"]) for path, entry in files.items()
                  if Path(path).name not in {"README.md", "meta.json", "config.yaml"})
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def check_names(models: list[str], flags_report: dict, point: str) -> None:
    """A name is its sample's tag and its draw's seed: reusing one for another model would pool two
    models' flags under one precision figure. Redrawing the same model at the same point is harmless.
    Checked for every model before any is scored, so a late clash wastes no scoring."""
    for spec in models:
        name, _, path = spec.partition("=")
        if earlier := flags_report.get(name):
            drawn = (earlier["model"], earlier.get("operating_point", DEFAULT_OPERATING_POINT))
            if drawn != (path, point):
                raise SystemExit(f"{name!r} was drawn for {drawn[0]} at {drawn[1]}; name this draw of {path} at {point} differently")


def draw(root: Path, models: list[str], batch_size: int, scores_dir: Path, operating_point: str | None = None) -> None:
    import scamlens

    flags_report = json.loads(FLAGS.read_text()) if FLAGS.exists() else {}
    check_names(models, flags_report, operating_point or DEFAULT_OPERATING_POINT)
    feed = list(read_jsonl(root, WORLD))
    texts = [feed_text(rec) for _, rec in feed]
    lines = [line - 1 for line, _ in feed]
    rows = read_sample()
    cache: dict[str, np.ndarray] = {}
    for spec in models:
        name, _, path = spec.partition("=")
        model = scamlens.load(path, operating_point=operating_point)
        # Row i of a saved array holds the feed's line i + 1 (NaN for a blank line), the key the
        # sample's references use; saved per name (for `curve`) and per scores_key (to skip rescoring).
        # The feed file's size in the name: a changed feed never reads another feed's scores.
        saved = scores_dir / "by-classifier" / f"{scores_key(model.path)}-{(root / WORLD).stat().st_size}.npy"
        if saved.exists():
            by_line = np.load(saved)
            scores = by_line[lines]
            print(f"{name}: scores of {path} read from {saved}")
        else:
            scores = score(model, texts, batch_size, cache)
            by_line = np.full((feed[-1][0], scores.shape[1]), np.nan, dtype=np.float32)
            by_line[lines] = scores
            saved.parent.mkdir(parents=True, exist_ok=True)
            np.save(saved, by_line)
        np.save(scores_dir / f"{name}.npy", by_line)
        flagged = scores >= model.thresholds
        flags_report[name] = {"model": path, "operating_point": model.operating_point, "items": len(texts),
                              "flag_rate": {lab: float(flagged[:, j].mean()) for j, lab in enumerate(model.labels)},
                              "any_label": float(flagged.any(axis=1).mean())}
        rng = random.Random(f"{SEED}-{name}")
        for j, label in enumerate(model.labels):
            hits = np.flatnonzero(flagged[:, j]).tolist()
            for i in sorted(rng.sample(hits, min(PER_LABEL, len(hits)))):
                line, rec = feed[i]
                row = rows.setdefault(f"world-{line}", {**ref(WORLD, line, rec, "feed", "flagged", "world"), "labels": None})
                row.pop("stratum", None)
                tag = f"{name}:{label}"
                row["drawn_for"] = sorted(set(row.get("drawn_for", [])) | {tag})
        print(f"{name}: flagged {flags_report[name]['any_label']:.2%} of {len(texts):,} items")
    FLAGS.parent.mkdir(parents=True, exist_ok=True)
    FLAGS.write_text(json.dumps(flags_report, indent=2))
    write_sample(rows)
    todo = sum(1 for r in rows.values() if r["labels"] is None)
    print(f"{len(rows)} items in {SAMPLE}, {todo} still to label")


def export(root: Path, out: Path) -> None:
    """The unlabelled items' text only, shuffled so the order says nothing about the model."""
    lines = {}
    with gzip.open(root / WORLD, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            lines[number] = line
    todo = [r for r in read_sample().values() if r["labels"] is None]
    random.Random(SEED).shuffle(todo)
    with open(out, "w", encoding="utf-8") as handle:
        for row in todo:
            rec = json.loads(lines[row["key"]["line"]])
            handle.write(json.dumps({"id": row["id"], "form": "feed", "text": feed_text(rec)}, ensure_ascii=False) + "\n")
    print(f"{len(todo)} items -> {out}")


def merge(labels_file: Path) -> None:
    rows = read_sample()
    for item in map(json.loads, labels_file.read_text(encoding="utf-8").splitlines()):
        rows[item["id"]]["labels"] = item["labels"]
    write_sample(rows)


def report() -> dict:
    rows = [r for r in read_sample().values() if r["labels"] is not None]
    flags = json.loads(FLAGS.read_text())
    result: dict = {}
    lines = ["| model | label | flag rate | sample | right | precision [95% CI] |", "|---|---|---|---|---|---|"]
    for name, info in flags.items():
        result[name] = {}
        for label, rate in info["flag_rate"].items():
            drawn = [r for r in rows if f"{name}:{label}" in r.get("drawn_for", [])]
            right = sum(1 for r in drawn if label in r["labels"])
            low, high = wilson(right, len(drawn))
            precision = right / len(drawn) if drawn else float("nan")
            result[name][label] = {"flag_rate": rate, "sample": len(drawn), "right": right,
                                   "precision": precision, "ci95": [low, high]}
            lines.append(f"| {name} | {label} | {rate:.2%} | {len(drawn)} | {right} | {precision:.2f} [{low:.2f}, {high:.2f}] |")
    print("\n".join(lines))
    TABLE.write_text(f"""# Precision at the feed

*Generated by `python scripts/feed_precision.py report`; do not edit by hand.*

Each model scored all {next(iter(flags.values()))['items']:,} items of the 2023 world feeds
(`realdata/RSS-Link-Database-2023/rss2023_world_feeds.jsonl.gz`, headline + summary); 50 of the
items it flagged per label were drawn at random (seeded) and labelled blind, in two passes that saw no
model or score, disagreements adjudicated (`passes/feed_*.jsonl`). Precision is the share of those
flags that carry the label; the interval is Wilson's 95%. The sample's references are in
`feed_sample.jsonl`, the flag rates in `feed_flags.json`.

{chr(10).join(lines)}
""", encoding="utf-8")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2))
    return result


def curve(name: str, scores_dir: Path) -> None:
    """Precision and flag count at the model's thresholds and at the sample's score quartiles above them."""
    import scamlens

    info = json.loads(FLAGS.read_text())[name]
    scores = np.load(scores_dir / f"{name}.npy")
    model = scamlens.load(info["model"], operating_point=info.get("operating_point"))
    rows = [r for r in read_sample().values() if r["labels"] is not None]
    print("| label | threshold | flags | sample | precision [95% CI] | estimated right flags |\n|---|---|---|---|---|---|")
    for j, label in enumerate(model.labels):
        drawn = [r for r in rows if f"{name}:{label}" in r.get("drawn_for", [])]
        drawn_scores = np.array([scores[r["key"]["line"] - 1, j] for r in drawn])
        right = np.array([label in r["labels"] for r in drawn])
        for cut in [float(model.thresholds[j]), *np.quantile(drawn_scores, [0.25, 0.5, 0.75]).tolist()]:
            kept = drawn_scores >= cut
            flags = int((scores[:, j] >= cut).sum())  # NaN rows (blank lines) never reach a cut
            precision = right[kept].mean()
            low, high = wilson(int(right[kept].sum()), int(kept.sum()))
            print(f"| {label} | {cut:.3f} | {flags} | {int(kept.sum())} | {precision:.2f} [{low:.2f}, {high:.2f}] | {precision * flags:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["draw", "export", "merge", "report", "curve"])
    parser.add_argument("models", nargs="*", help="NAME=MODEL_PATH (draw); a labels JSONL (merge); NAME (curve)")
    parser.add_argument("--root", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/feed_sample_texts.jsonl"))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--scores-dir", type=Path, default=Path("train/feed_scores"),
                        help="where draw saves each model's scores on the feed, NAME.npy (train/ is not tracked)")
    parser.add_argument("--operating-point", help="draw: decide with this named operating point's thresholds")
    args = parser.parse_args()
    if args.command == "draw":
        draw(args.root, args.models, args.batch_size, args.scores_dir, args.operating_point)
    elif args.command == "export":
        export(args.root, args.out)
    elif args.command == "curve":
        curve(args.models[0], args.scores_dir)
    elif args.command == "merge":
        merge(Path(args.models[0]))
    else:
        report()


if __name__ == "__main__":
    main()
