"""Choosing the champion: score the latest version of each registered model on one labelled set and
move the `champion` alias to the best by macro F1, recording every score and the reason.

The versions that hold the alias now are scored too, and keep it unless a latest version scores
higher: a candidate registered for comparison (a held-back experiment, `@challenger`) must beat the
sitting champion on the yardstick, not merely be newer. `incumbents=False` ranks the latest versions only.

The set is a labelled file (realdev/val, labels by reference under a text root) or, where that is
not available, a split name of each model's own corpus ("validation"): a weaker yardstick, since
every model tuned its thresholds (and an ensemble its weights) on that split; the record says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .data.labels import LabelSet
from .data.reader import CorpusError
from .data.splits import SPLITS
from .evaluation.labelled import FingerprintMismatch, evaluation_data
from .evaluation.metrics import multilabel_report
from .fetch import download_model
from .runtime.decision import apply_thresholds
from .runtime.errors import InputError
from .tracking import (
    CHAMPION,
    alias_version,
    drop_alias,
    latest_version,
    promote,
    record_choice,
    resolve_uri,
)

SPLIT_NOTE = ("ranked on each model's own written {split} split (no real-news set given): every model tuned its "
              "thresholds, and an ensemble its weights, on it, so this favours the most tuned")


@dataclass
class Candidate:
    name: str
    version: str
    macro_f1: float
    texts: int
    incumbent: bool = False  # held the alias when the choice began


@dataclass
class LeftOut:
    """A version that held the alias but could not be scored on the set, so it lost the alias unranked."""

    name: str
    version: str
    reason: str


@dataclass
class ChampionChoice:
    champion: Candidate
    ranking: list[Candidate]
    data: str
    note: str | None
    left_out: list[LeftOut] = field(default_factory=list)


def score_version(name: str, version: str, data: str, text_root: str | Path | None, uri: str,
                  incumbent: bool = False) -> Candidate:
    from . import load

    model = load(download_model(f"models:/{name}/{version}", uri))
    examples = evaluation_data(model, data, text_root).examples
    if not examples:
        raise InputError(f"{data}: no labelled texts to rank {name} on")
    y_true = LabelSet(model.labels).encode_many([e.labels for e in examples])
    scores = model.predict_proba([e.text for e in examples])
    report = multilabel_report(y_true, apply_thresholds(scores, model.thresholds), scores, model.labels)
    return Candidate(name, version, float(report["macro_f1"]), len(examples), incumbent)


def score_candidates(names: list[str], data: str, text_root: str | Path | None, uri: str, alias: str,
                     incumbents: bool) -> tuple[list[Candidate], list[LeftOut]]:
    """The latest version of each name, and (with `incumbents`) the version holding `alias` where that
    is an older one. An incumbent whose corpus no longer builds, or has changed so that its split may
    hold its training texts, is left out with the reason rather than stopping the choice."""
    candidates: list[Candidate] = []
    left_out: list[LeftOut] = []
    for name in names:
        latest = latest_version(name, uri)
        candidates.append(score_version(name, latest, data, text_root, uri))
        holder = alias_version(name, alias, uri) if incumbents else None
        if holder == latest:
            candidates[-1].incumbent = True
        if holder in (None, latest):
            continue
        try:
            candidates.append(score_version(name, holder, data, text_root, uri, incumbent=True))
        except (FingerprintMismatch, CorpusError) as exc:
            why = (f"its corpus has changed since it trained, so its {data} split may hold its own training texts"
                   if isinstance(exc, FingerprintMismatch)
                   else f"its corpus no longer builds ({' '.join(str(exc).split())[:300]})")
            left_out.append(LeftOut(name, holder, f"{name} version {holder} held {alias} but was not scored, so it "
                                                  f"lost the alias: {why}"))
    return candidates, left_out


def choose_champion(names: list[str], data: str, text_root: str | Path | None = None,
                    tracking_uri: str | None = None, alias: str = CHAMPION, incumbents: bool = True) -> ChampionChoice:
    """Rank the latest version of each of `names` (and the versions holding `alias`, unless
    `incumbents` is False) on `data`, point `alias` at the best, record why. A tie keeps the incumbent."""
    if not names:
        raise InputError("name at least one registered model to choose among")
    uri = tracking_uri or resolve_uri()
    candidates, left_out = score_candidates(names, data, text_root, uri, alias, incumbents)
    ranking = sorted(candidates, key=lambda c: (-round(c.macro_f1, 9), not c.incumbent))
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
        record_choice(c.name, c.version, tags, card(best, ranking, where, note, alias, left_out) if c is best else None, uri)
    for out in left_out:
        # Its tags and card still said why it was champion; they now say why it is not.
        record_choice(out.name, out.version, {"champion_check.data": where, "champion_check.chosen": "false",
                                              "champion_check.left_out": out.reason},
                      f"## Left out of the {alias} choice\n\n{out.reason}.\n", uri)
    return ChampionChoice(best, ranking, data, note, left_out)


def card(best: Candidate, ranking: list[Candidate], where: str, note: str | None, alias: str,
         left_out: list[LeftOut] | None = None) -> str:
    """The champion's registry card: why it holds the alias."""
    rows = "\n".join(f"| {c.name} | {c.version}{f' (held {alias})' if c.incumbent else ''} | {c.macro_f1:.4f} |"
                     for c in ranking)
    names = ", ".join(dict.fromkeys(c.name for c in ranking))
    held = " and the versions that held the alias" if any(c.incumbent for c in ranking) else ""
    return (f"## Why {alias}\n\n{best.name} version {best.version} scored the best macro F1 on {where} of the latest "
            f"versions of {names}{held}.\n\n| model | version | macro F1 |\n|---|---|---|\n{rows}\n"
            + (f"\nNote: {note}.\n" if note else "")
            + "".join(f"\nLeft out: {out.reason}.\n" for out in left_out or []))
