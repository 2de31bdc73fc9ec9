"""Exported packages: a wheel built by hatchling that installs and predicts in a clean environment."""

from __future__ import annotations

import json
import subprocess
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

import scamlens
from scamlens.export import export_model, stage_package


def test_staged_package_holds_model_card_runtime_and_exact_dependencies(trained_baseline, tmp_path: Path) -> None:
    model_dir = trained_baseline[1].best_dir
    kind, dependencies = stage_package(model_dir, "scam_themes", "1.0.0", tmp_path)
    assert kind == "tfidf"
    assert [d.split(">=")[0] for d in dependencies] == ["numpy", "sentencex"]
    package = tmp_path / "src" / "scam_themes"
    assert (package / "model" / "manifest.json").exists()
    assert (tmp_path / "README.md").read_text() == (model_dir / "README.md").read_text()
    assert not (package / "_runtime" / "classifiers" / "transformer.py").exists()
    assert len((package / "__init__.py").read_text().splitlines()) < 30
    pyproject = (tmp_path / "pyproject.toml").read_text()
    assert 'build-backend = "hatchling.build"' in pyproject and "torch" not in pyproject


def test_wheel_is_a_real_wheel_and_invalid_names_are_refused(trained_baseline, tmp_path: Path) -> None:
    result = export_model(trained_baseline[1].best_dir, "scam_themes", "1.2.3", tmp_path)
    assert result.wheel.name == "scam_themes-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(result.wheel) as wheel:
        names = wheel.namelist()
        metadata = wheel.read("scam_themes-1.2.3.dist-info/METADATA").decode()
    assert "scam_themes/model/tfidf_arrays.npz" in names and "scam_themes-1.2.3.dist-info/RECORD" in names
    assert "Requires-Dist: numpy" in metadata and "torch" not in metadata
    with pytest.raises(ValueError, match="lowercase Python identifier"):
        export_model(trained_baseline[1].best_dir, "Scam-Themes", "1.0.0", tmp_path)


def _fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def _export_and_install(model_dir: Path, name: str, version: str, tmp_path: Path):
    """Export `model_dir` as a wheel and pip-install it into a fresh venv; the export and its python.

    torch and friends come from this environment's wheels cache; the package itself installs normally."""
    result = export_model(model_dir, name, version, tmp_path / "dist")
    python = _fresh_venv(tmp_path / "venv")
    subprocess.run([python, "-m", "pip", "install", "-q", str(result.wheel)], check=True)
    return result, python


@pytest.mark.slow
def test_baseline_wheel_installs_and_predicts_without_torch(trained_baseline, tmp_path: Path) -> None:
    model_dir = trained_baseline[1].best_dir
    _, python = _export_and_install(model_dir, "scam_themes", "1.0.0", tmp_path)
    texts = ["Forty overstayers expelled to Nepal", "Flood victims received rice."]
    code = ("import json, sys, importlib.util, scam_themes;"
            "print(json.dumps([scam_themes.predict(t)['scores'] for t in json.loads(sys.argv[1])]));"
            "print(json.dumps([importlib.util.find_spec(m) is None for m in ('torch', 'transformers', 'mlflow', 'datasets', 'sklearn', 'scamlens')]));"
            "feed = scam_themes.load(operating_point='feed');"
            "print(json.dumps([feed.operating_point, feed.thresholds.tolist(), scam_themes.predict(json.loads(sys.argv[1]), operating_point='feed')]))")
    out = subprocess.run([python, "-c", code, json.dumps(texts)], capture_output=True, text=True, check=True, cwd=tmp_path)
    scores_line, missing_line, feed_line = out.stdout.strip().splitlines()
    assert json.loads(missing_line) == [True] * 6
    expected = [p["scores"] for p in scamlens.load(model_dir).predict(texts)]
    for got, want in zip(json.loads(scores_line), expected, strict=True):
        np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-6)
    # The named operating point travels in the wheel: same thresholds, same decisions as the Python API.
    point, thresholds, predictions = json.loads(feed_line)
    feed = scamlens.load(model_dir, operating_point="feed")
    assert point == "feed" and thresholds == feed.thresholds.tolist()
    assert [p["labels"] for p in predictions] == [p["labels"] for p in feed.predict(texts)]


@pytest.mark.slow
def test_installed_package_refuses_a_tampered_weight_file(trained_baseline, tmp_path: Path) -> None:
    _, python = _export_and_install(trained_baseline[1].best_dir, "scam_themes", "1.0.0", tmp_path)
    site = subprocess.run([python, "-c", "import scam_themes, os; print(os.path.dirname(scam_themes.__file__))"],
                          capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    weights = Path(site) / "model" / "tfidf_arrays.npz"
    weights.write_bytes(weights.read_bytes()[:-7])
    out = subprocess.run([python, "-c", "import scam_themes; scam_themes.predict('x')"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode != 0
    assert "IntegrityError" in out.stderr and "tfidf_arrays.npz: size" in out.stderr


@pytest.mark.slow
def test_transformer_wheel_installs_and_predicts_like_the_python_api(trained_tiny_transformer, tmp_path: Path) -> None:
    model_dir = trained_tiny_transformer[1].best_dir
    result, python = _export_and_install(model_dir, "tiny_themes", "0.1.0", tmp_path)
    assert result.kind == "transformer"
    assert [d.split("=")[0].rstrip(">") for d in result.dependencies][:3] == ["numpy", "sentencex", "torch"]
    assert "torch==2.13.0" in result.dependencies
    texts = ["Immigration removed forty workers after the raid.", "Rain flooded the coast road."]
    code = ("import json, sys, tiny_themes; m = tiny_themes.load();"
            "print(json.dumps(m.predict_proba(json.loads(sys.argv[1])).tolist()));"
            "print(next(m.classifier.model.parameters()).device)")
    out = subprocess.run([python, "-c", code, json.dumps(texts)], capture_output=True, text=True, check=True, cwd=tmp_path)
    scores_line, device_line = out.stdout.strip().splitlines()[-2:]
    np.testing.assert_allclose(json.loads(scores_line), scamlens.load(model_dir).predict_proba(texts), rtol=1e-5, atol=1e-6)
    assert device_line == "cpu"
