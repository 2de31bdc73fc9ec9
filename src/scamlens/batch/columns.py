"""What both engines share: the output columns, input rows as Arrow chunks, JSON schema inference,
and scoring a chunk (a row that cannot be scored keeps null scores and says why in `error`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data.reader import parse_json_line
from ..runtime.errors import InputError
from ..runtime.model import Model

if TYPE_CHECKING:
    import pyarrow as pa

SCORE_PREFIX = "score_"
LABELS_COLUMN = "predicted_labels"
EVIDENCE_COLUMN = "evidence"
ERROR_COLUMN = "error"
_MISSING = object()  # a JSON/CSV record without the text field (as opposed to an explicit null)


def text_problem(value: Any, column: str) -> str | None:
    if value is _MISSING:
        return f"{column}: missing"
    if value is None:
        return f"{column}: null"
    if not isinstance(value, str):
        return f"{column}: expected a string, got {type(value).__name__}"
    return None


@dataclass
class Chunk:
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


def records_chunk(rows: list[tuple[str, dict[str, Any] | None, str | None]], schema: pa.Schema,
                   text_column: str) -> Chunk:
    """rows: (where, record or None, problem or None) -> a chunk with columns in `schema`."""
    import pyarrow as pa

    records = [record or {} for _, record, _ in rows]
    arrays = [_column([r.get(f.name) for r in records], f.type) for f in schema]
    table = pa.Table.from_arrays(arrays, schema=schema)
    return Chunk(table, [r.get(text_column, _MISSING) for r in records], [w for w, _, _ in rows],
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


def json_records(lines: Iterator[tuple[int, bytes]]) -> Iterator[dict[str, Any]]:
    for _, raw in lines:
        if raw.strip():
            record, _ = parse_json_line(raw)
            if record is not None:
                yield record


def add_in_chunks(builder: SchemaBuilder, records: Iterator[dict[str, Any]], size: int = 4096) -> None:
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            builder.add(chunk)
            chunk = []
    if chunk:
        builder.add(chunk)


def same_headers(headers: dict[str, list[str]]) -> list[str]:
    if not headers:
        raise InputError("no CSV header: every input file is empty")
    (first_file, first), *others = headers.items()
    for path, header in others:
        if header != first:
            raise InputError(f"{path}: CSV header {header} differs from {first_file}'s {first}")
    return first


def csv_schema(header: list[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in header])


def score_fields(labels: Sequence[str]) -> list[pa.Field]:
    import pyarrow as pa

    return ([pa.field(f"{SCORE_PREFIX}{name}", pa.float64()) for name in labels]
            + [pa.field(LABELS_COLUMN, pa.list_(pa.string())), pa.field(EVIDENCE_COLUMN, pa.string()),
               pa.field(ERROR_COLUMN, pa.string())])


def check_columns(names: Sequence[str], labels: Sequence[str], text_column: str, where: str,
                   text_required: bool = True) -> None:
    if text_required and text_column not in names:
        raise InputError(f"{where}: no column {text_column!r} (columns: {', '.join(names)}); "
                         "choose one with text_column / --text-column")
    clashes = [f.name for f in score_fields(labels) if f.name in names]
    if clashes:
        raise InputError(f"{where}: input column(s) {', '.join(clashes)} would be overwritten by the "
                         "scoring columns; rename or drop them first")


def check_text_type(type_: pa.DataType, column: str, where: str) -> None:
    import pyarrow as pa

    inner = type_.value_type if pa.types.is_dictionary(type_) else type_
    if not (pa.types.is_string(inner) or pa.types.is_large_string(inner) or pa.types.is_string_view(inner)):
        raise InputError(f"{where}: column {column!r} is {type_}, not text")


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


def score_chunk(model: Model, chunk: Chunk, text_column: str, evidence: bool) -> tuple[pa.Table, list[str]]:
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
