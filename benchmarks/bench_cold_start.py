"""Cold start of the exported predict() packages: a new process imports, loads and predicts once.

Usage: python benchmarks/bench_cold_start.py [--runs 5]
Each run is a fresh interpreter in the package's own virtualenv; the wall time includes interpreter
start-up. Goals: baseline under 1 s, transformer under 5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

from common import DEFAULT_MODELS, installed_package, report

PROBE = """
import json, time
t0 = time.perf_counter()
import {name}
t1 = time.perf_counter()
model = {name}.load()
t2 = time.perf_counter()
{name}.predict("Cambodia deported 312 Chinese nationals suspected of online scams on a special flight.")
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2,
                  "peak_rss_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024}}))
"""
GOALS = {"tfidf": 1.0, "transformer": 5.0}


def measure(kind: str, runs: int) -> dict | None:
    model_dir = DEFAULT_MODELS[kind]
    if not (model_dir / "meta.json").exists():
        print(f"skip {kind}: no model at {model_dir} (run `make train`)")
        return None
    name = f"scamlens_{kind}_bench"
    python = installed_package(model_dir, name)
    walls, inner = [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([python, "-c", PROBE.format(name=name)], capture_output=True, text=True, check=True, cwd="/")
        walls.append(time.perf_counter() - started)
        inner.append(json.loads(out.stdout))
    median = statistics.median(walls)
    return {
        "package": kind, "runs": runs, "cold_start_median_s": median, "cold_start_min_s": min(walls),
        "import_s": statistics.median(r["import_s"] for r in inner),
        "load_s": statistics.median(r["load_s"] for r in inner),
        "first_predict_s": statistics.median(r["first_predict_s"] for r in inner),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in inner),
        "goal_s": GOALS[kind], "meets_goal": median < GOALS[kind],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = [r for r in (measure(k, args.runs) for k in DEFAULT_MODELS) if r]
    report("cold_start", rows, ["package", "cold_start_median_s", "cold_start_min_s", "import_s", "load_s",
                                "first_predict_s", "peak_rss_mb", "goal_s", "meets_goal"])


if __name__ == "__main__":
    main()
