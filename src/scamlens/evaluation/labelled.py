"""The labelled texts a model is evaluated on: a split of its own corpus, rebuilt and checked against
the fingerprint the model recorded, or any labelled file (references resolved under a text root).

A split rebuilt from the paths in the model's saved config is only the model's split if the corpus
has not changed since: when its fingerprint differs from the model's `corpus_fingerprint`, the texts
may include training rows, so `evaluate` and `compare` refuse it unless forced (and then say so).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import RunConfig, parse_config
from ..data.corpus import Example, load_examples
from ..data.dataset import build_corpus
from ..data.labels import LabelSet
from ..data.reader import CorpusError
from ..data.splits import SPLITS
from ..runtime.errors import InputError, ScamlensError
from ..runtime.folder import CONFIG_FILE
from ..runtime.model import Model


class FingerprintMismatch(ScamlensError):
    """A rebuilt split whose corpus differs from the one the model was trained on."""


@dataclass
class EvaluationData:
    """The examples to score (ambiguous rows left out) and what the report should say about them."""

    examples: list[Example]
    left_out: int = 0  # rows marked ambiguous
    notes: list[str] = field(default_factory=list)


def model_config(model: Model) -> RunConfig:
    path = model.path / CONFIG_FILE
    return parse_config(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def _split_examples(model: Model, config: RunConfig, split: str, force: bool) -> EvaluationData:
    build = build_corpus(config.data, LabelSet(model.labels))
    recorded = model.meta.get("corpus_fingerprint")
    if recorded is None or build.fingerprint == recorded:
        return EvaluationData(build.rows(split))
    message = (f"the '{split}' split rebuilt from {', '.join(config.data.source)} has corpus fingerprint "
               f"{build.fingerprint[:16]}, but {model.path} was trained on {recorded[:16]}: the corpus changed, "
               "so this split may hold texts the model trained on")
    if not force:
        raise FingerprintMismatch(f"{message}. Evaluate on a file instead (--data PATH), or pass --force "
                                  "to score it anyway (the report will say so).")
    return EvaluationData(build.rows(split), notes=[f"forced: {message}"])


def evaluation_data(model: Model, data: str, text_root: str | Path | None = None, force: bool = False) -> EvaluationData:
    """The examples of `data`: a split name of the model's own corpus, or a labelled file, with their
    extra columns (`kind`, `register`, `source` where present; empty strings where a file lacks them).

    Args:
        model: a loaded model; its saved config names its corpus and extra columns.
        data: "train", "validation", "test", or a path to a labelled file.
        text_root: the folder a file's `source` references are relative to (default: the model
            config's data.text_root).
        force: score a rebuilt split even when its fingerprint differs from the model's.
    """
    config = model_config(model)
    if data in SPLITS:
        return _split_examples(model, config, data, force)
    if not Path(data).exists():
        raise InputError(f"--data {data}: neither a split ({', '.join(SPLITS)}) nor an existing file")
    extras = [*config.data.extra_columns, *(["source"] if "source" not in config.data.extra_columns else [])]
    root = str(text_root) if text_root is not None else config.data.text_root
    data_config = config.data.model_copy(update={"source": [data], "group_column": None, "id_column": None,
                                                 "allowed_values": {}, "extra_columns": extras, "text_root": root})
    labels = LabelSet(model.labels)
    examples = None
    if config.data.id_column:
        # Keep the file's own ids when every row has a unique one; else rows are numbered.
        with contextlib.suppress(CorpusError):
            examples = load_examples(data_config.model_copy(update={"id_column": config.data.id_column}), labels)
    if examples is None:
        examples = load_examples(data_config, labels)
    kept = [e for e in examples if not e.ambiguous]
    left_out = len(examples) - len(kept)
    notes = [f"{left_out} row(s) marked ambiguous left out of the scores"] if left_out else []
    return EvaluationData(kept, left_out, notes)


def labelled_examples(model: Model, data: str, text_root: str | Path | None = None, force: bool = False) -> list[Example]:
    """Just the examples of `evaluation_data`."""
    return evaluation_data(model, data, text_root, force).examples


def evaluate_model(model: str | Path | Model, data: str = "test", text_root: str | Path | None = None,
                   force: bool = False) -> dict:
    """Multi-label metrics of a saved model (with its own thresholds) on `data`."""
    from .. import load
    from ..runtime.decision import apply_thresholds
    from .metrics import multilabel_report

    loaded = model if isinstance(model, Model) else load(model)
    rows = labelled_examples(loaded, data, text_root, force)
    y_true = LabelSet(loaded.labels).encode_many([e.labels for e in rows])
    scores = loaded.predict_proba([e.text for e in rows])
    return multilabel_report(y_true, apply_thresholds(scores, loaded.thresholds), scores, loaded.labels)


def predict_lines(model: Model, lines: Iterable[str], batch_size: int = 64, evidence: bool = True,
                  where: str = "<stdin>") -> Iterator[dict[str, Any]]:
    """Predictions for JSONL records with a "text" field, or for plain text lines, batch by batch."""
    from ..data.reader import parse_json_line

    batch: list[tuple[dict[str, Any], str]] = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        record: dict[str, Any] = {}
        text = line
        if line.lstrip().startswith("{"):
            parsed, problem = parse_json_line(line)
            if problem is not None:
                raise InputError(f"{where}:{number}: {problem}")
            if not isinstance(parsed.get("text"), str):
                raise InputError(f"{where}:{number}: text: missing or not a string")
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
