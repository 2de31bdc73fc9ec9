"""The Spark engine's plan: number every line as the local engine does, infer the JSON schema in one
parallel pass, and score partitions with the shared row pipeline (columns.py) and the one reader."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..data.reader import csv_header, csv_record, parse_json_line
from ..runtime.errors import InputError
from ..runtime.model import Model
from .columns import (
    Chunk,
    SchemaBuilder,
    check_columns,
    csv_schema,
    records_chunk,
    same_headers,
    score_chunk,
    score_fields,
)
from .spark import _BLOCK, _FILE, _ID, _NUMBER, _VALUE, _shown_path, _spark_lines, _uri_path, executor_model

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


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


def _score_line_batches(batches: Iterator[pa.RecordBatch], *, fmt: str, model_ref: tuple[str, ...],
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
    table, _ = score_chunk(model, records_chunk(rows, schema, text_column), text_column, evidence)
    yield from table.cast(out_schema).to_batches()


def _csv_line(text: str, header: list[str]) -> tuple[dict | None, str | None]:
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        return None, (f"csv: {exc} (the spark engine reads CSV one record per line; score files whose "
                      "quoted fields span lines with engine='local', or convert them to JSONL or Parquet)")
    return csv_record(fields, header)


def _score_parquet_batches(batches: Iterator[pa.RecordBatch], *, model_ref: tuple[str, ...],
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
            chunk = Chunk(table, table.column(text_column).to_pylist(), wheres, [None] * table.num_rows)
            scored, _ = score_chunk(model, chunk, text_column, evidence)
            yield from scored.to_batches()


def spark_score_frame(spark: SparkSession, files: list[tuple[str, str]], fmt: str, model_ref: tuple[str, ...],
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
        check_columns(frame.columns, labels, text_column, where)
        if not isinstance(frame.schema[text_column].dataType, StringType):
            found = frame.schema[text_column].dataType.simpleString()
            raise InputError(f"{where}: column {text_column!r} is {found}, not text")
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
            header = same_headers({name: csv_header(head, f"{name}:1") for name, head in shown.items()})
            check_columns(header, labels, text_column, where)
            schema = csv_schema(header)
        else:
            schema = survey.builder.schema()
            check_columns(schema.names, labels, text_column, where, text_required=False)
            if text_column not in schema.names:
                raise InputError(f"{where}: no record has a field {text_column!r} (fields: "
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
