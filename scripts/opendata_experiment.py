"""A training *experiment* on real release-style text: does labelled public-domain DOJ text help?

    python scripts/opendata_experiment.py draw            # references -> data/experiments/doj_train.jsonl
    python scripts/opendata_experiment.py export --out /tmp/dojlab/items.jsonl   # texts for blind labelling
    python scripts/opendata_experiment.py merge LABELS.jsonl                      # adjudicated labels, by id
    python scripts/opendata_experiment.py train CONFIG [--set key=value ...]      # v2.2 + these items in train

Justice Department press releases are a fifth of realdev/val but hold about a third of the default
models' false positives there, and the bundled corpus is written text. This measures how far real
release text would go. The releases are US public domain (../shared/opendata/SOURCES.md); they are
held here by reference (file, line, title) only, and the models this trains are reported, never
shipped: `train` writes under the config's output_dir (point it under train/, which is not tracked).

The draw is seeded and disjoint from every DOJ release that realdev drew (`candidates.jsonl`, so
neither realdev split), in the same theme strata realdev used plus a random stratum. Line numbers are
not enough: the Department announces one case several times (charge, plea, sentence), so `train`
also leaves out any release sharing over LEAK_JACCARD of its word trigrams with a realdev release.
It adds the rest to the *train* split only: the written validation and test splits, and so the
thresholds and the bundled-test figure, stay those of the corpus alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path

from realdev_sample import DOJ, article_text, read_jsonl, ref, rx, stratified

REFS = Path("data/experiments/doj_train.jsonl")
CANDIDATES = Path("data/realdev/candidates.jsonl")
REALDEV_SPLITS = [Path("data/realdev/val.jsonl"), Path("data/realdev/test.jsonl")]
SEED = 2026
# A release sharing more than this share of its word trigrams with a realdev release is left out of
# training: the same case announced again (plea, then sentence) or the same boilerplate-heavy
# template would let realdev's answers leak in under another line number.
LEAK_JACCARD = 0.2
STRATA: list[tuple[str, re.Pattern[str] | None, int]] = [
    ("trafficking", rx(r"Human Trafficking|forced labor|sex trafficking"), 30),
    ("scam", rx(r"telemarketing|call cent|lottery scam|romance scam|money mule|mass.mailing|Elder Justice|Ponzi"), 35),
    ("deport", rx(r"deport|removal proceedings|removed from the United States|ordered removed"), 30),
    ("restitution", rx(r"ordered to pay .{0,40}restitution|restitution to (the )?victims"), 25),
    ("random", None, 40),
]


def read_refs() -> list[dict]:
    return [json.loads(line) for line in REFS.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_refs(rows: list[dict]) -> None:
    REFS.parent.mkdir(parents=True, exist_ok=True)
    REFS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def realdev_releases(files: list[Path]) -> dict[int, str]:
    """The DOJ releases realdev references in `files`: line -> realdev id."""
    rows = [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["key"]["line"]: row["id"] for row in rows if row["source"] == DOJ}


def draw(root: Path) -> None:
    realdev = realdev_releases([CANDIDATES])
    pool = [(line, rec, article_text(rec) + " " + " ".join(rec.get("topics") or []))
            for line, rec in read_jsonl(root, DOJ) if line not in realdev]
    picked = stratified(pool, STRATA, random.Random(SEED))
    write_refs([{**ref(DOJ, line, rec, "press_release", s, "dojx"), "labels": None} for s, line, rec in picked])
    print(f"{len(picked)} releases (none of realdev's {len(realdev)}) -> {REFS}")


def texts(root: Path, lines: set[int] | None = None) -> dict[int, str]:
    wanted = lines if lines is not None else {r["key"]["line"] for r in read_refs()}
    return {line: article_text(rec) for line, rec in read_jsonl(root, DOJ) if line in wanted}


def trigrams(text: str) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return set(zip(words, words[1:], words[2:], strict=False))


def leaks(root: Path, text: dict[int, str]) -> dict[int, tuple[str, float]]:
    """The drawn releases that overlap a realdev release: line -> (realdev id, trigram Jaccard)."""
    realdev = realdev_releases(REALDEV_SPLITS)
    theirs = {line: trigrams(t) for line, t in texts(root, set(realdev)).items()}
    found = {}
    for line, t in text.items():
        ours = trigrams(t)
        score, other = max((len(ours & g) / max(1, len(ours | g)), rid) for rid, g in
                           ((realdev[n], g) for n, g in theirs.items()))
        if score > LEAK_JACCARD:
            found[line] = (other, round(score, 3))
    return found


def export(root: Path, out: Path) -> None:
    """The items' text, shuffled, with no stratum, label or score: what a blind labeller sees."""
    rows, text = read_refs(), texts(root)
    random.Random(SEED).shuffle(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({"id": row["id"], "form": "press_release", "text": text[row["key"]["line"]]},
                                    ensure_ascii=False) + "\n")
    print(f"{len(rows)} items -> {out}")


def merge(labels_file: Path) -> None:
    labels = {item["id"]: item for item in map(json.loads, labels_file.read_text(encoding="utf-8").splitlines())}
    rows = read_refs()
    for row in rows:
        if row["id"] in labels:
            row["labels"] = labels[row["id"]]["labels"]
            row["ambiguous"] = bool(labels[row["id"]].get("ambiguous"))
    write_refs(rows)
    print(f"{sum(r['labels'] is not None for r in rows)} of {len(rows)} labelled")


def train(root: Path, config_path: Path, overrides: list[str]) -> None:
    """Train CONFIG with the labelled releases added to the train split (not validation or test)."""
    import scamlens.training as training
    from scamlens.config import load_config
    from scamlens.data.corpus import Example
    from scamlens.data.dataset import build_corpus

    text = texts(root)
    leaked = leaks(root, text)
    extra = [Example(id=r["id"], text=text[r["key"]["line"]], labels=tuple(r["labels"]), group=r["id"],
                     extras={"kind": "article", "register": "government", "form": "press_release"})
             for r in read_refs() if r["labels"] is not None and not r.get("ambiguous") and r["key"]["line"] not in leaked]
    print(f"{len(leaked)} releases left out: they share over {LEAK_JACCARD:.0%} of their word trigrams with a "
          f"realdev release ({', '.join(f'{line}~{rid} {j}' for line, (rid, j) in sorted(leaked.items()))})")

    def with_releases(cfg, labels):
        build = build_corpus(cfg, labels)
        build.examples = [*build.examples, *extra]
        build.splits = [*build.splits, *(["train"] * len(extra))]
        added = hashlib.sha256("\n".join(e.canonical() for e in extra).encode()).hexdigest()
        build.fingerprint = hashlib.sha256((build.fingerprint + added).encode()).hexdigest()
        return build

    training.build_corpus = with_releases  # the one seam: everything after the build is the usual run
    config = load_config(config_path, overrides)
    result = training.train(config)
    print(f"{len(extra)} releases added to train; model -> {result.best_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["draw", "export", "merge", "train"])
    parser.add_argument("args", nargs="*", help="a labels JSONL (merge); a run config (train)")
    parser.add_argument("--root", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/dojlab/items.jsonl"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override (train)")
    args = parser.parse_args()
    if args.command == "draw":
        draw(args.root)
    elif args.command == "export":
        export(args.root, args.out)
    elif args.command == "merge":
        merge(Path(args.args[0]))
    elif args.command == "train":
        train(args.root, Path(args.args[0]), args.overrides)
    else:
        sys.exit(f"unknown command {args.command}")


if __name__ == "__main__":
    main()
