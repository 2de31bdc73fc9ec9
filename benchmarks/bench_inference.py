"""CPU inference throughput and peak memory of the exported packages and the peers a user would use.

Usage: python benchmarks/bench_inference.py [--headlines 2000] [--articles 64] [--time-cap 25]

Contenders, each measured in its own process on the same texts:
- baseline-package: the exported TF-IDF package (numpy runtime, no scikit-learn);
- sklearn-pipeline: scikit-learn TfidfVectorizer (word + char_wb) + LogisticRegression per label,
  fitted on the same training split with the same settings;
- transformer-package: the exported fine-tuned transformer package (CPU, the fast path chosen at
  training), and the same package forced to each other variant (fp32, int8, bf16) to show what each is worth;
- hf-pipeline: transformers.pipeline("text-classification", top_k=None) over the same weights;
- ensemble-package: the exported ensemble of the two (when train/ensemble/model-best exists), beside its members.
The transformer's fast path is the one chosen at load on this machine (`scamlens info` shows it).
Texts: headlines, and articles cut to exactly 400 words; batch sizes 1 and 32.
Goals: baseline >= 5,000 headlines/s; transformer package >= 2x the pipeline on 400-word articles.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import DEFAULT_MODELS, ROOT, articles, headlines, installed_package, report

CHILD = Path(__file__).with_name("_throughput_child.py")


def run_child(python: Path, contender: str, model_dir: Path, texts_file: Path, time_cap: float) -> dict:
    out = subprocess.run([str(python), str(CHILD), contender, str(model_dir), str(texts_file), str(time_cap)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{contender} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headlines", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=64)
    parser.add_argument("--time-cap", type=float, default=25.0, help="seconds per (contender, text set, batch)")
    args = parser.parse_args()
    heads, head_source = headlines(args.headlines)
    arts, art_source = articles(args.articles)
    texts_file = Path(tempfile.mkdtemp()) / "texts.json"
    texts_file.write_text(json.dumps({"headlines": heads, "articles_400w": arts}))
    main_python = Path(sys.executable)
    shipped_mode = None
    plan = []
    if (DEFAULT_MODELS["tfidf"] / "meta.json").exists():
        plan += [("baseline-package", installed_package(DEFAULT_MODELS["tfidf"], "scamlens_tfidf_bench"), DEFAULT_MODELS["tfidf"]),
                 ("sklearn-pipeline", main_python, DEFAULT_MODELS["tfidf"])]
    if (DEFAULT_MODELS["transformer"] / "meta.json").exists():
        package_python = installed_package(DEFAULT_MODELS["transformer"], "scamlens_transformer_bench")
        import scamlens

        chosen = scamlens.load(DEFAULT_MODELS["transformer"]).classifier.fast_path_mode
        shipped_mode = "fp32" if chosen == "none" else chosen
        print(f"fast path chosen at load on this machine: {shipped_mode}", file=sys.stderr)
        plan += [("transformer-package", package_python, DEFAULT_MODELS["transformer"])]
        plan += [(f"transformer-package-{mode}", package_python, DEFAULT_MODELS["transformer"])
                 for mode in ("fp32", "int8", "bf16") if mode != shipped_mode]
        plan += [("hf-pipeline", main_python, DEFAULT_MODELS["transformer"])]
    ensemble = ROOT / "train" / "ensemble" / "model-best"
    if (ensemble / "meta.json").exists():
        plan += [("ensemble-package", installed_package(ensemble, "scamlens_ensemble_bench"), ensemble)]
    rows = []
    for contender, python, model_dir in plan:
        result = run_child(python, contender, model_dir, texts_file, args.time_cap)
        for measurement in result["measurements"]:
            rows.append({"contender": contender, **measurement, "peak_rss_mb": result["peak_rss_mb"]})
        print(f"measured {contender}", file=sys.stderr)

    def rate(contender: str, texts: str, batch: int) -> float | None:
        return next((r["texts_per_s"] for r in rows if (r["contender"], r["texts"], r["batch"]) == (contender, texts, batch)), None)

    ratios = {}
    for texts in ("headlines", "articles_400w"):
        for batch in (1, 32):
            for ours, peer in (("baseline-package", "sklearn-pipeline"), ("transformer-package", "hf-pipeline")):
                a, b = rate(ours, texts, batch), rate(peer, texts, batch)
                if a and b:
                    ratios[f"{ours}/{peer} {texts} batch {batch}"] = round(a / b, 2)
    goals = {}
    baseline_heads = rate("baseline-package", "headlines", 32)
    if baseline_heads:
        goals["baseline >= 5000 headlines/s (batch 32)"] = baseline_heads >= 5000
    ratio = ratios.get("transformer-package/hf-pipeline articles_400w batch 32")
    if ratio:
        goals["transformer package >= 2x pipeline on 400-word articles (batch 32)"] = ratio >= 2
    report("inference", rows, ["contender", "texts", "batch", "texts_per_s", "measured_texts", "seconds", "peak_rss_mb"],
           ratios=ratios, goals=goals, sources={"headlines": head_source, "articles": art_source},
           shipped_fast_path=shipped_mode)
    for key, value in {**ratios, **goals}.items():
        print(f"- {key}: {value}")


if __name__ == "__main__":
    main()
