"""The one interface every scamlens classifier implements.

A classifier maps texts to one score in [0, 1] per label. It knows nothing of thresholds: the decision
rule lives in `scamlens.decision` and the thresholds in the model folder's meta.json. Long texts are
split by the shared splitter (`scamlens.chunking`) and a text's score is the maximum over its chunks.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..chunking import Chunk, split_text

CLASSIFIER_FILE = "classifier.json"

# kind -> (module inside scamlens.classifiers, class name); imported lazily so that loading a
# baseline never imports torch.
KINDS: dict[str, tuple[str, str]] = {
    "tfidf": ("tfidf", "TfidfClassifier"),
    "transformer": ("transformer", "TransformerClassifier"),
}

MetricsLogger = Callable[[dict[str, float], int], None]


@dataclass
class LabelledTexts:
    """Texts with their multi-hot label matrix (rows in text order, columns in label order)."""

    texts: list[str]
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.y):
            raise ValueError(f"{len(self.texts)} texts but {len(self.y)} label rows")


@dataclass(frozen=True)
class ChunkScores:
    chunks: list[Chunk]
    scores: np.ndarray  # (chunks, labels)


class Classifier(ABC):
    """fit / predict_proba / save / load, shared by the TF-IDF baseline and the transformer."""

    kind: ClassVar[str]

    def __init__(self, labels: Sequence[str], max_tokens: int, whole_text_words: int, chunk_long_texts: bool = True):
        self.labels = tuple(labels)
        self.max_tokens = max_tokens
        self.whole_text_words = whole_text_words
        self.chunk_long_texts = chunk_long_texts

    # --- what each classifier implements -------------------------------------------------------
    @abstractmethod
    def fit(self, train: LabelledTexts, validation: LabelledTexts | None = None,
            log_metrics: MetricsLogger | None = None) -> Classifier:
        """Train on `train`; `validation` may drive early stopping. Returns self."""

    @abstractmethod
    def score_texts(self, texts: list[str]) -> np.ndarray:
        """Scores of whole texts (no chunking), shape (len(texts), len(labels))."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens in `text` as this classifier counts them (for chunk windows)."""

    def token_offsets(self, text: str) -> list[tuple[int, int]] | None:
        """Character spans of `text`'s tokens where a slice's token count is the number of spans
        inside it (the chunker then tokenizes a text once); None, the default, re-counts each slice."""
        return None

    @abstractmethod
    def _save_weights(self, folder: Path) -> dict[str, Any]:
        """Write weight files into `folder`; return the settings needed to load them."""

    @classmethod
    @abstractmethod
    def _load_weights(cls, folder: Path, settings: dict[str, Any], device: str) -> Classifier:
        """Rebuild a classifier from `folder` and the settings `_save_weights` returned."""

    # --- shared behaviour ----------------------------------------------------------------------
    def chunk(self, text: str) -> list[Chunk]:
        if not self.chunk_long_texts:
            return [Chunk(0, len(text), text)]
        return split_text(text, self.max_tokens, self.count_tokens, self.whole_text_words, self.token_offsets)

    def score_chunks(self, texts: Sequence[str]) -> list[ChunkScores]:
        """Every text's chunks with their scores; chunks of all texts are scored in one batch."""
        chunked = [self.chunk(t) for t in texts]
        flat = [c.text for chunks in chunked for c in chunks]
        scores = self.score_texts(flat) if flat else np.zeros((0, len(self.labels)), dtype=np.float32)
        out, cursor = [], 0
        for chunks in chunked:
            out.append(ChunkScores(chunks, scores[cursor : cursor + len(chunks)]))
            cursor += len(chunks)
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Per text and label, the maximum score over the text's chunks; blank texts score 0."""
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not live:
            return result
        for i, scored in zip(live, self.score_chunks([texts[i] for i in live]), strict=True):
            result[i] = scored.scores.max(axis=0)
        return result

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        settings = self._save_weights(folder)
        record = {
            "kind": self.kind,
            "labels": list(self.labels),
            "chunking": {"max_tokens": self.max_tokens, "whole_text_words": self.whole_text_words,
                         "chunk_long_texts": self.chunk_long_texts},
            "settings": settings,
        }
        (folder / CLASSIFIER_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> Classifier:
        """Load whichever kind of classifier `folder` holds (on `cls` itself, the kind must match)."""
        folder = Path(folder)
        record = read_classifier_record(folder)
        target = classifier_class(record["kind"])
        if cls is not Classifier and not issubclass(target, cls):
            raise TypeError(f"{folder} holds a {record['kind']} classifier, not {cls.__name__}")
        classifier = target._load_weights(folder, record["settings"], device)
        classifier.labels = tuple(record["labels"])
        chunking = record["chunking"]
        classifier.max_tokens = chunking["max_tokens"]
        classifier.whole_text_words = chunking["whole_text_words"]
        classifier.chunk_long_texts = chunking["chunk_long_texts"]
        return classifier


def read_classifier_record(folder: Path) -> dict[str, Any]:
    path = folder / CLASSIFIER_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder}: not a scamlens model folder ({CLASSIFIER_FILE} missing)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from None
    missing = [k for k in ("kind", "labels", "chunking", "settings") if k not in record]
    if missing:
        raise ValueError(f"{path}: missing field(s) {', '.join(missing)}")
    return record


def classifier_class(kind: str) -> type[Classifier]:
    if kind not in KINDS:
        raise ValueError(f"unknown classifier kind {kind!r}; known kinds: {', '.join(KINDS)}")
    module_name, class_name = KINDS[kind]
    module = import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)
