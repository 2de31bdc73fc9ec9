"""Progress through the steps of a long loop: a rich bar on a terminal, plain log lines elsewhere.

A transformer epoch runs for minutes. Under CI, nohup or `> train.log` a bar draws nothing a reader
can use, so there the loop logs a line every few steps instead (step, loss, examples/s, ETA), through
the "scamlens" logger that `scamlens train` prints.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, SupportsFloat

logger = logging.getLogger(__name__)

# Log lines per epoch when the output is not a terminal: often enough to see a run is alive and
# where its loss goes, few enough to keep a CI log readable.
LINES_PER_EPOCH = 20


def output_is_terminal() -> bool:
    """Both stdout and stderr are terminals: only then is a bar seen by whoever reads the output."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def format_duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class StepProgress:
    """Counts the steps of one pass; `step` after each, `close` at the end (or use `step_progress`)."""

    def __init__(self, description: str, total_steps: int, every: int | None = None, bar: bool | None = None):
        self.description = description
        self.total_steps = max(total_steps, 1)
        self.every = every or max(1, round(self.total_steps / LINES_PER_EPOCH))
        self.steps = 0
        self.started = time.perf_counter()
        self._bar: Any = None
        if output_is_terminal() if bar is None else bar:
            self._bar, self._task = _start_bar(description, self.total_steps)

    def step(self, examples: int, loss_sum: SupportsFloat) -> None:
        """One step done. `examples`: examples seen so far in this pass; `loss_sum`: the sum of their
        losses, read only when shown (a 0-d tensor is fine: reading a GPU loss waits for the device)."""
        self.steps += 1
        shown = self.steps % self.every == 0 or self.steps == self.total_steps
        if not shown and self._bar is None:
            return
        loss = float(loss_sum) / max(examples, 1) if shown else None
        if self._bar is not None:
            self._bar.update(self._task, completed=self.steps, **({"loss": f"loss {loss:.4f}"} if shown else {}))
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.steps * (self.total_steps - self.steps)
        logger.info("%s: step %d/%d, loss %.4f, %.1f examples/s, ETA %s", self.description, self.steps,
                    self.total_steps, loss, examples / max(elapsed, 1e-9), format_duration(eta))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def step_progress(description: str, total_steps: int, every: int | None = None,
                  bar: bool | None = None) -> Iterator[StepProgress]:
    """Progress of `total_steps` steps. Args: `every` steps between log lines (default: about
    LINES_PER_EPOCH lines in all); `bar`: force the terminal bar on or off (default: on terminals)."""
    progress = StepProgress(description, total_steps, every, bar)
    try:
        yield progress
    finally:
        progress.close()


def _start_bar(description: str, total: int):
    """A transient rich bar on the console of the CLI's log handler, so log lines print above it."""
    from rich.console import Console
    from rich.logging import RichHandler
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    handlers = [h for h in logging.getLogger("scamlens").handlers if isinstance(h, RichHandler)]
    console = handlers[0].console if handlers else Console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"),
                   TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task(description, total=total, loss="")
    bar.start()
    return bar, task
