"""Batch scoring of files: JSONL, CSV or Parquet in, Parquet out, on this machine or on Spark.

Both engines share one row pipeline, so they write the same columns for the same input: the input's
own columns, then one float64 score per label (`score_<label>`), `predicted_labels` (list of
strings), `evidence` (a JSON string, label -> chunks) and `error` (null when the row was scored).

- engine "local" streams batches through the model in this process with bounded memory: JSONL and
  CSV are read line by line, Parquet record batch by record batch, and a ParquetWriter appends.
- engine "spark" runs the same batches in `mapInArrow` (the Arrow sibling of `mapInPandas`: the
  input columns pass through untouched, without pandas turning nullable integers into floats) and
  loads the model once per Python worker process. The model folder reaches executors by its path
  (local mode, or a folder on storage every node mounts) or is shipped with `SparkContext.addFile`.

A row that cannot be scored (a line that is not JSON, a missing or non-string text, a CSV record
with the wrong number of fields) gets null scores and an `error` naming its file and line (or
Parquet row); the job carries on and prints a summary. The output folder is written to a hidden
sibling and swapped into place, so a rerun replaces it and a crash leaves the previous one intact.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import atomic_dir
from .inference import Model, load
from .modelfolder import find_model_folder, read_meta, verify_manifest

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

ENGINES = ("local", "spark")
DEFAULT_BATCH_SIZE = 256
DEFAULT_MASTER = "local[2]"
SCORE_PREFIX = "score_"
LABELS_COLUMN = "predicted_labels"
EVIDENCE_COLUMN = "evidence"
ERROR_COLUMN = "error"
PART_FILE = "part-00000.parquet"
ROW_GROUP_ROWS = 16_384  # rows the local engine buffers before writing a Parquet row group
SHOWN_ERRORS = 20

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMATS = {**dict.fromkeys(JSON_SUFFIXES, "json"), ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

# Settings for a Spark session this module starts itself on a local master: no web UI and only the
# loopback interface, so scoring on a laptop or a CI runner opens nothing to the network.
LOCAL_SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
# Bookkeeping columns the Spark plan carries next to the input; never written.
_FILE = "__scamlens_file"
_NUMBER = "__scamlens_number"
_VALUE = "__scamlens_line"
_BLOCK = "__scamlens_block"
_ID = "__scamlens_id"
_MISSING = object()  # a JSON/CSV record without the text field (as opposed to an explicit null)


@dataclass
class ScoreResult:
    """What a scoring run wrote and how it went."""

    output: str
    engine: str
    files: int
    rows: int
    errors: int
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


# --- the public entry point --------------------------------------------------------------------------
def score(model: str | Path | Model, input: str | Path, output: str | Path, engine: str = "local",  # noqa: A002
          text_column: str = "text", batch_size: int = DEFAULT_BATCH_SIZE, master: str | None = None,
          evidence: bool = True, ship_model: bool | None = None, spark_conf: dict[str, str] | None = None,
          partitions: int | None = None, progress: bool = True) -> ScoreResult:
    """Score every row of JSONL, CSV or Parquet files into a Parquet folder.

    Args:
        model: a model folder, a ``models:/`` URI, or a loaded `Model` (the local engine uses it as
            is; Spark executors load its folder).
        input: a file, a folder of files, or a glob (``data/*.jsonl.gz``) of one format, chosen by
            suffix: .jsonl/.ndjson/.json, .csv, .parquet (each optionally .gz for JSONL and CSV).
            With the spark engine it may also be a Hadoop URI (``hdfs://``, ``s3a://``).
        output: the Parquet folder to write; an existing one is replaced atomically when done.
        engine: "local" (this process, streaming) or "spark".
        text_column: the column (JSON field) holding the text.
        batch_size: texts per model call.
        master: Spark master URL. Default: the active session's, else spark-submit's ``--master``,
            else ``local[2]``. Ignored when a SparkSession is already active.
        evidence: fill the `evidence` column (the chunks behind each predicted label).
        ship_model: send the model folder to executors with `SparkContext.addFile` instead of
            loading it from the same path on every node. Default: ship unless the master is local.
        spark_conf: extra settings for a Spark session this call starts (not for an active one).
        partitions: Spark partitions to score in; default the context's default parallelism.
        progress: show a progress bar (local) / Spark's console progress, and print the summary.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    if engine == "local":
        if _is_uri(str(input)) or _is_uri(str(output)):
            raise ValueError("the local engine reads and writes local paths; use engine='spark' for URIs")
        files, fmt = resolve_inputs(input)
        loaded = model if isinstance(model, Model) else load(model)
        rows, errors, samples = _score_local(loaded, files, fmt, Path(output), text_column, batch_size,
                                             evidence, progress)
        n_files = len(files)
    else:
        folder = model.path if isinstance(model, Model) else _model_folder(model)
        if folder is None:
            raise ValueError("the spark engine needs a model folder; this Model was not loaded from one")
        rows, errors, samples, n_files = _score_spark(
            Path(folder), str(input), str(output), text_column, batch_size, evidence, master, ship_model,
            spark_conf or {}, partitions, progress)
    result = ScoreResult(str(output), engine, n_files, rows, errors, samples, time.perf_counter() - started)
    if progress:
        print_summary(result)
    return result


def print_summary(result: ScoreResult) -> None:
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True, highlight=False)
    console.print(f"scored {result.rows - result.errors:,} of {result.rows:,} rows from {result.files} file(s) "
                  f"with the {result.engine} engine in {result.seconds:.1f}s "
                  f"({_rate(result.rows_per_second)} rows/s) -> {result.output}", markup=False)
    if result.errors:
        console.print(f"[yellow]{result.errors:,} row(s) not scored[/] (null scores, reason in the "
                      f"{ERROR_COLUMN!r} column):")
        for message in result.error_samples:
            console.print(f"  {message}", markup=False)  # messages quote paths and JSON
        if result.errors > len(result.error_samples):
            console.print(f"  ... and {result.errors - len(result.error_samples):,} more")


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f}" if per_second >= 10 else f"{per_second:.2f}"


# --- inputs ------------------------------------------------------------------------------------------
def _is_uri(path: str) -> bool:
    return "://" in path


def input_format(path: str) -> str:
    """"json", "csv" or "parquet" from a file name (a trailing .gz is allowed for JSONL and CSV)."""
    name = path.lower()
    compressed = name.endswith(".gz")
    suffix = os.path.splitext(name[:-3] if compressed else name)[1]
    fmt = FORMATS.get(suffix)
    if fmt is None or (compressed and fmt == "parquet"):
        raise ValueError(f"{path}: unsupported file type (use .jsonl, .csv or .parquet; "
                         ".jsonl.gz and .csv.gz work too)")
    return fmt


def _one_format(files: Sequence[str], pattern: str) -> str:
    formats = {input_format(f) for f in files}
    if len(formats) > 1:
        raise ValueError(f"{pattern}: matches files of several formats ({', '.join(sorted(formats))}); "
                         "score one format at a time")
    return formats.pop()


def _data_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith((".", "_")) and not p.name.endswith(".crc"))


def resolve_inputs(pattern: str | Path) -> tuple[list[str], str]:
    """Local files for a path, folder or glob, in sorted order, and their common format."""
    pattern = str(pattern)
    if glob.has_magic(pattern):
        matches = sorted(glob.glob(pattern))
    elif Path(pattern).is_dir():
        matches = _data_files(Path(pattern))
    elif Path(pattern).exists():
        matches = [pattern]
    else:
        raise FileNotFoundError(f"{pattern}: no such file")
    files = [m for m in matches if Path(m).is_file()]
    if not files:
        raise FileNotFoundError(f"{pattern}: no file matches")
    return files, _one_format(files, pattern)


def _model_folder(source: str | Path) -> Path:
    if isinstance(source, str) and source.startswith(("models:/", "runs:/")):
        from .tracking import download_model

        return find_model_folder(download_model(source))
    return find_model_folder(Path(source))


def _open_lines(path: str, advance: Callable[[int], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every physical line of a file, gunzipping .gz; reports bytes read."""
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


# --- parsing rows (shared by both engines) -----------------------------------------------------------
def parse_json_line(raw: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """A JSONL line as (record, None), or (None, problem) when it cannot be read."""
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


def csv_record(fields: list[str], header: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """A CSV record as {column: value}; a record whose field count differs from the header's is a
    problem (its columns are probably shifted), though the fields it has are kept."""
    record = dict(zip(header, fields, strict=False))
    if len(fields) != len(header):
        return record, f"csv: expected {len(header)} fields as in the header, got {len(fields)}"
    return record, None


def text_problem(value: Any, column: str) -> str | None:
    if value is _MISSING:
        return f"{column}: missing"
    if value is None:
        return f"{column}: null"
    if not isinstance(value, str):
        return f"{column}: expected a string, got {type(value).__name__}"
    return None


@dataclass
class _Chunk:
    """A batch of input rows: their columns, raw text values, locations and reading problems."""

    table: pa.Table
    texts: list[Any]
    wheres: list[str]
    problems: list[str | None]


def _column(values: list[Any], type_: pa.DataType) -> pa.Array:
    """An Arrow array of `type_`; a value that does not fit becomes null (or JSON text in a string
    column, which is how a field whose type varies between rows is kept)."""
    import pyarrow as pa

    try:
        return pa.array(values, type=type_)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    if pa.types.is_string(type_):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values],
                        type=type_)
    fitted = []
    for value in values:
        try:
            pa.array([value], type=type_)
            fitted.append(value)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            fitted.append(None)
    return pa.array(fitted, type=type_)


def _records_chunk(rows: list[tuple[str, dict[str, Any] | None, str | None]], schema: pa.Schema,
                   text_column: str) -> _Chunk:
    """rows: (where, record or None, problem or None) -> a chunk with columns in `schema`."""
    import pyarrow as pa

    records = [record or {} for _, record, _ in rows]
    arrays = [_column([r.get(f.name) for r in records], f.type) for f in schema]
    table = pa.Table.from_arrays(arrays, schema=schema)
    return _Chunk(table, [r.get(text_column, _MISSING) for r in records], [w for w, _, _ in rows],
                  [problem for _, _, problem in rows])


# --- JSON schema inference (one pass; mergeable, so Spark partitions infer in parallel) --------------
def _merge_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if a == b or pa.types.is_null(b):
        return a
    if pa.types.is_null(a):
        return b
    try:
        return pa.unify_schemas([pa.schema([("f", a)]), pa.schema([("f", b)])],
                                promote_options="permissive").field("f").type
    except (pa.ArrowException, TypeError, ValueError, NotImplementedError):
        return pa.string()  # the field's type varies: keep it as JSON text


class SchemaBuilder:
    """The Arrow schema of JSON records: fields in first-seen order, types unified across rows."""

    def __init__(self) -> None:
        self.types: dict[str, pa.DataType] = {}

    def add(self, records: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        names = dict.fromkeys(k for r in records for k in r)
        for name in names:
            try:
                type_ = pa.array([r.get(name) for r in records]).type
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                type_ = pa.string()
            self.merge_field(name, type_)

    def merge_field(self, name: str, type_: pa.DataType) -> None:
        self.types[name] = _merge_types(self.types[name], type_) if name in self.types else type_

    def merge(self, schema: pa.Schema) -> None:
        for f in schema:
            self.merge_field(f.name, f.type)

    def partial_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([(n, t) for n, t in self.types.items()])

    def schema(self) -> pa.Schema:
        """The final schema: all-null fields and empty structs (which Parquet cannot hold) as strings."""
        import pyarrow as pa

        def writable(type_: pa.DataType) -> pa.DataType:
            if pa.types.is_null(type_) or (pa.types.is_struct(type_) and type_.num_fields == 0):
                return pa.string()
            if pa.types.is_struct(type_):
                return pa.struct([pa.field(f.name, writable(f.type)) for f in type_])
            if pa.types.is_list(type_) or pa.types.is_large_list(type_):
                return pa.list_(writable(type_.value_type))
            return type_

        return pa.schema([(n, writable(t)) for n, t in self.types.items()])


def _json_records(lines: Iterator[tuple[int, bytes]]) -> Iterator[dict[str, Any]]:
    for _, raw in lines:
        if raw.strip():
            record, _ = parse_json_line(raw)
            if record is not None:
                yield record


def _add_in_chunks(builder: SchemaBuilder, records: Iterator[dict[str, Any]], size: int = 4096) -> None:
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            builder.add(chunk)
            chunk = []
    if chunk:
        builder.add(chunk)


def _csv_header(line: bytes | str, where: str) -> list[str]:
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    header = next(csv.reader([text], strict=True), [])
    if not header:
        raise ValueError(f"{where}: empty CSV header")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ValueError(f"{where}: CSV header repeats column(s) {', '.join(duplicated)}")
    return header


def _same_headers(headers: dict[str, list[str]]) -> list[str]:
    if not headers:
        raise ValueError("no CSV header: every input file is empty")
    (first_file, first), *others = headers.items()
    for path, header in others:
        if header != first:
            raise ValueError(f"{path}: CSV header {header} differs from {first_file}'s {first}")
    return first


def _csv_schema(header: list[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in header])


def score_fields(labels: Sequence[str]) -> list[pa.Field]:
    import pyarrow as pa

    return ([pa.field(f"{SCORE_PREFIX}{name}", pa.float64()) for name in labels]
            + [pa.field(LABELS_COLUMN, pa.list_(pa.string())), pa.field(EVIDENCE_COLUMN, pa.string()),
               pa.field(ERROR_COLUMN, pa.string())])


def _check_columns(names: Sequence[str], labels: Sequence[str], text_column: str, where: str,
                   text_required: bool = True) -> None:
    if text_required and text_column not in names:
        raise ValueError(f"{where}: no column {text_column!r} (columns: {', '.join(names)}); "
                         "choose one with text_column / --text-column")
    clashes = [f.name for f in score_fields(labels) if f.name in names]
    if clashes:
        raise ValueError(f"{where}: input column(s) {', '.join(clashes)} would be overwritten by the "
                         "scoring columns; rename or drop them first")


def _check_text_type(type_: pa.DataType, column: str, where: str) -> None:
    import pyarrow as pa

    inner = type_.value_type if pa.types.is_dictionary(type_) else type_
    if not (pa.types.is_string(inner) or pa.types.is_large_string(inner) or pa.types.is_string_view(inner)):
        raise ValueError(f"{where}: column {column!r} is {type_}, not text")


# --- scoring a chunk (shared by both engines) --------------------------------------------------------
def _predict(model: Model, texts: list[str], evidence: bool) -> list[Any]:
    """Predictions, or for a text that makes the model raise, the reason as a string."""
    try:
        return model.predict(texts, evidence=evidence)
    except Exception:  # noqa: BLE001 - find the text that broke the batch; the others still get scored
        out: list[Any] = []
        for text in texts:
            try:
                out.append(model.predict(text, evidence=evidence))
            except Exception as exc:  # noqa: BLE001
                out.append(f"scoring failed: {type(exc).__name__}: {exc}")
        return out


def _score_chunk(model: Model, chunk: _Chunk, text_column: str, evidence: bool) -> tuple[pa.Table, list[str]]:
    """The chunk's columns plus the scoring columns, and the error messages of its rows."""
    import pyarrow as pa

    n = chunk.table.num_rows
    errors: list[str | None] = []
    for where, text, problem in zip(chunk.wheres, chunk.texts, chunk.problems, strict=True):
        problem = problem or text_problem(text, text_column)
        errors.append(f"{where}: {problem}" if problem else None)
    live = [i for i, e in enumerate(errors) if e is None]
    scores: list[list[float | None]] = [[None] * n for _ in model.labels]
    predicted: list[list[str] | None] = [None] * n
    chunks: list[str | None] = [None] * n
    for i, prediction in zip(live, _predict(model, [chunk.texts[i] for i in live], evidence), strict=True):
        if isinstance(prediction, str):
            errors[i] = f"{chunk.wheres[i]}: {prediction}"
            continue
        for j, name in enumerate(model.labels):
            scores[j][i] = prediction["scores"][name]
        predicted[i] = prediction["labels"]
        if evidence:
            chunks[i] = json.dumps(prediction["evidence"], ensure_ascii=False)
    columns = [*scores, predicted, chunks, errors]
    table = chunk.table
    for f, values in zip(score_fields(model.labels), columns, strict=True):
        table = table.append_column(f, pa.array(values, type=f.type))
    return table, [e for e in errors if e is not None]


# --- the local engine --------------------------------------------------------------------------------
def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled)


def _local_chunks(files: list[str], fmt: str, schema: pa.Schema, text_column: str, batch_size: int,
                  advance: Callable[[int], None]) -> Iterator[_Chunk]:
    if fmt == "parquet":
        yield from _parquet_chunks(files, schema, text_column, batch_size, advance)
        return
    rows: list[tuple[str, dict[str, Any] | None, str | None]] = []
    for path in files:
        lines = _open_lines(path, advance)
        records = _json_rows(path, lines) if fmt == "json" else _csv_rows(path, lines, list(schema.names))
        for row in records:
            rows.append(row)
            if len(rows) >= batch_size:
                yield _records_chunk(rows, schema, text_column)
                rows = []
    if rows:
        yield _records_chunk(rows, schema, text_column)


def _json_rows(path: str, lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[str, dict | None, str | None]]:
    for number, raw in lines:
        if raw.strip():  # without its line break, as Spark's reader hands lines over (same messages)
            yield (f"{path}:{number}", *parse_json_line(raw.rstrip(b"\r\n")))


def _csv_rows(path: str, lines: Iterator[tuple[int, bytes]],
              header: list[str]) -> Iterator[tuple[str, dict | None, str | None]]:
    """Records of a CSV file after its header, each located at the line where it starts (a quoted
    field may span lines)."""
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


def _parquet_chunks(files: list[str], schema: pa.Schema, text_column: str, batch_size: int,
                    advance: Callable[[int], None]) -> Iterator[_Chunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in files:
        number = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            table = pa.Table.from_batches([batch])
            columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
                       else pa.nulls(table.num_rows, f.type) for f in schema]
            table = pa.Table.from_arrays(columns, schema=schema)
            wheres = [f"{path}:row {number + i + 1}" for i in range(table.num_rows)]
            number += table.num_rows
            advance(table.num_rows)
            yield _Chunk(table, table.column(text_column).to_pylist(), wheres, [None] * table.num_rows)


def _local_input_schema(files: list[str], fmt: str, labels: Sequence[str], text_column: str,
                        progress) -> tuple[pa.Schema, int]:
    """The input's schema and the progress total (bytes for JSONL/CSV, rows for Parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "parquet":
        schemas = {path: pq.read_schema(path).remove_metadata() for path in files}
        try:
            schema = pa.unify_schemas(list(schemas.values()))
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValueError(f"{', '.join(files)}: the Parquet files' schemas do not agree ({exc})") from None
        for path, file_schema in schemas.items():
            _check_columns(file_schema.names, labels, text_column, path)
            _check_text_type(file_schema.field(text_column).type, text_column, path)
        return schema, sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    total = sum(os.path.getsize(p) for p in files)
    if fmt == "csv":
        headers = {}
        for path in files:
            with closing(_open_lines(path)) as lines:
                first = next(lines, None)
            if first is not None:
                headers[path] = _csv_header(first[1], f"{path}:1")
        header = _same_headers(headers)
        _check_columns(header, labels, text_column, files[0])
        return _csv_schema(header), total
    builder = SchemaBuilder()
    task = progress.add_task("reading schema", total=total, rows=0)
    for path in files:
        _add_in_chunks(builder, _json_records(_open_lines(path, lambda n: progress.advance(task, n))))
    progress.remove_task(task)
    schema = builder.schema()
    _check_columns(schema.names, labels, text_column, files[0] if len(files) == 1 else f"{len(files)} files",
                   text_required=False)
    if text_column not in schema.names:
        raise ValueError(f"{', '.join(files)}: no record has a field {text_column!r} (fields: "
                         f"{', '.join(schema.names) or 'none'}); choose one with text_column / --text-column")
    return schema, total


def _score_local(model: Model, files: list[str], fmt: str, output: Path, text_column: str, batch_size: int,
                 evidence: bool, progress_enabled: bool) -> tuple[int, int, list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = errors = 0
    samples: list[str] = []
    with _progress(progress_enabled) as progress:
        schema, total = _local_input_schema(files, fmt, model.labels, text_column, progress)
        out_schema = pa.schema(list(schema) + score_fields(model.labels))
        task = progress.add_task("scoring", total=total, rows=0)
        with atomic_dir(output) as staging, pq.ParquetWriter(staging / PART_FILE, out_schema) as writer:
            buffered: list[pa.Table] = []
            for chunk in _local_chunks(files, fmt, schema, text_column, batch_size,
                                       lambda n: progress.advance(task, n)):
                table, chunk_errors = _score_chunk(model, chunk, text_column, evidence)
                rows += table.num_rows
                errors += len(chunk_errors)
                samples += chunk_errors[: SHOWN_ERRORS - len(samples)]
                progress.update(task, rows=rows)
                buffered.append(table)
                if sum(t.num_rows for t in buffered) >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(buffered), row_group_size=ROW_GROUP_ROWS)
                    buffered = []
            if buffered or rows == 0:
                writer.write_table(pa.concat_tables(buffered) if buffered else out_schema.empty_table(),
                                   row_group_size=ROW_GROUP_ROWS)
    return rows, errors, samples


# --- the Spark engine --------------------------------------------------------------------------------
@contextmanager
def spark_session(master: str | None = None, conf: dict[str, str] | None = None,
                  progress: bool = False) -> Iterator[SparkSession]:
    """The active SparkSession if there is one (left running), else a new one (stopped on exit).

    A new session gets `master`, else spark-submit's ``--master``, else ``local[2]``; on a local
    master it also gets `LOCAL_SPARK_CONF` and this interpreter as the workers' Python.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
        master = DEFAULT_MASTER
    builder = SparkSession.builder.appName("scamlens-score")
    settings = {"spark.ui.showConsoleProgress": str(progress).lower()}
    if master is not None:
        builder = builder.master(master)
        if master.startswith("local"):
            settings.update(LOCAL_SPARK_CONF)
            # Workers run PYSPARK_PYTHON (default: whatever `python3` is on PATH), which must be
            # an interpreter that can import scamlens: in local mode, this one.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM's own address, too
    for key, value in {**settings, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    try:
        yield spark
    finally:
        spark.stop()


# Executors keep each model they load for the life of their Python worker (Spark reuses workers).
_EXECUTOR_MODELS: dict[str, Model] = {}


def executor_model(ref: tuple[str, str]) -> Model:
    """The model `ref` names, loaded once per process: ("path", folder) or ("sparkfiles", name)."""
    kind, value = ref
    if kind == "sparkfiles":
        from pyspark import SparkFiles

        value = SparkFiles.get(value)
    model = _EXECUTOR_MODELS.get(value)
    if model is None:
        model = load(value)
        if model.meta.get("kind") == "transformer":
            _fit_torch_threads()
        _EXECUTOR_MODELS[value] = model
    return model


def _fit_torch_threads() -> None:
    """One torch thread per CPU Spark gives the task, so parallel tasks do not oversubscribe cores."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is not None:
        import torch

        torch.set_num_threads(max(1, context.cpus()))


def _ship_model(spark: SparkSession, folder: Path) -> tuple[str, str]:
    """Send the model folder to every executor; SparkFiles names it by a digest of its manifest,
    so two models called model-best do not collide and resending the same one is a no-op."""
    import hashlib
    import shutil
    import tempfile

    digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()[:16]
    name = f"scamlens-model-{digest}"
    shipped = Path(tempfile.gettempdir()) / "scamlens-sparkfiles" / name
    if not shipped.exists():
        shipped.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=shipped.parent))
        shutil.copytree(folder, staging, dirs_exist_ok=True)
        try:
            os.replace(staging, shipped)
        except OSError:  # another run shipped the same model meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    context = spark.sparkContext
    if not any(name in f for f in context.listFiles):
        context.addFile(str(shipped), recursive=True)
    return "sparkfiles", name


def _spark_inputs(spark: SparkSession, pattern: str) -> tuple[list[tuple[str, str]], str]:
    """(shown name, URI Spark reads) of each input file, and their format. Local paths are globbed
    here; URIs by the Hadoop filesystem they belong to."""
    if not _is_uri(pattern):
        files, fmt = resolve_inputs(pattern)
        return [(f, f"file://{Path(f).resolve()}") for f in files], fmt
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    statuses = fs.globStatus(hadoop_path) or []
    uris: list[str] = []
    for status in statuses:
        inner = fs.listStatus(status.getPath()) if status.isDirectory() else [status]
        uris += sorted(s.getPath().toString() for s in inner if s.isFile()
                       and not s.getPath().getName().startswith((".", "_")))
    if not uris:
        raise FileNotFoundError(f"{pattern}: no file matches")
    return [(u, u) for u in uris], _one_format(uris, pattern)


def _spark_lines(spark: SparkSession, files: list[tuple[str, str]]) -> DataFrame:
    """Every physical line of the files and where it sits: (file URI, split start, row id, text).

    Spark's text reader gives no line numbers. `monotonically_increasing_id` counts rows within a
    partition, and each file split lies whole and in order inside one partition, so a line's number
    is the lines in the file's earlier splits + (its id - the split's first id) + 1; `_survey`
    collects those per split. The lines stay in the JVM until the scoring UDF.
    """
    from pyspark.sql import functions as F  # noqa: N812

    return spark.read.text([uri for _, uri in files]).select(
        F.col("_metadata.file_path").alias(_FILE), F.col("_metadata.file_block_start").alias(_BLOCK),
        F.monotonically_increasing_id().alias(_ID), F.col("value").alias(_VALUE))


def _uri_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path) if uri.startswith("file:") else unquote(uri)


def _shown_path(uri: str, names: dict[str, str]) -> str:
    """The input path as the user named it, for messages (Spark reports file:/ URIs)."""
    return names.get(_uri_path(uri), uri)


def _survey_partition(batches: Iterator[pa.RecordBatch], *, infer: bool) -> Iterator[pa.RecordBatch]:
    """Per file split in the partition: its first row id, its line count, its first line (the CSV
    header when the split starts the file) and, with `infer`, the Arrow schema of its JSON records."""
    import pyarrow as pa

    arrow_schema = _survey_schema()
    splits: dict[tuple[str, int], list[Any]] = {}  # -> [first id, lines, first line, builder, pending records]
    for batch in batches:
        columns = (batch.column(c).to_pylist() for c in (_FILE, _BLOCK, _ID, _VALUE))
        for uri, block, row_id, value in zip(*columns, strict=True):
            split = splits.get((uri, block))
            if split is None:
                if block == 0:
                    value = value.removeprefix("\ufeff")
                split = splits[(uri, block)] = [row_id, 0, value, SchemaBuilder(), []]
            split[1] += 1
            if infer and value.strip():
                record, _ = parse_json_line(value)
                if record is not None:
                    split[4].append(record)
                    if len(split[4]) >= 4096:
                        split[3].add(split[4])
                        split[4] = []
    out: dict[str, list[Any]] = {name: [] for name in arrow_schema.names}
    for (uri, block), (first, lines, head, builder, pending) in splits.items():
        if pending:
            builder.add(pending)
        for name, value in zip(arrow_schema.names, (uri, block, first, lines, head,
                                                     builder.partial_schema().serialize().to_pybytes()), strict=True):
            out[name].append(value)
    yield pa.RecordBatch.from_pydict(out, schema=arrow_schema)


_SURVEY_DDL = "file string, block long, first long, lines long, head string, schema binary"


def _survey_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("file", pa.string()), ("block", pa.int64()), ("first", pa.int64()), ("lines", pa.int64()),
                      ("head", pa.string()), ("schema", pa.binary())])


@dataclass
class _Survey:
    splits: dict[tuple[str, int], tuple[int, int]]  # (file URI, split start) -> (first row id, lines before)
    heads: dict[str, str]  # file URI -> its first line
    builder: SchemaBuilder


def _survey(frame: DataFrame, files: list[tuple[str, str]], infer: bool) -> _Survey:
    """One pass over the lines: where each split starts counting, and (for JSONL) the schema, merged
    in file and line order so that fields come in the order the local engine first meets them."""
    import pyarrow as pa

    order = {_uri_path(uri): i for i, (_, uri) in enumerate(files)}
    rows = _map_in_arrow(frame, partial(_survey_partition, infer=infer), _SURVEY_DDL).collect()
    rows.sort(key=lambda r: (order.get(_uri_path(r["file"]), len(order)), r["file"], r["block"]))
    survey = _Survey({}, {}, SchemaBuilder())
    before: dict[str, int] = {}
    for row in rows:
        survey.splits[(row["file"], row["block"])] = (row["first"], before.get(row["file"], 0))
        before[row["file"]] = before.get(row["file"], 0) + row["lines"]
        if row["block"] == 0:
            survey.heads[row["file"]] = row["head"]
        if infer:
            survey.builder.merge(pa.ipc.read_schema(pa.py_buffer(row["schema"])))
    return survey


def _score_line_batches(batches: Iterator[pa.RecordBatch], *, fmt: str, model_ref: tuple[str, str],
                        schema: pa.Schema, out_schema: pa.Schema, text_column: str, batch_size: int,
                        evidence: bool, splits: dict[tuple[str, int], tuple[int, int]],
                        names: dict[str, str]) -> Iterator[pa.RecordBatch]:
    """mapInArrow body for JSONL/CSV: number and parse each line as the local engine does, score."""
    model = executor_model(model_ref)
    header = list(schema.names)
    rows: list[tuple[str, dict[str, Any] | None, str | None]] = []
    for batch in batches:
        columns = (batch.column(c).to_pylist() for c in (_FILE, _BLOCK, _ID, _VALUE))
        for uri, block, row_id, value in zip(*columns, strict=True):
            first, before = splits[(uri, block)]
            number = before + row_id - first + 1
            if number == 1:
                if fmt == "csv":
                    continue  # the header
                value = value.removeprefix("\ufeff")
            if not value.strip():
                continue
            parsed = parse_json_line(value) if fmt == "json" else _csv_line(value, header)
            rows.append((f"{_shown_path(uri, names)}:{number}", *parsed))
            if len(rows) >= batch_size:
                yield from _score_rows(model, rows, schema, out_schema, text_column, evidence)
                rows = []
    if rows:
        yield from _score_rows(model, rows, schema, out_schema, text_column, evidence)


def _score_rows(model: Model, rows: list[tuple[str, dict[str, Any] | None, str | None]], schema: pa.Schema,
                out_schema: pa.Schema, text_column: str, evidence: bool) -> Iterator[pa.RecordBatch]:
    table, _ = _score_chunk(model, _records_chunk(rows, schema, text_column), text_column, evidence)
    yield from table.cast(out_schema).to_batches()


def _csv_line(text: str, header: list[str]) -> tuple[dict | None, str | None]:
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        return None, (f"csv: {exc} (the spark engine reads CSV one record per line; score files whose "
                      "quoted fields span lines with engine='local', or convert them to JSONL or Parquet)")
    return csv_record(fields, header)


def _score_parquet_batches(batches: Iterator[pa.RecordBatch], *, model_ref: tuple[str, str],
                           names: dict[str, str], text_column: str, batch_size: int,
                           evidence: bool) -> Iterator[pa.RecordBatch]:
    """mapInArrow body for Parquet: the input columns pass through as Spark hands them over."""
    import pyarrow as pa

    model = executor_model(model_ref)
    for batch in batches:
        for start in range(0, batch.num_rows, batch_size):
            part = pa.Table.from_batches([batch.slice(start, batch_size)])
            wheres = [f"{_shown_path(uri, names)}:row {number}" for uri, number in
                      zip(part.column(_FILE).to_pylist(), part.column(_NUMBER).to_pylist(), strict=True)]
            table = part.drop_columns([_FILE, _NUMBER])
            chunk = _Chunk(table, table.column(text_column).to_pylist(), wheres, [None] * table.num_rows)
            scored, _ = _score_chunk(model, chunk, text_column, evidence)
            yield from scored.to_batches()


def _spark_score_frame(spark: SparkSession, files: list[tuple[str, str]], fmt: str, model_ref: tuple[str, str],
                       labels: Sequence[str], text_column: str, batch_size: int, evidence: bool,
                       partitions: int | None) -> DataFrame:
    """The lazily scored DataFrame: the input's columns and the scoring columns."""
    import pyarrow as pa
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
    from pyspark.sql.types import StringType, StructType

    parallelism = partitions or spark.sparkContext.defaultParallelism
    names = {_uri_path(uri): name for name, uri in files}
    scoring = from_arrow_schema(pa.schema(score_fields(labels)))
    if fmt == "parquet":
        frame = spark.read.option("mergeSchema", "true").parquet(*(uri for _, uri in files))
        where = files[0][0] if len(files) == 1 else f"{len(files)} Parquet files"
        _check_columns(frame.columns, labels, text_column, where)
        if not isinstance(frame.schema[text_column].dataType, StringType):
            found = frame.schema[text_column].dataType.simpleString()
            raise ValueError(f"{where}: column {text_column!r} is {found}, not text")
        out_schema = StructType(frame.schema.fields + scoring.fields)
        frame = frame.select("*", F.col("_metadata.file_path").alias(_FILE),
                             (F.col("_metadata.row_index") + 1).alias(_NUMBER))
        body = partial(_score_parquet_batches, model_ref=model_ref, text_column=text_column, batch_size=batch_size,
                       evidence=evidence, names=names)
    else:
        frame = _spark_lines(spark, files)
        survey = _survey(frame, files, infer=fmt == "json")
        where = files[0][0] if len(files) == 1 else f"{len(files)} files"
        if fmt == "csv":
            shown = {_shown_path(uri, names): head for uri, head in survey.heads.items()}  # in file order
            header = _same_headers({name: _csv_header(head, f"{name}:1") for name, head in shown.items()})
            _check_columns(header, labels, text_column, where)
            schema = _csv_schema(header)
        else:
            schema = survey.builder.schema()
            _check_columns(schema.names, labels, text_column, where, text_required=False)
            if text_column not in schema.names:
                raise ValueError(f"{where}: no record has a field {text_column!r} (fields: "
                                 f"{', '.join(schema.names) or 'none'}); choose one with text_column / --text-column")
        out_schema = StructType(from_arrow_schema(schema).fields + scoring.fields)
        body = partial(_score_line_batches, fmt=fmt, model_ref=model_ref, schema=schema,
                       out_schema=to_arrow_schema(out_schema), text_column=text_column, batch_size=batch_size,
                       evidence=evidence, splits=survey.splits, names=names)
    if frame.rdd.getNumPartitions() < parallelism:
        frame = frame.repartition(parallelism)
    return _map_in_arrow(frame, body, out_schema)


def _map_in_arrow(frame: DataFrame, body: Callable, schema: Any) -> DataFrame:
    import warnings

    with warnings.catch_warnings():
        # PySpark warns about pandas >= 3 on every Arrow UDF; this one never converts to pandas.
        warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*", category=FutureWarning)
        return frame.mapInArrow(body, schema)


def _hadoop_replace(spark: SparkSession, staging: str, target: str) -> None:
    """Swap a written folder into place on a Hadoop filesystem (atomic where its rename is)."""
    jvm = spark.sparkContext._jvm
    Path_ = jvm.org.apache.hadoop.fs.Path  # noqa: N806
    fs = Path_(target).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    old = Path_(f"{staging}.old")
    if fs.exists(Path_(target)) and not fs.rename(Path_(target), old):
        raise OSError(f"could not move {target} aside")
    if not fs.rename(Path_(staging), Path_(target)):
        raise OSError(f"could not rename {staging} to {target}")
    fs.delete(old, True)


def _hadoop_staging(target: str) -> str:
    parent, _, name = target.rstrip("/").rpartition("/")
    return f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"


def _score_spark(folder: Path, pattern: str, output: str, text_column: str, batch_size: int, evidence: bool,
                 master: str | None, ship_model: bool | None, conf: dict[str, str], partitions: int | None,
                 progress: bool) -> tuple[int, int, list[str], int]:
    from pyspark.sql import functions as F  # noqa: N812

    verify_manifest(folder)  # fail here, not in every executor
    labels = read_meta(folder)["labels"]
    with spark_session(master, conf, progress) as spark:
        files, fmt = _spark_inputs(spark, pattern)
        local_master = spark.sparkContext.master.startswith("local")
        ship = (not local_master) if ship_model is None else ship_model
        model_ref = _ship_model(spark, folder) if ship else ("path", str(folder.resolve()))
        scored = _spark_score_frame(spark, files, fmt, model_ref, labels, text_column, batch_size, evidence,
                                    partitions)
        if _is_uri(output):
            staging = _hadoop_staging(output)
            try:
                scored.write.mode("overwrite").parquet(staging)
                _hadoop_replace(spark, staging, output)
            except BaseException:
                jvm = spark.sparkContext._jvm
                path = jvm.org.apache.hadoop.fs.Path(staging)
                path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
                raise
            written = output
        else:
            with atomic_dir(output) as staging_dir:
                scored.write.mode("overwrite").parquet(f"file://{staging_dir.resolve()}")
            written = f"file://{Path(output).resolve()}"
        result = spark.read.parquet(written)
        counts = result.agg(F.count(F.lit(1)), F.count(ERROR_COLUMN)).first()
        # The first errors by file and line, as the local engine lists them.
        located = r"^(.*?):(?:row )?(\d+): "
        failed = result.where(F.col(ERROR_COLUMN).isNotNull()).select(ERROR_COLUMN).orderBy(
            F.regexp_extract(ERROR_COLUMN, located, 1), F.regexp_extract(ERROR_COLUMN, located, 2).cast("long"),
            ERROR_COLUMN)
        samples = [r[0] for r in failed.limit(SHOWN_ERRORS).collect()] if counts[1] else []
    return int(counts[0]), int(counts[1]), samples, len(files)
