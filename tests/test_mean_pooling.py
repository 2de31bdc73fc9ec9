"""scripts/mean_pooling_experiment.py: both swapped forwards read the masked mean of the token states."""

from __future__ import annotations

import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.models.bert import modeling_bert

from scamlens.runtime import bert

from .conftest import ROOT
from .tiny_bert import tiny_bert  # noqa: F401

sys.path.insert(0, str(ROOT / "scripts"))

import mean_pooling_experiment as mp  # noqa: E402


def test_masked_mean_leaves_padding_out():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert mp.masked_mean(states, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_training_and_runtime_forwards_agree_and_ignore_padding(tiny_bert, monkeypatch):  # noqa: F811
    monkeypatch.setattr(modeling_bert.BertForSequenceClassification, "forward", mp.training_forward)
    monkeypatch.setattr(bert.BertClassifier, "forward", mp.runtime_forward)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    batch = tokenizer(["police raided the compound", "deported"], padding=True, return_tensors="pt")
    alone = tokenizer(["deported"], return_tensors="pt")
    with torch.no_grad():
        trained = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        served = bert.from_transformers(model)(batch["input_ids"], batch["attention_mask"])
        unpadded = bert.from_transformers(model)(alone["input_ids"], alone["attention_mask"])
        head = model.classifier(mp.masked_mean(model.bert(**alone).last_hidden_state, alone["attention_mask"]))
    assert torch.allclose(trained, served, atol=1e-5)
    assert torch.allclose(served[1], unpadded[0], atol=1e-5)  # padding does not move a text's scores
    assert torch.allclose(unpadded, head, atol=1e-5)  # the head reads the mean, not [CLS]
    assert batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1]


def test_the_variant_is_named_only_when_asked(monkeypatch):
    monkeypatch.setattr(modeling_bert.BertForSequenceClassification, "forward",
                        modeling_bert.BertForSequenceClassification.forward)
    monkeypatch.setattr(bert.BertClassifier, "forward", bert.BertClassifier.forward)
    monkeypatch.setattr(mp.bench_variants, "VARIANTS", dict(mp.bench_variants.VARIANTS))
    assert "transformer-mean-pooling" not in mp.bench_variants.VARIANTS
    mp.use_mean_pooling()
    assert mp.bench_variants.VARIANTS["transformer-mean-pooling"] == ("configs/transformer.yaml", [])
    assert bert.BertClassifier.forward is mp.runtime_forward
