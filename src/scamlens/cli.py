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
TextRootOption = Annotated[Path | None, typer.Option(
    "--text-root", help="Folder that `source` paths of labels-by-reference rows are relative to.")]
PointOption = Annotated[str | None, typer.Option(
    "--operating-point", help="Decide with this named operating point's thresholds (see `scamlens info`), e.g. feed.")]
ForceOption = Annotated[bool, typer.Option(
    help="Score a rebuilt split even if its corpus fingerprint differs from the model's (the report says so).")]


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _guarded(function):
    """Print the errors scamlens raises on purpose (`ScamlensError`: bad config, corpus, file, model
    folder) as one line; any other exception is a bug and keeps its traceback."""
    from functools import wraps

    @wraps(function)
    def wrapper(*args, **kwargs):
        from .runtime.errors import ScamlensError

        try:
            return function(*args, **kwargs)
        except ScamlensError as exc:
            _fail(str(exc))

    return wrapper


def _show_progress_logs() -> None:
    """Print scamlens's own progress lines (steps, epochs, fast-path decisions): through rich on a
    terminal; elsewhere (CI, nohup, a file) as plain timestamped lines that rich would wrap at 80 columns."""
    import logging

    from rich.logging import RichHandler

    from .progress import output_is_terminal

    logger = logging.getLogger("scamlens")
    if not logger.handlers:
        if output_is_terminal():
            handler: logging.Handler = RichHandler(console=console, show_path=False, markup=False)
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


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
def data_validate(config: ConfigOption = Path(DEFAULT_CONFIG), overrides: SetOption = None,
                  text_root: TextRootOption = None) -> None:
    """Check the corpus: JSON, fields, labels, ids, references, and (near-)duplicates within and across splits."""
    from .config import load_config
    from .data.dataset import validate_corpus
    from .data.labels import load_labels

    run = load_config(config, (overrides or []) + ([f"data.text_root={text_root}"] if text_root else []))
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
    from .data.dataset import build_corpus, save_build
    from .data.labels import load_labels

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

    _show_progress_logs()
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
             data: Annotated[str, typer.Option(help="A split of the model's corpus, or a labelled file.")] = "test",
             out: Annotated[Path | None, typer.Option(help="Report folder (default: reports/ beside the model).")] = None,
             resamples: Annotated[int, typer.Option(min=1, help="Bootstrap resamples for the intervals.")] = 1000,
             seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 13,
             text_root: TextRootOption = None, force: ForceOption = False, operating_point: PointOption = None) -> None:
    """Metrics of a saved model on a split of its corpus or on any labelled file, with a report
    folder (report.json, report.md, report.html) logged to the model's MLflow run."""
    from .evaluation.report import evaluate_report

    result = evaluate_report(model, data, out, resamples, seed, text_root=text_root, force=force,
                             operating_point=operating_point)
    report = result.report.data["metrics"]
    console.print(_metrics_table(f"{model} on {data}", report))
    console.print(f"report: {result.folder / 'report.html'}"
                  + (f" · logged to {result.logged_to}" if result.logged_to else ""), highlight=False)
    for note in [*result.report.data["data"]["notes"], *([result.note] if result.note else [])]:
        console.print(f"[yellow]note[/] {note}", highlight=False)
    print(json.dumps(report, indent=2))


@app.command()
@_guarded
def predict(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
            source: Annotated[str, typer.Argument(help="JSONL ({\"text\": ...}) or plain-text lines; - for stdin.")] = "-",
            evidence: Annotated[bool, typer.Option(help="Include evidence chunks.")] = True,
            batch_size: Annotated[int, typer.Option(min=1)] = 64, operating_point: PointOption = None) -> None:
    """Predict labels for each input line and write one JSON object per line to stdout."""
    from . import load
    from .evaluation.labelled import predict_lines

    loaded = load(model, operating_point=operating_point)
    handle = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    with handle:
        for record in predict_lines(loaded, handle, batch_size=batch_size, evidence=evidence, where=source):
            print(json.dumps(record, ensure_ascii=False))


@app.command()
@_guarded
def info(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
         fast_path: Annotated[str | None, typer.Option(help="Load with this fast path instead of the one chosen here.")] = None,
         pooling: Annotated[str | None, typer.Option(help="Load with this pooling (max, mean_top_k, noisy_or).")] = None,
         operating_point: PointOption = None) -> None:
    """Kind, labels, thresholds, calibration, pooling, the fast-path table and the variant chosen on
    this machine, corpus fingerprint and metrics; JSON on stdout."""
    from . import load
    from .info import model_info

    _show_progress_logs()  # the fast-path choice is logged as the model loads
    print(json.dumps(model_info(load(model, fast_path=fast_path, pooling=pooling, operating_point=operating_point)),
                     indent=2))


@app.command()
@_guarded
def promote(names: Annotated[list[str], typer.Argument(help="NAME VERSION, or with --best-of the names to choose among.")],
            best_of: Annotated[bool, typer.Option("--best-of", help="Rank the latest version of each NAME (and the alias holders) and promote the best.")] = False,
            on: Annotated[str, typer.Option(help="With --best-of: a labelled file, or a split of each model's corpus.")] = "validation",
            text_root: TextRootOption = None,
            alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
            incumbents: Annotated[bool, typer.Option(
                "--incumbents/--latest-only",
                help="With --best-of: also rank the versions holding the alias now, which keep it unless beaten.")] = True,
            tracking_uri: Annotated[str | None, typer.Option(help="Default: MLFLOW_TRACKING_URI or train/mlflow.db.")] = None) -> None:
    """Point an alias (champion by default) at a registered model version; with --best-of, at the best by
    macro F1 of the latest versions of the named models and the versions holding the alias (scores recorded
    as tags and on the champion's card)."""
    if best_of:
        from .champion import choose_champion

        choice = choose_champion(names, on, text_root, tracking_uri, alias, incumbents)
        for c in choice.ranking:
            held = f", held {alias}" if c.incumbent else ""
            console.print(f"{c.name} v{c.version}: macro F1 {c.macro_f1:.4f} on {on} ({c.texts} texts{held})",
                          highlight=False)
        for out in choice.left_out:
            console.print(f"[yellow]left out[/] {out.reason}", highlight=False)
        if choice.note:
            console.print(f"[yellow]note[/] {choice.note}", highlight=False)
        console.print(f"{choice.champion.name}@{alias} -> version {choice.champion.version}")
        return
    if len(names) != 2:
        _fail("promote takes NAME VERSION, or --best-of NAME [NAME ...]")
    from .tracking import promote as promote_version

    promote_version(names[0], names[1], alias, tracking_uri)
    console.print(f"{names[0]}@{alias} -> version {names[1]}")


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
@_guarded
def serve(model: Annotated[str, typer.Argument(
              help="models:/<name>@<alias>, models:/<name>/<version>, runs:/ URI, or a model folder.")],
          host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 5000,
          workers: Annotated[int, typer.Option(min=1, help="Server processes, each with its own copy of the model.")] = 1,
          tracking_uri: Annotated[str | None, typer.Option(help="Default: MLFLOW_TRACKING_URI or train/mlflow.db.")] = None) -> None:
    """Serve REST predictions (POST /invocations) with `mlflow models serve`, in this environment.
    SIGTERM or Ctrl-C stops the whole server and returns once its port is free."""
    from .serving import serve as run

    raise typer.Exit(run(model, host, port, workers, tracking_uri))


@app.command()
@_guarded
def compare(model_a: Annotated[str, typer.Argument(help="Model A: folder or models:/ URI.")],
            model_b: Annotated[str, typer.Argument(help="Model B, with the same labels.")],
            data: Annotated[str, typer.Option(help="A split of model A's corpus, or a labelled file.")] = "test",
            out: Annotated[Path | None, typer.Option(help="Folder for compare.json and compare.md.")] = None,
            text_root: TextRootOption = None, force: ForceOption = False) -> None:
    """Two models on the same texts: per-label F1, kappa, McNemar's test, and where they disagree most."""
    from rich.markup import escape

    from .evaluation.compare import SUMMARY_HEADER, compare_to_folder, summary_rows

    comparison, folder = compare_to_folder(model_a, model_b, data, out, text_root=text_root, force=force)
    names = comparison["models"]
    table = Table(title=escape(f"A = {names['a']['label']}, B = {names['b']['label']} on {data}"))
    for column in SUMMARY_HEADER:
        table.add_column(column, justify="left" if column == "label" else "right")
    for row in summary_rows(comparison):
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    for note in comparison["notes"]:
        console.print(f"[yellow]note[/] {escape(note)}", highlight=False)
    print(folder)


@app.command("queue")
@_guarded
def queue_texts(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
                data: Annotated[Path, typer.Option(help="Unlabelled JSONL/CSV/Parquet: text (or source + key), id?, ...")],
                out: Annotated[Path, typer.Option(help="Label Studio tasks: .json (a list) or .jsonl.")],
                second_model: Annotated[str | None, typer.Option(help="Rank by disagreement with this model.")] = None,
                limit: Annotated[int, typer.Option(min=1, help="Tasks to write.")] = 50,
                label_config: Annotated[Path | None, typer.Option(help="Labelling config (default: beside --out).")] = None,
                text_root: TextRootOption = None) -> None:
    """The texts most worth labelling next, as Label Studio tasks with pre-annotations."""
    from .evaluation.queue import queue_to_files

    result = queue_to_files(model, data, out, second_model, limit, label_config, text_root)
    console.print(f"{len(result.tasks)} of {result.candidates} texts queued by "
                  f"{'disagreement' if second_model else 'closeness to a threshold'} -> {result.out}; "
                  f"labelling config: {result.label_config}", highlight=False)
    print(result.out)


@app.command("queue-import")
@_guarded
def queue_import(export: Annotated[Path, typer.Argument(help="Label Studio JSON export (annotated tasks).")],
                 out: Annotated[Path, typer.Option(help="Corpus JSONL to write.")],
                 labels: Annotated[Path, typer.Option(help="Labels file.")] = Path("configs/labels.yaml"),
                 kind: Annotated[str, typer.Option(help="kind when the task has none.")] = "paragraph",
                 register: Annotated[str, typer.Option(help="register when the task has none.")] = "wire",
                 form: Annotated[str, typer.Option(help="form when the task has none.")] = "news",
                 story_prefix: Annotated[str, typer.Option(help="story = prefix + id when the task has none.")] = "story-",
                 id_prefix: Annotated[str, typer.Option(help="id = prefix + task id when the task has none.")] = "ls-") -> None:
    """Turn a Label Studio export back into corpus lines that `scamlens data validate` accepts."""
    from .evaluation.queue import import_export

    path, written, skipped = import_export(export, out, labels, kind, register, story_prefix, id_prefix, form)
    console.print(f"{written} corpus line(s) -> {path}; {skipped} task(s) without a submitted annotation skipped",
                  highlight=False)
    print(path)


@app.command("score")
@_guarded
def score_files(model: Annotated[str, typer.Argument(help="Model folder or models:/ URI.")],
                input_path: Annotated[str, typer.Option("--input", "-i", help="JSONL/CSV/Parquet file, folder or glob.")],
                output: Annotated[str, typer.Option("--output", "-o", help="Parquet folder, replaced atomically.")],
                engine: Annotated[str, typer.Option(help="local (this process) or spark.")] = "local",
                text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
                master: Annotated[str | None, typer.Option(help="Spark master (default: spark-submit's, else local[2]).")] = None,
                ship_model: Annotated[bool | None, typer.Option(help="Send the model to executors (default: unless local).")] = None,
                batch_size: Annotated[int, typer.Option(min=1)] = 256,
                evidence: Annotated[bool, typer.Option(help="Fill the evidence column.")] = True,
                operating_point: PointOption = None) -> None:
    """Score every row of JSONL/CSV/Parquet files into Parquet: score_<label> columns, predicted_labels,
    evidence and error (rows that cannot be scored keep null scores and say why)."""
    from .batch import score

    score(model, input_path, output, engine=engine, text_column=text_column, batch_size=batch_size, master=master,
          evidence=evidence, ship_model=ship_model, operating_point=operating_point)


if __name__ == "__main__":
    app()
