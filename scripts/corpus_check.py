"""Quick corpus slice checker used while writing the corpus.

Usage: python scripts/corpus_check.py data/corpus/SLICE.jsonl [--all]
Checks schema, counts per kind and label combination, article lengths,
keyword-free share of positives, and pairs of examples sharing >= half their
word trigrams (against every file in data/corpus/ when --all is given).
"""
from __future__ import annotations

import collections
import itertools
import json
import pathlib
import re
import sys

LABELS = ["scam_operation", "deportation", "victim_assistance"]
KINDS = {"headline", "sentence", "paragraph", "article"}
REGISTERS = {"wire", "government", "ngo", "court", "social", "faq", "feature", "editorial"}
KEYS = {"id", "text", "labels", "kind", "story", "register"}
CUE = re.compile(r"\b(scam\w*|fraud\w*|deport\w*|victim\w*|rescu\w*|traffick\w*)", re.I)
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
        if r.get("kind") == "article":
            nw = len(r["text"].split())
            if not 150 <= nw <= 500:
                problems.append(f"article has {nw} words")
        if problems:
            print(f"{path}:{n}: " + "; ".join(problems))
        r["_where"] = f"{path.name}:{n}"
        rows.append(r)
    return rows


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
    pos = [r for r in rows if r["labels"]]
    free = sum(1 for r in pos if not CUE.search(r["text"]))
    print(f"{target.name}: {len(rows)} examples, {len({r['story'] for r in rows})} stories")
    print("kinds:", dict(kinds))
    print("registers:", dict(regs))
    for k in ["none"] + ["+".join(c) for n in (1, 2, 3) for c in itertools.combinations(LABELS, n)]:
        print(f"  {k:50s} {combos.get(k, 0)}")
    print(f"keyword-free positives: {free}/{len(pos)} = {free / max(len(pos), 1):.0%}")
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


if __name__ == "__main__":
    main()
