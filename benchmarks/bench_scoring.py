"""Batch scoring of the 171,739 real 2023 world-news headlines with both engines: rows per second.

Usage: python benchmarks/bench_scoring.py [--master local[2]] [--batch-size 256] [--no-evidence]
Scores rss2023_world_feeds.jsonl.gz (the `title` field) with the baseline at train/baseline/model-best
through `scamlens.batch.score`, engine "local" then "spark", into a temporary folder outside the
repository (the outputs quote the headlines) that is deleted afterwards; the JSON keeps timings and
counts, never text. Skips cleanly without realdata or the model.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import DEFAULT_MODELS, RSS_WORLD, peak_rss_mb, report

from scamlens.batch import LABELS_COLUMN, score
from scamlens.batch.spark import spark_session


def flagged(output) -> dict[str, int]:
    """Rows per predicted label, to check that both engines agree."""
    import pyarrow.parquet as pq

    counts = Counter(label for labels in pq.read_table(output, columns=[LABELS_COLUMN]).column(0).to_pylist()
                     for label in labels or [])
    return dict(sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--no-evidence", action="store_true")
    args = parser.parse_args()
    model_dir = DEFAULT_MODELS["tfidf"]
    if not RSS_WORLD.exists():
        print(f"skip: {RSS_WORLD} not found (../shared/realdata is absent)")
        return
    if not (model_dir / "meta.json").exists():
        print(f"skip: no model at {model_dir} "
              "(train it: scamlens train configs/baseline.yaml --set tracking.enabled=false)")
        return
    with tempfile.TemporaryDirectory(prefix="scamlens-bench-scoring-") as work:
        run(args, model_dir, Path(work))


def run(args: argparse.Namespace, model_dir: Path, work: Path) -> None:
    common = {"text_column": "title", "batch_size": args.batch_size, "evidence": not args.no_evidence}
    rows = []

    rss_before = peak_rss_mb()
    local = score(model_dir, RSS_WORLD, work / "scoring-local", engine="local", **common)
    rows.append({"engine": "local", "rows": local.rows, "not_scored": local.errors, "seconds": round(local.seconds, 1),
                 "rows_per_s": local.rows_per_second, "startup_s": 0.0, "peak_rss_mb": round(peak_rss_mb(), 0),
                 "rss_before_mb": round(rss_before, 0)})

    started = time.perf_counter()
    conf = {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "2"}
    with spark_session(args.master, conf):
        startup = time.perf_counter() - started
        # The first job of a session also pays for JIT warm-up and starting the Python workers.
        for attempt in ("first run", "second run"):
            spark = score(model_dir, RSS_WORLD, work / "scoring-spark", engine="spark", master=args.master, **common)
            rows.append({"engine": f"spark {args.master}, {attempt}", "rows": spark.rows, "not_scored": spark.errors,
                         "seconds": round(spark.seconds, 1), "rows_per_s": spark.rows_per_second,
                         "startup_s": round(startup, 1) if attempt == "first run" else 0.0})

    agree = flagged(work / "scoring-local") == flagged(work / "scoring-spark")
    columns = ["engine", "rows", "not_scored", "seconds", "rows_per_s", "startup_s", "rss_before_mb", "peak_rss_mb"]
    report("scoring", rows, columns,
           source=RSS_WORLD.name, model=str(model_dir.relative_to(model_dir.parents[2])),
           batch_size=args.batch_size, evidence=not args.no_evidence, engines_agree_on_labels=agree,
           flagged_per_label=flagged(work / "scoring-local"),
           note="seconds: the score() call (reading, scoring, writing Parquet, the summary); Spark's "
                "startup_s (JVM and session) is extra; rss_before_mb / peak_rss_mb: this process's peak "
                "resident memory before and after the local run", cpus=os.cpu_count())


if __name__ == "__main__":
    main()
