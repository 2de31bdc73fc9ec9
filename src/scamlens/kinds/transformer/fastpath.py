"""Choosing the transformer's CPU inference fast path by measurement (int8, bf16 or plain fp32)."""

from __future__ import annotations

from dataclasses import dataclass

# How much faster than fp32 a variant must be to be worth shipping (timings on a loaded machine
# wobble by a few percent).
MIN_FAST_PATH_SPEEDUP = 1.1


@dataclass(frozen=True)
class FastPathTrial:
    """One inference variant scored on the validation split."""

    macro_f1: float
    seconds: float


def choose_fast_path(fp32: FastPathTrial, trials: dict[str, FastPathTrial], max_f1_drop: float,
                     min_speedup: float = MIN_FAST_PATH_SPEEDUP) -> str:
    """The fastest variant that loses less than `max_f1_drop` macro F1 and beats fp32 by `min_speedup`.

    "none" (fp32) when no variant qualifies. A variant that scores better than fp32 qualifies on
    accuracy; speed is what it must still prove.
    """
    qualified = {name: t for name, t in trials.items()
                 if fp32.macro_f1 - t.macro_f1 < max_f1_drop and t.seconds * min_speedup <= fp32.seconds}
    return min(qualified, key=lambda name: qualified[name].seconds) if qualified else "none"
