"""Classifier kinds are plug-ins: a toy kind installed from outside scamlens (an entry point in a
dist-info folder on sys.path) trains, saves, loads, exports and scores with no edit to scamlens."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

import scamlens
from scamlens.config import ConfigError, load_config

from .conftest import LABELS_FILE, TINY_CORPUS

TOY_MODULE = '''
"""A toy kind: a label is on when the text holds a word seen only in that label's training texts."""
import json, re
from typing import Literal

import numpy as np

from scamlens.config import KindConfig
from scamlens.kinds import Kind
from scamlens.runtime.classifier import Classifier

WORD = re.compile(r"[a-z]+")


class ToyConfig(KindConfig):
    kind: Literal["toy"] = "toy"
    hit_score: float = 0.9


class ToyPredictor(Classifier):
    kind = "toy"

    def __init__(self, labels, words=None, hit_score=0.9):
        super().__init__(labels, max_tokens=64, whole_text_words=64)
        self.words, self.hit_score = words or [[] for _ in labels], hit_score

    def score_texts(self, texts):
        out = np.full((len(texts), len(self.labels)), 1 - self.hit_score, dtype=np.float32)
        for i, text in enumerate(texts):
            found = set(WORD.findall(text.lower()))
            for j, words in enumerate(self.words):
                if found & set(words):
                    out[i, j] = self.hit_score
        return out

    def count_tokens(self, text):
        return len(WORD.findall(text))

    def _save_weights(self, folder):
        (folder / "toy_words.json").write_text(json.dumps(self.words))
        return {"hit_score": self.hit_score}

    @classmethod
    def _load_weights(cls, folder, settings, device):
        return cls(["_"], json.loads((folder / "toy_words.json").read_text()), settings["hit_score"])


class ToyTrainer(ToyPredictor):
    def fit(self, train, validation=None, log_metrics=None):
        bags = [set(WORD.findall(t.lower())) for t in train.texts]
        for j in range(len(self.labels)):
            inside = set().union(*(b for b, y in zip(bags, train.y[:, j]) if y)) if train.y[:, j].any() else set()
            outside = set().union(*(b for b, y in zip(bags, train.y[:, j]) if not y))
            self.words[j] = sorted(inside - outside)
        return self


def build(config, labels, context):
    return ToyTrainer(labels, hit_score=config.hit_score)


KIND = Kind(name="toy", config=ToyConfig, trainer=build, predictor=ToyPredictor,
            requirements=("numpy", "toykind"), versions=("numpy",))
'''


@pytest.fixture()
def toy_installed(tmp_path: Path, monkeypatch):
    """The toy kind as an installed distribution would be: a module and a dist-info with its entry point."""
    site = tmp_path / "site"
    (site / "toykind-0.1.dist-info").mkdir(parents=True)
    (site / "toykind.py").write_text(TOY_MODULE)
    (site / "toykind-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: toykind\nVersion: 0.1\n")
    (site / "toykind-0.1.dist-info" / "entry_points.txt").write_text("[scamlens.kinds]\ntoy = toykind:KIND\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    import sys

    sys.modules.pop("toykind", None)


def toy_config(tmp_path: Path, *extra: str):
    raw = {"name": "toy", "model": {"kind": "toy", "hit_score": 0.8}}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path, [f"data.source=[{TINY_CORPUS}]", f"data.labels={LABELS_FILE}",
                              f"output_dir={tmp_path / 'train'}", "tracking.enabled=false", *extra])


def test_a_toy_kind_from_outside_trains_saves_loads_exports_and_scores(toy_installed, tmp_path: Path) -> None:
    from scamlens.batch import score
    from scamlens.export import export_model
    from scamlens.training import train

    config = toy_config(tmp_path)
    assert type(config.model).__name__ == "ToyConfig" and config.model.hit_score == 0.8
    result = train(config)
    model = scamlens.load(result.best_dir)  # found through the entry point, not registered by hand
    assert type(model.classifier).__name__ == "ToyPredictor"
    assert model.meta["kind"] == "toy" and model.meta["settings"] == {"hit_score": 0.8}
    texts = ["Police raided the compound", "The weather was mild"]
    np_scores = model.predict_proba(texts)
    assert {round(float(s), 3) for s in np_scores.ravel()} <= {0.2, 0.8}

    exported = export_model(result.best_dir, "toy_themes", "0.0.1", tmp_path / "wheels")
    assert exported.kind == "toy" and exported.dependencies[-1] == "toykind>=0.1"
    names = zipfile.ZipFile(exported.wheel).namelist()
    assert "toy_themes/_runtime/model.py" in names and "toy_themes/model/toy_words.json" in names

    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "Police raided the compound"}\n{"text": "The weather was mild"}\n')
    scored = score(result.best_dir, source, tmp_path / "scores", progress=False)
    assert scored.rows == 2 and scored.errors == 0
    table = pq.read_table(tmp_path / "scores")
    assert table.column("score_scam_operation").to_pylist() == pytest.approx(np_scores[:, 0].tolist())


def test_a_toy_kinds_schema_rejects_its_unknown_settings_by_name(toy_installed, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.toy\.hit_scroe: Extra inputs are not permitted"):
        toy_config(tmp_path, "model.hit_scroe=1")


def test_an_unknown_kind_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown classifier kind 'toy'; known kinds: ensemble, tfidf, transformer"):
        toy_config(tmp_path)
