"""The one reader: rows of JSONL (.jsonl, .jsonl.gz), CSV (.csv, .csv.gz), Parquet or a saved
DatasetDict, each located as ``file:line`` (``file:row N`` for Parquet), with one problem format,
``file:line: field: message``.

Corpus building, `evaluate`, `compare`, `queue` and batch scoring (both engines) read through these
functions, so a file that one command accepts, every command accepts, with the same messages.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..runtime.errors import ScamlensError

DATASET_MARKER = "dataset_dict.json"
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMATS = {**dict.fromkeys(JSON_SUFFIXES, "json"), ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Problem:
    where: str
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"

    @classmethod
    def parse(cls, where: str, problem: str) -> Problem:
        """From the "field: message" strings the line parsers return."""
        field, _, message = problem.partition(": ")
        return cls(where, field, message)


class CorpusError(ScamlensError, ValueError):
    """The data has errors; `problems` lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the data:\n{shown}{more}")


def input_format(path: str) -> str:
    """"json", "csv" or "parquet" from a file name (a trailing .gz is allowed for JSONL and CSV)."""
    name = path.lower()
    compressed = name.endswith(".gz")
    suffix = os.path.splitext(name[:-3] if compressed else name)[1]
    fmt = FORMATS.get(suffix)
    if fmt is None or (compressed and fmt == "parquet"):
        raise CorpusError([Problem(path, "source", "unsupported file type (use .jsonl, .csv or .parquet; "
                                   ".jsonl.gz and .csv.gz work too)")])
    return fmt


# --- lines ------------------------------------------------------------------------------------------
def open_lines(path: str | Path, advance: Callable[[int], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every physical line of a file, gunzipping .gz; reports bytes read."""
    path = str(path)
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if path.lower().endswith(".gz") else raw
        position = 0
        for number, line in enumerate(stream, 1):
            yield number, (line[3:] if number == 1 and line.startswith(b"\xef\xbb\xbf") else line)
            if advance is not None and number % 2048 == 0:
                now = raw.tell()
                advance(now - position)
                position = now
        if advance is not None:
            advance(raw.tell() - position)


def parse_json_line(raw: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """A JSONL line as (record, None), or (None, "field: problem") when it cannot be read."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        return None, f"utf-8: not valid UTF-8 (byte {exc.start + 1})"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"json: not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(value, dict):
        return None, f"json: expected a JSON object, got {type(value).__name__}"
    return value, None


def json_rows(path: str | Path, lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[str, dict | None, str | None]]:
    """(where, record or None, problem or None) for every non-blank line."""
    for number, raw in lines:
        if raw.strip():  # without its line break, as Spark's reader hands lines over (same messages)
            yield (f"{path}:{number}", *parse_json_line(raw.rstrip(b"\r\n")))


def csv_record(fields: list[str], header: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """A CSV record as {column: value}; a record whose field count differs from the header's is a
    problem (its columns are probably shifted), though the fields it has are kept."""
    record = dict(zip(header, fields, strict=False))
    if len(fields) != len(header):
        return record, f"csv: expected {len(header)} fields as in the header, got {len(fields)}"
    return record, None


def csv_header(line: bytes | str, where: str) -> list[str]:
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    header = next(csv.reader([text], strict=True), [])
    if not header:
        raise CorpusError([Problem(where, "csv", "empty CSV header")])
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise CorpusError([Problem(where, "csv", f"CSV header repeats column(s) {', '.join(duplicated)}")])
    return header


def csv_rows(path: str | Path, lines: Iterator[tuple[int, bytes]],
             header: list[str]) -> Iterator[tuple[str, dict | None, str | None]]:
    """Records of a CSV file after its header, each located at the line where it starts (a quoted
    field may span lines); blank lines are skipped."""
    undecodable: set[int] = set()

    def decoded() -> Iterator[str]:
        for number, raw in lines:
            if number == 1:
                continue  # the header, read before
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                undecodable.add(number)
                yield raw.decode("utf-8", errors="replace")

    reader = csv.reader(decoded(), strict=True)
    consumed = 1
    while True:
        start = consumed + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            consumed = reader.line_num + 1
            yield f"{path}:{start}", None, f"csv: {exc}"
            continue
        consumed = reader.line_num + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # a blank line (the spark engine drops them too)
        record, problem = csv_record(fields, header)
        if undecodable.intersection(range(start, consumed + 1)):
            problem = "utf-8: not valid UTF-8"
        yield f"{path}:{start}", record, problem


def csv_file_rows(path: str | Path) -> Iterator[tuple[str, dict | None, str | None]]:
    """Every record of a CSV file, its header read from the first line."""
    lines = open_lines(path)
    first = next(lines, None)
    if first is None:
        return
    header = csv_header(first[1], f"{path}:1")
    yield from csv_rows(path, lines, header)


# --- whole sources ----------------------------------------------------------------------------------
def read_rows(path: str | Path, labels_column: str | None = None,
              labels_separator: str = "|") -> Iterator[tuple[str, dict[str, Any] | Problem]]:
    """(where, row) for every row of a file or saved DatasetDict, or (where, Problem) for a row that
    cannot be read. CSV label cells ``a|b`` become lists when `labels_column` is given."""
    path = Path(path)
    if path.is_dir():
        if not (path / DATASET_MARKER).exists():
            yield str(path), Problem(str(path), "source", f"a folder must be a saved DatasetDict ({DATASET_MARKER} missing)")
            return
        yield from _dataset_rows(path, labels_column)
        return
    try:
        fmt = input_format(str(path))
    except CorpusError as exc:
        yield str(path), exc.problems[0]
        return
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for number, row in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"{path}:row {number}", row
        return
    try:
        rows = json_rows(path, open_lines(path)) if fmt == "json" else csv_file_rows(path)
        for where, record, problem in rows:
            if problem is not None:
                yield where, Problem.parse(where, problem)
                continue
            if fmt == "csv" and labels_column and isinstance(record.get(labels_column), str):
                cell = record[labels_column]
                record[labels_column] = [p.strip() for p in cell.split(labels_separator) if p.strip()]
            yield where, record
    except CorpusError as exc:
        for problem in exc.problems:
            yield problem.where, problem
    except (OSError, EOFError) as exc:  # unreadable or truncated .gz
        yield str(path), Problem(str(path), "source", f"cannot read: {exc}")


def _dataset_rows(path: Path, labels_column: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    from datasets import ClassLabel, load_from_disk

    dataset_dict = load_from_disk(str(path))
    for split_name, split in dataset_dict.items():
        feature = split.features.get(labels_column) if labels_column else None
        inner = getattr(feature, "feature", None)
        names = inner.names if isinstance(inner, ClassLabel) else None
        for number, row in enumerate(split, 1):
            if names is not None:
                row[labels_column] = [names[i] for i in row[labels_column]]
            yield f"{path}[{split_name}]:row {number}", row
