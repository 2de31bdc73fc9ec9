"""An *experiment*: does the transformer rank real news better when it classifies from the mean of its
token states instead of BERT's pooler over [CLS]?

    python scripts/mean_pooling_experiment.py --only transformer-mean-pooling   # train, then score
    python scripts/mean_pooling_experiment.py --redecide FOLDER/model-best      # score a folder it trained

all-MiniLM-L6-v2 was trained by sentence-transformers to mean-pool its token states, so that mean is
the representation its pre-training shaped; the [CLS] state and the tanh pooler over it were not part
of that training. The shipped classifier (`BertForSequenceClassification`, and `runtime/bert.py`)
reads [CLS]. This script swaps both forwards, for this process only, to a linear head over the
masked mean of the last layer, then runs `benchmarks/bench_variants.py` with one more variant: the
default recipe, trained and scored on realdev `val` exactly as the other rows (thresholds on the
written validation split). A folder it trains looks like any transformer folder but only scores
correctly in this script; nothing here is shipped.
"""

from __future__ import annotations

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


def use_mean_pooling() -> None:
    """Swap both classifiers' forwards for this process, and name the variant bench_variants trains."""
    modeling_bert.BertForSequenceClassification.forward = training_forward
    bert.BertClassifier.forward = runtime_forward
    bench_variants.VARIANTS["transformer-mean-pooling"] = ("configs/transformer.yaml", [])


if __name__ == "__main__":
    use_mean_pooling()
    bench_variants.main()
