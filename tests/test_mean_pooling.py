"""scripts/mean_pooling_experiment.py: the swapped forwards read the masked mean of the token states (and [CLS])."""

from __future__ import annotations

import sys

import pytest
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


def _swapped(tiny_bert, monkeypatch, head):  # noqa: F811
    """The tiny BERT under `head`'s forwards: the model, a one-text batch, and the logits of two texts
    padded together (training and runtime forwards) and of the shorter one alone (runtime)."""
    _, training, runtime = mp.HEADS[head]
    monkeypatch.setattr(modeling_bert.BertForSequenceClassification, "forward", training)
    monkeypatch.setattr(bert.BertClassifier, "forward", runtime)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    batch = tokenizer(["police raided the compound", "deported"], padding=True, return_tensors="pt")
    alone = tokenizer(["deported"], return_tensors="pt")
    assert batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1]
    with torch.no_grad():
        trained = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        served = bert.from_transformers(model)(batch["input_ids"], batch["attention_mask"])
        unpadded = bert.from_transformers(model)(alone["input_ids"], alone["attention_mask"])
    assert torch.allclose(trained, served, atol=1e-5)
    assert torch.allclose(served[1], unpadded[0], atol=1e-5)  # padding does not move a text's scores
    return model, alone, unpadded


def test_training_and_runtime_forwards_agree_and_ignore_padding(tiny_bert, monkeypatch):  # noqa: F811
    model, alone, unpadded = _swapped(tiny_bert, monkeypatch, "mean")
    with torch.no_grad():
        head = model.classifier(mp.masked_mean(model.bert(**alone).last_hidden_state, alone["attention_mask"]))
    assert torch.allclose(unpadded, head, atol=1e-5)  # the head reads the mean, not [CLS]


def test_the_mean_and_cls_head_reads_both(tiny_bert, monkeypatch):  # noqa: F811
    model, alone, unpadded = _swapped(tiny_bert, monkeypatch, "mean-and-cls")
    with torch.no_grad():
        out = model.bert(**alone)
        mean_only = model.classifier(mp.masked_mean(out.last_hidden_state, alone["attention_mask"]))
        cls_only = model.classifier(out.pooler_output)
    # the head is linear, so reading the sum is reading each part, with the bias counted once
    assert torch.allclose(unpadded, mean_only + cls_only - model.classifier.bias, atol=1e-5)
    assert not torch.allclose(unpadded, mean_only, atol=1e-3)


@pytest.mark.parametrize("head", sorted(mp.HEADS))
def test_a_head_is_used_and_its_variant_named_only_when_asked(monkeypatch, head):
    monkeypatch.setattr(modeling_bert.BertForSequenceClassification, "forward",
                        modeling_bert.BertForSequenceClassification.forward)
    monkeypatch.setattr(bert.BertClassifier, "forward", bert.BertClassifier.forward)
    monkeypatch.setattr(mp.bench_variants, "VARIANTS", dict(mp.bench_variants.VARIANTS))
    variants = {variant for variant, _, _ in mp.HEADS.values()}
    assert variants == {"transformer-mean-pooling", "transformer-mean-and-cls-pooling"}  # the README's commands
    assert not variants & mp.bench_variants.VARIANTS.keys()
    mp.use_head(head)
    variant, training, runtime = mp.HEADS[head]
    assert variants & mp.bench_variants.VARIANTS.keys() == {variant}  # only the chosen head's
    assert mp.bench_variants.VARIANTS[variant] == ("configs/transformer.yaml", [])
    assert modeling_bert.BertForSequenceClassification.forward is training
    assert bert.BertClassifier.forward is runtime
