"""The evaluation report's plots, rendered with matplotlib's Agg canvas to PNG bytes.

Figures are built on `matplotlib.figure.Figure` with an explicit Agg canvas, never through pyplot,
so no global backend is switched and nothing is left open between reports. The curves themselves
are computed here with numpy so that the report JSON and the plots share one definition.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from .calibration import ReliabilityBins

FIGSIZE = (4.2, 3.3)
DPI = 100
THRESHOLD_GRID = 201


def precision_recall_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, threshold) at every distinct score, highest threshold first."""
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    hits = np.cumsum(y_true[order])
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True] if len(scores) else np.zeros(0, bool)
    tp = hits[last_of_tie].astype(np.float64)
    predicted = np.arange(1, len(scores) + 1)[last_of_tie]
    positives = int(y_true.sum())
    recall = tp / positives if positives else np.zeros_like(tp)
    return tp / predicted, recall, sorted_scores[last_of_tie]


def f1_by_threshold(y_true: np.ndarray, scores: np.ndarray,
                    grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, F1) with the decision score >= threshold, over a grid on [0, 1]."""
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    grid = np.linspace(0.0, 1.0, THRESHOLD_GRID) if grid is None else np.asarray(grid, dtype=np.float64)
    on = scores[None, :] >= grid[:, None]
    tp = (on & y_true).sum(axis=1)
    denominator = on.sum(axis=1) + y_true.sum()
    f1 = np.divide(2 * tp, denominator, out=np.zeros(len(grid)), where=denominator != 0)
    return grid, f1


def _new_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    figure.subplots_adjust(left=0.15, right=0.97, bottom=0.15, top=0.9)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    # No software/date metadata: the same report renders to the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def precision_recall_png(label: str, y_true: np.ndarray, scores: np.ndarray, threshold: float,
                         average_precision: float) -> bytes:
    """Precision-recall curve with the model's operating point (its threshold) marked."""
    figure, axes = _new_figure()
    precision, recall, _ = precision_recall_curve(y_true, scores)
    axes.step(np.r_[0.0, recall], np.r_[precision[:1] if len(precision) else [1.0], precision],
              where="pre", color="#1f77b4", label=f"AP {average_precision:.3f}")
    y_true = np.asarray(y_true, dtype=bool)
    on = np.asarray(scores) >= threshold
    tp = int((on & y_true).sum())
    point_p = tp / on.sum() if on.sum() else 0.0
    point_r = tp / y_true.sum() if y_true.sum() else 0.0
    axes.plot([point_r], [point_p], "o", color="#d62728", label=f"threshold {threshold:.3f}")
    axes.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.05), xlabel="recall", ylabel="precision",
             title=f"{label}: precision-recall")
    axes.legend(loc="lower left", fontsize="small")
    axes.grid(alpha=0.3)
    return _png(figure)


def f1_threshold_png(label: str, y_true: np.ndarray, scores: np.ndarray, threshold: float) -> bytes:
    """F1 as a function of the threshold, with the model's threshold as a vertical line."""
    figure, axes = _new_figure()
    grid, f1 = f1_by_threshold(y_true, scores)
    axes.plot(grid, f1, color="#2ca02c")
    axes.axvline(threshold, color="#d62728", linestyle="--", label=f"threshold {threshold:.3f}")
    axes.set(xlim=(0, 1), ylim=(-0.02, 1.05), xlabel="threshold", ylabel="F1", title=f"{label}: F1 by threshold")
    axes.legend(loc="lower left", fontsize="small")
    axes.grid(alpha=0.3)
    return _png(figure)


def reliability_png(label: str, bins: ReliabilityBins, ece: float) -> bytes:
    """Reliability diagram: fraction of positives against mean score per bin, with counts."""
    figure, axes = _new_figure()
    edges = np.asarray(bins["edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    filled = [i for i, c in enumerate(bins["counts"]) if c]
    axes.bar(centres[filled], [bins["accuracy"][i] for i in filled], width=width * 0.9, color="#9ecae1",
             edgecolor="#3182bd", label="fraction positive")
    axes.plot([bins["confidence"][i] for i in filled], [bins["accuracy"][i] for i in filled], "o", color="#08519c",
              label="mean score")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    for i in filled:
        axes.annotate(str(bins["counts"][i]), (centres[i], 0.01), ha="center", fontsize="x-small", color="#555555")
    axes.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="score", ylabel="fraction with the label",
             title=f"{label}: calibration (ECE {ece:.3f})")
    axes.legend(loc="upper left", fontsize="small")
    return _png(figure)
