"""A tiny transformer for tests: texts, labels and a classifier trained once on the tiny offline BERT.

Import what a test module needs, fixtures included:
`from .tiny_transformer import TRAIN, VALIDATION, fitted, make, own_copy  # noqa: F401`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from scamlens.kinds.transformer.trainer import TransformerClassifier
from scamlens.runtime.classifier import LabelledTexts

from .tiny_bert import tiny_bert  # noqa: F401

LABELS = ("scam_operation", "deportation", "victim_assistance")

TRAIN = LabelledTexts(
    [
        "Police raided a scam compound and arrested the bosses.",
        "The fraud ring ran fake crypto investment chats.",
        "Immigration deported forty foreign workers on a flight home.",
        "The government expelled the nationals and banned them.",
        "A shelter gave rescued victims food, care and legal aid.",
        "Volunteers helped trafficking survivors return home safely.",
        "Officials said the raid freed trafficked workers who were then deported.",
        "The weather was sunny and the market opened early.",
    ],
    np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]]),
)
VALIDATION = LabelledTexts(
    [
        "The court sentenced the scam boss to ten years.",
        "Detained migrants waited in a removal centre before deportation.",
        "The hotline offered support to people freed from the compound.",
        "A football team won the league after a long season.",
        "Police said the compound held workers forced to defraud strangers online.",
        "Border guards handed the foreigners over to their home country.",
    ],
    np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0]]),
)
LONG_TEXT = (
    "Police raided a scam compound near the border on Monday. Officers arrested the bosses of the call "
    "centre and seized phones. Immigration deported forty foreign workers on a charter flight home. "
    "A shelter gave rescued victims food, care and legal aid. Volunteers helped survivors return home "
    "safely to their families. The report counted raids, arrests, rescues and removals during the year."
)


def make(base: Path, **overrides) -> TransformerClassifier:
    settings = {"base_model": str(base), "max_length": 48, "epochs": 2, "batch_size": 4, "eval_batch_size": 5,
                "learning_rate": 5e-3, "warmup_ratio": 0.0, "device": "cpu", "fast_path": "none",
                "early_stopping_patience": 5, "seed": 13, **overrides}
    return TransformerClassifier(LABELS, **settings)


@pytest.fixture(scope="module")
def fitted(tiny_bert) -> TransformerClassifier:  # noqa: F811
    """One classifier trained once for the read-only tests; do not fit or mutate it (tests that switch
    its fast path use `own_copy`)."""
    return make(tiny_bert, epochs=3).fit(TRAIN, VALIDATION)


@pytest.fixture()
def own_copy(fitted) -> TransformerClassifier:
    """A shallow copy of `fitted` (same weights) whose fast path a test may switch freely."""
    twin = copy.copy(fitted)
    twin._fast_model = None
    return twin


