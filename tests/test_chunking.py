from __future__ import annotations

from scamlens.runtime.chunking import count_words, sentence_spans, split_text

ARTICLE = (
    "Phnom Penh, 3 March. Dr. Sok Vanna told reporters the U.S. delegation had left.  The rains came early.\n\n"
    "Police later said 40 men were found in a building in Bavet, where they had been forced to work. "
    "Officials declined to comment further on the matter on Tuesday."
)


def test_sentence_spans_are_exact_offsets() -> None:
    spans = sentence_spans(ARTICLE)
    assert len(spans) == 5
    assert ARTICLE[spans[0][0]:spans[0][1]] == "Phnom Penh, 3 March."
    assert ARTICLE[spans[1][0]:spans[1][1]].startswith("Dr. Sok Vanna")
    for start, end in spans:
        piece = ARTICLE[start:end]
        assert piece == piece.strip() and piece


def test_windows_respect_the_budget_and_keep_offsets() -> None:
    chunks = split_text(ARTICLE, max_tokens=20, whole_text_words=0)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert ARTICLE[chunk.start:chunk.end] == chunk.text
        assert count_words(chunk.text) <= 20
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_short_text_is_one_chunk_and_a_long_sentence_is_cut_between_words() -> None:
    assert [(c.start, c.end) for c in split_text("A short headline", 20)] == [(0, 16)]
    long_sentence = " ".join(f"word{i}" for i in range(50))
    chunks = split_text(long_sentence, max_tokens=16, whole_text_words=0)
    assert [count_words(c.text) for c in chunks] == [16, 16, 16, 2]
    assert " ".join(c.text for c in chunks) == long_sentence


def test_custom_token_counter_is_used() -> None:
    chunks = split_text("aaaa bbbb cccc dddd", max_tokens=8, count_tokens=len, whole_text_words=0)
    assert [c.text for c in chunks] == ["aaaa", "bbbb", "cccc", "dddd"]


def test_token_offsets_count_a_slice_without_re_counting_it() -> None:
    def word_offsets(text: str) -> list[tuple[int, int]]:
        import re

        return [m.span() for m in re.finditer(r"\w+", text)]

    def refuse(text: str) -> int:
        raise AssertionError(f"re-counted {text!r}")

    via_offsets = split_text(ARTICLE, max_tokens=20, count_tokens=refuse, whole_text_words=0, token_offsets=word_offsets)
    assert via_offsets == split_text(ARTICLE, max_tokens=20, whole_text_words=0)
    long_sentence = " ".join(f"word{i}" for i in range(50))
    cut = split_text(long_sentence, 16, count_tokens=refuse, whole_text_words=0, token_offsets=word_offsets)
    assert [count_words(c.text) for c in cut] == [16, 16, 16, 2]


def test_a_tokenizer_without_offsets_falls_back_to_re_counting() -> None:
    chunks = split_text("aaaa bbbb cccc dddd", max_tokens=8, count_tokens=len, whole_text_words=0,
                        token_offsets=lambda text: None)
    assert [c.text for c in chunks] == ["aaaa", "bbbb", "cccc", "dddd"]
