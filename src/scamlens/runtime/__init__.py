"""What a deployed model needs, and nothing else: this subpackage is copied whole into every
exported wheel, so it imports nothing from the rest of scamlens (a test checks this).

- `model.py`: `load(folder)` and `Model.predict` (labels, scores, evidence)
- `classifier.py`: the `Classifier` interface and how a folder's kind finds its predictor
- `tfidf.py`, `transformer.py`, `bert.py`: the built-in kinds' predictors
- `chunking.py`: the one long-document splitter; `decision.py`: per-label thresholds
- `folder.py`: the model folder's files and sha256 manifest; `atomic.py`: atomic folder writes
- `errors.py`: `ScamlensError`, the one exception type raised on purpose
"""

from __future__ import annotations

from .errors import ScamlensError
from .model import Model, Prediction, load

__all__ = ["Model", "Prediction", "ScamlensError", "load"]
