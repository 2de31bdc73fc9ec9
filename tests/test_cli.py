"""The CLI commands, each a thin layer over a function tested elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scamlens.cli import app
from scamlens.config import dump_config, load_config

from .conftest import LABELS_FILE, ROOT

runner = CliRunner()


def write_config(tmp_path: Path, corpus: Path, *, tracking: bool = False) -> Path:
    """The real baseline config, shrunk to the tiny corpus through the same dotted overrides the CLI
    takes: an override naming a key the config schema does not know fails instead of doing nothing."""
    config = load_config(ROOT / "configs" / "baseline.yaml", [
        f"data.source=[{corpus}]", f"data.labels={LABELS_FILE}", f"output_dir={tmp_path / 'train'}",
        f"data.processed_dir={tmp_path / 'processed'}", "model.min_df=1", f"tracking.enabled={str(tracking).lower()}",
    ])
    path = tmp_path / "run.yaml"
    path.write_text(dump_config(config))
    return path


def test_data_validate_passes_and_fails_with_file_and_line(tmp_path: Path, tiny_corpus: Path) -> None:
    config = write_config(tmp_path, tiny_corpus)
    result = runner.invoke(app, ["data", "validate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "ok 30 examples" in result.output
    with tiny_corpus.open("a") as handle:
        handle.write('{"id": "t-99", "text": "", "labels": [], "kind": "sentence", "story": "z", "register": "wire"}\n')
    result = runner.invoke(app, ["data", "validate", "--config", str(config)])
    assert result.exit_code == 1
    assert f"{tiny_corpus}:31: text: empty" in result.output


def test_data_build_prints_fingerprint_and_is_repeatable(tmp_path: Path, tiny_corpus: Path) -> None:
    config = write_config(tmp_path, tiny_corpus)
    first = runner.invoke(app, ["data", "build", "--config", str(config)])
    second = runner.invoke(app, ["data", "build", "--config", str(config)])
    assert first.exit_code == 0, first.output
    fingerprints = [r.stdout.strip().splitlines()[-1] for r in (first, second)]
    assert fingerprints[0] == fingerprints[1] and len(fingerprints[0]) == 64
    assert (tmp_path / "processed" / "dataset_dict.json").exists()


def test_train_predict_evaluate_promote(tmp_path: Path, tiny_corpus: Path) -> None:
    config = write_config(tmp_path, tiny_corpus, tracking=True)
    result = runner.invoke(app, ["train", str(config), "--set", "tracking.registered_model=cli-model"])
    assert result.exit_code == 0, result.output
    assert "macro" in result.output and "registered cli-model v1 @challenger" in result.output
    model_dir = tmp_path / "train" / "baseline" / "model-best"

    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "a", "text": "Forty overstayers expelled to Nepal"}\nplain text line about a raid\n')
    result = runner.invoke(app, ["predict", str(model_dir), str(inputs)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert lines[0]["id"] == "a" and set(lines[1]) == {"labels", "scores", "evidence"}

    result = runner.invoke(app, ["evaluate", str(model_dir), "--data", "test"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    meta = json.loads((model_dir / "meta.json").read_text())
    assert report["macro_f1"] == meta["metrics"]["test"]["macro_f1"]

    uri = f"sqlite:///{tmp_path / 'train' / 'mlflow.db'}"
    result = runner.invoke(app, ["promote", "cli-model", "1", "--tracking-uri", uri])
    assert result.exit_code == 0 and "cli-model@champion -> version 1" in result.output


def test_bad_inputs_give_messages_not_tracebacks(tmp_path: Path, tiny_corpus: Path) -> None:
    config = write_config(tmp_path, tiny_corpus)
    result = runner.invoke(app, ["train", str(config), "--set", "model.C=-1"])
    assert result.exit_code == 1 and "model.tfidf.C" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["train", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "config file not found" in result.output
    result = runner.invoke(app, ["predict", str(tmp_path / "no-model")])
    assert result.exit_code == 1 and "no such model folder" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 1}\n')
    runner.invoke(app, ["train", str(config)])
    result = runner.invoke(app, ["predict", str(tmp_path / "train" / "baseline" / "model-best"), str(bad)])
    assert result.exit_code == 1 and "bad.jsonl:1: text: missing or not a string" in result.output
