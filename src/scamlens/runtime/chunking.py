"""The one text splitter both classifiers use for long documents.

A text is cut into sentences (sentencex, whose segments concatenate back to the exact text, so
offsets are exact; it segments a 400-word article in well under a millisecond), and the
sentences are packed greedily into windows of at most `max_tokens` tokens; a single sentence longer
than that is cut between words. Where a classifier's tokenizer splits at every space and punctuation
mark (BERT's WordPiece), the text is tokenized once and a slice's tokens are counted from the token
offsets; otherwise every candidate slice is re-counted. Each chunk keeps its character offsets into the original text, so
evidence can be quoted and checked. A document's score per label is the maximum over its chunks,
matching the labelling rule: a text carries a label when any part of it reports on the theme.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\S+")
_WORD_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    text: str


def count_words(text: str) -> int:
    return len(_WORD_TOKEN.findall(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, trimmed of surrounding whitespace."""
    from sentencex import segment

    spans, cursor = [], 0
    for piece in segment("en", text):
        # Segments are consecutive slices of the text; find() keeps offsets right even if a future
        # version normalised whitespace inside a segment.
        found = text.find(piece, cursor)
        if found < 0:
            found = text.find(piece.strip(), cursor)
            if found < 0:
                continue
            piece = piece.strip()
        cursor = found + len(piece)
        spans.extend(_trimmed(text, found, cursor))
    return spans or _trimmed(text, 0, len(text))


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


SliceCounter = Callable[[int, int], int]
TokenOffsets = Callable[[str], Sequence[tuple[int, int]] | None]


def slice_counter(text: str, count_tokens: Callable[[str], int], token_offsets: TokenOffsets | None) -> SliceCounter:
    """Tokens in text[start:end]: from one tokenization's offsets when available, else by re-counting.

    Offsets are exact for slices that begin and end where the tokenizer splits anyway (the
    splitter only cuts between sentences and words). They save re-tokenizing every growing window,
    which took a quarter of the transformer's time on long articles.
    """
    offsets = token_offsets(text) if token_offsets is not None else None
    if offsets is None:
        return lambda start, end: count_tokens(text[start:end])
    starts, ends = [s for s, _ in offsets], [e for _, e in offsets]
    return lambda start, end: max(0, bisect_right(ends, end) - bisect_left(starts, start))


def _cut_long_span(text: str, start: int, end: int, max_tokens: int, count: SliceCounter) -> list[tuple[int, int]]:
    """Cut one over-long sentence between words into pieces of at most max_tokens tokens."""
    pieces, piece_start, piece_end = [], None, None
    for match in _WORD.finditer(text, start, end):
        if piece_start is None:
            piece_start, piece_end = match.start(), match.end()
        elif count(piece_start, match.end()) <= max_tokens:
            piece_end = match.end()
        else:
            pieces.append((piece_start, piece_end))
            piece_start, piece_end = match.start(), match.end()
    if piece_start is not None:
        pieces.append((piece_start, piece_end))
    return pieces


def split_text(
    text: str,
    max_tokens: int = 128,
    count_tokens: Callable[[str], int] = count_words,
    whole_text_words: int = 64,
    token_offsets: TokenOffsets | None = None,
) -> list[Chunk]:
    """Cut a text into chunks of at most `max_tokens` tokens with exact character offsets.

    Args:
        text: the document.
        max_tokens: the window size, counted by `count_tokens`.
        count_tokens: tokens in a piece of text (words for TF-IDF, word pieces for a transformer).
        whole_text_words: texts of at most this many whitespace-separated words that also fit in
            one window are returned whole without sentence segmentation (the fast path for headlines).
        token_offsets: the character spans of a text's tokens, or None, where counting a slice's
            tokens equals counting the spans inside it (see slice_counter).
    """
    if not text.strip():
        return [Chunk(0, len(text), text)]
    if len(text.split()) <= whole_text_words and count_tokens(text) <= max_tokens:
        return [Chunk(0, len(text), text)]
    count = slice_counter(text, count_tokens, token_offsets)
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        if count(start, end) > max_tokens:
            spans.extend(_cut_long_span(text, start, end, max_tokens, count))
        else:
            spans.append((start, end))
    chunks: list[Chunk] = []
    window_start = window_end = None
    for start, end in spans:
        if window_start is not None and count(window_start, end) <= max_tokens:
            window_end = end
            continue
        if window_start is not None:
            chunks.append(Chunk(window_start, window_end, text[window_start:window_end]))
        window_start, window_end = start, end
    if window_start is not None:
        chunks.append(Chunk(window_start, window_end, text[window_start:window_end]))
    return chunks
