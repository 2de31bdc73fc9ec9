"""What to label next, as Label Studio tasks, and Label Studio exports back into corpus lines.

`scamlens queue` ranks unlabelled texts by how much a label would teach the model: the texts whose
score is closest to a threshold on some label (uncertainty sampling), or, given a second model, the
texts on which the two models disagree. It writes them as Label Studio tasks in the documented
JSON task format, with each model's decisions as pre-annotations ("predictions"), and a labelling
config whose multiple-choice `Choices` list the label names.

`scamlens queue-import` reads a Label Studio JSON export (tasks with `annotations[].result[]`)
and writes corpus lines `{"id", "text", "labels", "kind", "story", "register", "form"}` that
`scamlens data validate` accepts. The label-studio-sdk is not needed: both formats are plain JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from ..data.labels import LabelSet
from ..runtime.decision import apply_thresholds
from ..runtime.errors import InputError
from ..runtime.model import Model
from .compare import disagreement_order

FROM_NAME = "labels"  # the Choices control's name in the labelling config
TO_NAME = "text"  # the Text object's name, fed from the task's data.text
LABEL_CONFIG_SUFFIX = ".label_config.xml"
DEFAULT_LIMIT = 50
# Task data fields carried from the unlabelled records into the export and back into the corpus.
CORPUS_EXTRAS = ("kind", "register", "form", "story")
DEFAULT_KIND = "paragraph"
DEFAULT_REGISTER = "wire"
DEFAULT_FORM = "news"
DEFAULT_ID_PREFIX = "ls-"
DEFAULT_STORY_PREFIX = "story-"


@dataclass
class QueueResult:
    tasks: list[dict[str, Any]]
    out: Path
    label_config: Path
    candidates: int  # texts read before the limit


# --- reading unlabelled texts -------------------------------------------------------------------
def read_unlabelled(path: str | Path, text_root: str | Path | None = None) -> list[dict[str, Any]]:
    """Records with a "text" string, or with source + key resolved under `text_root` (other fields
    are kept); blank texts are skipped. JSONL (.gz too), CSV or Parquet, through the one reader.

    A record without "id" gets "<file stem>-<line>". Errors name file:line: field.
    """
    from ..data.reader import CorpusError, Problem, read_rows
    from ..data.references import resolve_references

    path = Path(path)
    rows, problems = [], []
    for where, row in read_rows(path):
        (problems.append(row) if isinstance(row, Problem) else rows.append((where, row)))
    problems += resolve_references(rows, text_root)
    failed = {p.where for p in problems}
    records = []
    for where, record in rows:
        if where in failed:
            continue
        if not isinstance(record.get("text"), str):
            problems.append(Problem(where, "text", "missing or not a string"))
            continue
        if not record["text"].strip():
            continue
        record["id"] = str(record.get("id", f"{path.stem}-{where.rsplit(':', 1)[-1].removeprefix('row ')}"))
        records.append(record)
    if problems:
        raise CorpusError(problems)
    return records


# --- ranking ------------------------------------------------------------------------------------
def threshold_margins(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """|score - threshold| per text and label: how far each decision is from flipping."""
    return np.abs(np.asarray(scores, np.float64) - np.asarray(thresholds, np.float64)[None, :])


def uncertainty_order(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Texts by their smallest margin over labels, smallest first (ties keep input order)."""
    margins = threshold_margins(scores, thresholds).min(axis=1)
    return np.argsort(margins, kind="mergesort")


# --- Label Studio tasks -------------------------------------------------------------------------
def model_version(model: Model) -> str:
    """What Label Studio shows as the prediction's source: run name, folder and MLflow run."""
    from .compare import model_label

    run_id = (model.meta.get("mlflow") or {}).get("run_id")
    return model_label(model) + (f" ({run_id[:12]})" if run_id else "")


def choices_result(choices: list[str]) -> list[dict[str, Any]]:
    """A `result` list for the Choices control; empty when no label is chosen."""
    if not choices:
        return []
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": list(choices)}}]


def prediction(model: Model, scores: np.ndarray) -> dict[str, Any]:
    """One model's pre-annotation of one text. Its score is the smallest margin to a threshold,
    so sorting by prediction score in Label Studio puts the least certain texts first."""
    on = apply_thresholds(scores[None, :], model.thresholds)[0]
    return {
        "model_version": model_version(model),
        "score": float(threshold_margins(scores[None, :], model.thresholds).min()),
        "result": choices_result([n for n, flag in zip(model.labels, on, strict=True) if flag]),
    }


def task_data(record: dict[str, Any], rank: int, reason: str, scores: dict[str, float]) -> dict[str, Any]:
    data = {"text": record["text"], "id": record["id"]}
    data.update({k: v for k, v in record.items()
                 if k not in {"text", "id", "labels"} and isinstance(v, str | int | float | bool)})
    data.update({"queue_rank": rank, "queue_reason": reason, "scores": scores})
    return data


def build_tasks(model: Model, records: list[dict[str, Any]], second: Model | None = None,
                limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    """The `limit` records most worth labelling, as Label Studio tasks with pre-annotations."""
    if second is not None and second.labels != model.labels:
        raise InputError(f"the models predict different labels: {list(model.labels)} and {list(second.labels)}")
    texts = [r["text"] for r in records]
    scores = model.predict_proba(texts) if texts else np.zeros((0, len(model.labels)), np.float32)
    if second is None:
        order = uncertainty_order(scores, model.thresholds)
        second_scores = None
    else:
        second_scores = second.predict_proba(texts) if texts else np.zeros_like(scores)
        order = disagreement_order(scores, model.thresholds, second_scores, second.thresholds)
    tasks = []
    for rank, i in enumerate(order[:limit], 1):
        if second_scores is None:
            margins = threshold_margins(scores[i:i + 1], model.thresholds)[0]
            j = int(np.argmin(margins))
            reason = f"{model.labels[j]} score {scores[i, j]:.3f} is {margins[j]:.3f} from its threshold"
            predictions = [prediction(model, scores[i])]
        else:
            gaps = np.abs(scores[i].astype(np.float64) - second_scores[i])
            j = int(np.argmax(gaps))
            differ = apply_thresholds(scores[i:i + 1], model.thresholds)[0] != apply_thresholds(
                second_scores[i:i + 1], second.thresholds)[0]
            differing = [n for n, d in zip(model.labels, differ, strict=True) if d]
            reason = (f"models decide {', '.join(differing)} differently" if differing else "models agree") + (
                f"; widest score gap {gaps[j]:.3f} on {model.labels[j]}")
            predictions = [prediction(model, scores[i]), prediction(second, second_scores[i])]
        label_scores = {n: round(float(s), 4) for n, s in zip(model.labels, scores[i], strict=True)}
        tasks.append({"data": task_data(records[i], rank, reason, label_scores), "predictions": predictions})
    return tasks


def label_config(labels: LabelSet) -> str:
    """Label Studio labelling config: the text and a multiple-choice list of the label names
    (definitions, when known, as hover hints)."""
    choices = "\n".join(
        f"    <Choice value={quoteattr(name)}"
        + (f" hint={quoteattr(labels.definitions[name])}" if labels.definitions.get(name) else "") + "/>"
        for name in labels.names)
    return (f'<View>\n  <Text name="{TO_NAME}" value="${TO_NAME}"/>\n'
            f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple" showInline="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")


def write_tasks(tasks: list[dict[str, Any]], out: str | Path) -> Path:
    """A JSON list for a .json file, one task per line otherwise (.jsonl); Label Studio imports both."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(tasks, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        out.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tasks), encoding="utf-8")
    return out


def _label_set(model: Model) -> LabelSet:
    """The model's labels with their definitions when the model's labels file is at hand."""
    from ..data.labels import LabelError, load_labels
    from .labelled import model_config

    try:
        loaded = load_labels(model_config(model).data.labels)
    except (LabelError, OSError, ValueError):
        return LabelSet(model.labels)
    return loaded if loaded.names == model.labels else LabelSet(model.labels)


def queue_to_files(model: str | Path | Model, data: str | Path, out: str | Path,
                   second_model: str | Path | Model | None = None, limit: int = DEFAULT_LIMIT,
                   config_out: str | Path | None = None, text_root: str | Path | None = None) -> QueueResult:
    """The plain function behind `scamlens queue`.

    Args:
        model: the model whose uncertainty ranks the texts (model folder or ``models:/`` URI).
        data: unlabelled JSONL, one {"text": ..., "id"?: ..., "kind"?: ...} per line.
        out: the task file: .json (a list) or .jsonl.
        second_model: rank by disagreement with this model instead of by uncertainty.
        limit: how many tasks to write.
        config_out: the labelling config; default `<out without suffix>.label_config.xml`.
        text_root: the folder that `source` references in `data` are relative to.
    """
    from .. import load

    first = model if isinstance(model, Model) else load(model)
    second = None
    if second_model is not None:
        second = second_model if isinstance(second_model, Model) else load(second_model)
    records = read_unlabelled(data, text_root)
    tasks = build_tasks(first, records, second, limit)
    out = write_tasks(tasks, out)
    config_path = Path(config_out) if config_out else out.with_name(out.stem + LABEL_CONFIG_SUFFIX)
    config_path.write_text(label_config(_label_set(first)), encoding="utf-8")
    return QueueResult(tasks, out, config_path, len(records))


# --- Label Studio export -> corpus lines --------------------------------------------------------
def read_export(path: str | Path) -> list[dict[str, Any]]:
    """Tasks of a Label Studio JSON export (a list), or of a JSONL file (one task per line)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            tasks = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: json: not valid JSON ({exc.msg})") from None
    else:
        tasks = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    tasks.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: json: not valid JSON ({exc.msg})") from None
    for k, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InputError(f"{path}: task {k}: expected an object with a 'data' object")
    return tasks


def annotated_choices(task: dict[str, Any], from_name: str = FROM_NAME) -> list[str] | None:
    """The choices of the task's latest submitted annotation; None when it has none.

    Cancelled (skipped) annotations do not count; an annotation that selects nothing means "no
    label applies". With several annotations the last one updated wins.
    """
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not annotations:
        return None
    def recency(pair: tuple[int, dict[str, Any]]) -> tuple[str, int]:
        position, annotation = pair
        return str(annotation.get("updated_at") or annotation.get("created_at") or ""), position

    latest = max(enumerate(annotations), key=recency)[1]
    choices: list[str] = []
    for item in latest.get("result") or []:
        if item.get("type") == "choices" and item.get("from_name", from_name) == from_name:
            choices += [c for c in (item.get("value") or {}).get("choices", []) if c not in choices]
    return choices


def export_to_lines(tasks: list[dict[str, Any]], labels: LabelSet, kind: str = DEFAULT_KIND,
                    register: str = DEFAULT_REGISTER, story_prefix: str = DEFAULT_STORY_PREFIX,
                    id_prefix: str = DEFAULT_ID_PREFIX, where: str = "<export>",
                    form: str = DEFAULT_FORM) -> tuple[list[dict[str, Any]], int]:
    """(corpus lines, tasks skipped for lack of an annotation).

    kind, register, form and story come from the task data when present, else the defaults given; a task
    without a story is its own story (`<story_prefix><id>`), so it never straddles splits with
    another. A task without an id in its data gets `<id_prefix><Label Studio task id>`. Unknown
    label names raise, naming the task.
    """
    lines, skipped = [], 0
    for k, task in enumerate(tasks):
        choices = annotated_choices(task)
        if choices is None:
            skipped += 1
            continue
        data = task["data"]
        name = f"{where}: task {task.get('id', k)}"
        text = data.get(TO_NAME)
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{name}: data.{TO_NAME}: missing or empty")
        unknown = [c for c in choices if c not in labels.names]
        if unknown:
            raise InputError(f"{name}: unknown label(s) {unknown} (known: {', '.join(labels.names)})")
        example_id = str(data["id"]) if data.get("id") not in (None, "") else f"{id_prefix}{task.get('id', k + 1)}"
        lines.append({
            "id": example_id,
            "text": text,
            "labels": [n for n in labels.names if n in choices],
            "kind": str(data.get("kind") or kind),
            "story": str(data.get("story") or f"{story_prefix}{example_id}"),
            "register": str(data.get("register") or register),
            "form": str(data.get("form") or form),
        })
    return lines, skipped


def import_export(export: str | Path, out: str | Path, labels: str | Path | LabelSet = "configs/labels.yaml",
                  kind: str = DEFAULT_KIND, register: str = DEFAULT_REGISTER,
                  story_prefix: str = DEFAULT_STORY_PREFIX, id_prefix: str = DEFAULT_ID_PREFIX,
                  form: str = DEFAULT_FORM) -> tuple[Path, int, int]:
    """The plain function behind `scamlens queue-import`: (output file, lines written, tasks skipped)."""
    from ..data.labels import load_labels

    label_set = labels if isinstance(labels, LabelSet) else load_labels(labels)
    lines, skipped = export_to_lines(read_export(export), label_set, kind, register, story_prefix, id_prefix,
                                     where=str(export), form=form)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return out, len(lines), skipped
