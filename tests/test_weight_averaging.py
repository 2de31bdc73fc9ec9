"""scripts/weight_averaging_experiment.py: moving averages, recording beside training, averaged model folders."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from scamlens.kinds.transformer import trainer
from scamlens.runtime.classifier import Classifier
from scamlens.runtime.folder import verify_manifest

from .conftest import ROOT
from .tiny_bert import tiny_bert  # noqa: F401
from .tiny_transformer import TRAIN, VALIDATION, make

sys.path.insert(0, str(ROOT / "scripts"))

import weight_averaging_experiment as wa  # noqa: E402


def test_the_moving_average_starts_at_the_weights_then_warms_up_towards_its_decay():
    model = torch.nn.Linear(1, 1, bias=False)
    average = wa.MovingAverage(0.99)
    for value in (0.0, 1.0, 1.0):
        model.weight.data.fill_(value)
        average.update(model)
    # update 1 copies 0; update 2 keeps min(0.99, 3/12) = 0.25: 0.75; update 3 keeps 4/13: 0.75 * 4/13 + 9/13
    assert average.weights["weight"].item() == pytest.approx(0.75 * 4 / 13 + 9 / 13, abs=1e-7)
    with pytest.raises(ValueError, match="decay must be in"):
        wa.MovingAverage(1.0)


def test_mean_state_averages_floats_keeps_integers_and_refuses_other_architectures():
    a = {"w": torch.tensor([1.0, 2.0]), "ids": torch.tensor([0, 1])}
    b = {"w": torch.tensor([3.0, 6.0]), "ids": torch.tensor([5, 5])}
    mean = wa.mean_state([a, b])
    assert mean["w"].tolist() == [2.0, 4.0]
    assert mean["ids"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="source 2 does not fit source 1 \\(first difference: tensor 'w'\\)"):
        wa.mean_state([a, {"w": torch.zeros(3), "ids": a["ids"]}])


def test_recording_writes_every_epoch_and_average_without_changing_training(tiny_bert, tmp_path):  # noqa: F811
    plain = make(tiny_bert, epochs=2).fit(TRAIN, VALIDATION)
    originals = trainer.TransformerClassifier._optimizer_step, trainer.TransformerClassifier._train_epoch
    with wa.recording(tmp_path, [0.9]) as averages:
        recorded = make(tiny_bert, epochs=2).fit(TRAIN, VALIDATION)
    assert (trainer.TransformerClassifier._optimizer_step, trainer.TransformerClassifier._train_epoch) == originals
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ema-0.9-epoch-1.safetensors", "ema-0.9-epoch-2.safetensors", "epoch-1.safetensors", "epoch-2.safetensors"]
    for name, tensor in plain.model.state_dict().items():
        assert torch.equal(tensor, recorded.model.state_dict()[name]), name
    last = load_file(tmp_path / "epoch-2.safetensors")
    final = recorded._last_weights or recorded.model.state_dict()
    assert all(torch.equal(last[k], final[k]) for k in last)
    ema = load_file(tmp_path / "ema-0.9-epoch-2.safetensors")
    assert averages[0.9].updates == 4  # 8 texts at batch 4, two epochs
    assert torch.equal(ema["classifier.weight"], averages[0.9].weights["classifier.weight"])


def test_average_writes_a_verified_loadable_folder_holding_the_mean(tiny_bert, tmp_path):  # noqa: F811
    model = make(tiny_bert, epochs=1).fit(TRAIN)
    first, second = tmp_path / "first", tmp_path / "second"
    model.save(first)
    weights = load_file(first / "encoder" / wa.WEIGHTS_FILE)
    tripled = {k: v * 3 if v.is_floating_point() else v for k, v in weights.items()}
    save_file(tripled, tmp_path / "tripled.safetensors")
    model.save(second)

    out = wa.average(tmp_path / "soup", [first, tmp_path / "tripled.safetensors"])
    verify_manifest(out)
    soup = load_file(out / "encoder" / wa.WEIGHTS_FILE)
    assert torch.allclose(soup["classifier.weight"], 2 * weights["classifier.weight"])
    assert Classifier.load(out).predict_proba(["A raid on a scam compound."]).shape == (1, 3)

    # Every check runs before anything is written: the folder in place survives each refusal.
    save_file({"other": torch.zeros(2)}, tmp_path / "other.safetensors")
    refusals = [
        (ValueError, "no source is a model folder", [tmp_path / "tripled.safetensors"], {}),
        (FileNotFoundError, "missing.safetensors", [second, tmp_path / "missing.safetensors"], {}),
        (FileExistsError, "exists: pass --replace", [first, second], {}),
        (ValueError, "does not fit", [first, tmp_path / "other.safetensors"], {"replace": True}),
        (ValueError, "the mean of the sources does not fit template", [tmp_path / "other.safetensors"], {"template": first, "replace": True}),
    ]
    for error, message, sources, options in refusals:
        with pytest.raises(error, match=message):
            wa.average(out, sources, **options)
    verify_manifest(out)
    with pytest.raises(ValueError, match="overlaps the input"):
        wa.average(first, [first, second], replace=True)
    kept = load_file(first / "encoder" / wa.WEIGHTS_FILE)
    assert all(torch.equal(kept[k], weights[k]) for k in weights)


def test_interpolate_moves_a_folder_towards_its_base_model_and_keeps_the_head(tiny_bert, tmp_path):  # noqa: F811
    from transformers import AutoModel

    make(tiny_bert, epochs=1, learning_rate=1e-2).fit(TRAIN).save(tmp_path / "tuned")
    tuned = load_file(tmp_path / "tuned" / "encoder" / wa.WEIGHTS_FILE)
    pre_trained = AutoModel.from_pretrained(tiny_bert).state_dict()

    out = wa.interpolate(tmp_path / "wise", tmp_path / "tuned", 0.25)  # the base model read from the folder
    verify_manifest(out)
    wise = load_file(out / "encoder" / wa.WEIGHTS_FILE)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert torch.allclose(wise[name], 0.75 * tuned[name] + 0.25 * pre_trained[name.removeprefix("bert.")], atol=1e-6)
    assert torch.equal(wise["classifier.weight"], tuned["classifier.weight"])
    assert Classifier.load(out).predict_proba(["A raid on a scam compound."]).shape == (1, 3)
    params = json.loads((out / "classifier.json").read_text())["settings"]["params"]
    assert params["pretrained_share"] == 0.25  # the copy says what it holds
    twice = wa.interpolate(tmp_path / "twice", out, 0.5)
    assert json.loads((twice / "classifier.json").read_text())["settings"]["params"]["pretrained_share"] == pytest.approx(0.625)

    # Every check runs before anything is written: neither the output nor the input changes.
    with pytest.raises(FileExistsError, match="pass --replace"):
        wa.interpolate(out, tmp_path / "tuned", 0.5)
    with pytest.raises(ValueError, match="overlaps the input"):
        wa.interpolate(tmp_path / "tuned", tmp_path / "tuned", 0.5, replace=True)
    with pytest.raises(ValueError, match="overlaps the input"):
        wa.interpolate(tmp_path / "tuned" / "inner", tmp_path / "tuned", 0.5)
    with pytest.raises(ValueError, match=r"--share must be in \[0, 1\)"):
        wa.interpolate(tmp_path / "other", tmp_path / "tuned", 1.0)
    assert torch.equal(load_file(out / "encoder" / wa.WEIGHTS_FILE)[name], wise[name])
    assert torch.equal(load_file(tmp_path / "tuned" / "encoder" / wa.WEIGHTS_FILE)[name], tuned[name])
    assert not (tmp_path / "tuned" / "inner").exists()


def test_interpolate_refuses_a_base_model_the_folder_was_not_fine_tuned_from(tiny_bert, tmp_path):  # noqa: F811
    from safetensors.torch import save_file

    make(tiny_bert, epochs=1).fit(TRAIN).save(tmp_path / "tuned")
    smaller = tmp_path / "smaller"
    shutil.copytree(tiny_bert, smaller)
    weights = load_file(smaller / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("encoder.layer.1.")}, smaller / "model.safetensors",
              metadata={"format": "pt"})
    config = json.loads((smaller / "config.json").read_text())
    (smaller / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    with pytest.raises(ValueError, match="holds no weight 'bert.encoder.layer.1.*it is not the model"):
        wa.interpolate(tmp_path / "out", tmp_path / "tuned", 0.2, base=str(smaller))
    assert not (tmp_path / "out").exists()
