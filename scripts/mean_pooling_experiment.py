"""An *experiment*: does the transformer rank real news better when its head reads the mean of the
token states, alone or beside BERT's pooler over [CLS]?

    python scripts/mean_pooling_experiment.py --only transformer-mean-pooling           # train, then score
    python scripts/mean_pooling_experiment.py --head mean-and-cls --only transformer-mean-and-cls-pooling
    python scripts/mean_pooling_experiment.py [--head H] --redecide FOLDER/model-best   # score a folder it trained

all-MiniLM-L6-v2 was trained by sentence-transformers to mean-pool its token states, so that mean is
the representation its pre-training shaped; the [CLS] state and the tanh pooler over it were not part
of that training. The shipped classifier (`BertForSequenceClassification`, and `runtime/bert.py`)
reads [CLS]. This script swaps both forwards, for this process only, to a linear head over
- `mean`: the masked mean of the last layer;
- `mean-and-cls`: that mean plus the tanh pooler over [CLS]. The two are summed, not concatenated,
  so the head keeps its shape and a trained folder saves and loads like any other;
then runs `benchmarks/bench_variants.py` with one more variant: the default recipe, trained and
scored on realdev `val` exactly as the other rows (thresholds on the written validation split). A
folder it trains looks like any transformer folder but only scores correctly in this script, under
the same `--head`; nothing here is shipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.bert import modeling_bert

from scamlens.runtime import bert

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_variants  # noqa: E402


def masked_mean(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of each text's token states, padding left out (sentence-transformers' pooling)."""
    weights = attention_mask[..., None].to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def training_forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_):
    states = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                       token_type_ids=token_type_ids).last_hidden_state
    return SequenceClassifierOutput(logits=self.classifier(self.dropout(masked_mean(states, attention_mask))))


def runtime_forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return self.classifier(masked_mean(self.encode(input_ids, attention_mask), attention_mask))


def both_training_forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_):
    out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    features = out.pooler_output + masked_mean(out.last_hidden_state, attention_mask)
    return SequenceClassifierOutput(logits=self.classifier(self.dropout(features)))


def both_runtime_forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    states = self.encode(input_ids, attention_mask)
    return self.classifier(self.pool(states) + masked_mean(states, attention_mask))


# head -> (variant name, training forward, runtime forward)
HEADS = {
    "mean": ("transformer-mean-pooling", training_forward, runtime_forward),
    "mean-and-cls": ("transformer-mean-and-cls-pooling", both_training_forward, both_runtime_forward),
}


def use_head(head: str) -> None:
    """Swap both classifiers' forwards for this process, and name the variant bench_variants trains."""
    variant, training, runtime = HEADS[head]
    modeling_bert.BertForSequenceClassification.forward = training
    bert.BertClassifier.forward = runtime
    bench_variants.VARIANTS[variant] = ("configs/transformer.yaml", [])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--head", choices=sorted(HEADS), default="mean")
    known, sys.argv[1:] = parser.parse_known_args()
    use_head(known.head)
    bench_variants.main()
