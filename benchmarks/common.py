"""Shared pieces of the benchmark scripts: text samples, installed packages, and result tables.

Real text comes from ../shared/realdata when present (throughput and false-positive measurements
only; nothing from it is stored in the project); otherwise the bundled corpus stands in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / ".work"
REALDATA = Path(os.environ.get("SCAMLENS_REALDATA", ROOT.parent / "shared" / "realdata"))
RSS_WORLD = REALDATA / "RSS-Link-Database-2023" / "rss2023_world_feeds.jsonl.gz"
LONG_NEWS = REALDATA / "news_long_lk" / "news_long_lk_en.jsonl.gz"
DEFAULT_MODELS = {"tfidf": ROOT / "train" / "baseline" / "model-best",
                  "transformer": ROOT / "train" / "transformer" / "model-best"}


def corpus_rows() -> list[dict]:
    rows = []
    for path in sorted((ROOT / "data" / "corpus").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def rss_items() -> list[dict]:
    with gzip.open(RSS_WORLD, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def headlines(n: int, seed: int = 0) -> tuple[list[str], str]:
    """n headlines: real 2023 world-news titles when available, else the corpus's headlines."""
    if RSS_WORLD.exists():
        titles = [item["title"] for item in rss_items() if item.get("title")]
        source = "RSS-Link-Database-2023 titles"
    else:
        titles = [r["text"] for r in corpus_rows() if r["kind"] == "headline"]
        source = "corpus headlines"
    random.Random(seed).shuffle(titles)
    return (titles * (n // len(titles) + 1))[:n], source


def articles(n: int, words: int = 400, seed: int = 0) -> tuple[list[str], str]:
    """n texts of exactly `words` words: real long-form news when available, else corpus articles."""
    if LONG_NEWS.exists():
        with gzip.open(LONG_NEWS, "rt", encoding="utf-8") as handle:
            texts = [json.loads(line)["text"] for line in handle]
        source = "news_long_lk articles"
    else:
        texts = [" ".join(r["text"] for r in corpus_rows() if r["kind"] == "article")]
        source = "corpus articles, concatenated"
    long_enough = [t.split() for t in texts if len(t.split()) >= words] or [" ".join(texts).split()]
    random.Random(seed).shuffle(long_enough)
    chosen = []
    for i in range(n):
        tokens = long_enough[i % len(long_enough)]
        start = (i // len(long_enough)) * words % max(len(tokens) - words, 1)
        chosen.append(" ".join(tokens[start:start + words]))
    return chosen, source


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, unlike ru_maxrss, is not inherited across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def installed_package(model_dir: Path, name: str) -> Path:
    """Export `model_dir` as a wheel and install it in its own fresh virtualenv; returns its python.

    The environment is cached under benchmarks/.work/ by the digest of the model's manifest and of
    the scamlens sources the package copies, so a code change rebuilds it.
    """
    sources = sorted((ROOT / "src" / "scamlens").rglob("*.py"))
    digest = hashlib.sha256((model_dir / "manifest.json").read_bytes()
                            + b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    env_dir = WORK / f"{name}-{digest}"
    python = env_dir / "bin" / "python"
    if (env_dir / ".installed").exists():
        return python
    from scamlens.export import export_model

    wheel = export_model(model_dir, name, "1.0.0", WORK / "wheels").wheel
    venv.create(env_dir, with_pip=True, clear=True)
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)
    (env_dir / ".installed").write_text(str(wheel))
    return python


def table(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        return f"{value:,.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def report(name: str, rows: list[dict], columns: list[str], **extra) -> dict:
    """Print the table and write benchmarks/results/<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "machine": machine(), "rows": rows, **extra}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n## {name}\n")
    print(table(rows, columns))
    for key, value in extra.items():
        if not isinstance(value, dict | list):
            print(f"- {key}: {value}")
    sys.stdout.flush()
    return result
