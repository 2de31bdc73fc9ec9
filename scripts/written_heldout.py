"""The written-data check across corpora, like for like: two models on the texts neither trained on.

    python scripts/written_heldout.py NEW_MODEL OLD_MODEL [--new-source GLOB] [--old-source GLOB]

A corpus change reshuffles the stratified split, so each model's own written test split holds texts
the other trained on, and their test figures do not compare. This scores both models, each at its
own thresholds, on the texts the two corpora share word for word (a new slice and reworded texts are
left out: only one model's corpus has them) and that are in neither model's train split. It prints
macro F1 for two sets:
- held out from training by both: each model's test or validation split. The validation split
  tunes thresholds, calibration and ensemble weights, so this set is not unseen by either model.
- in both test splits: smaller, and untouched by either model.

Each model's splits are rebuilt from the corpus its saved config names and checked against the
fingerprint it recorded. Once that corpus has moved on, give its files, e.g. after
`mkdir /tmp/v22 && git archive f291e47 data/corpus | tar -x -C /tmp/v22`:
`--old-source '/tmp/v22/data/corpus/*.jsonl'`.
"""

from __future__ import annotations

import argparse

import numpy as np

import scamlens
from scamlens.data.corpus import Example
from scamlens.data.dataset import BuildResult, build_corpus
from scamlens.data.labels import LabelSet
from scamlens.data.reader import CorpusError
from scamlens.evaluation.labelled import model_config
from scamlens.evaluation.metrics import multilabel_report
from scamlens.runtime.decision import apply_thresholds


def corpus_of(model: scamlens.Model, role: str, source: str | None) -> BuildResult:
    """The model's corpus rebuilt (from `source` if given); refused unless it is the one it trained on."""
    data = model_config(model).data
    if source is not None:
        data = data.model_copy(update={"source": [source]})
    where = ", ".join(data.source)
    try:
        build = build_corpus(data, LabelSet(model.labels))
    except CorpusError as e:
        raise SystemExit(f"{role} model {model.path}: its corpus at {where} does not build: {e}") from e
    recorded = model.meta.get("corpus_fingerprint")
    if recorded is None:
        raise SystemExit(f"{role} model {model.path} recorded no corpus fingerprint, so its splits cannot be checked")
    if build.fingerprint != recorded:
        raise SystemExit(f"{role} model {model.path} trained on corpus {recorded[:16]}, but {where} builds "
                         f"{build.fingerprint[:16]}: pass that model's corpus files with --{role}-source")
    return build


def macro_f1(model: scamlens.Model, examples: list[Example]) -> float:
    labels = list(model.labels)
    y = np.array([[name in e.labels for name in labels] for e in examples], dtype=bool)
    scores = model.predict_proba([e.text for e in examples])
    return multilabel_report(y, apply_thresholds(scores, model.thresholds), scores, labels)["macro_f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new_model")
    parser.add_argument("old_model")
    parser.add_argument("--new-source", help="glob of the new model's corpus files, if its saved path is gone")
    parser.add_argument("--old-source", help="glob of the old model's corpus files, if data/corpus has moved on")
    args = parser.parse_args()
    new, old = scamlens.load(args.new_model), scamlens.load(args.old_model)
    if new.labels != old.labels:
        raise SystemExit(f"labels differ: {new.labels} against {old.labels}")
    new_corpus = corpus_of(new, "new", args.new_source)
    old_corpus = corpus_of(old, "old", args.old_source)
    old_texts = {e.id: e.text for e in old_corpus.examples}
    shared = {e.id for e in new_corpus.examples if old_texts.get(e.id) == e.text}
    trained = {e.id for build in (new_corpus, old_corpus) for e in build.rows("train")}
    old_test = {e.id for e in old_corpus.rows("test")}
    held_out = [e for e in new_corpus.rows("test") + new_corpus.rows("validation")
                if e.id in shared and e.id not in trained]
    sets = {"held out from training by both (test or validation)": held_out,
            "in both test splits": [e for e in new_corpus.rows("test") if e.id in shared and e.id in old_test]}
    print(f"{len(new_corpus.examples) - len(shared)} texts of the new corpus are new or reworded: left out")
    for name, examples in sets.items():
        if not examples:
            print(f"{name}: no texts")
            continue
        print(f"{name}: {len(examples)} texts; new {macro_f1(new, examples):.4f}, old {macro_f1(old, examples):.4f}")


if __name__ == "__main__":
    main()
