"""The one interface every scamlens classifier implements.

A classifier maps texts to one score in [0, 1] per label. It knows nothing of thresholds: the decision
rule lives in `decision.py` and the thresholds in the model folder's meta.json. Long texts are
split by the shared splitter (`chunking.py`) and a text's score pools its chunks' scores
(`pooling.py`: the maximum unless the folder says otherwise).

Which class predicts a saved folder is decided by the folder's `classifier.json` "kind": the built-in
kinds live in this subpackage (imported lazily, so loading a baseline never imports torch); any other
kind is found through the `scamlens.kinds` entry points, whose objects carry a `predictor` class.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module, metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .chunking import Chunk, split_text
from .errors import InputError, MissingError
from .pooling import Pooling, make_pooling, pool

CLASSIFIER_FILE = "classifier.json"

ENTRY_POINT_GROUP = "scamlens.kinds"
# The predictors this subpackage ships: kind -> (module in this folder, class name).
BUILTIN_PREDICTORS: dict[str, tuple[str, str]] = {
    "tfidf": ("tfidf", "TfidfPredictor"),
    "transformer": ("transformer", "TransformerPredictor"),
    "ensemble": ("ensemble", "EnsemblePredictor"),
}
_REGISTERED: dict[str, type] = {}  # kinds registered in this process (scamlens.kinds.register_kind)

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
    # Whether the chunk scores of `score_documents` are on this classifier's own scale, so the
    # model's calibration applies to them (an ensemble's chunks carry its members' calibrated scores).
    chunks_on_own_scale: ClassVar[bool] = True

    def __init__(self, labels: Sequence[str], max_tokens: int, whole_text_words: int, chunk_long_texts: bool = True):
        self.labels = tuple(labels)
        self.max_tokens = max_tokens
        self.whole_text_words = whole_text_words
        self.chunk_long_texts = chunk_long_texts
        self.pooling: Pooling = make_pooling()

    # --- what each classifier implements -------------------------------------------------------
    def fit(self, train: LabelledTexts, validation: LabelledTexts | None = None,
            log_metrics: MetricsLogger | None = None) -> Classifier:
        """Train on `train`; `validation` may drive early stopping. Returns self.

        Implemented by each kind's trainer (a subclass outside the runtime); a loaded model predicts only.
        """
        raise NotImplementedError(f"a loaded {self.kind} model predicts only; its kind's trainer fits it")

    def set_num_threads(self, threads: int) -> None:
        """Use at most `threads` CPU threads for prediction, where the kind can tell its library so."""
        return None  # numpy-only kinds have nothing to tell

    def set_pooling(self, method: str, k: int | None = None) -> None:
        """Pool a document's window scores by `method` (see pooling.py) from now on."""
        self.pooling = make_pooling(method, k)

    def set_fast_path(self, mode: str) -> None:
        """Run CPU inference as `mode`; kinds without fast variants accept only "auto" and "none"."""
        if mode not in ("auto", "none", "fp32"):
            raise InputError(f"a {self.kind} model has no fast path {mode!r}; only transformer models have fast paths")

    def chunking(self) -> dict[str, Any]:
        """How long texts are cut, as used (a kind's config may leave the window to the model)."""
        return {"max_tokens": self.max_tokens, "whole_text_words": self.whole_text_words,
                "chunk_long_texts": self.chunk_long_texts}

    def describe(self) -> dict[str, Any]:
        """What was learned or chosen besides the weights, for meta.json, the card and `scamlens info`."""
        return {}

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

    def score_documents(self, texts: Sequence[str]) -> tuple[np.ndarray, list[ChunkScores | None]]:
        """Per text and label, its chunks' scores pooled; and each text's chunks (None for a blank text,
        which scores 0)."""
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        chunks: list[ChunkScores | None] = [None] * len(texts)
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not live:
            return result, chunks
        for i, scored in zip(live, self.score_chunks([texts[i] for i in live]), strict=True):
            result[i] = pool(scored.scores, self.pooling)
            chunks[i] = scored
        return result, chunks

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Per text and label, its chunks' scores pooled (the maximum by default); blank texts score 0."""
        return self.score_documents(texts)[0]

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        settings = self._save_weights(folder)
        record = {
            "kind": self.kind,
            "labels": list(self.labels),
            "chunking": self.chunking(),
            "pooling": dict(self.pooling),
            "settings": settings,
        }
        (folder / CLASSIFIER_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> Classifier:
        """Load whichever kind of classifier `folder` holds (on a subclass, the kind must match)."""
        folder = Path(folder)
        record = read_classifier_record(folder)
        target = predictor_class(record["kind"])
        if cls is not Classifier and not issubclass(target, cls) and not issubclass(cls, target):
            raise TypeError(f"{folder} holds a {record['kind']} classifier, not {cls.__name__}")
        classifier = target._load_weights(folder, record["settings"], device)
        classifier.labels = tuple(record["labels"])
        chunking = record["chunking"]
        classifier.max_tokens = chunking["max_tokens"]
        classifier.whole_text_words = chunking["whole_text_words"]
        classifier.chunk_long_texts = chunking["chunk_long_texts"]
        # Folders saved before pooling was an option pooled by the maximum.
        saved = record.get("pooling") or {}
        classifier.pooling = make_pooling(saved.get("method", "max"), saved.get("k"))
        return classifier


def read_classifier_record(folder: Path) -> dict[str, Any]:
    path = folder / CLASSIFIER_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingError(f"{folder}: not a scamlens model folder ({CLASSIFIER_FILE} missing)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg})") from None
    missing = [k for k in ("kind", "labels", "chunking", "settings") if k not in record]
    if missing:
        raise InputError(f"{path}: missing field(s) {', '.join(missing)}")
    return record


def register_predictor(kind: str, predictor: type | str) -> None:
    """Make `kind` loadable in this process (what an entry point does for an installed package)."""
    _REGISTERED[kind] = predictor


def _entry_point_predictor(kind: str) -> type | None:
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == kind and kind not in BUILTIN_PREDICTORS:
            loaded = entry.load()
            return _resolve(getattr(loaded, "predictor", loaded))
    return None


def _resolve(target: type | str) -> type:
    """A class, or "module:attribute" imported (how a kind names its predictor without importing it)."""
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        return getattr(import_module(module_name), attribute)
    return target


def predictor_class(kind: str) -> type[Classifier]:
    """The class that loads and predicts with a saved classifier of `kind`."""
    if kind in _REGISTERED:
        return _resolve(_REGISTERED[kind])
    if kind in BUILTIN_PREDICTORS:
        module_name, class_name = BUILTIN_PREDICTORS[kind]
        return getattr(import_module(f"{__package__}.{module_name}"), class_name)
    found = _entry_point_predictor(kind)
    if found is None:
        known = sorted({*BUILTIN_PREDICTORS, *_REGISTERED})
        raise InputError(f"unknown classifier kind {kind!r}; known kinds: {', '.join(known)} "
                         f"(other kinds are installed as '{ENTRY_POINT_GROUP}' entry points)")
    return found
