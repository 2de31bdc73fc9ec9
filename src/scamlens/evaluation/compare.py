"""Two models on the same labelled texts, side by side: `scamlens compare`.

Per label: each model's F1, a paired bootstrap interval for the F1 difference (both models are
scored on the same resamples), Cohen's kappa between their decisions, and McNemar's test on their
errors (exact binomial p-value for few discordant texts, chi-square with continuity correction
for many). Then the texts they disagree on most: decided differently on the most labels, then
the widest score gap. Writes compare.json and compare.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..data.corpus import Example
from ..runtime.decision import apply_thresholds
from ..runtime.model import Model
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_samples, percentile_interval
from .metrics import multilabel_report

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
# Below this many discordant texts McNemar's p-value is the exact binomial one.
EXACT_BELOW = 25
DISAGREEMENTS = 10


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cohen's kappa of two binary decision vectors; None when undefined (both constant, equal)."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if len(a) == 0:
        return None
    observed = float(np.mean(a == b))
    expected = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    if np.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1 - expected)


def mcnemar(a_wrong: np.ndarray, b_wrong: np.ndarray, exact_below: int = EXACT_BELOW) -> dict[str, Any]:
    """McNemar's test of two models' error rates on the same texts.

    Only discordant texts count: `only_a_wrong` (A wrong, B right) and `only_b_wrong`. With fewer
    than `exact_below` of them the p-value is the two-sided exact binomial test of
    only_a_wrong ~ Binomial(discordant, 1/2); otherwise the chi-square statistic with continuity
    correction, (|b - c| - 1)^2 / (b + c), on one degree of freedom.
    """
    from scipy import stats

    a_wrong = np.asarray(a_wrong, dtype=bool)
    b_wrong = np.asarray(b_wrong, dtype=bool)
    only_a, only_b = int(np.sum(a_wrong & ~b_wrong)), int(np.sum(~a_wrong & b_wrong))
    discordant = only_a + only_b
    result: dict[str, Any] = {"only_a_wrong": only_a, "only_b_wrong": only_b,
                              "both_wrong": int(np.sum(a_wrong & b_wrong))}
    if discordant == 0:
        return {**result, "method": "none (no discordant texts)", "statistic": None, "p_value": 1.0}
    if discordant < exact_below:
        p_value = stats.binomtest(only_a, discordant, 0.5, alternative="two-sided").pvalue
        return {**result, "method": "exact binomial", "statistic": None, "p_value": float(min(1.0, p_value))}
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return {**result, "method": "chi-square, continuity corrected", "statistic": float(statistic),
            "p_value": float(stats.chi2.sf(statistic, df=1))}


def disagreement_order(scores_a: np.ndarray, thresholds_a: np.ndarray, scores_b: np.ndarray,
                       thresholds_b: np.ndarray) -> np.ndarray:
    """Texts by how many labels the two models decide differently, then by the widest score gap
    (ties keep input order)."""
    differ = (apply_thresholds(scores_a, thresholds_a) != apply_thresholds(scores_b, thresholds_b)).sum(axis=1)
    gap = np.abs(np.asarray(scores_a, np.float64) - np.asarray(scores_b, np.float64)).max(axis=1)
    return np.lexsort((np.arange(len(gap)), -gap, -differ))


def model_label(model: Model) -> str:
    """"baseline/model-best": the run name and the folder, what a reader recognises."""
    name = model.meta.get("name") or "model"
    return f"{name}/{model.path.name}" if model.path is not None else str(name)


def _describe(model: Model) -> dict[str, Any]:
    return {"label": model_label(model), "path": str(model.path), "kind": model.meta.get("kind"),
            "thresholds": [float(t) for t in model.thresholds],
            "corpus_fingerprint": model.meta.get("corpus_fingerprint")}


def compare_scores(labels: tuple[str, ...], examples: list[Example], y_true: np.ndarray, scores_a: np.ndarray,
                   scores_b: np.ndarray, thresholds_a: np.ndarray, thresholds_b: np.ndarray,
                   resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   disagreements: int = DISAGREEMENTS) -> dict[str, Any]:
    """The comparison's numbers from both models' scores on the same labelled examples."""
    y_true = np.asarray(y_true, dtype=bool)
    pred_a, pred_b = apply_thresholds(scores_a, thresholds_a), apply_thresholds(scores_b, thresholds_b)
    report_a = multilabel_report(y_true, pred_a, scores_a, labels)
    report_b = multilabel_report(y_true, pred_b, scores_b, labels)
    # The same seed draws the same resamples for both: a paired bootstrap.
    samples_a = bootstrap_samples(y_true, pred_a, None, resamples, seed)
    samples_b = bootstrap_samples(y_true, pred_b, None, resamples, seed)
    f1_diff = percentile_interval(samples_b["f1"] - samples_a["f1"])
    per_label = {}
    for j, name in enumerate(labels):
        per_label[name] = {
            "support": report_a["per_label"][name]["support"],
            "f1_a": report_a["per_label"][name]["f1"],
            "f1_b": report_b["per_label"][name]["f1"],
            "f1_difference": report_b["per_label"][name]["f1"] - report_a["per_label"][name]["f1"],
            "f1_difference_interval": [float(f1_diff[0, j]), float(f1_diff[1, j])],
            "kappa": cohen_kappa(pred_a[:, j], pred_b[:, j]),
            "decisions_differ": int(np.sum(pred_a[:, j] != pred_b[:, j])),
            "mcnemar": mcnemar(pred_a[:, j] != y_true[:, j], pred_b[:, j] != y_true[:, j]),
        }
    gap = np.abs(np.asarray(scores_a, np.float64) - np.asarray(scores_b, np.float64))
    differ = pred_a != pred_b
    rows = []
    for i in disagreement_order(scores_a, thresholds_a, scores_b, thresholds_b)[:disagreements]:
        # The label whose decision differs with the widest gap, else the widest gap.
        j = int(np.argmax(np.where(differ[i], gap[i] + 1.0, gap[i])))
        rows.append({
            "id": examples[i].id, "where": examples[i].where, "text": examples[i].text, "label": labels[j],
            "decisions_differ": [n for n, d in zip(labels, differ[i], strict=True) if d],
            "score_difference": float(scores_b[i, j] - scores_a[i, j]),
            "true_labels": list(examples[i].labels),
            "labels_a": [n for n, on in zip(labels, pred_a[i], strict=True) if on],
            "labels_b": [n for n, on in zip(labels, pred_b[i], strict=True) if on],
            "scores_a": {n: float(s) for n, s in zip(labels, scores_a[i], strict=True)},
            "scores_b": {n: float(s) for n, s in zip(labels, scores_b[i], strict=True)},
        })
    micro_diff = percentile_interval(samples_b["micro_f1"] - samples_a["micro_f1"])
    macro_diff = percentile_interval(samples_b["macro_f1"] - samples_a["macro_f1"])
    return {
        "per_label": per_label,
        "micro_f1": {"a": report_a["micro_f1"], "b": report_b["micro_f1"],
                     "difference_interval": [float(x) for x in micro_diff]},
        "macro_f1": {"a": report_a["macro_f1"], "b": report_b["macro_f1"],
                     "difference_interval": [float(x) for x in macro_diff]},
        "disagreements": rows,
        "bootstrap": {"resamples": int(resamples), "seed": int(seed), "level": 0.95},
    }


def compare_models(model_a: str | Path | Model, model_b: str | Path | Model, data: str = "test",
                   resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   text_root: str | Path | None = None, force: bool = False) -> dict[str, Any]:
    """Both models on the same labelled data (a split of model A's corpus, or a file).

    Args:
        model_a, model_b: model folders, ``models:/`` URIs or loaded models with the same labels.
        data: a split name of model A's corpus or a labelled file.
        resamples, seed: the paired bootstrap for the F1 differences.
        text_root: the folder that a labelled file's `source` references are relative to.
        force: use a rebuilt split whose corpus fingerprint differs from model A's (noted).
    """
    from .. import load
    from ..data.labels import LabelSet
    from ..runtime.errors import InputError
    from .labelled import evaluation_data

    a = model_a if isinstance(model_a, Model) else load(model_a)
    b = model_b if isinstance(model_b, Model) else load(model_b)
    if a.labels != b.labels:
        raise InputError(f"the models predict different labels: {list(a.labels)} and {list(b.labels)}")
    data_set = evaluation_data(a, data, text_root, force)
    examples = data_set.examples
    texts = [e.text for e in examples]
    y_true = LabelSet(a.labels).encode_many([e.labels for e in examples]).astype(bool)
    notes = list(data_set.notes)
    fingerprints = (a.meta.get("corpus_fingerprint"), b.meta.get("corpus_fingerprint"))
    if data in {"train", "validation", "test"} and fingerprints[0] != fingerprints[1]:
        notes.append(f"'{data}' is the split of model A's corpus; model B was trained on another corpus "
                     f"({str(fingerprints[1])[:16]}), so some of these texts may have been in its training data.")
    result = compare_scores(a.labels, examples, y_true, a.predict_proba(texts), b.predict_proba(texts),
                            a.thresholds, b.thresholds, resamples, seed)
    return {"models": {"a": _describe(a), "b": _describe(b)}, "labels": list(a.labels),
            "data": {"source": data, "examples": len(examples), "left_out_ambiguous": data_set.left_out},
            **result, "notes": notes}


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 0.001 else f"{value:.1e}"


def summary_rows(comparison: dict[str, Any]) -> list[list[str]]:
    """label, F1 A, F1 B, B - A [interval], kappa, errors only A / only B, McNemar p."""
    rows = []
    for name, m in comparison["per_label"].items():
        low, high = m["f1_difference_interval"]
        kappa = "n/a" if m["kappa"] is None else f"{m['kappa']:.3f}"
        test = m["mcnemar"]
        rows.append([name, f"{m['f1_a']:.3f}", f"{m['f1_b']:.3f}",
                     f"{m['f1_difference']:+.3f} [{low:+.3f}, {high:+.3f}]", kappa,
                     f"{test['only_a_wrong']} / {test['only_b_wrong']}", _p(test["p_value"])])
    for key in ("micro_f1", "macro_f1"):
        m = comparison[key]
        low, high = m["difference_interval"]
        rows.append([key.replace("_f1", " F1"), f"{m['a']:.3f}", f"{m['b']:.3f}",
                     f"{m['b'] - m['a']:+.3f} [{low:+.3f}, {high:+.3f}]", "", "", ""])
    return rows


SUMMARY_HEADER = ["label", "F1 A", "F1 B", "B - A [95% CI]", "kappa", "errors only A / only B", "McNemar p"]


def render_markdown(comparison: dict[str, Any]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])

    a, b = comparison["models"]["a"], comparison["models"]["b"]
    out = [f"# {a['label']} (A) vs {b['label']} (B) on {comparison['data']['source']}", "",
           f"A: `{a['path']}` ({a['kind']}); B: `{b['path']}` ({b['kind']}); "
           f"{comparison['data']['examples']} examples.", "",
           "Kappa: Cohen's kappa of the two models' decisions per label. McNemar: test of equal error rates on the "
           f"texts exactly one model gets wrong (exact binomial below {EXACT_BELOW} such texts, else chi-square with "
           "continuity correction). B - A interval: paired bootstrap over the texts.", ""]
    out += [f"> {note}" for note in comparison["notes"]] + ([""] if comparison["notes"] else [])
    out += table(SUMMARY_HEADER, summary_rows(comparison)) + ["", "## Texts the models disagree on most", ""]
    rows = [[d["id"], d["label"], f"{d['score_difference']:+.3f}", ", ".join(d["true_labels"]) or "-",
             ", ".join(d["labels_a"]) or "-", ", ".join(d["labels_b"]) or "-", d["text"]]
            for d in comparison["disagreements"]]
    header = ["id", "label", "score B - A", "true labels", "A predicts", "B predicts", "text"]
    out += table(header, rows) if rows else ["None."]
    return "\n".join(out) + "\n"


def default_compare_dir(source_a: str | Path, model_a: Model, model_b: Model, data: str) -> Path:
    from .report import REPORTS_DIR, data_slug

    name = f"compare-{model_label(model_a)}-vs-{model_label(model_b)}-{data_slug(data)}"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    local = not (isinstance(source_a, str) and source_a.startswith(("models:/", "runs:/")))
    if local and model_a.path is not None:
        return model_a.path.parent / REPORTS_DIR / slug
    return Path(REPORTS_DIR) / slug


def write_comparison(comparison: dict[str, Any], out: str | Path) -> Path:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COMPARE_JSON).write_text(json.dumps(comparison, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / COMPARE_MD).write_text(render_markdown(comparison), encoding="utf-8")
    return folder


def compare_to_folder(model_a: str | Path, model_b: str | Path, data: str = "test", out: str | Path | None = None,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, text_root: str | Path | None = None,
                      force: bool = False) -> tuple[dict[str, Any], Path]:
    """The plain function behind `scamlens compare`: compare, then write compare.json and compare.md."""
    from .. import load

    a = model_a if isinstance(model_a, Model) else load(model_a)
    b = model_b if isinstance(model_b, Model) else load(model_b)
    comparison = compare_models(a, b, data, resamples, seed, text_root, force)
    folder = write_comparison(comparison, out if out is not None else default_compare_dir(model_a, a, b, data))
    return comparison, folder
