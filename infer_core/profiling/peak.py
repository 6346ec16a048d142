"""A measured peak-FLOP/s probe: how fast this device multiplies large matrices.

The roof a model's achieved FLOP/s is compared against is measured, not taken from a datasheet:
a square float32 matmul (2·n³ FLOPs) in a tf.function, on the device and with the thread settings
the process already has, repeated; the peak is the best repeat (the achievable rate), the median
is kept too. The result is reduced to a scalar before the clock stops, which on a GPU also waits
for the device to finish.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

DEFAULT_N = {"cpu": 1024, "gpu": 8192}
_MEASURED: dict[str, dict[str, Any]] = {}  # device -> probe result, once per process


def _matmul_fn(n: int, device: str) -> Any:
    import tensorflow as tf

    from infer_core.devices import tf_device

    with tf.device(tf_device(device)):
        a = tf.random.stateless_uniform((n, n), seed=(1, 2), dtype=tf.float32)
        b = tf.random.stateless_uniform((n, n), seed=(3, 4), dtype=tf.float32)

    @tf.function  # type: ignore[untyped-decorator]
    def step() -> Any:
        with tf.device(tf_device(device)):
            return tf.reduce_sum(tf.linalg.matmul(a, b))

    return step


def measure_peak(device: str = "cpu", n: int | None = None, repeats: int = 8, warmup: int = 2) -> dict[str, Any]:
    """{"device", "n", "dtype", "flops_per_call", "peak_flops", "median_flops", "repeats", "method"}."""
    from infer_core.devices import parse_device

    kind, _ = parse_device(device)
    n = n or DEFAULT_N[kind]
    step = _matmul_fn(n, device)
    for _ in range(warmup):
        float(step())
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        float(step())
        seconds.append(time.perf_counter() - t0)
    flops = 2 * n**3
    return {"device": device, "n": n, "dtype": "float32", "flops_per_call": flops,
            "peak_flops": flops / min(seconds), "median_flops": flops / statistics.median(seconds),
            "repeats": repeats, "method": f"best of {repeats} float32 {n}x{n} matmuls (2n^3 FLOPs each)"}


def cached_peak(device: str = "cpu") -> dict[str, Any]:
    """The probe for `device`, measured on first use in this process and reused after."""
    if device not in _MEASURED:
        _MEASURED[device] = measure_peak(device)
    return _MEASURED[device]


def achieved(flops: int | None, step_s: float | None, peak: dict[str, Any] | None,
             batch_size: int | None = None) -> dict[str, Any]:
    """Achieved FLOP/s of a step (`flops` per call of `batch_size` samples) and its share of the
    measured peak (None where unknown)."""
    rate = flops / step_s if flops and step_s else None
    share = rate / peak["peak_flops"] if rate and peak and peak.get("peak_flops") else None
    return {"flops": flops, "step_s": step_s, "achieved_flops": rate, "peak_flops": peak and peak.get("peak_flops"),
            "fraction_of_peak": share, "batch_size": batch_size}
