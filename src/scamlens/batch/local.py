"""The local engine: streams batches through the model in this process with bounded memory.

JSONL and CSV are read line by line through the one reader, Parquet record batch by record batch,
and a ParquetWriter appends into a staging folder that replaces the output atomically when done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.reader import csv_header, csv_rows, json_rows, open_lines
from ..runtime.atomic import atomic_dir
from ..runtime.errors import InputError
from ..runtime.model import Model
from .columns import (
    Chunk,
    SchemaBuilder,
    add_in_chunks,
    check_columns,
    check_text_type,
    csv_schema,
    json_records,
    records_chunk,
    same_headers,
    score_chunk,
    score_fields,
)

if TYPE_CHECKING:
    import pyarrow as pa

PART_FILE = "part-00000.parquet"
ROW_GROUP_ROWS = 16_384  # rows the local engine buffers before writing a Parquet row group
SHOWN_ERRORS = 20


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
                  advance: Callable[[int], None]) -> Iterator[Chunk]:
    if fmt == "parquet":
        yield from _parquet_chunks(files, schema, text_column, batch_size, advance)
        return
    rows: list[tuple[str, dict[str, Any] | None, str | None]] = []
    for path in files:
        lines = open_lines(path, advance)
        records = json_rows(path, lines) if fmt == "json" else csv_rows(path, lines, list(schema.names))
        for row in records:
            rows.append(row)
            if len(rows) >= batch_size:
                yield records_chunk(rows, schema, text_column)
                rows = []
    if rows:
        yield records_chunk(rows, schema, text_column)


def _parquet_chunks(files: list[str], schema: pa.Schema, text_column: str, batch_size: int,
                    advance: Callable[[int], None]) -> Iterator[Chunk]:
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
            yield Chunk(table, table.column(text_column).to_pylist(), wheres, [None] * table.num_rows)


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
            raise InputError(f"{', '.join(files)}: the Parquet files' schemas do not agree ({exc})") from None
        for path, file_schema in schemas.items():
            check_columns(file_schema.names, labels, text_column, path)
            check_text_type(file_schema.field(text_column).type, text_column, path)
        return schema, sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    total = sum(os.path.getsize(p) for p in files)
    if fmt == "csv":
        headers = {}
        for path in files:
            with closing(open_lines(path)) as lines:
                first = next(lines, None)
            if first is not None:
                headers[path] = csv_header(first[1], f"{path}:1")
        header = same_headers(headers)
        check_columns(header, labels, text_column, files[0])
        return csv_schema(header), total
    builder = SchemaBuilder()
    task = progress.add_task("reading schema", total=total, rows=0)
    for path in files:
        add_in_chunks(builder, json_records(open_lines(path, lambda n: progress.advance(task, n))))
    progress.remove_task(task)
    schema = builder.schema()
    check_columns(schema.names, labels, text_column, files[0] if len(files) == 1 else f"{len(files)} files",
                   text_required=False)
    if text_column not in schema.names:
        raise InputError(f"{', '.join(files)}: no record has a field {text_column!r} (fields: "
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
                table, chunk_errors = score_chunk(model, chunk, text_column, evidence)
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
