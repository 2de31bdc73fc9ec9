"""The `scamlens` command line: a thin layer of argument parsing over plain functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Train, evaluate and ship classifiers for news about online scam operations.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Validate and build the labelled corpus.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True, soft_wrap=True)  # messages with paths must stay greppable

DEFAULT_CONFIG = "configs/baseline.yaml"
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Run config whose `data` section to use.")]
SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: section.key=value.")]


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _guarded(function):
    """Turn the errors users cause (bad config, corpus, model file) into messages, not tracebacks."""
    from functools import wraps

    @wraps(function)
    def wrapper(*args, **kwargs):
        from .config import ConfigError
        from .corpus import CorpusError
        from .labels import LabelError
        from .modelfolder import IntegrityError

        known = (ConfigError, CorpusError, LabelError, IntegrityError, FileNotFoundError, ValueError, TypeError)
        try:
            return function(*args, **kwargs)
        except known as exc:
            _fail(str(exc))
        except RuntimeError as exc:
            if type(exc).__name__ in {"TrackingError"}:
                _fail(str(exc))
            raise

    return wrapper


def _metrics_table(title: str, report: dict) -> Table:
    table = Table(title=title)
    for column in ("label", "precision", "recall", "F1", "AP", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for name, m in report["per_label"].items():
        table.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
                      f"{m.get('average_precision', float('nan')):.3f}", str(m["support"]))
    table.add_row("[bold]macro[/]", "", "", f"[bold]{report['macro_f1']:.3f}[/]",
                  f"{report.get('macro_average_precision', float('nan')):.3f}", str(report["examples"]))
    table.add_row("micro", "", "", f"{report['micro_f1']:.3f}", "", "")
    return table


@data_app.command("validate")
@_guarded
def data_validate(config: ConfigOption = Path(DEFAULT_CONFIG), overrides: SetOption = None) -> None:
    """Check the corpus: JSON, fields, labels, ids, and (near-)duplicates within and across splits."""
    from .config import load_config
    from .dataset import validate_corpus
    from .labels import load_labels

    run = load_config(config, overrides or [])
    examples, _, problems = validate_corpus(run.data, load_labels(run.data.labels))
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        console.print(f"[{style}]{problem.severity}[/] {problem}", highlight=False)
    if errors:
        _fail(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s) in {len(examples)} valid examples")
    console.print(f"[green]ok[/] {len(examples)} examples, {len(problems)} warning(s)")


@data_app.command("build")
@_guarded
def data_build(config: ConfigOption = Path(DEFAULT_CONFIG), overrides: SetOption = None,
               out: Annotated[Path | None, typer.Option(help="Output folder (default: data.processed_dir).")] = None) -> None:
    """Build the corpus into a DatasetDict with grouped, stratified train/validation/test splits."""
    from .config import load_config
    from .dataset import build_corpus, save_build
    from .labels import load_labels

    run = load_config(config, overrides or [])
    result = build_corpus(run.data, load_labels(run.data.labels))
    target = save_build(result, run.data, out or run.data.processed_dir)
    table = Table(title=f"{target} (fingerprint {result.fingerprint[:16]})")
    counts = result.counts()
    table.add_column("")
    for split in counts:
        table.add_column(split, justify="right")
    for key in counts["train"]:
        table.add_row(key, *(str(counts[s].get(key, 0)) for s in counts))
    console.print(table)
    print(result.fingerprint)


@app.command()
@_guarded
def train(config: Annotated[Path, typer.Argument(help="YAML run config.")], overrides: SetOption = None,
          resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False) -> None:
    """Train a model, print its test metrics, save model-best/ and model-last/, track it in MLflow."""
    from .config import load_config
    from .training import train as run_training

    run = load_config(config, overrides or [])
    result = run_training(run, resume=resume)
    console.print(_metrics_table(f"{run.name}: test split", result.metrics["test"]))
    console.print(f"trained in {result.train_seconds:.1f}s · model: {result.best_dir} · "
                  f"corpus {result.fingerprint[:16]} · MLflow run {result.run_id or '-'}"
                  + (f" · registered {run.tracking.registered_model} v{result.registered_version} @challenger"
                     if result.registered_version else ""))


@app.command()
@_guarded
def evaluate(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
             data: Annotated[str, typer.Option(help="A split of the model's corpus, or a labelled file.")] = "test") -> None:
    """Metrics of a saved model on a split of its corpus or on any labelled file."""
    from .evaluation import evaluate_model

    report = evaluate_model(model, data)
    console.print(_metrics_table(f"{model} on {data}", report))
    print(json.dumps(report, indent=2))


@app.command()
@_guarded
def predict(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
            source: Annotated[str, typer.Argument(help="JSONL ({\"text\": ...}) or plain-text lines; - for stdin.")] = "-",
            evidence: Annotated[bool, typer.Option(help="Include evidence chunks.")] = True,
            batch_size: Annotated[int, typer.Option(min=1)] = 64) -> None:
    """Predict labels for each input line and write one JSON object per line to stdout."""
    from .evaluation import predict_lines
    from .inference import load

    loaded = load(model)
    handle = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    with handle:
        for record in predict_lines(loaded, handle, batch_size=batch_size, evidence=evidence, where=source):
            print(json.dumps(record, ensure_ascii=False))


@app.command()
@_guarded
def promote(name: Annotated[str, typer.Argument(help="Registered model name.")],
            version: Annotated[str, typer.Argument(help="Version to promote.")],
            alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
            tracking_uri: Annotated[str | None, typer.Option(help="Default: MLFLOW_TRACKING_URI or train/mlflow.db.")] = None) -> None:
    """Point an alias (champion by default) at a registered model version."""
    from .tracking import promote as promote_version

    promote_version(name, version, alias, tracking_uri)
    console.print(f"{name}@{alias} -> version {version}")


@app.command()
@_guarded
def export(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
           name: Annotated[str, typer.Option(help="Import name of the package.")] = "scam_themes",
           version: Annotated[str, typer.Option(help="Package version.")] = "1.0.0",
           out: Annotated[Path, typer.Option(help="Folder for the wheel.")] = Path("models")) -> None:
    """Build a pip-installable wheel exposing load() and predict() for the model."""
    from .export import export_model

    result = export_model(model, name, version, out)
    console.print(f"built {result.wheel} ({result.kind}; requires {', '.join(result.dependencies)})")
    print(result.wheel)


@app.command()
def serve(uri: Annotated[str, typer.Argument(help="models:/<name>@<alias>, models:/<name>/<version> or runs:/ URI.")],
          host: Annotated[str, typer.Option()] = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 5000,
          tracking_uri: Annotated[str | None, typer.Option(help="Default: MLFLOW_TRACKING_URI or train/mlflow.db.")] = None) -> None:
    """Serve REST predictions (POST /invocations) with `mlflow models serve`, in this environment."""
    import subprocess

    from .tracking import resolve_uri, serve_command, serve_env

    raise typer.Exit(subprocess.call(serve_command(uri, host, port), env=serve_env(tracking_uri or resolve_uri())))


if __name__ == "__main__":
    app()
