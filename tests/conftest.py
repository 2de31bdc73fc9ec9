"""Shared fixtures: a tiny labelled corpus and run configs that point at temporary folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("MLFLOW_TRACKING_URI", None)  # tests choose their own store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).with_name("fixtures")
TINY_CORPUS = FIXTURES / "tiny_corpus.jsonl"
LABELS_FILE = ROOT / "configs" / "labels.yaml"


@pytest.fixture(autouse=True, scope="session")
def _model_cache(tmp_path_factory) -> None:
    """Registry fetches land in a per-session cache, never the user's ~/.cache."""
    os.environ["SCAMLENS_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """A writable copy of the 30-example fixture corpus."""
    target = tmp_path / "corpus" / "tiny.jsonl"
    target.parent.mkdir()
    shutil.copy(TINY_CORPUS, target)
    return target


@pytest.fixture()
def baseline_config(tmp_path: Path, tiny_corpus: Path):
    """The real baseline config, shrunk to the tiny corpus and a temporary output folder."""
    from scamlens.config import load_config

    return load_config(ROOT / "configs" / "baseline.yaml", [
        f"data.source=[{tiny_corpus}]",
        f"data.labels={LABELS_FILE}",
        f"data.processed_dir={tmp_path / 'processed'}",
        f"output_dir={tmp_path / 'train'}",
        "model.min_df=1",
        "tracking.enabled=false",
    ])


@pytest.fixture(scope="session")
def trained_baseline(tmp_path_factory):
    """A baseline trained once on the tiny corpus with MLflow tracking into a temporary store."""
    from scamlens.config import load_config
    from scamlens.training import train

    out = tmp_path_factory.mktemp("baseline")
    config = load_config(ROOT / "configs" / "baseline.yaml", [
        f"data.source=[{TINY_CORPUS}]", f"data.labels={LABELS_FILE}", f"output_dir={out}",
        "model.min_df=1", "tracking.registered_model=tiny-baseline",
    ])
    return config, train(config)


@pytest.fixture(scope="session")
def trained_tiny_transformer(tmp_path_factory):
    """The real transformer config, trained briefly on the tiny corpus from a tiny offline BERT."""
    from scamlens.config import load_config
    from scamlens.training import train

    from .tiny_bert import build_tiny_bert

    base = build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
    out = tmp_path_factory.mktemp("transformer")
    config = load_config(ROOT / "configs" / "transformer.yaml", [
        f"data.source=[{TINY_CORPUS}]", f"data.labels={LABELS_FILE}", f"output_dir={out}",
        f"model.base_model={base}", "model.epochs=3", "model.batch_size=8", "model.max_train_steps=null",
        "model.learning_rate=0.001", "tracking.registered_model=tiny-transformer",
    ])
    return config, train(config)
