"""The Spark engine: the same row pipeline in `mapInArrow`, one model load per Python worker.

The input columns pass through untouched (Arrow, not pandas, so nullable integers stay integers).
The model folder reaches executors by its path (local mode, or storage every node mounts) or is
shipped with `SparkContext.addFile`. A local output folder is swapped in with the same atomic swap
as everything else (runtime/atomic.py); a Hadoop URI with the filesystem's rename.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .. import load
from ..runtime.atomic import atomic_dir
from ..runtime.errors import MissingError
from ..runtime.folder import read_meta, verify_manifest
from ..runtime.model import Model, point_thresholds
from .columns import ERROR_COLUMN
from .inputs import is_uri, one_format, resolve_inputs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER = "local[2]"
SHOWN_ERRORS = 20

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


def executor_model(ref: tuple[str, ...]) -> Model:
    """The model `ref` names, loaded once per process: ("path", folder) or ("sparkfiles", name),
    with an operating point as a third item where one is asked for."""
    kind, value, *point = ref
    if kind == "sparkfiles":
        from pyspark import SparkFiles

        value = SparkFiles.get(value)
    model = _EXECUTOR_MODELS.get(value)
    if model is None:
        model = load(value)
        _fit_threads(model)
        _EXECUTOR_MODELS[value] = model
    return model.at(point[0] if point else None)


def _fit_threads(model: Model) -> None:
    """One thread per CPU Spark gives the task, so parallel tasks do not oversubscribe cores."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is not None:
        model.classifier.set_num_threads(max(1, context.cpus()))


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
        with atomic_dir(shipped, keep_existing=True) as staging:  # another run may ship the same model meanwhile
            shutil.copytree(folder, staging, dirs_exist_ok=True)
    context = spark.sparkContext
    if not any(name in f for f in context.listFiles):
        context.addFile(str(shipped), recursive=True)
    return "sparkfiles", name


def _spark_inputs(spark: SparkSession, pattern: str) -> tuple[list[tuple[str, str]], str]:
    """(shown name, URI Spark reads) of each input file, and their format. Local paths are globbed
    here; URIs by the Hadoop filesystem they belong to."""
    if not is_uri(pattern):
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
        raise MissingError(f"{pattern}: no file matches")
    return [(u, u) for u in uris], one_format(uris, pattern)


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
                 progress: bool, operating_point: str | None = None) -> tuple[int, int, list[str], int]:
    from pyspark.sql import functions as F  # noqa: N812

    verify_manifest(folder)  # fail here, not in every executor
    meta = read_meta(folder)
    labels = meta["labels"]
    if operating_point is not None:
        point_thresholds(meta, operating_point, folder)  # an unknown name fails here, not in every executor
    with spark_session(master, conf, progress) as spark:
        files, fmt = _spark_inputs(spark, pattern)
        local_master = spark.sparkContext.master.startswith("local")
        ship = (not local_master) if ship_model is None else ship_model
        model_ref = _ship_model(spark, folder) if ship else ("path", str(folder.resolve()))
        if operating_point is not None:
            model_ref = (*model_ref, operating_point)
        from .spark_plan import spark_score_frame

        scored = spark_score_frame(spark, files, fmt, model_ref, labels, text_column, batch_size, evidence,
                                    partitions)
        if is_uri(output):
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
