"""scamlens: multi-label classifiers for news about online scam operations.

    >>> import scamlens
    >>> model = scamlens.load("train/baseline/model-best")
    >>> model.predict("Cambodia deported 312 suspects on a special flight")["labels"]

Importing scamlens is cheap: heavy libraries load only when a model that needs them is loaded.
"""

from __future__ import annotations

from .inference import Model, Prediction, load

__version__ = "0.1.0"
__all__ = ["Model", "Prediction", "load", "__version__"]
