"""Quick corpus slice checker used while writing the corpus.

Usage: python scripts/corpus_check.py data/corpus/SLICE.jsonl [--all]
Checks schema, counts per kind, form and label combination, lengths per kind, the share of
positives and negatives that hold each label's common words (compare with the corpus-vs-real table
in data/README.md), pairs of examples sharing >= half their word trigrams, and (with --all) every
text that shares more than half of its word trigrams with the rest of the corpus.
"""
from __future__ import annotations

import collections
import itertools
import json
import pathlib
import re
import sys

LABELS = ["scam_operation", "deportation", "victim_assistance"]
KINDS = {"headline", "sentence", "paragraph", "article", "feed", "long"}
FORMS = {"news", "feed_item", "wire_copy", "press_release", "live_blog", "court_ruling", "encyclopedic", "editorial", "feature", "social_post", "faq"}
WORDS = {"article": (150, 500), "long": (600, 1500), "feed": (12, 90), "headline": (4, 20)}
REGISTERS = {"wire", "government", "ngo", "court", "social", "faq", "feature", "editorial", "encyclopedic"}
KEYS = {"id", "text", "labels", "kind", "story", "register", "form"}
# Each label's common words, as in the corpus-vs-real table (scripts/corpus_report.py).
COMMON = {
    "scam_operation": re.compile(r"\b(scam|fraud|con\b|cons\b|conned|swindl|ponzi|pig.?butcher)", re.I),
    "deportation": re.compile(r"\b(deport|expel|expul|remov|repatriat)", re.I),
    "victim_assistance": re.compile(r"\b(rescu|victim|shelter|hotline|restitution|traffick)", re.I),
}
WORD = re.compile(r"[a-z0-9']+")


def trigrams(text: str) -> set[tuple[str, str, str]]:
    w = WORD.findall(text.lower())
    return set(zip(w, w[1:], w[2:], strict=False))


def load(path: pathlib.Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            print(f"{path}:{n}: blank line")
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            print(f"{path}:{n}: bad JSON: {e}")
            continue
        problems = []
        if set(r) != KEYS:
            problems.append(f"keys {sorted(r)}")
        if not isinstance(r.get("text"), str) or not r["text"].strip():
            problems.append("empty text")
        labels = r.get("labels")
        if not isinstance(labels, list) or any(name not in LABELS for name in labels) or len(set(labels)) != len(labels):
            problems.append(f"labels {labels}")
        if r.get("kind") not in KINDS:
            problems.append(f"kind {r.get('kind')}")
        if r.get("register") not in REGISTERS:
            problems.append(f"register {r.get('register')}")
        if not r.get("story"):
            problems.append("story")
        if r.get("form") not in FORMS:
            problems.append(f"form {r.get('form')}")
        if r.get("kind") in WORDS:
            nw, (lo, hi) = len(r["text"].split()), WORDS[r["kind"]]
            if not lo <= nw <= hi:
                problems.append(f"{r['kind']} has {nw} words (want {lo}-{hi})")
        if problems:
            print(f"{path}:{n}: " + "; ".join(problems))
        r["_where"] = f"{path.name}:{n}"
        rows.append(r)
    return rows


def template_counts(grams: list[set[tuple[str, str, str]]]) -> list[tuple[int, int]]:
    """Template-likeness: per text, (its trigrams that occur in any other text, its trigrams)."""
    seen = collections.Counter(t for g in grams for t in g)
    return [(sum(1 for t in g if seen[t] > 1), len(g)) for g in grams]


def holding(rows: list[dict], pattern: re.Pattern[str]) -> float:
    """The share of rows whose text matches pattern."""
    return sum(1 for r in rows if pattern.search(r["text"])) / max(len(rows), 1)


def main() -> None:
    target = pathlib.Path(sys.argv[1])
    rows = load(target)
    others = []
    if "--all" in sys.argv:
        for p in sorted(target.parent.glob("*.jsonl")):
            if p != target:
                others += load(p)
    ids = collections.Counter(r["id"] for r in rows + others)
    for i, c in ids.items():
        if c > 1:
            print(f"duplicate id {i}")
    kinds = collections.Counter(r["kind"] for r in rows)
    combos = collections.Counter("+".join(n for n in LABELS if n in r["labels"]) or "none" for r in rows)
    regs = collections.Counter(r["register"] for r in rows)
    forms = collections.Counter(r.get("form") for r in rows)
    print(f"{target.name}: {len(rows)} examples, {len({r['story'] for r in rows})} stories")
    print("kinds:", dict(kinds))
    print("registers:", dict(regs))
    print("forms:", dict(forms))
    for k in ["none"] + ["+".join(c) for n in (1, 2, 3) for c in itertools.combinations(LABELS, n)]:
        print(f"  {k:50s} {combos.get(k, 0)}")
    none = combos.get("none", 0)
    print(f"no label: {none}/{len(rows)} = {none / max(len(rows), 1):.0%}")
    for name, pattern in COMMON.items():
        pos = [r for r in rows if name in r["labels"]]
        neg = [r for r in rows if name not in r["labels"]]
        print(f"common words of {name}: positives {holding(pos, pattern):.0%} ({len(pos)}), "
              f"negatives {holding(neg, pattern):.0%}")
    grams = [trigrams(r["text"]) for r in rows]
    ogrames = [trigrams(r["text"]) for r in others]
    index = collections.defaultdict(set)
    allrows = rows + others
    allgrams = grams + ogrames
    for i, g in enumerate(allgrams):
        for t in g:
            index[t].add(i)
    for i, g in enumerate(grams):
        shared = collections.Counter()
        for t in g:
            for j in index[t]:
                if j != i:
                    shared[j] += 1
        for j, c in shared.items():
            if j < len(rows) and j < i:
                continue
            smaller = min(len(g), len(allgrams[j])) or 1
            if c / smaller >= 0.5:
                print(f"near-duplicate ({c}/{smaller} trigrams): {allrows[i]['_where']} ~ {allrows[j]['_where']}")
    if others:
        for i, (common, total) in enumerate(template_counts(allgrams)[:len(rows)]):
            if total and common / total > 0.5:
                print(f"template-like ({common}/{total} trigrams occur elsewhere): {rows[i]['_where']}")


if __name__ == "__main__":
    main()
