"""Labelled data: label sets, the one reader, references, the corpus build, splits and duplicates.

- `labels.py`: ordered label sets from labels.yaml or a model's meta.json
- `reader.py`: the one reader of JSONL(.gz), CSV, Parquet and saved DatasetDicts (file:line: field: message)
- `references.py`: rows that point at their text (``source`` + ``key``) under a text root
- `corpus.py`: rows into validated `Example`s; `dataset.py`: the DatasetDict build and its fingerprint
- `splits.py`: grouped, stratified splits; `duplicates.py`: exact and near-duplicate texts

`read_labelled` is the plain function scripts and benchmarks call for texts and a label matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import Example, load_examples
from .labels import LabelSet, load_labels

DEFAULT_LABELS = "configs/labels.yaml"


@dataclass
class LabelledData:
    """Texts with their labels, in file order, ambiguous rows left out."""

    examples: list[Example]
    labels: LabelSet
    left_out: int  # rows marked ambiguous

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def y(self) -> np.ndarray:
        """Multi-hot label matrix (texts x labels, float32), columns in label-set order."""
        return self.labels.encode_many([e.labels for e in self.examples])


def read_labelled(path: str | Path, text_root: str | Path | None = None,
                  labels: LabelSet | str | Path = DEFAULT_LABELS, text_column: str = "text",
                  labels_column: str = "labels", extra_columns: tuple[str, ...] = ("kind", "source")) -> LabelledData:
    """Read a labelled file (rows with text, or with source + key resolved under `text_root`).

    Args:
        path: a JSONL (.jsonl, .jsonl.gz), CSV or Parquet file of labelled rows.
        text_root: the folder `source` paths are relative to; needed when rows hold references.
        labels: the label set, or the labels YAML to read it from.
        text_column, labels_column: the fields holding the text and the list of label names.
        extra_columns: fields kept on each example (for slicing), "" where a row lacks them.

    Raises:
        CorpusError: listing every row that cannot be read or resolved, as file:line: field: message.
    """
    from ..config import DataConfig

    label_set = labels if isinstance(labels, LabelSet) else load_labels(labels)
    config = DataConfig(source=[str(path)], labels=str(DEFAULT_LABELS), text_column=text_column,
                        labels_column=labels_column, id_column=None, group_column=None,
                        extra_columns=list(extra_columns), text_root=str(text_root) if text_root else None)
    examples = load_examples(config, label_set)
    kept = [e for e in examples if not e.ambiguous]
    return LabelledData(kept, label_set, len(examples) - len(kept))


__all__ = ["Example", "LabelSet", "LabelledData", "load_labels", "read_labelled"]
