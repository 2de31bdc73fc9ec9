"""Training speaks in a log: step lines when the output is not a terminal, a bar when it is."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scamlens.progress import LINES_PER_EPOCH, format_duration, step_progress

from .conftest import LABELS_FILE, ROOT
from .tiny_bert import tiny_bert  # noqa: F401

STEP_LINE = re.compile(r"epoch (\d+)/(\d+): step (\d+)/(\d+), loss \d+\.\d{4}, \d+\.\d examples/s, ETA (?:\d+h)?\d+m\d\ds")


def step_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "scamlens.progress"]


def test_a_long_pass_logs_about_twenty_lines_ending_with_the_last_step(caplog) -> None:
    caplog.set_level(logging.INFO, logger="scamlens")
    with step_progress("epoch 1/1", 100, bar=False) as progress:
        for step in range(1, 101):
            progress.step(examples=16 * step, loss_sum=0.5 * 16 * step)
    lines = step_lines(caplog)
    assert len(lines) == LINES_PER_EPOCH
    assert [int(STEP_LINE.fullmatch(line).group(3)) for line in lines] == list(range(5, 101, 5))
    assert all("loss 0.5000" in line for line in lines)
    assert lines[-1].endswith("ETA 0m00s")


def test_a_terminal_gets_the_bar_and_no_log_lines(caplog) -> None:
    caplog.set_level(logging.INFO, logger="scamlens")
    with step_progress("epoch 1/1", 10, bar=True) as progress:
        for step in range(1, 11):
            progress.step(examples=step, loss_sum=float(step))
    assert step_lines(caplog) == []


def test_durations_read_as_minutes_and_hours() -> None:
    assert [format_duration(s) for s in (0, 59.6, 61, 3725)] == ["0m00s", "1m00s", "1m01s", "1h02m05s"]


def test_transformer_training_logs_every_step_of_every_epoch_when_output_is_not_a_terminal(tiny_bert, caplog) -> None:  # noqa: F811
    """pytest captures stdout, so this is the CI / nohup / `> file` case: the real step loop logs."""
    pytest.importorskip("torch")
    from scamlens.kinds.transformer.trainer import TransformerClassifier
    from scamlens.runtime.classifier import LabelledTexts

    texts = ["Police raided a scam compound.", "Immigration deported forty workers.",
             "A shelter gave rescued victims care.", "The market opened early.",
             "The fraud ring ran fake chats.", "The government expelled the nationals."]
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0]])
    caplog.set_level(logging.INFO, logger="scamlens")
    TransformerClassifier(("scam_operation", "deportation", "victim_assistance"), base_model=str(tiny_bert),
                          max_length=32, epochs=2, batch_size=2, fast_path="none").fit(LabelledTexts(texts, y))
    steps = [STEP_LINE.fullmatch(line).groups()[:4] for line in step_lines(caplog)]
    assert steps == [(str(e), "2", str(s), "3") for e in (1, 2) for s in (1, 2, 3)]


@pytest.mark.slow
def test_scamlens_train_writes_step_lines_into_a_pipe(tiny_bert, tiny_corpus, tmp_path) -> None:  # noqa: F811
    """`scamlens train ... > log`: the first epoch shows its steps before the epoch's own line."""
    overrides = [f"data.source=[{tiny_corpus}]", f"data.labels={LABELS_FILE}", f"data.processed_dir={tmp_path / 'p'}",
                 f"output_dir={tmp_path / 'train'}", "tracking.enabled=false", f"model.base_model={tiny_bert}",
                 "model.max_length=32", "model.epochs=1", "model.batch_size=4", "model.fast_path=none"]
    done = subprocess.run([sys.executable, "-m", "scamlens.cli", "train", str(ROOT / "configs" / "transformer.yaml"),
                           *(a for o in overrides for a in ("--set", o))],
                          capture_output=True, text=True, timeout=600, cwd=Path(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    steps = [i for i, line in enumerate(lines) if STEP_LINE.search(line)]
    epoch_end = next(i for i, line in enumerate(lines) if " INFO epoch 1: train_loss=" in line)
    assert steps and steps[-1] < epoch_end
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO epoch 1/1: step 1/\d+, ", lines[steps[0]])
