"""The CPU fast path of a transformer model, chosen where the model is loaded.

Training measures each inference variant's validation macro F1 (fp32, int8 dynamic quantization,
and bf16 where the training CPU computes it natively) and saves the table with the model. Loading
picks the fastest variant that *this* CPU runs natively and that lost less than the allowed macro
F1 at training. Timings taken on the training machine are kept for reference only: a busy machine
once shipped fp32 because bf16 happened to time slower under load.

Speed order where supported natively: bf16 (AVX512-BF16 or AMX matrix units), then int8 (VNNI dot
products), then fp32. Without those instructions bf16 is emulated and int8 gains little, so fp32 runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

# Fastest first; "none" is fp32, always native.
SPEED_ORDER = ("bf16", "int8")
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
DEFAULT_MAX_F1_DROP = 0.01


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The instruction-set flags of /proc/cpuinfo (empty where there is no such file)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_variants(flags: Iterable[str] | None = None, torch_capability: str | None = None) -> frozenset[str]:
    """The fast variants this CPU computes natively: a subset of {"bf16", "int8"}.

    Flags come from /proc/cpuinfo; where it is absent (macOS, Windows), torch's own report of the
    CPU (`torch.backends.cpu.get_cpu_capability()`, e.g. "AVX512_BF16"...) is read when given.
    """
    flags = frozenset(flags) if flags is not None else cpu_flags()
    capability = (torch_capability or "").upper()
    found = set()
    if flags & BF16_FLAGS or "BF16" in capability or "AMX" in capability:
        found.add("bf16")
    if flags & VNNI_FLAGS or "VNNI" in capability or "AMX" in capability:
        found.add("int8")
    return frozenset(found)


@lru_cache(maxsize=1)
def this_cpu() -> frozenset[str]:
    """native_variants() of the machine this process runs on (read once)."""
    capability = None
    try:
        import torch

        capability = torch.backends.cpu.get_cpu_capability()
    except (ImportError, AttributeError, RuntimeError):
        pass
    return native_variants(torch_capability=capability)


def choose_at_load(report: dict[str, Any], native: Iterable[str]) -> str:
    """The fastest native variant that lost less than the report's max_f1_drop against fp32; else "none".

    `report` is what training saved: {"max_f1_drop": 0.01, "variants": {"fp32": {"val_macro_f1": ...}, ...}}.
    A variant training could not measure (bf16 on a CPU without it) is never chosen.
    """
    variants = report.get("variants") or {}
    if "fp32" not in variants:
        return "none"
    drop = report.get("max_f1_drop", DEFAULT_MAX_F1_DROP)
    base = variants["fp32"]["val_macro_f1"]
    native = set(native)
    for mode in SPEED_ORDER:
        measured = variants.get(mode)
        if mode in native and measured is not None and base - measured["val_macro_f1"] < drop:
            return mode
    return "none"
