"""Batch scoring of files: JSONL, CSV or Parquet in, Parquet out, on this machine or on Spark.

`inputs.py` finds the files, `columns.py` is the row pipeline both engines share, `local.py` and
`spark.py` (+ `spark_plan.py`) are the engines; rows are read by the one reader (scamlens.data.reader).

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

import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import load, model_folder
from ..runtime.errors import InputError
from ..runtime.folder import find_model_folder
from ..runtime.model import Model
from .columns import ERROR_COLUMN, EVIDENCE_COLUMN, LABELS_COLUMN, SCORE_PREFIX, score_fields
from .inputs import is_uri, resolve_inputs

ENGINES = ("local", "spark")
DEFAULT_BATCH_SIZE = 256

__all__ = ["ERROR_COLUMN", "EVIDENCE_COLUMN", "LABELS_COLUMN", "SCORE_PREFIX", "ScoreResult", "resolve_inputs",
           "score", "score_fields"]


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
          partitions: int | None = None, progress: bool = True, operating_point: str | None = None) -> ScoreResult:
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
        operating_point: decide with this named operating point's thresholds (with a loaded
            `Model`, leave it out or name the Model's own point).
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(model, Model) and operating_point not in (None, model.operating_point):
        raise InputError(f"operating_point={operating_point!r}, but the Model passed decides at "
                         f"{model.operating_point!r}: pass model.at({operating_point!r}) or the model's path")
    started = time.perf_counter()
    if engine == "local":
        if is_uri(str(input)) or is_uri(str(output)):
            raise InputError("the local engine reads and writes local paths; use engine='spark' for URIs")
        files, fmt = resolve_inputs(input)
        from .local import _score_local

        loaded = model if isinstance(model, Model) else load(model, operating_point=operating_point)
        rows, errors, samples = _score_local(loaded, files, fmt, Path(output), text_column, batch_size,
                                             evidence, progress)
        n_files = len(files)
    else:
        from .spark import _score_spark

        folder = model.path if isinstance(model, Model) else find_model_folder(model_folder(model))
        if folder is None:
            raise InputError("the spark engine needs a model folder; this Model was not loaded from one")
        point = model.operating_point if isinstance(model, Model) else operating_point
        rows, errors, samples, n_files = _score_spark(
            Path(folder), str(input), str(output), text_column, batch_size, evidence, master, ship_model,
            spark_conf or {}, partitions, progress, point)
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
