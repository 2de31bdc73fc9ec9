"""The corpus-vs-real table: the bundled corpus's statistics beside realdev's (real, labelled news).

    python scripts/corpus_vs_real.py [--realdev data/realdev/val.jsonl] [--text-root ../shared] [--json PATH]

A corpus written to quotas learns a dialect; this table is how the project sees one. For each label:
the share of positives and of negatives that hold the label's common words, the label prior and
co-occurrence, words per kind, the words whose label purity is high in the corpus but not in real
news (the shortcuts a model would learn), the words whose pull towards a label differs most once each
side's prior is divided out (lift gaps), and how place names, nationalities and gendered words split
between positives and negatives. scripts/corpus_report.py puts it on the dataset card.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus_check import COMMON  # noqa: E402  (one definition of each label's common words)

TOKEN = re.compile(r"[a-z][a-z'-]+")
SUFFIX = re.compile(r"(ations?|ings?|ed|es|s|al)$")
# Purity is judged only on words frequent enough for a rate to mean something.
MIN_CORPUS_TEXTS = 20
MIN_REAL_TEXTS = 5
TARGET_POINTS = 0.10
# Lift gaps: a word's pull towards a label (its label rate over the label's prior) that differs
# between corpus and real news by at least this factor, among words common enough on both sides.
LIFT_FACTOR = 2.0
LIFT_MIN_CORPUS, LIFT_MIN_REAL = 30, 15

GROUPS = {
    "Southeast Asian places": r"cambodia\w*|phnom penh|sihanoukville|myanmar|burm\w+|myawaddy|kk park|shwe kokko|"
                              r"laos|lao|thai\w*|bangkok|philippin\w*|manila|vietnam\w*|malaysia\w*|indonesia\w*",
    "nationalities": r"chinese|filipinos?|indonesians?|vietnamese|thais?|cambodians?|koreans?|indians?|kenyans?|"
                     r"sri lankans?|nepalis?|americans?|britons?|nigerians?|mexicans?",
    "gendered words": r"women|woman|girls?|mothers?|wives|wife|daughters?|sisters?|men|man|boys?|husbands?|sons?",
}


@dataclass(frozen=True)
class Labelled:
    """Texts with a 0/1 row per text over `labels`, and each text's kind."""

    texts: list[str]
    matrix: list[list[int]]
    kinds: list[str]
    labels: list[str]


def stem(word: str) -> str:
    return SUFFIX.sub("", word) if len(word) > 5 else word


def word_sets(texts: Sequence[str]) -> list[set[str]]:
    return [{stem(w) for w in TOKEN.findall(t.lower())} for t in texts]


def share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def common_words(data: Labelled) -> dict[str, dict[str, float]]:
    out = {}
    for j, label in enumerate(data.labels):
        pattern = COMMON.get(label)
        if pattern is None:
            continue
        hits = [bool(pattern.search(t)) for t in data.texts]
        out[label] = {"positives": share([h for h, row in zip(hits, data.matrix, strict=True) if row[j]]),
                      "negatives": share([h for h, row in zip(hits, data.matrix, strict=True) if not row[j]])}
    return out


def priors(data: Labelled) -> dict[str, float]:
    combos = collections.Counter("+".join(n for n, v in zip(data.labels, row, strict=True) if v) or "none"
                                 for row in data.matrix)
    return {k: v / len(data.matrix) for k, v in sorted(combos.items(), key=lambda kv: -kv[1])}


def words_per_kind(data: Labelled) -> dict[str, float]:
    lengths = collections.defaultdict(list)
    for text, kind in zip(data.texts, data.kinds, strict=True):
        lengths[kind].append(len(text.split()))
    return {k: statistics.median(v) for k, v in sorted(lengths.items())}


def purity(data: Labelled, sets: list[set[str]]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per label, per word: (texts with the word that carry the label, texts with the word)."""
    with_word: collections.Counter[str] = collections.Counter(w for s in sets for w in s)
    out = {}
    for j, label in enumerate(data.labels):
        positive = collections.Counter(w for s, row in zip(sets, data.matrix, strict=True) if row[j] for w in s)
        out[label] = {w: (positive[w], n) for w, n in with_word.items()}
    return out


Purities = tuple[dict[str, dict[str, tuple[int, int]]], dict[str, dict[str, tuple[int, int]]]]


def purities(corpus: Labelled, real: Labelled) -> Purities:
    """purity() of the corpus and of real news: tokenizing the corpus is the table's slowest step, so
    compare() does it once for every word table."""
    return purity(corpus, word_sets(corpus.texts)), purity(real, word_sets(real.texts))


def shortcut_words(corpus: Labelled, real: Labelled, measured: Purities | None = None) -> list[dict]:
    """Words >= 90% one label in the corpus but < 70% that label in real news."""
    corpus_purity, real_purity = measured or purities(corpus, real)
    rows = []
    for label, words in corpus_purity.items():
        for word, (pos, n) in words.items():
            if n < MIN_CORPUS_TEXTS or pos / n < 0.9:
                continue
            real_pos, real_n = real_purity.get(label, {}).get(word, (0, 0))
            if real_n >= MIN_REAL_TEXTS and real_pos / real_n < 0.7:
                rows.append({"label": label, "word": word + "*", "corpus": [pos, n], "real": [real_pos, real_n]})
    return sorted(rows, key=lambda r: -r["corpus"][1])


def lift_gaps(corpus: Labelled, real: Labelled, top: int = 12, measured: Purities | None = None) -> list[dict]:
    """Words whose lift towards a label (P(label | word) / P(label)) differs by LIFT_FACTOR or more
    between corpus and real news, strongest evidence first.

    Lift divides out each side's prior, so a corpus that is simply richer in positives does not flag
    every theme word. A word the corpus overstates is a dialect a model learns and real news punishes
    (false positives); one it understates is real evidence the corpus does not teach. Real lifts come
    from realdev, which is keyword-selected and rich in long press releases, so generic legal words in
    the understated list are partly that; read the list as leads for writing, not targets.
    """
    rows = []
    corpus_purity, real_purity = measured or purities(corpus, real)
    for j, label in enumerate(corpus.labels):
        if label not in real.labels:
            continue
        k = real.labels.index(label)
        corpus_prior = sum(row[j] for row in corpus.matrix) / len(corpus.matrix)
        real_prior = sum(row[k] for row in real.matrix) / len(real.matrix)
        if not corpus_prior or not real_prior:
            continue
        for word, (pos, n) in corpus_purity[label].items():
            real_pos, real_n = real_purity[label].get(word, (0, 0))
            if n < LIFT_MIN_CORPUS or real_n < LIFT_MIN_REAL:
                continue
            # Half a text added on each side keeps a zero count from making an infinite ratio.
            corpus_lift = (pos + 0.5) / (n + 1) / corpus_prior
            real_lift = (real_pos + 0.5) / (real_n + 1) / real_prior
            ratio = corpus_lift / real_lift
            # A word rare among positives on both sides (lift under 1 on each) is no theme word: the
            # half-text smoothing alone can make two near-zero rates differ by the factor.
            if max(ratio, 1 / ratio) >= LIFT_FACTOR and max(corpus_lift, real_lift) >= 1:
                rows.append({"label": label, "word": word + "*", "corpus": [pos, n], "real": [real_pos, real_n],
                             "corpus_lift": round(corpus_lift, 2), "real_lift": round(real_lift, 2),
                             "evidence": abs(math.log(ratio)) * math.sqrt(min(n, real_n))})
    return sorted(rows, key=lambda r: -r["evidence"])[:top]


def group_rates(data: Labelled) -> dict[str, dict[str, float]]:
    labelled = [any(row) for row in data.matrix]
    out = {}
    for name, pattern in GROUPS.items():
        hits = [bool(re.search(rf"\b({pattern})\b", t, re.IGNORECASE)) for t in data.texts]
        out[name] = {"positives": share([h for h, y in zip(hits, labelled, strict=True) if y]),
                     "negatives": share([h for h, y in zip(hits, labelled, strict=True) if not y])}
    return out


def compare(corpus: Labelled, real: Labelled) -> dict:
    c_words, r_words = common_words(corpus), common_words(real)
    targets = {
        label: {side: abs(c_words[label][side] - r_words[label][side]) <= TARGET_POINTS for side in ("positives", "negatives")}
        for label in c_words if label in r_words
    }
    groups = group_rates(corpus)
    measured = purities(corpus, real)
    shortcuts = shortcut_words(corpus, real, measured)
    return {
        "common_words": {"corpus": c_words, "real": r_words, "within_10_points": targets},
        "priors": {"corpus": priors(corpus), "real": priors(real)},
        "words_per_kind": {"corpus": words_per_kind(corpus), "real": words_per_kind(real)},
        "shortcut_words": shortcuts,
        "lift_gaps": lift_gaps(corpus, real, measured=measured),
        "groups": {"corpus": groups, "real": group_rates(real),
                   "within_10_points": {g: abs(v["positives"] - v["negatives"]) <= TARGET_POINTS for g, v in groups.items()}},
        "all_targets_met": all(all(t.values()) for t in targets.values()) and not shortcuts,
    }


def load_corpus(config_path: str) -> Labelled:
    """Every example of the corpus a run config names (all splits)."""
    from scamlens.config import load_config
    from scamlens.data import load_labels
    from scamlens.data.corpus import load_examples

    config = load_config(config_path)
    labels = load_labels(config.data.labels)
    examples = load_examples(config.data, labels)
    return Labelled([e.text for e in examples], labels.encode_many([e.labels for e in examples]).astype(int).tolist(),
                    [e.extras.get("kind", "") for e in examples], list(labels))


def load_realdev(path: str, text_root: str) -> Labelled:
    """A realdev file, its references resolved under text_root; ambiguous items left out."""
    from scamlens.data import read_labelled

    data = read_labelled(path, text_root=text_root)
    return Labelled(data.texts, data.y.astype(int).tolist(), [e.extras.get("kind", "") for e in data.examples],
                    list(data.labels))


def pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.0%}"


def render(result: dict) -> str:
    """Markdown for the dataset card."""
    cw = result["common_words"]
    lines = ["| label | positives holding its common words: corpus / real | negatives: corpus / real | within 10 points |",
             "|---|---|---|---|"]
    for label, c in cw["corpus"].items():
        r = cw["real"].get(label, {"positives": float("nan"), "negatives": float("nan")})
        ok = cw["within_10_points"].get(label, {})
        lines.append(f"| {label} | {pct(c['positives'])} / {pct(r['positives'])} | {pct(c['negatives'])} / {pct(r['negatives'])} "
                     f"| {'yes' if ok and all(ok.values()) else 'no'} |")
    lines += ["", "| label set | corpus | real |", "|---|---|---|"]
    pr = result["priors"]
    for combo in sorted(set(pr["corpus"]) | set(pr["real"]), key=lambda k: -pr["real"].get(k, 0)):
        lines.append(f"| {combo} | {pct(pr['corpus'].get(combo, 0))} | {pct(pr['real'].get(combo, 0))} |")
    lines += ["", "| kind | median words, corpus | real |", "|---|---|---|"]
    wk = result["words_per_kind"]
    for kind in sorted(set(wk["corpus"]) | set(wk["real"])):
        lines.append(f"| {kind} | {wk['corpus'].get(kind, '-')} | {wk['real'].get(kind, '-')} |")
    lines += ["", "| words in texts that are | positives, corpus | negatives, corpus | positives, real | negatives, real |",
              "|---|---|---|---|---|"]
    for name, c in result["groups"]["corpus"].items():
        r = result["groups"]["real"][name]
        lines.append(f"| {name} | {pct(c['positives'])} | {pct(c['negatives'])} | {pct(r['positives'])} | {pct(r['negatives'])} |")
    shortcuts = result["shortcut_words"]
    lines += ["", f"Words at least 90% one label in the corpus but under 70% in real news: {len(shortcuts)}"
              + (": " + ", ".join(f"{s['word']} ({s['label']}: corpus {s['corpus'][0]}/{s['corpus'][1]}, real "
                                   f"{s['real'][0]}/{s['real'][1]})" for s in shortcuts) if shortcuts else ".")]
    gaps = result.get("lift_gaps", [])
    if gaps:
        lines += ["", f"Words whose pull towards a label (its rate among texts holding the word over the label's prior) "
                      f"differs {LIFT_FACTOR:g}-fold or more between corpus and real news, strongest evidence first: "
                      "leads for writing, not targets (realdev is keyword-selected and rich in press releases).",
                  "", "| label | word | corpus: with label / with word, lift | real: with label / with word, lift |",
                  "|---|---|---|---|"]
        lines += [f"| {g['label']} | {g['word']} | {g['corpus'][0]}/{g['corpus'][1]}, {g['corpus_lift']:.1f} "
                  f"| {g['real'][0]}/{g['real'][1]}, {g['real_lift']:.1f} |" for g in gaps]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/baseline.yaml")
    parser.add_argument("--realdev", default="data/realdev/val.jsonl")
    parser.add_argument("--text-root", default="../shared")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = compare(load_corpus(args.config), load_realdev(args.realdev, args.text_root))
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
