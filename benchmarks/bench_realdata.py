"""Both models over the 171,739 real 2023 world-news headlines: throughput and share flagged.

Usage: python benchmarks/bench_realdata.py [--transformer-limit N] [--samples 20]
Real world news is overwhelmingly about other things, so the share of headlines flagged per label
estimates the false-positive rate on a live feed. Prints 20 random flagged titles per label for
reading (to the terminal only; the JSON keeps counts, not text). Skips cleanly without realdata.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from common import DEFAULT_MODELS, RSS_WORLD, report, rss_items

import scamlens


def score(model: scamlens.Model, texts: list[str], batch: int = 256) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    scores = np.vstack([model.predict_proba(texts[i:i + batch]) for i in range(0, len(texts), batch)])
    return scores, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transformer-limit", type=int, default=None,
                        help="score only this many headlines with the transformer (default: all)")
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    if not RSS_WORLD.exists():
        print(f"skip: {RSS_WORLD} not found (../shared/realdata is absent)")
        return
    titles = [item["title"] for item in rss_items() if item.get("title")]
    rows, rng = [], random.Random(7)
    for kind, model_dir in DEFAULT_MODELS.items():
        if not (model_dir / "meta.json").exists():
            print(f"skip {kind}: no model at {model_dir}")
            continue
        model = scamlens.load(model_dir)
        texts = titles if kind == "tfidf" or args.transformer_limit is None else titles[:args.transformer_limit]
        scores, seconds = score(model, texts)
        flagged = scores >= model.thresholds
        row = {"model": kind, "headlines": len(texts), "seconds": round(seconds, 1), "headlines_per_s": len(texts) / seconds,
               "any_label_share": float(flagged.any(axis=1).mean())}
        print(f"\n### {kind}: flagged samples")
        for j, label in enumerate(model.labels):
            row[f"{label}_share"] = float(flagged[:, j].mean())
            hits = np.flatnonzero(flagged[:, j])
            print(f"\n{label}: {len(hits)} of {len(texts)} ({flagged[:, j].mean():.2%})")
            for i in rng.sample(list(hits), min(args.samples, len(hits))):
                print(f"  {scores[i, j]:.2f}  {texts[i]}")
        rows.append(row)
    columns = ["model", "headlines", "seconds", "headlines_per_s", "any_label_share"]
    columns += sorted({k for r in rows for k in r if k.endswith("_share") and k != "any_label_share"})
    report("realdata", rows, columns, source=str(RSS_WORLD.name))


if __name__ == "__main__":
    main()
