"""scamlens.load and Model.predict: input checks, evidence, integrity, and no heavy imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scamlens
from scamlens.runtime.folder import IntegrityError


@pytest.fixture(scope="module")
def model_dir(trained_baseline) -> Path:
    return trained_baseline[1].best_dir


@pytest.fixture(scope="module")
def model(model_dir: Path) -> scamlens.Model:
    return scamlens.load(model_dir)


def test_predict_returns_labels_scores_and_evidence(model: scamlens.Model) -> None:
    text = "Troops stormed the compound, detained its managers and took captive workers to a reception centre."
    prediction = model.predict(text)
    assert set(prediction) == {"labels", "scores", "evidence"}
    assert list(prediction["scores"]) == list(model.labels)
    assert all(0.0 <= s <= 1.0 for s in prediction["scores"].values())
    expected = [n for n, t in zip(model.labels, model.thresholds, strict=True) if prediction["scores"][n] >= t]
    assert prediction["labels"] == expected
    assert set(prediction["evidence"]) == set(prediction["labels"])
    for chunks in prediction["evidence"].values():
        for chunk in chunks:
            assert text[chunk["start"]:chunk["end"]] == chunk["text"]


def test_single_string_and_list_agree(model: scamlens.Model) -> None:
    texts = ["Forty overstayers expelled to Nepal", "Flood victims received rice."]
    batch = model.predict(texts)
    assert isinstance(batch, list) and len(batch) == 2
    assert model.predict(texts[0]) == batch[0]
    np.testing.assert_array_equal(model.predict_proba(texts[1]), model.predict_proba(texts)[1])


def test_empty_and_blank_texts_get_no_labels(model: scamlens.Model) -> None:
    for prediction in model.predict(["", "   \n\t"]):
        assert prediction["labels"] == [] and prediction["evidence"] == {}
        assert set(prediction["scores"].values()) == {0.0}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "texts must be a str or a sequence of str, got NoneType"),
        (b"bytes", "texts must be a str or a sequence of str, got bytes"),
        (42, "got int"),
        (["ok", None], r"texts\[1\] is NoneType, expected str"),
        (["ok", b"raw"], r"texts\[1\] is bytes, expected str; decode bytes to str first"),
        ([3.5], r"texts\[0\] is float"),
    ],
)
def test_bad_input_gets_a_clear_type_error(model: scamlens.Model, bad, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        model.predict(bad)
    with pytest.raises(TypeError, match=message):
        model.predict_proba(bad)


def test_registry_uri_and_folder_give_identical_scores(trained_baseline, model: scamlens.Model) -> None:
    config, result = trained_baseline
    from scamlens.tracking import resolve_uri

    texts = ["Sixty Indonesians detained pending removal.", "The airport opened a new terminal.", ""]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", resolve_uri(config.tracking, config.output_dir))
        from_registry = scamlens.load("models:/tiny-baseline@challenger")
    np.testing.assert_array_equal(from_registry.predict_proba(texts), model.predict_proba(texts))


def test_a_tampered_weight_file_is_refused_by_name(model_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(model_dir, tmp_path / "m")
    arrays = copy / "tfidf_arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[-10] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"tfidf_arrays\.npz: sha256 does not match"):
        scamlens.load(copy)
    arrays.write_bytes(bytes(data[:100]))
    with pytest.raises(IntegrityError, match=r"tfidf_arrays\.npz: size 100 bytes"):
        scamlens.load(copy)


def test_an_extra_file_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(model_dir, tmp_path / "m")
    (copy / "payload.pkl").write_bytes(b"\x80\x04.")
    with pytest.raises(IntegrityError, match="payload.pkl: not listed in the manifest"):
        scamlens.load(copy)


def test_bad_device_and_missing_folder(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="device must be"):
        scamlens.load(model_dir, device="tpu")
    with pytest.raises(FileNotFoundError):
        scamlens.load(tmp_path / "nothing")


def test_loading_a_baseline_imports_no_heavy_library(model_dir: Path) -> None:
    code = (
        "import sys, scamlens; m = scamlens.load(sys.argv[1]); m.predict(['a raid on a compound']);"
        "print([n for n in ('mlflow', 'torch', 'transformers', 'sklearn', 'datasets') if n in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(model_dir)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_model_folder_describes_itself(model_dir: Path) -> None:
    meta = json.loads((model_dir / "meta.json").read_text())
    for key in ("kind", "labels", "thresholds", "metrics", "versions", "corpus_fingerprint", "mlflow"):
        assert key in meta
    assert set(meta["metrics"]) == {"validation", "test"}
    assert meta["mlflow"]["run_id"]
    card = (model_dir / "README.md").read_text()
    assert meta["corpus_fingerprint"] in card and "## Metrics on the test split" in card
    assert (model_dir / "config.yaml").exists() and (model_dir.parent / "model-last" / "meta.json").exists()


def test_transformer_from_registry_and_folder_give_identical_scores(trained_tiny_transformer) -> None:
    from scamlens.tracking import resolve_uri

    config, result = trained_tiny_transformer
    folder = scamlens.load(result.best_dir)
    assert folder.meta["kind"] == "transformer"
    assert all(p.device.type == "cpu" for p in folder.classifier.model.parameters())
    texts = ["Officials flew the freed workers home and offered counselling.", ""]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", resolve_uri(config.tracking, config.output_dir))
        registry = scamlens.load("models:/tiny-transformer@challenger")
    np.testing.assert_array_equal(registry.predict_proba(texts), folder.predict_proba(texts))
