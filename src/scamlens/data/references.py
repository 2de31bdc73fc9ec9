"""Labels by reference: labelled rows that point at their text instead of holding it.

A row may hold ``source`` + ``key`` instead of ``text``; ``source`` is a path relative to a text
root folder (``--text-root`` / ``data.text_root``), so labels can live apart from a licensed archive:

    {"id": "kw-812", "source": "realdata/feeds.jsonl.gz", "key": {"line": 812, "title": "..."},
     "labels": [...], "kind": "feed", "ambiguous": false, "note": ""}

Keys: ``{"line": N, "title": T}`` or ``{"line": N, "id": I}`` for JSONL and JSONL.gz sources (N is
the 1-based physical line; the record's title or id must equal T or I), ``{"row": N, "id": I}`` for
CSV sources (N is the 1-based data row, header not counted; the row's id column must equal I).

The text of a JSONL record: title + ". " + description when it has a non-null description; else
title + "\\n\\n" + text when it has both; else text; else message. Of a CSV row: the first non-empty
of the columns text, message, body. Every source file is read once, however many rows point into it,
and every reference that does not resolve is a problem naming the labels file, its line and the field.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .reader import Problem, csv_file_rows, input_format, open_lines, parse_json_line

SOURCE = "source"
KEY = "key"
CSV_TEXT_COLUMNS = ("text", "message", "body")
NO_TEXT_ROOT = "references need a text root: pass --text-root DIR or set data.text_root"


def is_reference(row: dict[str, Any], text_column: str) -> bool:
    return row.get(text_column) is None and row.get(SOURCE) is not None


def jsonl_text(record: dict[str, Any]) -> str | None:
    title = record.get("title")
    if record.get("description") is not None:
        return f"{title or ''}. {record['description']}" if title else str(record["description"])
    if isinstance(title, str) and isinstance(record.get("text"), str):
        return f"{title}\n\n{record['text']}"
    for field in ("text", "message"):
        if isinstance(record.get(field), str):
            return record[field]
    return None


def csv_text(record: dict[str, str]) -> str | None:
    for column in CSV_TEXT_COLUMNS:
        if record.get(column):
            return record[column]
    return None


def _check_key(key: Any, fmt: str) -> tuple[str, str, str] | str:
    """(position field, match field, match value) of a key, or why it is malformed."""
    position, matches = ("line", ("title", "id")) if fmt == "json" else ("row", ("id",))
    shapes = " or ".join(f'{{"{position}": N, "{m}": ...}}' for m in matches)
    if not isinstance(key, dict):
        return f"{KEY}: expected {shapes} for a {'JSONL' if fmt == 'json' else 'CSV'} source, got {key!r}"
    number = key.get(position)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        return f"{KEY}.{position}: expected a positive integer ({shapes}), got {number!r}"
    match = next((m for m in matches if m in key), None)
    if match is None:
        return f"{KEY}: expected {shapes} for a {'JSONL' if fmt == 'json' else 'CSV'} source, got {key!r}"
    return position, match, str(key[match])


def _read_wanted(path: Path, fmt: str, wanted: set[int]) -> tuple[dict[int, dict | str], int]:
    """The records at the wanted positions (or why each cannot be read) and the file's count of
    lines (JSONL) or data rows (CSV), in one pass over the file."""
    found: dict[int, dict | str] = {}
    count = 0
    if fmt == "json":
        for count, raw in open_lines(path):
            if count in wanted:
                record, problem = parse_json_line(raw.rstrip(b"\r\n"))
                found[count] = record if record is not None else problem
    else:
        for count, (_, record, problem) in enumerate(csv_file_rows(path), 1):
            if count in wanted:
                found[count] = record if problem is None else problem
    return found, count


def resolve_references(rows: list[tuple[str, dict[str, Any]]], text_root: str | Path | None,
                       text_column: str = "text") -> list[Problem]:
    """Fill `text_column` of every reference row in place; returns a problem for each that does not
    resolve (rows with a problem keep no text). `rows` are (where, row) pairs of one or more files."""
    problems: list[Problem] = []
    by_source: dict[str, list[tuple[str, dict, tuple[str, str, str]]]] = defaultdict(list)
    files_warned: set[str] = set()
    for where, row in rows:
        if not is_reference(row, text_column):
            continue
        labels_file = where.rsplit(":", 1)[0]
        if text_root is None:
            if labels_file not in files_warned:
                files_warned.add(labels_file)
                problems.append(Problem(where, SOURCE, NO_TEXT_ROOT))
            continue
        source = row[SOURCE]
        if not isinstance(source, str) or not source.strip():
            problems.append(Problem(where, SOURCE, f"expected a path relative to the text root, got {source!r}"))
            continue
        path = Path(text_root) / source
        try:
            fmt = input_format(source)
        except Exception:  # noqa: BLE001 - reported as this row's problem below
            fmt = "parquet"
        if fmt == "parquet":
            problems.append(Problem(where, SOURCE, f"unsupported source type: {source} (use .jsonl, .jsonl.gz or .csv)"))
            continue
        if not path.is_file():
            problems.append(Problem(where, SOURCE, f"file not found: {path}"))
            continue
        checked = _check_key(row.get(KEY), fmt)
        if isinstance(checked, str):
            problems.append(Problem.parse(where, checked))
            continue
        by_source[str(path)].append((where, row, checked))
    for source_path, references in by_source.items():
        fmt = input_format(source_path)
        found, count = _read_wanted(Path(source_path), fmt, {int(r[KEY][c[0]]) for _, r, c in references})
        for where, row, (position, match, expected) in references:
            problem = _resolve_one(row, fmt, found, count, position, match, expected, source_path, text_column)
            if problem is not None:
                problems.append(Problem.parse(where, problem))
    return problems


def _resolve_one(row: dict[str, Any], fmt: str, found: dict[int, dict | str], count: int, position: str,
                 match: str, expected: str, source_path: str, text_column: str) -> str | None:
    number = int(row[KEY][position])
    unit = "lines" if fmt == "json" else "data rows"
    if number > count:
        return f"{KEY}.{position}: {number} is out of range (file has {count:,} {unit})"
    record = found.get(number)
    if record is None:
        return f"{KEY}.{position}: {position} {number} of {source_path} is blank"
    if isinstance(record, str):
        return f"{KEY}.{position}: {position} {number} of {source_path} cannot be read ({record})"
    actual = record.get(match)
    if actual is None or str(actual) != expected:
        return f"{KEY}.{match}: does not match the record's {match} ({'none' if actual is None else repr_quoted(actual)})"
    text = jsonl_text(record) if fmt == "json" else csv_text(record)
    if not text or not text.strip():
        fields = "description, text or message" if fmt == "json" else ", ".join(CSV_TEXT_COLUMNS)
        return f"{KEY}.{position}: the record at {position} {number} has no text ({fields})"
    row[text_column] = text
    return None


def repr_quoted(value: Any) -> str:
    """A record's value as the message quotes it: "..." (long values cut)."""
    text = str(value)
    return '"' + (text if len(text) <= 120 else text[:117] + "...") + '"'
