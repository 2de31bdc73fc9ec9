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
neither realdev split), in the same theme strata realdev used plus a random stratum. `train` adds
the labelled items to the *train* split only: the written validation and test splits, and so the
thresholds and the bundled-test figure, stay those of the corpus alone.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from realdev_sample import DOJ, article_text, read_jsonl, ref, rx, stratified

REFS = Path("data/experiments/doj_train.jsonl")
CANDIDATES = Path("data/realdev/candidates.jsonl")
SEED = 2026
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


def draw(root: Path) -> None:
    realdev = {json.loads(line)["key"]["line"] for line in CANDIDATES.read_text(encoding="utf-8").splitlines()
               if json.loads(line)["source"] == DOJ}
    pool = [(line, rec, article_text(rec) + " " + " ".join(rec.get("topics") or []))
            for line, rec in read_jsonl(root, DOJ) if line not in realdev]
    picked = stratified(pool, STRATA, random.Random(SEED))
    write_refs([{**ref(DOJ, line, rec, "press_release", s, "dojx"), "labels": None} for s, line, rec in picked])
    print(f"{len(picked)} releases (none of realdev's {len(realdev)}) -> {REFS}")


def texts(root: Path) -> dict[int, str]:
    wanted = {r["key"]["line"] for r in read_refs()}
    return {line: article_text(rec) for line, rec in read_jsonl(root, DOJ) if line in wanted}


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
    extra = [Example(id=r["id"], text=text[r["key"]["line"]], labels=tuple(r["labels"]), group=r["id"],
                     extras={"kind": "article", "register": "government", "form": "press_release"})
             for r in read_refs() if r["labels"] is not None and not r.get("ambiguous")]

    def with_releases(cfg, labels):
        build = build_corpus(cfg, labels)
        build.examples = [*build.examples, *extra]
        build.splits = [*build.splits, *(["train"] * len(extra))]
        build.fingerprint = build.fingerprint[:48] + "+doj" + str(len(extra)).zfill(12)
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
