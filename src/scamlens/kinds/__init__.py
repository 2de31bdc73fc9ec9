"""Classifier kinds as plug-ins: each kind registers its config schema, trainer and predictor here.

A kind is a `Kind` object published under the ``scamlens.kinds`` entry-point group; scamlens's own
kinds are declared in its pyproject.toml the same way, so a third-party package adds a kind without
editing scamlens:

    [project.entry-points."scamlens.kinds"]
    my_kind = "my_package.kind:KIND"

Training, export, tracking and scoring ask the kind for what they need (schema, trainer, wheel
requirements, library versions); none of them branches on a kind's name. `register_kind` does the
same for the current process (tests, notebooks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

from ..runtime.classifier import ENTRY_POINT_GROUP, Classifier, register_predictor
from ..runtime.errors import InputError

DEFAULT_KIND = "tfidf"


@dataclass(frozen=True)
class TrainContext:
    """What a trainer may need besides its config and labels."""

    seed: int
    run_dir: Path  # the run's output folder; a trainer may keep checkpoints below it
    resume: bool = False
    decision: Any = None  # the run's DecisionConfig (policy, calibration), for kinds that tune on validation
    corpus_fingerprint: str | None = None  # of the corpus this run trains on


# trainer(config, labels, context) -> an untrained Classifier whose fit() trains it
Trainer = Callable[[Any, Sequence[str], TrainContext], Classifier]


@dataclass(frozen=True)
class Kind:
    """One classifier kind.

    Args:
        name: the `kind` value in configs and in a saved folder's classifier.json.
        config: its pydantic schema (a `scamlens.config.KindConfig` subclass): the one set of defaults.
        trainer: builds the untrained classifier (a callable, or "module:attribute" imported when used).
        predictor: the class that loads a saved folder and predicts ("module:attribute" or a class).
        requirements: the packages an exported wheel of this kind depends on.
        extra: the scamlens extra the MLflow pyfunc needs (e.g. "transformer"), if any.
        versions: libraries whose versions a trained model records.
    """

    name: str
    config: type
    trainer: Trainer | str
    predictor: type | str
    requirements: tuple[str, ...] = ("numpy", "sentencex")
    extra: str | None = None
    versions: tuple[str, ...] = ("numpy",)

    def build(self, config: Any, labels: Sequence[str], context: TrainContext) -> Classifier:
        trainer = self.trainer
        if isinstance(trainer, str):
            module_name, _, attribute = trainer.partition(":")
            trainer = getattr(import_module(module_name), attribute)
        return trainer(config, labels, context)


_REGISTERED: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Add (or replace) a kind in this process; returns it, so a module can write KIND = register_kind(...)."""
    _REGISTERED[kind.name] = kind
    register_predictor(kind.name, kind.predictor)
    return kind


def available_kinds() -> dict[str, Kind]:
    """Every kind: the installed entry points, then those registered in this process."""
    found: dict[str, Kind] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        kind = entry.load()
        if not isinstance(kind, Kind):
            raise InputError(f"entry point {entry.name} = {entry.value} in group {ENTRY_POINT_GROUP!r} "
                             "is not a scamlens.kinds.Kind")
        found[entry.name] = kind
    return {**found, **_REGISTERED}


def get_kind(name: str) -> Kind:
    if name in _REGISTERED:
        return _REGISTERED[name]
    kinds = available_kinds()
    if name not in kinds:
        raise InputError(f"unknown classifier kind {name!r}; known kinds: {', '.join(sorted(kinds))}")
    return kinds[name]


def _folder_kinds(folder: Path) -> list[Kind]:
    """The kind of a saved folder and of every member folder it holds (an ensemble's), recursively."""
    from ..runtime.classifier import read_classifier_record

    record = read_classifier_record(Path(folder))
    kinds = [get_kind(record["kind"])]
    for member in record["settings"].get("members") or []:
        kinds.extend(_folder_kinds(Path(folder) / member["dir"]))
    return kinds


def folder_requirements(folder: Path) -> list[str]:
    """What an exported wheel of `folder` needs: its kind's requirements and its members', in order, once."""
    return list(dict.fromkeys(r for kind in _folder_kinds(folder) for r in kind.requirements))


def folder_extras(folder: Path) -> list[str]:
    """The scamlens extras the MLflow pyfunc of `folder` needs (its kind's and its members')."""
    return sorted({kind.extra for kind in _folder_kinds(folder) if kind.extra})
