"""The comparison's settings and their defaults: one home for the CLI, the pytest plugin and `compare()`.

Light on purpose (no pandas): `infer-bench compare --help` shows these defaults without loading the stack.
"""

from __future__ import annotations

from reports.errors import CompareError

METRICS = ("p50", "p90", "p99", "mean", "throughput")
DEFAULT_THRESHOLD = 0.05
# 0.01: the gate's family-wise false-alarm rate (Holm) is at most 1% of jobs, and of cells, when the
# two sides' processes are exchangeable (runs interleaved); benchmarks/bench_gate_error_rates.py.
DEFAULT_ALPHA = 0.01
DEFAULT_SEED = 20240601


def parse_threshold(text: str) -> float:
    """'5%' -> 0.05, '0.05' -> 0.05; a bare number of 1 or more is refused as ambiguous."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise CompareError(f"{text!r} is not a threshold: write 5% or 0.05") from None
    if not raw.endswith("%") and value >= 1:
        raise CompareError(f"{text!r} is ambiguous: write {raw}% or {value / 100:g}")
    if not 0 < value < 10:
        raise CompareError(f"{text!r} is out of range: give a positive threshold such as 5%")
    return value


def parse_alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CompareError(f"{text!r} is not a significance level such as 0.05") from None
    if not 0 < value < 0.5:
        raise CompareError(f"{text!r} is out of range: give a level such as 0.05")
    return value
