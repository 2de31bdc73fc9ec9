"""Training time of the default configs on this machine (MLflow off, outputs in a temporary folder).

Usage: python benchmarks/bench_training.py [--retrain-transformer]
The baseline is retrained and timed here. The transformer takes up to 15 minutes, so by default its
time is read from the model-best/meta.json that `make train` wrote; --retrain-transformer retrains it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from common import DEFAULT_MODELS, ROOT, report

from scamlens.config import load_config
from scamlens.training import train


def run(config_name: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        config = load_config(ROOT / "configs" / config_name, [f"output_dir={out}", "tracking.enabled=false"])
        started = time.perf_counter()
        result = train(config)
        wall = time.perf_counter() - started
    return {"config": config_name, "fit_seconds": round(result.train_seconds, 1), "wall_seconds": round(wall, 1),
            "test_macro_f1": round(result.metrics["test"]["macro_f1"], 4), "source": "measured now"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain-transformer", action="store_true")
    args = parser.parse_args()
    rows = [run("baseline.yaml")]
    if args.retrain_transformer:
        rows.append(run("transformer.yaml"))
    elif (DEFAULT_MODELS["transformer"] / "meta.json").exists():
        meta = json.loads((DEFAULT_MODELS["transformer"] / "meta.json").read_text())
        rows.append({"config": "transformer.yaml", "fit_seconds": meta["train_seconds"], "wall_seconds": "",
                     "test_macro_f1": round(meta["metrics"]["test"]["macro_f1"], 4),
                     "source": f"meta.json of {DEFAULT_MODELS['transformer'].relative_to(ROOT)}"})
    report("training", rows, ["config", "fit_seconds", "wall_seconds", "test_macro_f1", "source"])


if __name__ == "__main__":
    main()
