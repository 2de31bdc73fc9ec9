"""Grouped, stratified train/validation/test splits.

Rows of one group (one news event) always land in the same split, so a model is never tested on an
event it trained on. Groups are then balanced with iterative stratification (Sechidis et al. 2011,
from the `iterative-stratification` package) over which label combinations and which values of the
stratification columns (e.g. kind) each group contains.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "validation", "test")


def _group_matrix(groups: Sequence[str], keys: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    names = sorted(set(groups))
    group_index = {g: i for i, g in enumerate(names)}
    vocab = sorted({k for row in keys for k in row})
    key_index = {k: i for i, k in enumerate(vocab)}
    matrix = np.zeros((len(names), max(len(vocab), 1)), dtype=np.int8)
    for group, row in zip(groups, keys, strict=True):
        for key in row:
            matrix[group_index[group], key_index[key]] = 1
    return names, matrix


def _stratified_halves(matrix: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (rest, held-out) groups; held-out holds about `test_size` of them."""
    n = len(matrix)
    n_test = int(round(n * test_size))
    if n_test == 0 or n_test == n:
        order = np.random.default_rng(seed).permutation(n)
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    rest, held_out = next(splitter.split(np.zeros(n), matrix))
    return np.sort(rest), np.sort(held_out)


def assign_splits(
    groups: Sequence[str],
    keys: Sequence[Sequence[str]],
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 13,
) -> list[str]:
    """Return the split name of every row.

    Args:
        groups: the group of each row; a group never straddles two splits.
        keys: per row, the strings to balance across splits (e.g. "combo=deportation", "kind=article").
        fractions: train, validation and test shares, counted in groups.
        seed: fixes the assignment; the same inputs and seed always give the same splits.
    """
    names, matrix = _group_matrix(groups, keys)
    train_share, validation_share, test_share = fractions
    rest, held_out = _stratified_halves(matrix, validation_share + test_share, seed)
    inner_rest, inner_test = _stratified_halves(matrix[held_out], test_share / (validation_share + test_share), seed + 1)
    split_of_group = {}
    for i in rest:
        split_of_group[names[i]] = "train"
    for i in held_out[inner_rest]:
        split_of_group[names[i]] = "validation"
    for i in held_out[inner_test]:
        split_of_group[names[i]] = "test"
    return [split_of_group[g] for g in groups]
