"""The TF-IDF baseline's predictor: word and character n-gram TF-IDF, one logistic regression per label.

Training (scikit-learn) lives in `scamlens.kinds.tfidf`. Prediction does not need it: the fitted
vocabularies, idf weights and coefficients are saved as plain JSON and a NumPy archive, and
`score_texts` recomputes scikit-learn's exact analyzers and arithmetic, so a saved baseline
cold-starts without importing scikit-learn or unpickling anything (tests check the scores equal
scikit-learn's).
"""

from __future__ import annotations

import json
import re
from functools import partial
from itertools import chain
from operator import is_not
from pathlib import Path
from typing import Any

import numpy as np

from .classifier import Classifier
from .errors import InputError

VOCABULARY_FILE = "tfidf_vocabulary.json"
ARRAYS_FILE = "tfidf_arrays.npz"

# scikit-learn's default token pattern and whitespace normaliser, copied so results match exactly.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")


def word_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """scikit-learn's `analyzer="word"` with lowercase=True and no stop words."""
    tokens = _TOKEN.findall(text.lower())
    min_n, max_n = ngram_range
    if max_n == 1:
        return tokens
    grams = list(tokens) if min_n == 1 else []
    start = max(min_n, 2)
    for n in range(start, min(max_n + 1, len(tokens) + 1)):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _padded_word_ngrams(padded: str, min_n: int, max_n: int) -> list[str]:
    """scikit-learn's char_wb n-grams of one space-padded word, with its short-word rule: at the
    first n that reaches the word's length the whole word is emitted once and larger n are skipped."""
    length = len(padded)
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        if length <= n:
            grams.append(padded)
            break
        grams.extend([padded[i : i + n] for i in range(length - n + 1)])
    return grams


def char_wb_words(text: str) -> list[str]:
    return _WHITE_SPACES.sub(" ", text.lower()).split()


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """scikit-learn's `analyzer="char_wb"` with lowercase=True."""
    min_n, max_n = ngram_range
    grams: list[str] = []
    for word in char_wb_words(text):
        grams.extend(_padded_word_ngrams(f" {word} ", min_n, max_n))
    return grams


_known = partial(is_not, None)
WORD_CACHE_SIZE = 200_000


class _Space:
    """One TF-IDF feature space (vocabulary + idf) with scikit-learn's sublinear tf and l2 norm."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, analyzer, ngram_range, sublinear_tf: bool):
        self.vocabulary = vocabulary
        self.idf = idf
        self.analyzer = analyzer
        self.ngram_range = tuple(ngram_range)
        self.sublinear_tf = sublinear_tf
        # Character n-grams never cross a word, so a word's feature ids are computed once and
        # reused: news repeats its words, and this is most of the baseline's prediction time.
        self._word_ids: dict[str, list[int]] = {}

    def _ids_of_word(self, word: str) -> list[int]:
        ids = self._word_ids.get(word)
        if ids is None:
            grams = _padded_word_ngrams(f" {word} ", *self.ngram_range)
            ids = list(filter(_known, map(self.vocabulary.get, grams)))
            if len(self._word_ids) < WORD_CACHE_SIZE:
                self._word_ids[word] = ids
        return ids

    def feature_ids(self, text: str) -> list[int]:
        """Vocabulary ids of every n-gram in `text` (repeated as often as the n-gram occurs)."""
        if self.analyzer is char_wb_ngrams:
            ids: list[int] = []
            for word in char_wb_words(text):
                ids.extend(self._ids_of_word(word))
            return ids
        return list(filter(_known, map(self.vocabulary.get, self.analyzer(text, self.ngram_range))))

    def transform(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value) triplets of the l2-normalised TF-IDF matrix."""
        per_text = [self.feature_ids(text) for text in texts]
        lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(texts))
        if not lengths.sum():
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        width = len(self.vocabulary)
        ids = np.fromiter(chain.from_iterable(per_text), dtype=np.int64, count=int(lengths.sum()))
        keys = np.repeat(np.arange(len(texts), dtype=np.int64) * width, lengths) + ids
        unique, counts = np.unique(keys, return_counts=True)
        rows, cols = np.divmod(unique, width)
        values = counts.astype(np.float64)
        if self.sublinear_tf:
            values = np.log(values) + 1.0
        values *= self.idf[cols]
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
        values /= norms[rows]
        return rows, cols, values


class TfidfPredictor(Classifier):
    """Scores texts with fitted TF-IDF spaces and per-label coefficients (numpy only)."""

    kind = "tfidf"

    def __init__(self, labels, params: dict[str, Any], max_tokens: int, whole_text_words: int,
                 chunk_long_texts: bool = True):
        super().__init__(labels, max_tokens, whole_text_words, chunk_long_texts)
        self.params = dict(params)
        self._spaces: list[_Space] = []
        self.coef = np.zeros((len(self.labels), 0))
        self.intercept = np.zeros(len(self.labels))

    def set_spaces(self, vocabularies: list[dict[str, int]], idfs: list[np.ndarray]) -> None:
        """The word and character feature spaces, in that order, from vocabularies and idf weights."""
        p = self.params
        self._spaces = [
            _Space(vocabularies[0], idfs[0], word_ngrams, p["word_ngrams"], p["sublinear_tf"]),
            _Space(vocabularies[1], idfs[1], char_wb_ngrams, p["char_ngrams"], p["sublinear_tf"]),
        ]

    # --- prediction ----------------------------------------------------------------------------
    def decision_function(self, texts: list[str]) -> np.ndarray:
        scores = np.tile(self.intercept, (len(texts), 1))
        offset = 0
        for space in self._spaces:
            rows, cols, values = space.transform(texts)
            # Sparse rows times dense coefficients: one weighted bincount per label.
            for j in range(len(self.labels)):
                scores[:, j] += np.bincount(rows, weights=values * self.coef[j, offset + cols], minlength=len(texts))
            offset += len(space.vocabulary)
        return scores

    def score_texts(self, texts: list[str]) -> np.ndarray:
        if not self._spaces:
            raise RuntimeError("this TF-IDF classifier is not fitted; call fit() or load()")
        decision = self.decision_function(list(texts))
        return (1.0 / (1.0 + np.exp(-decision))).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    # --- persistence ---------------------------------------------------------------------------
    def _save_weights(self, folder: Path) -> dict[str, Any]:
        vocabularies = []
        for space in self._spaces:
            terms = [""] * len(space.vocabulary)
            for term, index in space.vocabulary.items():
                terms[index] = term
            vocabularies.append(terms)
        (folder / VOCABULARY_FILE).write_text(json.dumps({"word": vocabularies[0], "char": vocabularies[1]},
                                                         ensure_ascii=False), encoding="utf-8")
        np.savez(folder / ARRAYS_FILE, idf_word=self._spaces[0].idf, idf_char=self._spaces[1].idf,
                 coef=self.coef, intercept=self.intercept)
        return {"params": self.params, "files": [VOCABULARY_FILE, ARRAYS_FILE]}

    @classmethod
    def _load_weights(cls, folder: Path, settings: dict[str, Any], device: str) -> TfidfPredictor:
        # Labels and chunking are set by Classifier.load from classifier.json.
        classifier = TfidfPredictor(["_"], settings["params"], 0, 0)
        vocabularies = json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8"))
        # allow_pickle=False: a tampered archive can never execute code on load.
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            idf_word, idf_char = arrays["idf_word"], arrays["idf_char"]
            classifier.coef, classifier.intercept = arrays["coef"], arrays["intercept"]
        if len(vocabularies["word"]) != len(idf_word) or len(vocabularies["char"]) != len(idf_char) \
                or classifier.coef.shape[1] != len(idf_word) + len(idf_char):
            raise InputError(f"{folder}: vocabulary and weight arrays do not match in size")
        classifier.set_spaces([{t: i for i, t in enumerate(vocabularies[name])} for name in ("word", "char")],
                              [idf_word, idf_char])
        return classifier
