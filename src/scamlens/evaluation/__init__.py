"""Measuring models: metrics, bootstrap intervals, calibration, the report, comparisons, and the
labelling queue.

- `metrics.py`: per-label P/R/F1/AP, micro/macro F1 (numpy only); `bootstrap.py`, `calibration.py`
- `labelled.py`: what a model is evaluated on (a split checked against the model's corpus
  fingerprint, or a labelled file, references resolved), and `predict_lines`
- `report.py` computes the report behind `scamlens evaluate`; `render.py` writes its Markdown and
  HTML; `plots.py` draws its PNGs
- `compare.py`: `scamlens compare`; `queue.py`: `scamlens queue` and `queue-import` (Label Studio)
"""
