"""Building the labelled corpus into a Hugging Face `DatasetDict` with grouped, stratified splits.

The build is a pure function of the source rows and the split config: the same inputs give the same
splits, the same Arrow files byte for byte, and the same fingerprint, which every model records so
that it can name exactly the data it saw.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DataConfig
from ..runtime.atomic import atomic_dir
from ..runtime.errors import MissingError
from .corpus import Example, read_examples
from .duplicates import find_near_duplicates
from .labels import LabelSet
from .reader import CorpusError, Problem
from .splits import SPLITS, assign_splits

BUILD_INFO = "scamlens_build.json"


@dataclass
class BuildResult:
    examples: list[Example]
    splits: list[str]
    fingerprint: str
    labels: LabelSet
    problems: list[Problem] = field(default_factory=list)

    def rows(self, split: str) -> list[Example]:
        return [e for e, s in zip(self.examples, self.splits, strict=True) if s == split]

    def counts(self) -> dict[str, dict[str, int]]:
        """Examples per split and label combination, with totals."""
        table: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            rows = self.rows(split)
            combos = Counter(self.labels.combination(e.labels) for e in rows)
            table[split] = {"examples": len(rows), **{n: sum(n in e.labels for e in rows) for n in self.labels},
                            **{f"combo:{k}": v for k, v in sorted(combos.items())}}
        return table

    def info(self, cfg: DataConfig) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "labels": list(self.labels.names),
            "split_config": split_settings(cfg, self.labels),
            "counts": self.counts(),
        }


def split_settings(cfg: DataConfig, labels: LabelSet) -> dict[str, Any]:
    """Everything besides the rows that decides the splits; part of the fingerprint."""
    return {
        "fractions": [cfg.split.train, cfg.split.validation, cfg.split.test],
        "seed": cfg.split.seed,
        "stratify_by": cfg.split.stratify_by,
        "group_column": cfg.group_column,
        "labels": list(labels.names),
    }


def compute_fingerprint(examples: list[Example], cfg: DataConfig, labels: LabelSet) -> str:
    """sha256 of the sorted canonical source rows and the split settings."""
    digest = hashlib.sha256()
    for line in sorted(e.canonical() for e in examples):
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    digest.update(json.dumps(split_settings(cfg, labels), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def stratification_keys(example: Example, labels: LabelSet, columns: list[str]) -> list[str]:
    return [f"combo={labels.combination(example.labels)}"] + [f"{c}={example.extras.get(c, '')}" for c in columns]


def split_examples(examples: list[Example], cfg: DataConfig, labels: LabelSet) -> list[str]:
    keys = [stratification_keys(e, labels, cfg.split.stratify_by) for e in examples]
    fractions = (cfg.split.train, cfg.split.validation, cfg.split.test)
    return assign_splits([e.group for e in examples], keys, fractions, cfg.split.seed)


def duplicate_problems(examples: list[Example], splits: list[str], threshold: float) -> list[Problem]:
    """Warnings for (near-)duplicate texts; errors when the two copies sit in different splits."""
    problems = []
    for pair in find_near_duplicates([e.text for e in examples], threshold):
        a, b = examples[pair.first], examples[pair.second]
        kind = "exact duplicate" if pair.similarity == 1.0 else f"near-duplicate ({pair.similarity:.2f})"
        if splits[pair.first] != splits[pair.second]:
            problems.append(Problem(b.where, "text", f"{kind} of {a.id} ({a.where}) across splits "
                                    f"{splits[pair.first]}/{splits[pair.second]}; put both in one group"))
        else:
            problems.append(Problem(b.where, "text", f"{kind} of {a.id} ({a.where})", "warning"))
    return problems


def validate_corpus(cfg: DataConfig, labels: LabelSet) -> tuple[list[Example], list[str], list[Problem]]:
    """Read, split and check a corpus; returns every problem instead of raising."""
    examples, problems = read_examples(cfg, labels)
    examples = [e for e in examples if not e.ambiguous]  # undecidable labels teach nothing
    splits = split_examples(examples, cfg, labels) if examples else []
    if examples:
        problems += duplicate_problems(examples, splits, cfg.near_duplicate_threshold)
    return examples, splits, problems


def build_corpus(cfg: DataConfig, labels: LabelSet) -> BuildResult:
    """Validate and split the corpus; raises `CorpusError` when anything is an error."""
    examples, splits, problems = validate_corpus(cfg, labels)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise CorpusError(errors)
    return BuildResult(examples, splits, compute_fingerprint(examples, cfg, labels), labels, problems)


def features_for(labels: LabelSet, cfg: DataConfig):
    from datasets import ClassLabel, Features, List, Value

    columns = {"id": Value("string"), "text": Value("string"), "labels": List(ClassLabel(names=list(labels.names)))}
    if cfg.group_column:
        columns[cfg.group_column] = Value("string")
    for column in cfg.extra_columns:
        columns[column] = Value("string")
    return Features(columns)


def to_dataset_dict(result: BuildResult, cfg: DataConfig):
    """The build as a `datasets.DatasetDict` whose split fingerprints derive from the corpus's."""
    from datasets import Dataset, DatasetDict, DatasetInfo

    features = features_for(result.labels, cfg)
    parts = {}
    for split in SPLITS:
        rows = result.rows(split)
        columns: dict[str, list] = {
            "id": [e.id for e in rows],
            "text": [e.text for e in rows],
            "labels": [[result.labels.index(n) for n in e.labels] for e in rows],
        }
        if cfg.group_column:
            columns[cfg.group_column] = [e.group for e in rows]
        for column in cfg.extra_columns:
            columns[column] = [e.extras.get(column, "") for e in rows]
        info = DatasetInfo(description=f"scamlens corpus, fingerprint {result.fingerprint}", features=features)
        table = Dataset.from_dict(columns, features=features, info=info).data
        # An explicit fingerprint keeps state.json identical between builds of the same data.
        fingerprint = hashlib.sha256(f"{result.fingerprint}:{split}".encode()).hexdigest()[:16]
        parts[split] = Dataset(table, info=info, split=split, fingerprint=fingerprint)
    return DatasetDict(parts)


def save_build(result: BuildResult, cfg: DataConfig, out_dir: str | Path) -> Path:
    """Write the DatasetDict and its build info atomically: a failed save keeps the old build."""
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    with atomic_dir(out_dir) as staging:
        to_dataset_dict(result, cfg).save_to_disk(str(staging))
        (staging / BUILD_INFO).write_text(json.dumps(result.info(cfg), indent=2, sort_keys=True) + "\n")
    return Path(out_dir)


def load_build(path: str | Path):
    """Load a saved build: (DatasetDict, build info dict)."""
    from datasets import load_from_disk

    path = Path(path)
    info_path = path / BUILD_INFO
    if not info_path.exists():
        raise MissingError(f"{path}: not a scamlens dataset build ({BUILD_INFO} missing); run `scamlens data build`")
    return load_from_disk(str(path)), json.loads(info_path.read_text())
