"""Label sets: the ordered names a model predicts, loaded from a YAML file or a model's meta.json.

The order of the names is the column order of every score array in scamlens, so it is frozen into
the built dataset's features and into each saved model; a mismatch fails fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.errors import ScamlensError


class LabelError(ScamlensError, ValueError):
    """A label name that the label set does not know, or a malformed label file."""


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of label names with optional one-line definitions, and what a model card should
    say of the task they describe (`card`, see CARD_FIELDS)."""

    names: tuple[str, ...]
    definitions: dict[str, str] = field(default_factory=dict, compare=False)
    card: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.names:
            raise LabelError("a label set needs at least one label")
        if len(set(self.names)) != len(self.names):
            raise LabelError(f"duplicate label names in {list(self.names)}")
        for name in self.names:
            if not isinstance(name, str) or not name.strip():
                raise LabelError(f"label names must be non-empty strings, got {name!r}")

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise LabelError(f"unknown label {name!r}; known labels: {', '.join(self.names)}") from None

    def encode(self, labels: Iterable[str]) -> np.ndarray:
        """Turn a list of label names into a multi-hot float vector in this set's order."""
        vector = np.zeros(len(self.names), dtype=np.float32)
        for name in labels:
            vector[self.index(name)] = 1.0
        return vector

    def encode_many(self, rows: Sequence[Iterable[str]]) -> np.ndarray:
        matrix = np.zeros((len(rows), len(self.names)), dtype=np.float32)
        for i, labels in enumerate(rows):
            for name in labels:
                matrix[i, self.index(name)] = 1.0
        return matrix

    def decode(self, vector: Sequence[float] | np.ndarray) -> list[str]:
        """The names whose entries are truthy, in this set's order."""
        return [name for name, on in zip(self.names, vector, strict=True) if on]

    def combination(self, labels: Iterable[str]) -> str:
        """A canonical name for a label combination ("none" for the empty set)."""
        present = set(labels)
        return "+".join(n for n in self.names if n in present) or "none"

    def to_dict(self) -> dict:
        return {"labels": [{"name": n, "definition": self.definitions.get(n, "")} for n in self.names]}


# What a label file's optional `card:` section may hold: the words a model card uses for the task,
# which belong to the label set, not to scamlens (a card without them says only what training saw).
CARD_FIELDS: dict[str, type] = {
    "summary": str,        # one paragraph: what the classifier is for, e.g. "... English news about ..."
    "intended_use": str,   # who should use it, and how
    "out_of_scope": list,  # misuses, one line each
    "training_data": str,  # where the corpus comes from and where its card is
    "limits": list,        # what the corpus did not cover, one line each
    "example": str,        # a text for the card's usage snippet
}


def _read_card(raw: Any, path: Path) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise LabelError(f"{path}: card: expected a mapping of {', '.join(CARD_FIELDS)}, got {raw!r}")
    card: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in CARD_FIELDS:
            raise LabelError(f"{path}: card.{key}: unknown field; expected one of {', '.join(CARD_FIELDS)}")
        if CARD_FIELDS[key] is list:
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise LabelError(f"{path}: card.{key}: expected a list of non-empty strings, got {value!r}")
            card[key] = [" ".join(v.split()) for v in value]
        elif not isinstance(value, str) or not value.strip():
            raise LabelError(f"{path}: card.{key}: expected a non-empty string, got {value!r}")
        else:
            card[key] = " ".join(value.split())
    return card


def load_labels(path: str | Path) -> LabelSet:
    """Read a labels YAML file: ``labels: [{name, definition}, ...]`` or a plain list of names, and an
    optional ``card:`` mapping (CARD_FIELDS) that the model card's wording comes from."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelError(f"{path}: label file not found") from None
    except yaml.YAMLError as exc:
        raise LabelError(f"{path}: not valid YAML: {exc}") from None
    entries = raw.get("labels") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise LabelError(f"{path}: expected a non-empty list under 'labels'")
    names, definitions = [], {}
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            names.append(entry["name"])
            definitions[entry["name"]] = str(entry.get("definition", "")).strip()
        else:
            raise LabelError(f"{path}: labels[{i}]: expected a name or {{name, definition}}, got {entry!r}")
    card = _read_card(raw.get("card") if isinstance(raw, dict) else None, path)
    try:
        return LabelSet(tuple(names), definitions, card)
    except LabelError as exc:
        raise LabelError(f"{path}: {exc}") from None
