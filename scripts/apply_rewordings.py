"""Replace corpus texts by id from a rewordings file, keeping every other field and the line order.

    python scripts/apply_rewordings.py data/candidates/yf-rewordings.jsonl [--corpus data/corpus]

A slice that lands can push older texts over the template-likeness limit (half of a text's word
trigrams found elsewhere); their rewordings are kept beside the slice as {"id", "text"} lines and
applied with it. Labels, kind, form and story never change here. Exits 1 naming any id that is not in
the corpus, before writing anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rewordings", type=Path)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    args = parser.parse_args()
    lines = args.rewordings.read_text(encoding="utf-8").splitlines()
    new = {row["id"]: row["text"] for row in map(json.loads, lines)}
    # Each line with its parsed row: untouched lines are written back byte for byte.
    files = {path: [(line, json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
             for path in sorted(args.corpus.glob("*.jsonl"))}
    missing = sorted(set(new) - {row["id"] for rows in files.values() for _, row in rows})
    if missing:
        sys.exit(f"{args.rewordings}: ids not in {args.corpus}: {', '.join(missing)}")
    for path, rows in files.items():
        out = [json.dumps({**row, "text": new[row["id"]]}, ensure_ascii=False) if row["id"] in new else line
               for line, row in rows]
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"reworded {len(new)} texts in {args.corpus}")


if __name__ == "__main__":
    main()
