"""No sentence of the real text may enter the corpus: find corpus texts that share a long word run with it.

    python scripts/copy_check.py [--root ../shared] [--words 12] [SLICE.jsonl ...]

Every corpus text's runs of `--words` consecutive words are compared with every text under the
root's realdata/ and opendata/ sources (feeds, press releases, encyclopedic items, long-form,
editorials). The corpus is data/corpus/ and the held-back data/candidates/, or only the SLICE files
given (a slice still being written elsewhere). Prints each corpus id that shares a run, with the
runs, and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

WORD = re.compile(r"[a-z0-9']+")
# The bundled corpus and the slices held back beside it: both are project text in the repository.
CORPUS_DIRS = (Path("data/corpus"), Path("data/candidates"))


def runs(text: str, n: int) -> Iterator[str]:
    words = WORD.findall(text.lower())
    return (" ".join(words[i:i + n]) for i in range(len(words) - n + 1))


def real_texts(root: Path) -> Iterator[str]:
    """Every text field of every JSONL(.gz) and CSV file under root/realdata and root/opendata."""
    for path in sorted([*root.glob("realdata/**/*"), *root.glob("opendata/**/*")]):
        name = path.name
        if name.endswith((".jsonl", ".jsonl.gz")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    yield " ".join(str(record.get(k) or "") for k in ("title", "description", "text"))
        elif name.endswith(".csv"):
            with open(path, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    yield " ".join(str(row.get(k) or "") for k in ("message", "text", "title", "description"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("../shared"))
    parser.add_argument("--words", type=int, default=12)
    parser.add_argument("slices", nargs="*", type=Path, help="check these JSONL files instead of the corpus folders")
    args = parser.parse_args()
    paths = args.slices or sorted(p for folder in CORPUS_DIRS for p in folder.glob("*.jsonl"))
    owners: dict[str, set[str]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for run in runs(row["text"], args.words):
                owners.setdefault(run, set()).add(row["id"])
    shared: dict[str, set[str]] = {}
    for text in real_texts(args.root):
        for run in runs(text, args.words):
            for owner in owners.get(run, ()):
                shared.setdefault(owner, set()).add(run)
    for owner, found in sorted(shared.items()):
        print(f"{owner}: {' || '.join(sorted(found)[:5])}")
    print(f"{len(shared)} corpus texts share a run of {args.words} words with {args.root}")
    sys.exit(1 if shared else 0)


if __name__ == "__main__":
    main()
