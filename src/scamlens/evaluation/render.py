"""Rendering an evaluation report: report.md (plots linked) and one self-contained report.html."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from .report import PLOT_KINDS, PLOTS_DIR, REPORT_HTML, REPORT_JSON, REPORT_MD, EvaluationReport


def plot_file(label: str, kind: str) -> str:
    return f"{PLOTS_DIR}/{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}-{kind}.png"


def _ci(value: float, interval: list[float] | None) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else f"{value:.3f}"


def overall_rows(data: dict[str, Any]) -> list[list[str]]:
    m, ci = data["metrics"], data["intervals"]
    return [["micro F1", _ci(m["micro_f1"], ci["micro_f1"])],
            ["macro F1", _ci(m["macro_f1"], ci["macro_f1"])],
            ["macro average precision", f"{m.get('macro_average_precision', 0.0):.3f}"],
            ["macro F1 at thresholds fitted on this data (ceiling)", f"{data['ceiling']['macro_f1']:.3f}"],
            ["subset accuracy", f"{m['subset_accuracy']:.3f}"],
            ["Hamming loss", f"{m['hamming_loss']:.3f}"],
            ["examples", str(m["examples"])]]


PER_LABEL_HEADER = ["label", "precision", "recall", "F1", "average precision", "support", "threshold", "ECE",
                    "ceiling F1 (at threshold)"]


def per_label_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for j, (name, m) in enumerate(data["metrics"]["per_label"].items()):
        ci, best = data["intervals"]["per_label"][name], data["ceiling"]["per_label"][name]
        rows.append([name, _ci(m["precision"], ci.get("precision")), _ci(m["recall"], ci.get("recall")),
                     _ci(m["f1"], ci.get("f1")), _ci(m["average_precision"], ci.get("average_precision")),
                     str(m["support"]), f"{data['model']['thresholds'][j]:.3f}",
                     f"{data['calibration'][name]['ece']:.3f}", f"{best['f1']:.3f} ({best['threshold']:.3f})"])
    return rows


def slice_table(data: dict[str, Any], column: str) -> tuple[list[str], list[list[str]]]:
    labels = data["model"]["labels"]
    header = [column, "examples", "micro F1", "macro F1"] + [f"{n} F1 (support)" for n in labels]
    rows = []
    for value, m in data["slices"][column].items():
        cells, undefined = [], []
        for n in labels:
            label = m["per_label"][n]
            undefined.append(label["support"] == 0 and label["predicted"] == 0)
            cells.append(f"{'n/a' if undefined[-1] else format(label['f1'], '.3f')} ({label['support']})")
        averages = ["n/a", "n/a"] if all(undefined) else [f"{m['micro_f1']:.3f}", f"{m['macro_f1']:.3f}"]
        rows.append([value, str(m["examples"]), *averages, *cells])
    return header, rows


SLICE_NOTE = ("n/a: no text in the slice has the label and the model gave it to none, so F1 is undefined "
              "(counted as 0 in the slice's macro F1; n/a for both averages when no label is defined). "
              "Slices are small: read them as pointers, not verdicts.")


ERROR_HEADER = ["id", "score", "threshold", "true labels", "predicted", "text (evidence marked)", "evidence chunks"]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _evidence_summary(evidence: list[dict[str, Any]]) -> str:
    return "; ".join(f"[{e['start']}:{e['end']}] {e['score']:.3f}" for e in evidence)


def render_markdown(report: EvaluationReport) -> str:
    data = report.data
    model = data["model"]
    ci = data["intervals"]
    out = [f"# Evaluation of {model['name'] or model['path']} on {data['data']['source']}", "",
           f"Model `{model['path']}` ({model['kind']}), {data['data']['examples']} examples, "
           f"created {data['created']}. "
           f"Intervals: {ci['level']:.0%} bootstrap percentile intervals over {ci['resamples']} resamples of the texts "
           f"(seed {ci['seed']}), thresholds fixed.", "", *[f"> {note}" for note in data['data'].get('notes', [])],
           "", "## Overall", "",
           _md_table(["metric", "value"], overall_rows(data)), "", "## Per label", "",
           _md_table(PER_LABEL_HEADER, per_label_rows(data)), ""]
    if data["slices"]:
        out += ["## Slices", "", SLICE_NOTE, ""]
        for column in data["slices"]:
            header, rows = slice_table(data, column)
            out += [f"### By {column}", "", _md_table(header, rows), ""]
    if report.plots:
        out += ["## Plots", ""]
        for name, plots in report.plots.items():
            out += [f"### {name}", ""] + [f"![{name} {PLOT_KINDS[k]}]({plot_file(name, k)})" for k in plots] + [""]
    out += ["## Error analysis", "", f"Per label, up to {data['errors_per_label']} false positives and false "
            "negatives, farthest from the threshold first; evidence is the label's top-scoring chunks as "
            "[start:end] score, with character offsets into the text.", ""]
    for name, kinds in data["errors"].items():
        for kind, items in kinds.items():
            rows = [[e["id"], f"{e['score']:.3f}", f"{e['threshold']:.3f}", ", ".join(e["true_labels"]) or "-",
                     ", ".join(e["predicted_labels"]) or "-", e["text"], _evidence_summary(e["evidence"])]
                    for e in items]
            header = [*ERROR_HEADER[:5], "text", ERROR_HEADER[6]]
            out += [f"### {name}: {kind.replace('_', ' ')}", "", _md_table(header, rows) if rows else "None.", ""]
    return "\n".join(out)


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
mark { background: #ffe08a; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5em; }
.note { color: #555; font-size: 0.9em; }
"""


def _html_table(header: list[str], rows: list[list[str]], raw_columns: frozenset[int] = frozenset(),
                table_id: str = "") -> str:
    """A table; cells are escaped except in `raw_columns` (already HTML)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            numeric = re.fullmatch(r"[-0-9.\[\], ()]+", cell) is not None
            content = cell if k in raw_columns else html.escape(cell)
            cells.append(f'<td class="num">{content}</td>' if numeric else f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(header)}">none</td></tr>')
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def marked_text(text: str, evidence: list[dict[str, Any]], threshold: float | None = None) -> str:
    """The text, escaped, with evidence spans in <mark> (spans over threshold only, when given)."""
    spans = sorted((e["start"], e["end"]) for e in evidence if threshold is None or e["score"] >= threshold)
    pieces, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue
        pieces += [html.escape(text[cursor:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    return "".join(pieces)


def render_html(report: EvaluationReport) -> str:
    """One page, no external assets: plots are inline data URIs."""
    from .plots import png_data_uri

    data = report.data
    model = data["model"]
    ci = data["intervals"]
    title = f"Evaluation of {model['name'] or model['path']} on {data['data']['source']}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">Model <code>{html.escape(model["path"])}</code> ({html.escape(str(model["kind"]))}), '
             f"{data['data']['examples']} examples, created {html.escape(data['created'])}. Intervals: "
             f"{ci['level']:.0%} bootstrap percentile intervals over {ci['resamples']} resamples of the texts "
             f"(seed {ci['seed']}), thresholds fixed.</p>",
             *[f'<p class="note"><strong>{html.escape(note)}</strong></p>' for note in data["data"].get("notes", [])],
             "<h2>Overall</h2>", _html_table(["metric", "value"], overall_rows(data), table_id="overall"),
             "<h2>Per label</h2>", _html_table(PER_LABEL_HEADER, per_label_rows(data), table_id="per-label")]
    if data["slices"]:
        parts += ["<h2>Slices</h2>", f'<p class="note">{html.escape(SLICE_NOTE)}</p>']
        for column in data["slices"]:
            header, rows = slice_table(data, column)
            parts += [f"<h3>By {html.escape(column)}</h3>", _html_table(header, rows, table_id=f"slice-{column}")]
    if report.plots:
        parts.append("<h2>Plots</h2>")
        for name, plots in report.plots.items():
            images = "".join(f'<img src="{png_data_uri(png)}" alt="{html.escape(name)} {PLOT_KINDS[kind]}">'
                             for kind, png in plots.items())
            parts += [f"<h3>{html.escape(name)}</h3>", f'<div class="plots">{images}</div>']
    parts += ["<h2>Error analysis</h2>",
              f'<p class="note">Per label, up to {data["errors_per_label"]} false positives and false negatives, '
              "farthest from the threshold first. Marked: the label's chunks at or over the threshold; the "
              "last column lists the label's top-scoring chunks as [start:end] score.</p>"]
    for name, kinds in data["errors"].items():
        for kind, items in kinds.items():
            rows = [[html.escape(e["id"]), f"{e['score']:.3f}", f"{e['threshold']:.3f}",
                     html.escape(", ".join(e["true_labels"]) or "-"),
                     html.escape(", ".join(e["predicted_labels"]) or "-"),
                     marked_text(e["text"], e["evidence"], e["threshold"]),
                     html.escape(_evidence_summary(e["evidence"]))] for e in items]
            parts += [f"<h3>{html.escape(name)}: {kind.replace('_', ' ')}</h3>",
                      _html_table(ERROR_HEADER, rows, raw_columns=frozenset(range(len(ERROR_HEADER))),
                                  table_id=f"errors-{name}-{kind}")]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(report: EvaluationReport, out: str | Path) -> Path:
    """Write report.json, report.md, report.html and plots/*.png into `out` (created if needed)."""
    folder = Path(out)
    (folder / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    for name, plots in report.plots.items():
        for kind, png in plots.items():
            (folder / plot_file(name, kind)).write_bytes(png)
    (folder / REPORT_JSON).write_text(json.dumps(report.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / REPORT_MD).write_text(render_markdown(report), encoding="utf-8")
    (folder / REPORT_HTML).write_text(render_html(report), encoding="utf-8")
    return folder
