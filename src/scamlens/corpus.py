"""Reading labelled corpora (JSONL, CSV, Parquet or a saved DatasetDict) into plain examples.

Every problem is reported with the file, the line (or row) and the field, and reading collects all
problems before failing so that one run of `scamlens data validate` shows everything to fix.
"""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .config import DataConfig
from .labels import LabelSet

DATASET_MARKER = "dataset_dict.json"


@dataclass(frozen=True)
class Example:
    """One labelled text, normalised from whichever format it came from."""

    id: str
    text: str
    labels: tuple[str, ...]
    group: str
    extras: dict[str, str] = field(default_factory=dict)
    where: str = ""  # "file:line" of the source row, for messages

    def canonical(self) -> str:
        """A stable one-line form of the example, the unit of the corpus fingerprint."""
        return json.dumps(
            {"id": self.id, "text": self.text, "labels": list(self.labels), "group": self.group,
             "extras": self.extras},
            ensure_ascii=False, sort_keys=True,
        )


@dataclass(frozen=True)
class Problem:
    where: str
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


class CorpusError(ValueError):
    """The corpus has errors; `problems` lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the corpus:\n{shown}{more}")


def resolve_sources(patterns: list[str]) -> list[Path]:
    """Expand globs into a sorted, de-duplicated list of files (or saved-dataset folders)."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise CorpusError([Problem(pattern, "source", "no file matches this pattern")])
        for match in matches:
            path = Path(match)
            if not path.exists():
                raise CorpusError([Problem(str(path), "source", "file not found")])
            if path not in paths:
                paths.append(path)
    return paths


def _raw_rows(path: Path, cfg: DataConfig) -> Iterator[tuple[str, dict[str, Any] | Problem]]:
    """Yield (where, row) pairs, or (where, Problem) for rows that cannot even be parsed."""
    if path.is_dir():
        if not (path / DATASET_MARKER).exists():
            yield str(path), Problem(str(path), "source", f"a folder must be a saved DatasetDict ({DATASET_MARKER} missing)")
            return
        yield from _dataset_rows(path, cfg)
        return
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                where = f"{path}:{number}"
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield where, Problem(where, "json", f"not valid JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(row, dict):
                    yield where, Problem(where, "json", f"expected a JSON object, got {type(row).__name__}")
                    continue
                yield where, row
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                where = f"{path}:{reader.line_num}"
                labels = row.get(cfg.labels_column)
                if isinstance(labels, str):
                    row[cfg.labels_column] = [p.strip() for p in labels.split(cfg.labels_separator) if p.strip()]
                yield where, row
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for number, row in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"{path}:row {number}", row
    else:
        yield str(path), Problem(str(path), "source", f"unsupported file type {suffix!r} (use .jsonl, .csv or .parquet)")


def _dataset_rows(path: Path, cfg: DataConfig) -> Iterator[tuple[str, dict[str, Any]]]:
    from datasets import ClassLabel, load_from_disk

    dataset_dict = load_from_disk(str(path))
    for split_name, split in dataset_dict.items():
        feature = split.features.get(cfg.labels_column)
        inner = getattr(feature, "feature", None)
        names = inner.names if isinstance(inner, ClassLabel) else None
        for number, row in enumerate(split, 1):
            if names is not None:
                row[cfg.labels_column] = [names[i] for i in row[cfg.labels_column]]
            yield f"{path}[{split_name}]:row {number}", row


def _text_field(row: dict[str, Any], column: str, where: str, problems: list[Problem]) -> str | None:
    value = row.get(column)
    if value is None:
        problems.append(Problem(where, column, "missing"))
    elif not isinstance(value, str):
        problems.append(Problem(where, column, f"expected a string, got {type(value).__name__}"))
    elif not value.strip():
        problems.append(Problem(where, column, "empty"))
    else:
        return value
    return None


def _parse_row(row: dict[str, Any], where: str, number: int, cfg: DataConfig, labels: LabelSet,
               problems: list[Problem]) -> Example | None:
    before = len(problems)
    text = _text_field(row, cfg.text_column, where, problems)
    raw_labels = row.get(cfg.labels_column)
    label_names: list[str] = []
    if raw_labels is None:
        problems.append(Problem(where, cfg.labels_column, "missing (use [] for a text with no label)"))
    elif not isinstance(raw_labels, list | tuple) or not all(isinstance(x, str) for x in raw_labels):
        problems.append(Problem(where, cfg.labels_column, f"expected a list of label names, got {raw_labels!r}"))
    else:
        for name in raw_labels:
            if name not in labels.names:
                problems.append(Problem(where, cfg.labels_column, f"unknown label {name!r} (known: {', '.join(labels.names)})"))
        if len(set(raw_labels)) != len(raw_labels):
            problems.append(Problem(where, cfg.labels_column, f"label listed twice in {list(raw_labels)}"))
        label_names = list(raw_labels)
    if cfg.id_column:
        example_id = _text_field(row, cfg.id_column, where, problems)
    else:
        example_id = f"row-{number}"
    if cfg.group_column:
        group = _text_field(row, cfg.group_column, where, problems)
    else:
        group = example_id
    extras = {}
    for column in cfg.extra_columns:
        value = row.get(column)
        allowed = cfg.allowed_values.get(column)
        if value is None and not allowed:
            extras[column] = ""
            continue
        if not isinstance(value, str) or not value:
            problems.append(Problem(where, column, "missing" if value is None else f"expected a non-empty string, got {value!r}"))
        elif allowed and value not in allowed:
            problems.append(Problem(where, column, f"{value!r} is not one of {', '.join(allowed)}"))
        else:
            extras[column] = value
    if len(problems) > before:
        return None
    ordered = tuple(n for n in labels.names if n in set(label_names))
    return Example(str(example_id), text, ordered, str(group), extras, where)


def read_examples(cfg: DataConfig, labels: LabelSet) -> tuple[list[Example], list[Problem]]:
    """Read every source, returning the valid examples and every problem found (none raised)."""
    examples: list[Example] = []
    problems: list[Problem] = []
    try:
        sources = resolve_sources(cfg.source)
    except CorpusError as exc:
        return [], exc.problems
    first_seen: dict[str, str] = {}
    number = 0
    for path in sources:
        for where, row in _raw_rows(path, cfg):
            number += 1
            if isinstance(row, Problem):
                problems.append(row)
                continue
            example = _parse_row(row, where, number, cfg, labels, problems)
            if example is None:
                continue
            if example.id in first_seen:
                problems.append(Problem(where, cfg.id_column or "id", f"duplicate id {example.id!r} (first at {first_seen[example.id]})"))
                continue
            first_seen[example.id] = where
            examples.append(example)
    if not examples and not any(p.severity == "error" for p in problems):
        problems.append(Problem(", ".join(cfg.source), "source", "no examples found"))
    return examples, problems


def load_examples(cfg: DataConfig, labels: LabelSet) -> list[Example]:
    """Read every source and raise `CorpusError` listing all errors if there is any."""
    examples, problems = read_examples(cfg, labels)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise CorpusError(errors)
    return examples
