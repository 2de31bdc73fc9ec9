"""MLflow tracking and the model registry; with fetch.py, the only scamlens modules that import mlflow.

By default runs go to an embedded SQLite store, ``<output_dir>/mlflow.db``, with artifacts beside it
in ``<output_dir>/mlartifacts``; ``tracking.uri`` or ``MLFLOW_TRACKING_URI`` point elsewhere. Any
SQLite file keeps a new experiment's artifacts beside it the same way; a server decides for itself.
Each run logs the flattened config, per-epoch and final metrics, the dataset as an MLflow dataset
input carrying the corpus fingerprint, and the model as a pyfunc registered with alias "challenger".
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import RunConfig, TrackingConfig
from .runtime.errors import ScamlensError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# MLflow warns about things scamlens sets deliberately (explicit signature, local dataset source).
warnings.filterwarnings("ignore", message=".*type hints to the `predict` method.*")
warnings.filterwarnings("ignore", message=".*dataset source can be interpreted in multiple ways.*")

DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
CHALLENGER = "challenger"
CHAMPION = "champion"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")


class TrackingError(ScamlensError, RuntimeError):
    """The tracking store cannot be reached or used."""


def resolve_uri(cfg: TrackingConfig | None = None, output_dir: str | Path = "train") -> str:
    if cfg is not None and cfg.uri:
        return cfg.uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(Path(output_dir) / DB_FILE).resolve()}"


def artifact_root(uri: str) -> str | None:
    """Where a new experiment in the store at `uri` keeps its artifacts: `mlartifacts` beside a SQLite
    file (MLflow's own default is ./mlruns under whatever folder the command ran from); None for any
    other store, which decides for itself. The file is found as SQLAlchemy finds it (driver, case,
    percent-encoding and query string included)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return (Path(url.database).parent / ARTIFACTS_DIR).resolve().as_uri()


def _use_store(uri: str) -> None:
    """Point mlflow's fluent API at `uri` without leaking it into MLFLOW_TRACKING_URI.

    mlflow.set_tracking_uri also exports the environment variable; left there, it would silently
    redirect later runs in the same process that expect their own default store.
    """
    import mlflow

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def check_store(uri: str) -> None:
    """Fail fast, before any training, when the store is unreachable."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "5"
    try:
        _client(uri).search_experiments(max_results=1)
    except Exception as exc:
        raise TrackingError(
            f"MLflow tracking store {uri} is unreachable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Fix tracking.uri or MLFLOW_TRACKING_URI, or train without MLflow: --set tracking.enabled=false"
        ) from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"model": {"C": 4}}` -> `{"model.C": "4"}`, the form MLflow params take."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


class Tracker:
    """One MLflow run; every method is a no-op when tracking is disabled."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.enabled = config.tracking.enabled
        self.uri = resolve_uri(config.tracking, config.output_dir) if self.enabled else None
        self.run_id: str | None = None
        self.registered_version: str | None = None

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.enabled:
            return
        check_store(self.uri)
        import mlflow

        _use_store(self.uri)
        experiment = mlflow.get_experiment_by_name(self.config.tracking.experiment)
        if experiment is None:
            experiment_id = mlflow.create_experiment(self.config.tracking.experiment,
                                                     artifact_location=artifact_root(self.uri))
        else:
            experiment_id = experiment.experiment_id
        run = mlflow.start_run(experiment_id=experiment_id, run_name=self.config.name)
        self.run_id = run.info.run_id
        params = flatten(self.config.model_dump(mode="json"))
        mlflow.log_params({k: v[:6000] for k, v in params.items()})

    def finish(self, failed: bool) -> None:
        if not self.enabled or self.run_id is None:
            return
        import mlflow

        mlflow.end_run(status="FAILED" if failed else "FINISHED")

    # logging -----------------------------------------------------------------------------------
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if not self.enabled:
            return
        import mlflow

        mlflow.log_metrics({k.replace("+", "_and_"): float(v) for k, v in metrics.items()}, step=step)

    def log_dataset(self, fingerprint: str, splits: dict[str, tuple[list[str], list[list[str]]]], source: str) -> None:
        """Log each split as an MLflow dataset input whose digest is the corpus fingerprint."""
        if not self.enabled:
            return
        import mlflow
        import pandas as pd

        for split, (texts, labels) in splits.items():
            frame = pd.DataFrame({"text": texts, "labels": ["|".join(x) for x in labels]})
            dataset = mlflow.data.from_pandas(frame, source=source, targets="labels",
                                              name=f"scamlens-corpus-{split}", digest=fingerprint[:16])
            mlflow.log_input(dataset, context=split, tags={"fingerprint": fingerprint})
        mlflow.set_tag("corpus_fingerprint", fingerprint)

    def log_files(self, folder: Path, names: list[str]) -> None:
        if not self.enabled:
            return
        import mlflow

        for name in names:
            if (folder / name).exists():
                mlflow.log_artifact(str(folder / name))

    def log_report(self, folder: Path) -> None:
        if not self.enabled:
            return
        import mlflow

        mlflow.log_artifacts(str(folder), artifact_path=folder.name)

    def log_model(self, model_folder: Path, labels: tuple[str, ...], example: list[str]) -> str | None:
        """Log the model folder as a pyfunc; register it with alias "challenger" when configured."""
        if not self.enabled:
            return None
        import mlflow
        import pandas as pd

        signature = _signature(labels)

        name = self.config.tracking.registered_model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={"model": str(model_folder)},
                signature=signature,
                input_example=pd.DataFrame({"text": example}),
                pip_requirements=_requirements(model_folder),
            )
        if not name:
            return None
        version = mlflow.register_model(info.model_uri, name)
        client = _client(self.uri)
        client.set_registered_model_alias(name, CHALLENGER, version.version)
        client.set_model_version_tag(name, version.version, "corpus_fingerprint",
                                     mlflow.get_run(self.run_id).data.tags.get("corpus_fingerprint", ""))
        self.registered_version = str(version.version)
        return self.registered_version


def _signature(labels: tuple[str, ...]):
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, ParamSchema, ParamSpec, Schema

    from .runtime.decision import DEFAULT_OPERATING_POINT

    return ModelSignature(
        inputs=Schema([ColSpec(DataType.string, "text")]),
        outputs=Schema([ColSpec(DataType.double, f"score_{n}") for n in labels]
                       + [ColSpec(Array(DataType.string), "labels")]),
        # A request may name the operating point: {"dataframe_records": [...], "params": {"operating_point": "feed"}}.
        params=ParamSchema([ParamSpec("operating_point", DataType.string, DEFAULT_OPERATING_POINT)]),
    )


def save_pyfunc(model_folder: Path, target: Path) -> Path:
    """Wrap a model folder as a local MLflow pyfunc model in `target` (as log_model does, without a
    run), so `mlflow models serve` can serve a folder that was never registered."""
    import mlflow

    from .runtime.folder import find_model_folder, read_meta, verify_manifest

    found = find_model_folder(model_folder)
    verify_manifest(found)  # a broken folder is refused here, not by a server that fails to start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(str(target), python_model=str(PYFUNC_CODE), artifacts={"model": str(found)},
                                 signature=_signature(tuple(read_meta(found)["labels"])),
                                 pip_requirements=_requirements(found))
    return target


def _requirements(model_folder: Path) -> list[str]:
    from . import __version__
    from .kinds import folder_extras

    extras = ",".join(folder_extras(model_folder))  # an ensemble needs its members' extras
    return [f"scamlens{f'[{extras}]' if extras else ''}=={__version__}"]


@contextmanager
def tracked_run(config: RunConfig) -> Iterator[Tracker]:
    """Start a run (checking the store first); mark it FAILED if the body raises."""
    tracker = Tracker(config)
    tracker.start()
    try:
        yield tracker
    except BaseException:
        tracker.finish(failed=True)
        raise
    tracker.finish(failed=False)


def log_report_to_run(run_id: str, uri: str, folder: str | Path, artifact_path: str | None = None) -> str:
    """Log a report folder into an existing (usually finished) run; returns the folder's artifact URI.

    Raises `TrackingError` when the store or the run cannot be reached, so callers can skip logging.
    """
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        raise TrackingError(f"MLflow tracking store {uri} does not exist")
    check_store(uri)
    client = _client(uri)
    try:
        run = client.get_run(run_id)
    except Exception:
        raise TrackingError(f"run {run_id} not found in {uri}") from None
    folder = Path(folder)
    target = artifact_path or f"reports/{folder.name}"
    try:
        client.log_artifacts(run_id, str(folder), artifact_path=target)
    except Exception as exc:
        raise TrackingError(f"cannot log {folder} to run {run_id}: {str(exc).splitlines()[0][:300]}") from None
    return f"{run.info.artifact_uri.rstrip('/')}/{target}"


def promote(name: str, version: str | int, alias: str = CHAMPION, tracking_uri: str | None = None) -> None:
    """Point `alias` (champion by default) at a registered model version."""
    uri = tracking_uri or resolve_uri()
    client = _client(uri)
    try:
        client.get_model_version(name, str(version))
    except Exception:
        raise TrackingError(f"registered model {name!r} has no version {version} in {uri}") from None
    client.set_registered_model_alias(name, alias, str(version))


def drop_alias(name: str, alias: str, tracking_uri: str | None = None) -> bool:
    """Remove `alias` from a registered model if it holds it; True when it did."""
    client = _client(tracking_uri or resolve_uri())
    if alias not in client.get_registered_model(name).aliases:
        return False
    client.delete_registered_model_alias(name, alias)
    return True


def alias_version(name: str, alias: str, tracking_uri: str | None = None) -> str | None:
    """The version of registered model `name` that `alias` points at, or None where it points at none."""
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or resolve_uri()
    try:
        version = _client(uri).get_registered_model(name).aliases.get(alias)
    except Exception as exc:
        if isinstance(exc, MlflowException) and exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        # Read as "no holder", a store error would let a newer version take the alias undefended.
        raise TrackingError(f"cannot read the aliases of {name!r} in {uri} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:200]})") from None
    return None if version is None else str(version)


def serve_command(uri: str, host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> list[str]:
    """The `mlflow models serve` command line that answers REST predictions for a model URI."""
    import sys

    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local",
            "--host", host, "--port", str(port), "--workers", str(workers)]


def serve_env(tracking_uri: str) -> dict[str, str]:
    """Environment for the server: the store to read, and this interpreter's bin/ first on PATH
    (mlflow starts uvicorn by name, which a virtualenv that is not activated would not find)."""
    import sys

    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}


def latest_version(name: str, tracking_uri: str | None = None) -> str:
    """The highest version number registered under `name`."""
    uri = tracking_uri or resolve_uri()
    try:
        versions = _client(uri).search_model_versions(f"name='{name}'")
    except Exception:
        versions = []
    if not versions:
        raise TrackingError(f"no registered model {name!r} in {uri}")
    return str(max(int(v.version) for v in versions))


def record_choice(name: str, version: str, tags: dict[str, str], description: str | None = None,
                  tracking_uri: str | None = None) -> None:
    """Tag a model version and its run (why it was or was not chosen); optionally set its description,
    the card the registry shows for that version."""
    client = _client(tracking_uri or resolve_uri())
    found = client.get_model_version(name, version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
        if found.run_id:
            client.set_tag(found.run_id, key, value)
    if description is not None:
        client.update_model_version(name, version, description=description)
