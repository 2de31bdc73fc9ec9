"""Evaluating saved models on labelled data, and streaming predictions over text files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .config import RunConfig, parse_config
from .corpus import CorpusError, Example
from .inference import Model, load
from .labels import LabelSet
from .modelfolder import CONFIG_FILE
from .splits import SPLITS


def _model_config(model: Model) -> RunConfig:
    import yaml

    return parse_config(yaml.safe_load((model.path / CONFIG_FILE).read_text()), str(model.path / CONFIG_FILE))


def labelled_examples(model: Model, data: str) -> list[Example]:
    """The examples of `data` (a split name of the model's own corpus, or a file) with their
    extra columns (`kind`, `register` in our corpus; empty strings where a file lacks them)."""
    from .corpus import load_examples
    from .dataset import build_corpus

    config = _model_config(model)
    labels = LabelSet(model.labels)
    if data in SPLITS:
        return build_corpus(config.data, labels).rows(data)
    data_config = config.data.model_copy(update={"source": [data], "group_column": None,
                                                 "id_column": None, "allowed_values": {}})
    if config.data.id_column:
        # Keep the file's own ids when every row has a unique one; else rows are numbered.
        try:
            return load_examples(data_config.model_copy(update={"id_column": config.data.id_column}), labels)
        except CorpusError:
            pass
    return load_examples(data_config, labels)


def labelled_data(model: Model, data: str) -> tuple[list[str], Any]:
    """Texts and label matrix for `data`: a split name of the model's own corpus, or a file."""
    rows = labelled_examples(model, data)
    return [e.text for e in rows], LabelSet(model.labels).encode_many([e.labels for e in rows])


def evaluate_model(model: str | Path | Model, data: str = "test") -> dict:
    """Multi-label metrics of a saved model (with its own thresholds) on `data`."""
    from .decision import apply_thresholds
    from .metrics import multilabel_report

    loaded = model if isinstance(model, Model) else load(model)
    texts, y_true = labelled_data(loaded, data)
    scores = loaded.predict_proba(texts)
    return multilabel_report(y_true, apply_thresholds(scores, loaded.thresholds), scores, loaded.labels)


def predict_lines(model: Model, lines: Iterable[str], batch_size: int = 64, evidence: bool = True,
                  where: str = "<stdin>") -> Iterator[dict[str, Any]]:
    """Predictions for JSONL records with a "text" field, or for plain text lines, batch by batch."""
    batch: list[tuple[dict[str, Any], str]] = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        record: dict[str, Any] = {}
        text = line
        if line.lstrip().startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(parsed.get("text"), str):
                raise ValueError(f"{where}:{number}: text: missing or not a string")
            text = parsed["text"]
            record = {k: v for k, v in parsed.items() if k != "text"}
        batch.append((record, text))
        if len(batch) >= batch_size:
            yield from _predict_batch(model, batch, evidence)
            batch = []
    if batch:
        yield from _predict_batch(model, batch, evidence)


def _predict_batch(model: Model, batch: list[tuple[dict[str, Any], str]], evidence: bool) -> Iterator[dict[str, Any]]:
    predictions = model.predict([text for _, text in batch], evidence=evidence)
    for (record, _), prediction in zip(batch, predictions, strict=True):
        yield {**record, **prediction}
