"""Measure the bundled corpus and write its dataset card, data/README.md.

Usage: python scripts/corpus_report.py [--config configs/baseline.yaml] [--card data/README.md] [--json PATH]
                                      [--realdev data/realdev/val.jsonl] [--text-root ../shared]

Prints and records: counts per split, label, label combination, kind, register and form; the share
of hard negatives; country coverage; text lengths; the largest word-trigram overlap between any two
examples and the largest share of one text's trigrams found anywhere else (template-likeness); and,
when the real text realdev refers to is present, the corpus-vs-real table (scripts/corpus_vs_real.py).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import sys
from pathlib import Path

from scamlens.config import load_config
from scamlens.data.dataset import build_corpus
from scamlens.data.labels import load_labels
from scamlens.data.splits import SPLITS

sys.path.insert(0, str(Path(__file__).parent))
from corpus_check import template_counts, trigrams  # noqa: E402  (the slice checker's definitions, shared)
from corpus_vs_real import compare, load_corpus, load_realdev, render  # noqa: E402

# Words that tie a text to one of the themes' vocabularies; a none-labelled text using them is a
# hard negative (flights, visas, victims of floods, "scam" as a figure of speech...).
THEME_VOCABULARY = re.compile(
    r"\b(scam\w*|fraud\w*|swindl\w*|con\b|compound\w*|call cent\w+|crypto\w*|casino\w*|gambl\w*|raid\w*|"
    r"arrest\w*|police|syndicate\w*|deport\w*|expel\w*|immigra\w*|visa\w*|flight\w*|airport\w*|border\w*|"
    r"embass\w*|repatriat\w*|extradit\w*|detain\w*|detention|passport\w*|overstay\w*|victim\w*|rescu\w*|"
    r"shelter\w*|aid\b|relief|hotline\w*|traffick\w*|refugee\w*|migrant\w*|workers?|compensat\w*|refund\w*|"
    r"hack\w*|breach\w*|leak\w*|phishing|ransomware|spam|sms|text message\w*|link|court\w*|sentenc\w*|jail\w*|"
    r"prison\w*|charged|bribe\w*|touris\w*|arrivals?|routes?|airlines?|passengers?|travel\w*|survivors?|"
    r"flood\w*|cyclone\w*|typhoon\w*|earthquake\w*|quake|landslide\w*|wounded|displaced|asylum|"
    r"protection|remittance\w*|resort\w*|gaming|election\w*|ballots?|citizenship|stateless|foreign\w*|fake|"
    r"visitors?|resettl\w*|defector\w*|recruit\w*|call.cent\w*)\b", re.I)

COUNTRIES = {
    "Cambodia": "Cambodia|Cambodian|Phnom Penh|Sihanoukville|Bavet|Poipet", "Myanmar": "Myanmar|Burmese|Myawaddy|Shwe Kokko|Laukkaing",
    "Thailand": "Thailand|Thai|Bangkok|Mae Sot", "Laos": "Laos|Lao|Laotian|Vientiane|Bokeo", "Vietnam": "Vietnam|Vietnamese|Hanoi|Ho Chi Minh",
    "Philippines": "Philippines|Philippine|Filipino|Filipina|Manila|Pampanga|Tarlac", "Malaysia": "Malaysia|Malaysian|Kuala Lumpur|Sabah",
    "Indonesia": "Indonesia|Indonesian|Jakarta|Batam|Bali", "Singapore": "Singapore|Singaporean", "China": "China|Chinese|Beijing|Yunnan",
    "Taiwan": "Taiwan|Taiwanese|Taipei", "South Korea": "Korea|Korean|Seoul", "Japan": "Japan|Japanese|Tokyo", "Hong Kong": "Hong Kong",
    "Macau": "Macau|Macao", "India": "India|Indian|Delhi|Telangana|Kerala|Punjab", "Sri Lanka": "Sri Lanka|Sri Lankan|Colombo",
    "Nepal": "Nepal|Nepali|Nepalese|Kathmandu", "Bangladesh": "Bangladesh|Bangladeshi|Dhaka", "Pakistan": "Pakistan|Pakistani",
    "Kenya": "Kenya|Kenyan|Nairobi", "Uganda": "Uganda|Ugandan|Kampala", "Nigeria": "Nigeria|Nigerian|Lagos|Abuja",
    "Ethiopia": "Ethiopia|Ethiopian|Addis Ababa", "Ghana": "Ghana|Ghanaian|Accra", "UAE": "UAE|Emirati|Dubai|Abu Dhabi",
    "Georgia": "Georgia|Georgian|Tbilisi", "United Kingdom": "United Kingdom|Britain|British|London|UK", "Spain": "Spain|Spanish|Madrid",
    "Czech Republic": "Czech|Prague", "Poland": "Poland|Polish|Warsaw", "United States": "United States|American|U\\.S\\.|US",
    "Peru": "Peru|Peruvian|Lima", "Brazil": "Brazil|Brazilian", "Mexico": "Mexico|Mexican", "Fiji": "Fiji|Fijian|Suva",
    "Papua New Guinea": "Papua New Guinea|Port Moresby", "Timor-Leste": "Timor-Leste|Timorese|Dili", "Kyrgyzstan": "Kyrgyzstan|Kyrgyz|Bishkek",
    "Kazakhstan": "Kazakhstan|Kazakh|Almaty|Astana", "Palau": "Palau", "Russia": "Russia|Russian", "Australia": "Australia|Australian",
}


def max_trigram_overlap(texts: list[str]) -> tuple[float, int, int]:
    grams = [trigrams(t) for t in texts]
    index: dict[tuple, list[int]] = collections.defaultdict(list)
    for i, g in enumerate(grams):
        for t in g:
            index[t].append(i)
    best = (0.0, -1, -1)
    for i, g in enumerate(grams):
        shared = collections.Counter(j for t in g for j in index[t] if j > i)
        for j, count in shared.items():
            ratio = count / max(min(len(g), len(grams[j])), 1)
            if ratio > best[0]:
                best = (ratio, i, j)
    return best


def template_likeness(texts: list[str]) -> tuple[float, int]:
    """The largest share of one text's word trigrams that occur in any other text, and which text."""
    shares = [common / total if total else 0.0 for common, total in template_counts([trigrams(t) for t in texts])]
    worst = max(range(len(shares)), key=shares.__getitem__)
    return shares[worst], worst


def measure(config_path: str) -> dict:
    config = load_config(config_path)
    labels = load_labels(config.data.labels)
    build = build_corpus(config.data, labels)
    examples = build.examples
    combos = [labels.combination(e.labels) for e in examples]
    positives = [e for e in examples if e.labels]
    hard_negatives = [e for e in examples if not e.labels and THEME_VOCABULARY.search(e.text)]
    words = collections.defaultdict(list)
    for e in examples:
        words[e.extras["kind"]].append(len(e.text.split()))
    countries = {name: sum(bool(re.search(rf"\b({pattern})\b", e.text)) for e in examples)
                 for name, pattern in COUNTRIES.items()}
    overlap, i, j = max_trigram_overlap([e.text for e in examples])
    template, k = template_likeness([e.text for e in examples])
    by_split = {s: collections.Counter(c for c, sp in zip(combos, build.splits, strict=True) if sp == s) for s in SPLITS}
    return {
        "fingerprint": build.fingerprint,
        "examples": len(examples),
        "stories": len({e.group for e in examples}),
        "splits": {s: build.splits.count(s) for s in SPLITS},
        "labels": {n: sum(n in e.labels for e in examples) for n in labels},
        "combinations": dict(sorted(collections.Counter(combos).items(), key=lambda kv: -kv[1])),
        "combinations_by_split": {s: dict(c) for s, c in by_split.items()},
        "kinds": dict(collections.Counter(e.extras["kind"] for e in examples)),
        "registers": dict(collections.Counter(e.extras["register"] for e in examples)),
        "forms": dict(collections.Counter(e.extras.get("form", "") for e in examples)),
        "no_label_share": sum(1 for e in examples if not e.labels) / len(examples),
        "kinds_by_combination": {c: dict(collections.Counter(e.extras["kind"] for e, cc in zip(examples, combos, strict=True)
                                                                if cc == c)) for c in set(combos)},
        "hard_negative_share": len(hard_negatives) / len(examples),
        "countries": {k: v for k, v in sorted(countries.items(), key=lambda kv: -kv[1]) if v},
        "words_by_kind": {k: {"min": min(v), "median": statistics.median(v), "max": max(v)} for k, v in words.items()},
        "max_trigram_overlap": {"share": round(overlap, 3), "between": [examples[i].id, examples[j].id] if i >= 0 else []},
        "max_template_likeness": {"share": round(template, 3), "example": examples[k].id},
        "positives": len(positives),
    }


def table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(stats: dict, real: dict | None) -> str:
    combos = sorted(set().union(*[set(c) for c in stats["combinations_by_split"].values()]),
                    key=lambda c: -stats["combinations"].get(c, 0))
    split_rows = [(c, *(stats["combinations_by_split"][s].get(c, 0) for s in SPLITS), stats["combinations"][c])
                  for c in combos]
    split_rows.append(("**all**", *(stats["splits"][s] for s in SPLITS), stats["examples"]))
    length_rows = [(k, v["min"], v["median"], v["max"]) for k, v in stats["words_by_kind"].items()]
    country_text = ", ".join(f"{k} ({v})" for k, v in stats["countries"].items())
    real_section = (render(real) if real is not None else
                    "*../shared is not beside this checkout: regenerate the card where it is to see the table.*")
    return f"""# scamlens corpus v2.3: dataset card

*Generated by `python scripts/corpus_report.py` from `data/corpus/*.jsonl`; do not edit by hand.*

A hand-written corpus of English news-style text labelled with three independent themes
(`scam_operation`, `deportation`, `victim_assistance`; any subset or none) following
[LABELING.md](LABELING.md). Every text was written for this project; people, companies, compounds
and figures are invented, places and agencies are real. No text was copied from any publication.

- Fingerprint: `{stats['fingerprint']}` (sha256 of the sorted rows and the split settings)
- {stats['examples']} examples from {stats['stories']} stories; splits grouped by story, stratified
  over label combinations and kinds: train {stats['splits']['train']}, validation
  {stats['splits']['validation']}, test {stats['splits']['test']}.
- Examples per label: {', '.join(f'{k} {v}' for k, v in stats['labels'].items())}.
- No label: {stats['no_label_share']:.0%} of examples. Hard negatives (no label, but theme vocabulary
  such as flights, visas, raids, flood victims, data breaches): {stats['hard_negative_share']:.0%} of all examples.
- Largest share of word trigrams any two examples have in common: {stats['max_trigram_overlap']['share']:.0%}.
  Largest share of one text's trigrams that occur anywhere else in the corpus (template-likeness):
  {stats['max_template_likeness']['share']:.0%} ({stats['max_template_likeness']['example']}).

## Corpus against real news
The corpus's statistics beside realdev `val` (real news labelled by reference, data/realdev/):
targets are set against these, never as quotas (`python scripts/corpus_vs_real.py`).

{real_section}

## Label combinations per split
{table(split_rows, ("combination", *SPLITS, "total"))}

## Kinds, registers and forms
{table(sorted(stats['kinds'].items(), key=lambda kv: -kv[1]), ("kind", "examples"))}

{table(sorted(stats['registers'].items(), key=lambda kv: -kv[1]), ("register", "examples"))}

{table(sorted(stats['forms'].items(), key=lambda kv: -kv[1]), ("form", "examples"))}

## Length in words
{table(length_rows, ("kind", "min", "median", "max"))}

## Countries mentioned ({len(stats['countries'])})
{country_text}

## Intended use
Training and evaluating classifiers that triage English news about scam compounds, deportations of
their workers and help for the people trafficked into them. The test split measures models trained
on the other two; the corpus fingerprint recorded in every model names the exact data it saw.

## Limits
- Written by the project in the registers of English news it has read (feeds, wire copy, press
  releases, court rulings, live blogs, encyclopedic summaries, editorials); real coverage is more
  varied still, and a real feed is overwhelmingly negative, so scores on the test split overstate
  quality on real news: measure that on realdev (benchmarks/bench_realdev.py).
- Invented names and figures; real places. Region coverage follows the news, weighted to Southeast Asia.
- Labels follow LABELING.md; borderline cases (one-fugitive extraditions, repatriation without
  stated removal) are decided by those rules and may differ from other schemes.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/baseline.yaml")
    parser.add_argument("--card", default="data/README.md")
    parser.add_argument("--json", default=None)
    parser.add_argument("--realdev", default="data/realdev/val.jsonl")
    parser.add_argument("--text-root", default="../shared")
    args = parser.parse_args()
    stats = measure(args.config)
    print(json.dumps({k: v for k, v in stats.items() if k not in ("countries", "kinds_by_combination")}, indent=2))
    print(f"countries: {len(stats['countries'])}")
    real = None
    if Path(args.text_root).exists():
        real = compare(load_corpus(args.config), load_realdev(args.realdev, args.text_root))
        stats["corpus_vs_real"] = real
        print(render(real))
    Path(args.card).write_text(render_card(stats, real), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(stats, indent=2) + "\n")


if __name__ == "__main__":
    main()
