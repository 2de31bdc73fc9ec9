"""Run every benchmark in turn (`make bench`): tables to stdout, JSON to benchmarks/results/.

Needs trained models (`make train`); a benchmark whose model or data is missing skips itself.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ["bench_training.py"],
    ["bench_cold_start.py"],
    ["bench_inference.py"],
    ["bench_realdev.py"],
    ["bench_realdata.py", "--transformer-limit", "20000"],
    ["bench_scoring.py"],
    ["bench_serving.py"],
]


def main() -> None:
    started = time.perf_counter()
    for script, *args in SCRIPTS:
        if not (HERE / script).exists():
            continue
        print(f"\n# {script} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / script), *args], check=True, cwd=HERE.parent)
        print(f"({script}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
