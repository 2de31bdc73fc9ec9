"""Labelled rows (from the one reader, references resolved) into plain examples.

Every problem is reported with the file, the line (or row) and the field, and reading collects all
problems before failing so that one run of `scamlens data validate` shows everything to fix. Rows
marked ``"ambiguous": true`` are read (and validated) but flagged, so scores can leave them out.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DataConfig
from .labels import LabelSet
from .reader import CorpusError, Problem, read_rows
from .references import SOURCE, is_reference, resolve_references

AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Example:
    """One labelled text, normalised from whichever format it came from."""

    id: str
    text: str
    labels: tuple[str, ...]
    group: str
    extras: dict[str, str] = field(default_factory=dict)
    where: str = ""  # "file:line" of the source row, for messages
    ambiguous: bool = False  # the labelling rules cannot decide it: left out of scores

    def canonical(self) -> str:
        """A stable one-line form of the example, the unit of the corpus fingerprint."""
        return json.dumps(
            {"id": self.id, "text": self.text, "labels": list(self.labels), "group": self.group,
             "extras": self.extras},
            ensure_ascii=False, sort_keys=True,
        )


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
    if row.get(cfg.text_column) is None and row.get(SOURCE) is None:
        problems.append(Problem(where, cfg.text_column, f"missing (give {cfg.text_column}, or {SOURCE} and key "
                                "to look it up under the text root)"))
        text = None
    else:
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
    ambiguous = row.get(AMBIGUOUS, False)
    if not isinstance(ambiguous, bool):
        problems.append(Problem(where, AMBIGUOUS, f"expected true or false, got {ambiguous!r}"))
    if len(problems) > before:
        return None
    ordered = tuple(n for n in labels.names if n in set(label_names))
    return Example(str(example_id), text, ordered, str(group), extras, where, ambiguous)


def read_examples(cfg: DataConfig, labels: LabelSet) -> tuple[list[Example], list[Problem]]:
    """Read every source, returning the valid examples and every problem found (none raised)."""
    examples: list[Example] = []
    problems: list[Problem] = []
    try:
        sources = resolve_sources(cfg.source)
    except CorpusError as exc:
        return [], exc.problems
    rows: list[tuple[str, dict[str, Any]]] = []
    for path in sources:
        for where, row in read_rows(path, cfg.labels_column, cfg.labels_separator):
            if isinstance(row, Problem):
                problems.append(row)
            else:
                rows.append((where, row))
    unresolved = resolve_references(rows, cfg.text_root, cfg.text_column)
    problems += unresolved
    failed = {p.where for p in unresolved}
    first_seen: dict[str, str] = {}
    for number, (where, row) in enumerate(rows, 1):
        if where in failed or (is_reference(row, cfg.text_column) and cfg.text_root is None):
            continue  # already reported: the reference gave no text
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
