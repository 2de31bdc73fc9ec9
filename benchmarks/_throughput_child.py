"""One contender of bench_inference.py, run in its own process so peak memory is its own.

argv: contender model_dir texts.json time_cap_seconds. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory (VmHWM: unlike ru_maxrss it is not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def baseline_package(model_dir: Path):
    import scamlens_tfidf_bench as package

    model = package.load()
    return model.predict_proba


def transformer_package(model_dir: Path, fast_path: str | None = None):
    """The exported package as shipped, or with its CPU fast path forced to "none", "int8" or "bf16"."""
    import scamlens_transformer_bench as package

    model = package.load()
    if fast_path is not None:
        model.classifier.set_fast_path(fast_path)
    return model.predict_proba


def ensemble_package(model_dir: Path):
    """The exported ensemble package: both members, each on its own runtime, one weighted mean."""
    import scamlens_ensemble_bench as package

    return package.load().predict_proba


def sklearn_pipeline(model_dir: Path):
    """The same model as the baseline, fitted and run through scikit-learn's own objects."""
    import yaml
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline, make_union

    from scamlens.config import parse_config
    from scamlens.data.dataset import build_corpus
    from scamlens.data.labels import LabelSet

    config = parse_config(yaml.safe_load((model_dir / "config.yaml").read_text()))
    m = config.model
    labels = LabelSet(tuple(json.loads((model_dir / "meta.json").read_text())["labels"]))
    rows = build_corpus(config.data, labels).rows("train")
    common = {"min_df": m.min_df, "max_df": m.max_df, "sublinear_tf": m.sublinear_tf}
    pipeline = make_pipeline(
        make_union(TfidfVectorizer(ngram_range=m.word_ngrams, max_features=m.max_word_features, **common),
                   TfidfVectorizer(analyzer="char_wb", ngram_range=m.char_ngrams, max_features=m.max_char_features, **common)),
        OneVsRestClassifier(LogisticRegression(C=m.C, class_weight=m.class_weight, max_iter=m.max_iter)),
    )
    pipeline.fit([e.text for e in rows], labels.encode_many([e.labels for e in rows]))
    return pipeline.predict_proba


def hf_pipeline(model_dir: Path):
    from transformers import pipeline

    encoder = next(p.parent for p in model_dir.rglob("config.json"))
    classify = pipeline("text-classification", model=str(encoder), tokenizer=str(encoder), top_k=None,
                        function_to_apply="sigmoid", device=-1)
    return lambda batch: classify(batch, batch_size=len(batch), truncation=True)


CONTENDERS = {"baseline-package": baseline_package, "transformer-package": transformer_package,
              "ensemble-package": ensemble_package,
              "transformer-package-fp32": lambda d: transformer_package(d, "none"),
              "transformer-package-int8": lambda d: transformer_package(d, "int8"),
              "transformer-package-bf16": lambda d: transformer_package(d, "bf16"),
              "sklearn-pipeline": sklearn_pipeline, "hf-pipeline": hf_pipeline}


def throughput(predict, texts: list[str], batch: int, time_cap: float) -> dict:
    predict(texts[:batch])  # warm-up: first-call allocations and lazy imports are not throughput
    done, started = 0, time.perf_counter()
    while done < len(texts) and time.perf_counter() - started < time_cap:
        predict(texts[done:done + batch])
        done += len(texts[done:done + batch])
    seconds = time.perf_counter() - started
    return {"batch": batch, "texts_per_s": done / seconds, "measured_texts": done, "seconds": round(seconds, 2)}


def main() -> None:
    contender, model_dir, texts_file, time_cap = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    predict = CONTENDERS[contender](model_dir)
    texts = json.loads(texts_file.read_text())
    measurements = []
    for name, batch_texts in texts.items():
        for batch in (1, 32):
            measurements.append({"texts": name, **throughput(predict, batch_texts, batch, time_cap)})
    print(json.dumps({"measurements": measurements, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
