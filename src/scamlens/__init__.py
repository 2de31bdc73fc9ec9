"""scamlens: multi-label classifiers for news about online scam operations.

    >>> import scamlens
    >>> model = scamlens.load("train/baseline/model-best")
    >>> model.predict("Cambodia deported 312 suspects on a special flight")["labels"]

Importing scamlens is cheap: heavy libraries load only when a model that needs them is loaded.
"""

from __future__ import annotations

from pathlib import Path

from .runtime import Model, Prediction, ScamlensError
from .runtime import load as load_folder

__version__ = "0.1.0"
__all__ = ["Model", "Prediction", "ScamlensError", "load", "load_folder", "model_folder", "__version__"]

REGISTRY_SCHEMES = ("models:/", "runs:/")


def model_folder(source: str | Path) -> Path:
    """The local folder of a model: `source` itself, or an MLflow ``models:/``/``runs:/`` URI downloaded."""
    if isinstance(source, str) and source.startswith(REGISTRY_SCHEMES):
        from .fetch import download_model  # mlflow is imported only for registry URIs

        return download_model(source)
    return Path(source)


def load(source: str | Path, device: str = "cpu", verify: bool = True, pooling: str | None = None,
         pooling_k: int | None = None, fast_path: str | None = None, operating_point: str | None = None) -> Model:
    """Load a model from a folder or a ``models:/<name>@<alias>`` / ``models:/<name>/<version>`` URI.

    Args:
        source: a model folder (the one holding meta.json) or an MLflow model registry URI.
        device: "cpu" (default) or "cuda"/"cuda:N" for transformer models; nothing moves to a GPU
            unless asked for here.
        verify: check every file against the folder's sha256 manifest before loading.
        pooling: override how long documents' window scores are pooled ("max", "mean_top_k",
            "noisy_or"; `pooling_k` for mean_top_k) without retraining.
        fast_path: override the CPU fast path chosen at load ("auto", "none", "int8", "bf16").
        operating_point: the named thresholds to serve with instead of the default ones, e.g. "feed"
            for a raw news feed (`Model.operating_points()` lists a model's).
    """
    return load_folder(model_folder(source), device=device, verify=verify, pooling=pooling, pooling_k=pooling_k,
                       fast_path=fast_path, operating_point=operating_point)
