from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scamlens.config import ConfigError, RunConfig, apply_overrides, dump_config, load_config
from scamlens.kinds.tfidf import TfidfConfig
from scamlens.kinds.transformer.config import TransformerConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
RUN_CONFIGS = [p for p in CONFIGS if p.name != "labels.yaml"]


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_every_run_config_validates(path: Path) -> None:
    config = load_config(path)
    raw = yaml.safe_load(path.read_text())
    assert config.model.kind == raw["model"]["kind"]
    assert config.data.labels == "configs/labels.yaml"
    # What a model folder saves reloads to the same config, its kind's settings included.
    assert RunConfig.model_validate(yaml.safe_load(dump_config(config))) == config


def test_labels_file_validates() -> None:
    from scamlens.data.labels import load_labels

    labels = load_labels(Path(__file__).resolve().parents[1] / "configs" / "labels.yaml")
    assert labels.names == ("scam_operation", "deportation", "victim_assistance")
    assert all(labels.definitions[n] for n in labels.names)


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  kind: tfidf\n  Cee: 4\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert "model.tfidf.Cee" in str(error.value)
    assert "Extra inputs are not permitted" in str(error.value)


def test_dotted_overrides_are_parsed_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("name: x\nmodel: {kind: tfidf}\n")
    config = load_config(path, ["model.C=4", "model.word_ngrams=[1, 3]", "tracking=false", "data.split.seed=7"])
    assert isinstance(config.model, TfidfConfig)
    assert config.model.C == 4.0
    assert config.model.word_ngrams == (1, 3)
    assert config.tracking.enabled is False
    assert config.data.split.seed == 7


def test_model_kind_selects_the_schema() -> None:
    config = RunConfig.model_validate({"model": {"kind": "transformer", "epochs": 2}})
    assert isinstance(config.model, TransformerConfig)
    with pytest.raises(ValueError, match="C"):
        RunConfig.model_validate({"model": {"kind": "transformer", "C": 2}})


def test_bad_override_and_bad_values_are_explained(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("name: x\n")
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(path, ["model.C"])
    with pytest.raises(ConfigError, match="sum to 1"):
        load_config(path, ["data.split.train=0.9"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"name": "x"}, ["name.sub=1"])
