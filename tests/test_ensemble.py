"""The ensemble kind: members' calibrated probabilities mixed with weights chosen on validation, saved
as a self-contained folder that loads, predicts with its members' evidence, registers and exports."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

import scamlens
from scamlens.config import load_config
from scamlens.kinds.ensemble import weight_grid
from scamlens.runtime.errors import InputError
from scamlens.runtime.folder import write_manifest

from .conftest import LABELS_FILE, ROOT, TINY_CORPUS

TEXTS = ["Immigration removed forty workers after the raid on the scam compound.",
         "Rain flooded the coast road.", ""]


def ensemble_config(out: Path, members: list[Path], *extra: str):
    """configs/ensemble.yaml with the baseline config's data section (what the members trained on)."""
    raw = yaml.safe_load((ROOT / "configs" / "ensemble.yaml").read_text())
    raw["data"] = yaml.safe_load((ROOT / "configs" / "baseline.yaml").read_text())["data"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "ensemble.yaml").write_text(yaml.safe_dump(raw))
    return load_config(out / "ensemble.yaml", [
        f"data.source=[{TINY_CORPUS}]", f"data.labels={LABELS_FILE}", f"output_dir={out}",
        f"model.members=[{', '.join(str(m) for m in members)}]", "tracking.registered_model=tiny-ensemble", *extra])


@pytest.fixture(scope="module")
def trained_ensemble(trained_baseline, trained_tiny_transformer, tmp_path_factory):
    from scamlens.training import train

    members = [trained_baseline[1].best_dir, trained_tiny_transformer[1].best_dir]
    return train(ensemble_config(tmp_path_factory.mktemp("ensemble"), members)), members


def test_weight_grid_covers_the_simplex_in_steps():
    assert weight_grid(2, 0.25) == [(0.0, 1.0), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (1.0, 0.0)]
    assert len(weight_grid(2, 0.1)) == 11 and len(weight_grid(3, 0.5)) == 6
    assert all(abs(sum(w) - 1) < 1e-9 for w in weight_grid(3, 0.1))


def test_ensemble_trains_saves_loads_and_mixes_its_members(trained_ensemble):
    result, member_dirs = trained_ensemble
    folder = result.best_dir
    record = json.loads((folder / "classifier.json").read_text())
    assert record["kind"] == "ensemble"
    assert [m["dir"] for m in record["settings"]["members"]] == ["members/0-baseline", "members/1-transformer"]
    weights = record["settings"]["weights"]
    assert tuple(weights) in weight_grid(2, 0.1)
    assert (folder / "members" / "1-transformer" / "encoder").is_dir()

    model = scamlens.load(folder)  # checks the ensemble's manifest and each member's own
    members = [scamlens.load(d) for d in member_dirs]
    expected = sum(w * m.predict_proba(TEXTS) for w, m in zip(weights, members, strict=True))
    np.testing.assert_allclose(model.predict_proba(TEXTS), expected, atol=1e-6)
    assert model.predict_proba("")[0] == 0

    prediction = model.predict(TEXTS[0])
    for name, chunks in prediction["evidence"].items():
        assert name in prediction["labels"]
        assert all(c["member"] in {"baseline", "transformer"} and c["text"] == TEXTS[0][c["start"]:c["end"]] for c in chunks)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["kind"] == "ensemble" and "ensemble weights" in meta["classifier"]
    card = (folder / "README.md").read_text()
    assert "ensemble weights: baseline (tfidf)" in card
    assert meta["chunking"]["chunk_long_texts"] is False and "cut into chunks by each member" in card
    assert result.registered_version == "1"


def test_ensemble_overrides_reach_its_members(trained_ensemble):
    folder = trained_ensemble[0].best_dir
    model = scamlens.load(folder, pooling="noisy_or", fast_path="int8")
    assert all(m.classifier.pooling["method"] == "noisy_or" for m in model.classifier.members)
    assert model.classifier.members[1].classifier.fast_path_mode == "int8"
    from scamlens.info import model_info

    info = model_info(model)
    assert [m["kind"] for m in info["members"]] == ["tfidf", "transformer"]
    assert info["members"][1]["fast_path"]["chosen"] == "int8"


def test_ensemble_export_needs_the_union_of_its_members_requirements(trained_ensemble, tmp_path):
    from scamlens.export import stage_package
    from scamlens.kinds import folder_extras

    kind, dependencies = stage_package(trained_ensemble[0].best_dir, "mix_themes", "0.1.0", tmp_path)
    assert kind == "ensemble"
    assert [d.split("=")[0].rstrip(">") for d in dependencies] == [
        "numpy", "sentencex", "torch", "transformers", "safetensors", "tokenizers"]
    assert folder_extras(trained_ensemble[0].best_dir) == ["transformer"]


def test_ensemble_refuses_members_of_another_corpus_or_label_set(trained_baseline, trained_tiny_transformer, tmp_path):
    from scamlens.training import train

    stranger = tmp_path / "stranger"
    shutil.copytree(trained_baseline[1].best_dir, stranger)
    meta = json.loads((stranger / "meta.json").read_text())
    meta["corpus_fingerprint"] = "f" * 64
    (stranger / "meta.json").write_text(json.dumps(meta))
    write_manifest(stranger)
    members = [stranger, trained_tiny_transformer[1].best_dir]
    with pytest.raises(InputError, match=r"ensemble member .*stranger was trained on corpus ffffffffffffffff"):
        train(ensemble_config(tmp_path / "out", members, "tracking.enabled=false"))


@pytest.mark.slow
def test_ensemble_wheel_installs_and_scores_like_the_python_api(trained_ensemble, tmp_path):
    from .test_export import _export_and_install

    folder = trained_ensemble[0].best_dir
    result, python = _export_and_install(folder, "mix_themes", "0.1.0", tmp_path)
    code = ("import json, sys, mix_themes; m = mix_themes.load();"
            "print(json.dumps(m.predict_proba(json.loads(sys.argv[1])).tolist()))")
    out = subprocess.run([python, "-c", code, json.dumps(TEXTS)], capture_output=True, text=True, check=True, cwd=tmp_path)
    np.testing.assert_allclose(json.loads(out.stdout.strip().splitlines()[-1]), scamlens.load(folder).predict_proba(TEXTS),
                               rtol=1e-5, atol=1e-6)


def test_registered_ensemble_loads_from_the_registry_as_one_model(trained_ensemble):
    from scamlens.fetch import download_model
    from scamlens.tracking import resolve_uri

    result = trained_ensemble[0]
    uri = resolve_uri(None, result.run_dir.parent)
    model = scamlens.load(download_model(f"models:/tiny-ensemble/{result.registered_version}", uri))
    assert model.meta["kind"] == "ensemble" and len(model.classifier.members) == 2
    np.testing.assert_allclose(model.predict_proba(TEXTS), scamlens.load(result.best_dir).predict_proba(TEXTS), atol=1e-6)


class _Scores:
    """A stand-in member: fixed probabilities for the texts it was built with."""

    def __init__(self, labels, rows):
        self.labels, self.rows, self.meta = labels, np.asarray(rows, dtype=np.float32), {}

    def predict_proba(self, texts):
        return self.rows[: len(texts)]


def test_per_label_weights_let_each_label_follow_the_member_that_ranks_it(tmp_path):
    from scamlens.kinds import TrainContext
    from scamlens.kinds.ensemble import EnsembleConfig, EnsembleTrainer
    from scamlens.runtime.classifier import LabelledTexts

    # Member a ranks label x perfectly and label y backwards; member b the reverse. No single weighting
    # separates both labels (x needs a's weight above 0.54, y below 0.46); one per label does, and the
    # tie among perfect weightings goes to the one nearest equal weights: 0.6 for the member that ranks.
    labels = ["x", "y"]
    a = _Scores(labels, [[0.9, 0.9], [0.8, 0.8], [0.2, 0.2], [0.1, 0.1]])
    b = _Scores(labels, [[0.1, 0.1], [0.2, 0.2], [0.9, 0.9], [0.8, 0.8]])
    validation = LabelledTexts(["t1", "t2", "t3", "t4"], np.array([[1, 0], [1, 0], [0, 1], [0, 1]]))

    def trained(per_label: bool) -> EnsembleTrainer:
        config = EnsembleConfig(members=["a", "b"], per_label_weights=per_label)
        trainer = EnsembleTrainer(labels, config, TrainContext(seed=0, run_dir=tmp_path))
        trainer.load_members = lambda: setattr(trainer, "members", [a, b]) or setattr(trainer, "names", ["a", "b"])
        return trainer.fit(validation, validation)

    per_label = trained(True)
    assert per_label.weights == [[0.6, 0.4], [0.4, 0.6]]
    assert per_label.describe() == {"ensemble weights": "a (None) 0.6/0.4, b (None) 0.4/0.6"}
    shared = trained(False)
    assert isinstance(shared.weights[0], float) and abs(sum(shared.weights) - 1) < 1e-9
    assert max(r["val_macro_f1"] for r in shared.weight_search) < 1.0

    # live_members hands each member's weights out per label, so a mix weighs each column by its own.
    mixed = np.asarray(per_label.weights[0]) * a.rows + np.asarray(per_label.weights[1]) * b.rows
    for _, member, weight in per_label.live_members():
        mixed -= weight * member.rows
    np.testing.assert_allclose(mixed, 0, atol=1e-6)


def test_saved_per_label_weights_load_mix_by_column_and_must_fit_the_labels(trained_ensemble, tmp_path):
    folder = tmp_path / "per-label"
    shutil.copytree(trained_ensemble[0].best_dir, folder)
    record = json.loads((folder / "classifier.json").read_text())
    members = [scamlens.load(d) for d in trained_ensemble[1]]
    n = len(members[0].labels)
    first = [1.0] + [0.0] * (n - 1)  # label 0 from the baseline alone, the rest from the transformer
    record["settings"]["weights"] = [first, [1 - w for w in first]]
    (folder / "classifier.json").write_text(json.dumps(record))
    write_manifest(folder)
    expected = members[1].predict_proba(TEXTS)
    expected[:, 0] = members[0].predict_proba(TEXTS)[:, 0]
    np.testing.assert_allclose(scamlens.load(folder).predict_proba(TEXTS), expected, atol=1e-6)

    record["settings"]["weights"] = [[1.0], [0.0]]
    (folder / "classifier.json").write_text(json.dumps(record))
    write_manifest(folder)
    with pytest.raises(InputError, match=r"member baseline has 1 weights for \d labels"):
        scamlens.load(folder)
