"""Turn the two blind labelling passes over the realdev candidates into the committed val/test sets.

    python scripts/realdev_labels.py agree        # Cohen's kappa per label, and the disagreements to adjudicate
    python scripts/realdev_labels.py build        # passes + adjudication -> data/realdev/{val,test}.jsonl

Inputs, all under data/realdev/ and all labels only (ids, never text):
  candidates.jsonl          the references drawn by scripts/realdev_sample.py
  passes/pass_a.jsonl       first annotator:  {"id", "labels", "ambiguous", "note"}
  passes/pass_b.jsonl       second annotator, who saw neither pass A nor any model output
  passes/adjudicated.jsonl  the decision on every item where the passes differ (labels or ambiguity)

The split is made once, seeded, stratified by label set and source, half to `val` (for choosing
among configurations) and half to `test` (for reporting only).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
from pathlib import Path

REALDEV = Path("data/realdev")
LABELS = ("scam_operation", "deportation", "victim_assistance")
SEED = 12


def read(path: Path) -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if row}


def agree() -> dict:
    from scamlens.evaluation.compare import cohen_kappa

    a, b = read(REALDEV / "passes/pass_a.jsonl"), read(REALDEV / "passes/pass_b.jsonl")
    if set(a) != set(b):
        raise SystemExit(f"the passes label different items: {sorted(set(a) ^ set(b))[:10]}")
    ids = sorted(a)
    result = {"items": len(ids), "kappa": {}, "disagreements": []}
    print("| label | pass A | pass B | agreement | Cohen's kappa |\n|---|---|---|---|---|")
    for label in LABELS:
        x = [label in a[i]["labels"] for i in ids]
        y = [label in b[i]["labels"] for i in ids]
        k = cohen_kappa(x, y)
        k = 1.0 if k is None else k  # both passes constant and equal: perfect agreement
        same = sum(p == q for p, q in zip(x, y, strict=True)) / len(ids)
        result["kappa"][label] = round(k, 3)
        print(f"| {label} | {sum(x)} | {sum(y)} | {same:.1%} | {k:.3f} |")
    result["disagreements"] = [i for i in ids if sorted(a[i]["labels"]) != sorted(b[i]["labels"])
                               or bool(a[i].get("ambiguous")) != bool(b[i].get("ambiguous"))
                               or a[i].get("ambiguous")]
    print(f"{len(result['disagreements'])} items to adjudicate (labels differ, or either pass marked ambiguous)")
    (REALDEV / "agreement.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def final_labels() -> dict[str, dict]:
    a, b = read(REALDEV / "passes/pass_a.jsonl"), read(REALDEV / "passes/pass_b.jsonl")
    decided = read(REALDEV / "passes/adjudicated.jsonl")
    out = {}
    for i, row in a.items():
        if i in decided:
            out[i] = decided[i]
        elif sorted(row["labels"]) == sorted(b[i]["labels"]) and not row.get("ambiguous") and not b[i].get("ambiguous"):
            out[i] = row
        else:
            raise SystemExit(f"{i}: the passes differ and there is no adjudication")
    return out


def source_name(source: str) -> str:
    return Path(source).name.split(".")[0]


def build() -> None:
    candidates = read(REALDEV / "candidates.jsonl")
    labels = final_labels()
    rows = []
    for i, ref in candidates.items():
        decided = labels[i]
        row = {"id": i, "source": ref["source"], "key": ref["key"],
               "labels": [n for n in LABELS if n in decided["labels"]], "kind": ref["kind"]}
        if decided.get("ambiguous"):
            row["ambiguous"] = True
        if decided.get("note"):
            row["note"] = decided["note"]
        rows.append(row)
    # Stratify by source and label set: each stratum is shuffled and dealt alternately, so both
    # halves get the same mix even of rare combinations.
    strata: dict[tuple, list[dict]] = collections.defaultdict(list)
    for row in rows:
        strata[(source_name(row["source"]), "+".join(row["labels"]))].append(row)
    rng = random.Random(SEED)
    halves: dict[str, list[dict]] = {"val": [], "test": []}
    start = 0
    for key in sorted(strata):
        group = strata[key]
        rng.shuffle(group)
        for k, row in enumerate(group):
            halves["val" if (k + start) % 2 == 0 else "test"].append(row)
        start += len(group)
    for name, half in halves.items():
        half.sort(key=lambda r: r["id"])
        path = REALDEV / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in half), encoding="utf-8")
        counts = collections.Counter(n for r in half if not r.get("ambiguous") for n in r["labels"])
        print(f"{path}: {len(half)} items, {sum(bool(r.get('ambiguous')) for r in half)} ambiguous, {dict(counts)}")
    (REALDEV / "README.md").write_text(card(), encoding="utf-8")


def card() -> str:
    """data/realdev/README.md: what realdev is, its composition and the annotators' agreement."""
    agreement = json.loads((REALDEV / "agreement.json").read_text())
    rows = {name: list(read(REALDEV / f"{name}.jsonl").values()) for name in ("val", "test")}
    combos = ["none", *("+".join(c) for c in
                        [(a,) for a in LABELS] + [(a, b) for i, a in enumerate(LABELS) for b in LABELS[i + 1:]] + [LABELS])]
    cells: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    for half in rows.values():
        for r in half:
            cells[(source_name(r["source"]), r["kind"])]["+".join(r["labels"]) or "none"] += 1
    short = {c: "+".join(w[:5] for w in c.split("+")) for c in combos}
    lines = ["| source | kind | items | " + " | ".join(short[c] for c in combos) + " |",
             "|---|---|---|" + "---|" * len(combos)]
    for (source, kind), counter in sorted(cells.items()):
        lines.append(f"| {source} | {kind} | {sum(counter.values())} | " + " | ".join(str(counter.get(c, 0)) for c in combos) + " |")
    totals = collections.Counter()
    for counter in cells.values():
        totals.update(counter)
    lines.append(f"| **all** | | {sum(totals.values())} | " + " | ".join(str(totals.get(c, 0)) for c in combos) + " |")
    positives = {name: {n: sum(n in r["labels"] for r in half if not r.get("ambiguous")) for n in LABELS}
                 for name, half in rows.items()}
    kappa_rows = "\n".join(f"| {n} | {agreement['kappa'][n]:.3f} |" for n in LABELS)
    return f"""# realdev: real news, labelled by reference

*Generated by `python scripts/realdev_labels.py build`; do not edit by hand.*

Labelled real-news items for measuring models on text no one here wrote. Each line holds a
reference (`source`: a file under a text root, `key`: its line and title or id, or a CSV row and
id), the labels, and the item's `kind`; the text itself is never stored here. Resolve it with
`--text-root ../shared` (`scamlens evaluate MODEL --data data/realdev/test.jsonl --text-root ../shared`).

- `val.jsonl` ({len(rows['val'])} items): for choosing among a few named configurations. Positives: {positives['val']}.
- `test.jsonl` ({len(rows['test'])} items): for reporting only. Positives: {positives['test']}.
- `candidates.jsonl`: the seeded draw (`scripts/realdev_sample.py`): theme strata so that every
  label has enough positives, random strata for the base rate. `passes/`: the two blind passes and
  the adjudication. `feed_sample.jsonl`, `feed_flags.json`: precision at the feed (`scripts/feed_precision.py`).

Sources: `../shared/realdata` (publishers' text: evaluation only; see its SOURCES.md) and
`../shared/opendata` (US Justice Department press releases, public domain; Wikipedia current-events
items, CC BY-SA 4.0, "Wikipedia contributors"). No text from either enters the repository, a
training set or a fitted threshold.

## Labelling
Two annotators labelled every item independently by `data/LABELING.md`, each seeing neither the
other's labels nor any model output; {len(agreement['disagreements'])} items where they differed (or either marked the item
ambiguous) were adjudicated against the rules, and the rulings added to LABELING.md. Items the rules
cannot decide would be marked `ambiguous` and left out of scores.

| label | Cohen's kappa between the two passes ({agreement['items']} items) |
|---|---|
{kappa_rows}

## Composition (val + test): source x kind x label set
{chr(10).join(lines)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["agree", "build"])
    args = parser.parse_args()
    agree() if args.command == "agree" else build()


if __name__ == "__main__":
    main()
