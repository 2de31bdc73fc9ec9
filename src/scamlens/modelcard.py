"""The model card (README.md of a model folder), rendered from what training actually saw.

What the card says of the task itself (its summary, intended use, misuse, data and limits) comes from
the label file's `card:` section (`scamlens.data.labels.CARD_FIELDS`): a user's own label set gets a
card about its own task, and one without that section gets only what training measured.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .data.labels import LabelSet

_TEMPLATE = """\
# {name}: scamlens {kind} classifier

{summary}Each text gets an independent score in [0, 1] for every label below and carries the labels
whose score reaches the label's threshold (any subset, or none).

## Labels
{label_table}
{intended_use}
## Out of scope and misuse
{out_of_scope}- Treating a missing label as proof that a text is off-theme: recall is below 1 (see metrics).

## Training data
- Corpus fingerprint: `{fingerprint}`
- Examples: {split_counts}
- Positives per label in training: {train_positives}
{training_data}
## Metrics on the test split
| label | precision | recall | F1 | average precision | support | threshold |
|---|---|---|---|---|---|---|
{metric_rows}

Macro F1 {macro_f1:.3f} · micro F1 {micro_f1:.3f} · subset accuracy {subset_accuracy:.3f} ·
Hamming loss {hamming_loss:.3f} (validation macro F1 {val_macro_f1:.3f}).

## Decisions
{decisions}

## Settings
{settings}

## Limits
{limits}- {long_texts}
- Thresholds were tuned on the validation split ({policy}); move them for more precision or recall.

## How to use
```python
import scamlens

model = scamlens.load("path/to/this/folder")        # or "models:/<name>@champion"
prediction = model.predict({example})
prediction["labels"], prediction["scores"], prediction["evidence"]
```
Versions: {versions}. MLflow run: `{run_id}`.
"""
DEFAULT_EXAMPLE = "The text to classify."


def _bullets(lines: list[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


def _task_parts(card: dict[str, Any]) -> dict[str, str]:
    """The card's words for the task, from the label file's `card:` section; empty where it has none."""
    return {
        "summary": f"{card['summary']}\n" if card.get("summary") else "",
        "intended_use": f"\n## Intended use\n{card['intended_use']}\n" if card.get("intended_use") else "",
        "out_of_scope": _bullets(card.get("out_of_scope", [])),
        "training_data": f"- {card['training_data']}\n" if card.get("training_data") else "",
        "limits": _bullets(card.get("limits", [])),
        "example": json.dumps(card.get("example") or DEFAULT_EXAMPLE, ensure_ascii=False),
    }


POLICY_WORDS = {
    "max_f1": "per label, the threshold that maximises validation F1",
    "precision_target": "per label, the lowest threshold whose validation precision reaches {target:.2f}",
    "prior_f1": "per label, the threshold that maximises validation F1 with negatives weighted as if positives"
                " made up {prior:.2%} of texts",
}
POOLING_WORDS = {"max": "the best chunk's score", "mean_top_k": "the mean of the {k} best chunks",
                 "noisy_or": "noisy-OR over all chunks: 1 - prod(1 - s)"}


def _policy_words(rule: dict[str, Any]) -> str:
    """A threshold rule from meta.json ("decision" or an operating point's) in words."""
    name = rule.get("name", "max_f1")
    return POLICY_WORDS.get(name, name).format(target=rule.get("precision_target") or 0.0,
                                               prior=rule.get("deployment_prior") or 0.0)


def _fallback_words(rule: dict[str, Any]) -> str:
    fell = rule.get("fell_back_to_max_f1") or []
    return ("No threshold reached the precision target for " + ", ".join(f"`{n}`" for n in fell)
            + ": max-F1 used there.") if fell else ""


def _long_text_line(kind: str, chunking: dict[str, Any], pooling: str) -> str:
    if kind == "ensemble":  # each member cuts texts its own way
        return "Long texts are cut into chunks by each member, as its own card says; this model mixes their scores."
    if chunking.get("chunk_long_texts") is False:
        return "Long texts are scored whole (`chunk_long_texts: false`), not in chunks."
    return (f"Long texts are scored in chunks of at most {chunking.get('max_tokens', '?')} tokens; "
            f"a text's score pools its chunks' ({pooling}).")


def _decision_parts(meta: dict[str, Any]) -> tuple[str, str, str]:
    """(policy words, pooling words, the Decisions section) from meta.json's "decision" record."""
    decision = meta.get("decision") or {}
    policy = _policy_words(decision)
    pooling_record = decision.get("pooling") or {"method": "max", "k": 2}
    pooling = POOLING_WORDS.get(pooling_record["method"], pooling_record["method"]).format(k=pooling_record.get("k"))
    lines = [f"- Thresholds: {policy}.", f"- Calibration (fitted on the validation split, applied before "
             f"thresholds): `{decision.get('calibration', 'none')}`.", f"- Pooling of long texts' chunks: {pooling}."]
    if _fallback_words(decision):
        lines.append(f"- {_fallback_words(decision)}")
    lines += _operating_point_lines(meta)
    for key, value in sorted((meta.get("classifier") or {}).items()):
        lines.append(f"- {key}: {value}")
    return policy, pooling, "\n".join(lines)


def _operating_point_lines(meta: dict[str, Any]) -> list[str]:
    """One line per named operating point: its rule, thresholds, and precision/recall on the written test split."""
    lines = []
    for point_name, point in (meta.get("operating_points") or {}).items():
        rule = point.get("decision") or {}
        test = (point.get("metrics") or {}).get("test", {}).get("per_label", {})
        per_label = ", ".join(
            f"`{n}` {t:.3f}" + (f" (test P {test[n]['precision']:.2f} R {test[n]['recall']:.2f})" if n in test else "")
            for n, t in zip(meta["labels"], point["thresholds"], strict=True))
        lines.append(f"- Operating point `{point_name}` (`load(..., operating_point=\"{point_name}\")`): "
                     f"{_policy_words(rule)}. Thresholds: {per_label}. {_fallback_words(rule)}".rstrip())
    return lines


def render_card(meta: dict[str, Any], label_set: LabelSet) -> str:
    """The model card for a model folder's meta.json, in the words of its label file."""
    definitions = label_set.definitions
    test, validation = meta["metrics"]["test"], meta["metrics"]["validation"]
    labels, thresholds = meta["labels"], meta["thresholds"]
    label_table = "\n".join(f"- `{n}`: {definitions.get(n, '').strip() or '(no definition given)'}" for n in labels)
    rows = []
    for name, threshold in zip(labels, thresholds, strict=True):
        m = test["per_label"][name]
        rows.append(f"| `{name}` | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                    f"{m.get('average_precision', 0.0):.3f} | {m['support']} | {threshold:.3f} |")
    data = meta.get("data", {})
    counts = data.get("counts", {})
    split_counts = ", ".join(f"{s} {c.get('examples', 0)}" for s, c in counts.items()) or "unknown"
    train_counts = counts.get("train", {})
    train_positives = ", ".join(f"{n} {train_counts.get(n, 0)}" for n in labels)
    settings = meta.get("settings", {})
    setting_lines = "\n".join(f"- `{k}`: {v}" for k, v in sorted(settings.items())) or "- (defaults)"
    policy, pooling, decisions = _decision_parts(meta)
    return _TEMPLATE.format(
        name=meta.get("name", "model"), kind=meta["kind"], label_table=label_table,
        fingerprint=meta.get("corpus_fingerprint", "unknown"), split_counts=split_counts,
        train_positives=train_positives, metric_rows="\n".join(rows), macro_f1=test["macro_f1"],
        micro_f1=test["micro_f1"], subset_accuracy=test["subset_accuracy"], hamming_loss=test["hamming_loss"],
        val_macro_f1=validation["macro_f1"], settings=setting_lines, decisions=decisions, policy=policy,
        long_texts=_long_text_line(meta["kind"], meta.get("chunking", {}), pooling),
        versions=", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
        run_id=meta.get("mlflow", {}).get("run_id") or "not tracked", **_task_parts(label_set.card),
    )
