"""The ensemble kind's predictor: a weighted mean of its member models' calibrated probabilities.

An ensemble folder is self-contained: it holds a copy of every member's model folder under
`members/` (each checked against its own sha256 manifest when loaded) and the weights chosen at
training in classifier.json. Members predict through their own runtime, calibration and pooling;
the ensemble's thresholds (and calibration, if any) apply to the weighted mean. Evidence comes from
the members' chunks, each tagged with the member it came from, on that member's calibrated scale.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .calibration import calibrate
from .chunking import Chunk
from .classifier import ChunkScores, Classifier
from .errors import InputError

MEMBERS_DIR = "members"


@dataclass(frozen=True)
class MemberChunk(Chunk):
    member: str = ""


class EnsemblePredictor(Classifier):
    """Members (loaded `Model`s) and their weights, summing to 1 over members: one float per member,
    or one list per member with a weight for each label (`per_label_weights` at training)."""

    kind = "ensemble"
    chunks_on_own_scale = False  # chunk scores are the members' calibrated scores

    def __init__(self, labels: Sequence[str], members: Sequence[Any] = (),
                 weights: Sequence[float | Sequence[float]] = (), names: Sequence[str] = ()):
        super().__init__(labels, max_tokens=0, whole_text_words=0, chunk_long_texts=False)
        self.members = list(members)
        self.weights: list[float | list[float]] = [
            [float(x) for x in w] if isinstance(w, (list, tuple)) else float(w) for w in weights]
        self.names = list(names)

    def live_members(self) -> list[tuple[str, Any, np.ndarray]]:
        """(name, member, weight per label) of members weighted above zero somewhere: others are not run."""
        if not self.members:
            raise RuntimeError("this ensemble has no members; train it or load a saved one")
        rows = [(n, m, np.broadcast_to(np.asarray(w, dtype=np.float64), (len(self.labels),)))
                for n, m, w in zip(self.names, self.members, self.weights, strict=True)]
        return [(n, m, w) for n, m, w in rows if np.any(w > 0)]

    # --- prediction ----------------------------------------------------------------------------
    def score_documents(self, texts: Sequence[str]) -> tuple[np.ndarray, list[ChunkScores | None]]:
        combined = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        merged: list[list[tuple[Chunk, np.ndarray]]] = [[] for _ in texts]
        for name, member, weight in self.live_members():
            pooled, chunks = member.classifier.score_documents(list(texts))
            combined += weight * calibrate(pooled, member.calibration)
            for i, scored in enumerate(chunks):
                if scored is None:
                    continue
                scores = calibrate(scored.scores, member.calibration) if member.classifier.chunks_on_own_scale else scored.scores
                for chunk, row in zip(scored.chunks, scores, strict=True):
                    tagged = MemberChunk(chunk.start, chunk.end, chunk.text, getattr(chunk, "member", "") or name)
                    merged[i].append((tagged, row))
        out: list[ChunkScores | None] = [
            ChunkScores([c for c, _ in pairs], np.vstack([r for _, r in pairs]).astype(np.float32)) if pairs else None
            for pairs in merged]
        return combined.astype(np.float32), out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        combined = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        for _, member, weight in self.live_members():
            combined += weight * member.predict_proba(list(texts))
        return combined.astype(np.float32)

    def score_chunks(self, texts: Sequence[str]) -> list[ChunkScores]:
        empty = ChunkScores([], np.zeros((0, len(self.labels)), dtype=np.float32))
        return [c if c is not None else empty for c in self.score_documents(texts)[1]]

    def score_texts(self, texts: list[str]) -> np.ndarray:
        return self.predict_proba(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def set_pooling(self, method: str, k: int | None = None) -> None:
        """Pool every member's windows by `method` (the ensemble itself has no windows)."""
        super().set_pooling(method, k)
        for member in self.members:
            member.classifier.set_pooling(method, k)

    def set_fast_path(self, mode: str) -> None:
        """Set the fast path of the members that have one; an error where none has."""
        capable = [m for m in self.members if hasattr(m.classifier, "fast_path_report")]
        if not capable and mode not in ("auto", "none", "fp32"):
            raise InputError(f"no member of this ensemble has a fast path {mode!r}; only transformer members do")
        for member in capable:
            member.classifier.set_fast_path(mode)

    def set_num_threads(self, threads: int) -> None:
        for member in self.members:
            member.classifier.set_num_threads(threads)

    def describe(self) -> dict[str, Any]:
        def show(w: float | list[float]) -> str:
            return "/".join(f"{x:g}" for x in w) if isinstance(w, list) else f"{w:g}"

        parts = [f"{n} ({m.meta.get('kind')}) {show(w)}" for n, m, w in zip(self.names, self.members, self.weights, strict=True)]
        return {"ensemble weights": ", ".join(parts)}

    # --- persistence ---------------------------------------------------------------------------
    def _save_weights(self, folder: Path) -> dict[str, Any]:
        records = []
        for index, (name, member) in enumerate(zip(self.names, self.members, strict=True)):
            target = Path(MEMBERS_DIR) / f"{index}-{name}"
            shutil.copytree(member.path, folder / target, ignore=shutil.ignore_patterns("__pycache__"))
            records.append({"dir": target.as_posix(), "name": name, "kind": member.meta.get("kind")})
        return {"members": records, "weights": self.weights}

    @classmethod
    def _load_weights(cls, folder: Path, settings: dict[str, Any], device: str) -> EnsemblePredictor:
        from .model import load  # model.py imports classifier.py, which imports this module lazily

        records = settings.get("members") or []
        weights = settings.get("weights") or []
        if len(records) != len(weights):
            raise InputError(f"{folder}: an ensemble needs one weight per member")
        members = [load(folder / r["dir"], device=device) for r in records]
        labels = members[0].labels if members else ["_"]
        for record, w in zip(records, weights, strict=True):
            if isinstance(w, list) and len(w) != len(labels):
                raise InputError(f"{folder}: member {record['name']} has {len(w)} weights for {len(labels)} labels")
        return cls(labels, members, weights, [r["name"] for r in records])
