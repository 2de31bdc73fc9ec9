"""Exact and near-duplicate texts, found with MinHash LSH over character 5-gram shingles.

Candidates from LSH are confirmed with the exact Jaccard similarity of their shingle sets, so the
reported similarity is real and the threshold is applied exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SHINGLE = 5
NUM_PERM = 128
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class DuplicatePair:
    first: int
    second: int
    similarity: float


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text.lower()).strip()


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    text = normalise(text)
    if len(text) <= size:
        return {text}
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def find_near_duplicates(texts: Sequence[str], threshold: float = 0.9) -> list[DuplicatePair]:
    """Pairs of texts whose shingle sets have Jaccard similarity >= threshold (exact copies included)."""
    from datasketch import MinHash, MinHashLSH

    sets = [shingles(t) for t in texts]
    # LSH at a lower threshold than asked for, so that few true pairs are missed; exact Jaccard decides.
    lsh = MinHashLSH(threshold=max(0.5, threshold - 0.2), num_perm=NUM_PERM)
    hashes = []
    for i, shingle_set in enumerate(sets):
        minhash = MinHash(num_perm=NUM_PERM, seed=1)
        minhash.update_batch([s.encode("utf-8") for s in shingle_set])
        hashes.append(minhash)
        lsh.insert(i, minhash)
    pairs = []
    for i, minhash in enumerate(hashes):
        for j in lsh.query(minhash):
            if j <= i:
                continue
            union = len(sets[i] | sets[j])
            similarity = len(sets[i] & sets[j]) / union if union else 1.0
            if similarity >= threshold:
                pairs.append(DuplicatePair(i, j, similarity))
    return sorted(pairs, key=lambda p: (p.first, p.second))
