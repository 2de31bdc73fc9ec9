"""The transformer kind: a fine-tuned encoder (all-MiniLM-L6-v2 by default).

- `config.py`: `TransformerConfig`, the settings and their defaults
- `trainer.py`: `TransformerClassifier`, the fine-tuning loop around the runtime predictor
- `checkpoints.py`, `fastpath.py`, `base_model.py`: resumable checkpoints, the measured CPU fast
  path, and where the base model comes from

Prediction lives in `scamlens.runtime.transformer` (and `bert.py`), which is what a wheel ships.
Nothing here imports torch until a model is trained.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import Kind, TrainContext
from .config import TransformerConfig

CHECKPOINTS_DIR = "checkpoints"


def build(config: TransformerConfig, labels: Sequence[str], context: TrainContext):
    from .trainer import TransformerClassifier

    return TransformerClassifier(labels, config, seed=context.seed, checkpoint_dir=context.run_dir / CHECKPOINTS_DIR,
                                 resume=context.resume)


KIND = Kind(name="transformer", config=TransformerConfig, trainer=build,
            predictor="scamlens.runtime.transformer:TransformerPredictor",
            requirements=("numpy", "sentencex", "torch", "transformers", "safetensors", "tokenizers"),
            extra="transformer", versions=("numpy", "scikit-learn", "torch", "transformers"))
