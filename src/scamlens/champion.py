"""Choosing the champion: score the latest version of each registered model on one labelled set and
move the `champion` alias to the best by macro F1, recording every score and the reason.

The set is a labelled file (realdev/val, labels by reference under a text root) or, where that is
not available, a split name of each model's own corpus ("validation"): a weaker yardstick, since
every model tuned its thresholds (and an ensemble its weights) on that split; the record says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .data.labels import LabelSet
from .data.splits import SPLITS
from .evaluation.labelled import evaluation_data
from .evaluation.metrics import multilabel_report
from .runtime.decision import apply_thresholds
from .runtime.errors import InputError
from .tracking import CHAMPION, download_model, drop_alias, latest_version, promote, record_choice, resolve_uri

SPLIT_NOTE = ("ranked on each model's own written {split} split (no real-news set given): every model tuned its "
              "thresholds, and an ensemble its weights, on it, so this favours the most tuned")


@dataclass
class Candidate:
    name: str
    version: str
    macro_f1: float
    texts: int


@dataclass
class ChampionChoice:
    champion: Candidate
    ranking: list[Candidate]
    data: str
    note: str | None


def score_candidate(name: str, data: str, text_root: str | Path | None, uri: str) -> Candidate:
    from . import load

    version = latest_version(name, uri)
    model = load(download_model(f"models:/{name}/{version}", uri))
    examples = evaluation_data(model, data, text_root).examples
    if not examples:
        raise InputError(f"{data}: no labelled texts to rank {name} on")
    y_true = LabelSet(model.labels).encode_many([e.labels for e in examples])
    scores = model.predict_proba([e.text for e in examples])
    report = multilabel_report(y_true, apply_thresholds(scores, model.thresholds), scores, model.labels)
    return Candidate(name, version, float(report["macro_f1"]), len(examples))


def choose_champion(names: list[str], data: str, text_root: str | Path | None = None,
                    tracking_uri: str | None = None, alias: str = CHAMPION) -> ChampionChoice:
    """Rank the latest version of each of `names` on `data`, point `alias` at the best, record why."""
    if not names:
        raise InputError("name at least one registered model to choose among")
    uri = tracking_uri or resolve_uri()
    ranking = sorted((score_candidate(n, data, text_root, uri) for n in names), key=lambda c: -c.macro_f1)
    best = ranking[0]
    note = SPLIT_NOTE.format(split=data) if data in SPLITS else None
    promote(best.name, best.version, alias, uri)
    # One champion among the models compared: a loser keeping the alias from an earlier choice would
    # still answer `models:/NAME@champion` with a model that is no longer the best.
    for other in {c.name for c in ranking} - {best.name}:
        drop_alias(other, alias, uri)
    scores = {f"{c.name}/{c.version}": round(c.macro_f1, 4) for c in ranking}
    where = f"{data} ({best.texts} texts)"
    for c in ranking:
        tags = {"champion_check.data": where, "champion_check.macro_f1": f"{c.macro_f1:.4f}",
                "champion_check.scores": json.dumps(scores), "champion_check.chosen": str(c is best).lower()}
        if note:
            tags["champion_check.note"] = note
        record_choice(c.name, c.version, tags, card(best, ranking, where, note, alias) if c is best else None, uri)
    return ChampionChoice(best, ranking, data, note)


def card(best: Candidate, ranking: list[Candidate], where: str, note: str | None, alias: str) -> str:
    """The champion's registry card: why it holds the alias."""
    rows = "\n".join(f"| {c.name} | {c.version} | {c.macro_f1:.4f} |" for c in ranking)
    return (f"## Why {alias}\n\n{best.name} version {best.version} scored the best macro F1 on {where} of the latest "
            f"versions of {', '.join(c.name for c in ranking)}.\n\n| model | version | macro F1 |\n|---|---|---|\n{rows}\n"
            + (f"\nNote: {note}.\n" if note else ""))
