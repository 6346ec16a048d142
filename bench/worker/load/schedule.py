"""Arrival schedules, generated ahead from a seed (as LoadGen does), so a run's load is reproducible.

Server: a Poisson process at the target rate, i.e. independent exponential gaps with mean 1/QPS.
The schedule holds as many queries as the longer of min_queries and min_duration x QPS.
"""

from __future__ import annotations

import math

import numpy as np

NS = 1_000_000_000


def query_count(qps: float, min_queries: int, min_duration: float) -> int:
    """How many queries a server run schedules at first guess: enough for both the count and the duration."""
    return max(min_queries, math.ceil(qps * min_duration))


def server_schedule(qps: float, min_queries: int, min_duration: float, seed: int) -> np.ndarray:
    """Arrivals until both min_queries and min_duration are reached (LoadGen's rule), from one seeded stream."""
    guess = query_count(qps, min_queries, min_duration)
    offsets = poisson_offsets_ns(qps, int(guess * 1.2) + 20, seed)
    while offsets[-1] < min_duration * NS:  # a slow random stretch: draw the same stream further
        offsets = poisson_offsets_ns(qps, len(offsets) * 2, seed)
    last = max(min_queries, int(np.searchsorted(offsets, min_duration * NS)) + 1)
    return offsets[:last]


def poisson_offsets_ns(qps: float, count: int, seed: int) -> np.ndarray:
    """Arrival offsets (ns from the run's start, int64, rising) of `count` Poisson arrivals at `qps`."""
    if qps <= 0 or count < 0:
        raise ValueError(f"need qps > 0 and count >= 0, got {qps}, {count}")
    gaps = np.random.default_rng(seed).exponential(NS / qps, count)
    return np.cumsum(gaps).astype(np.int64)


def realised_rate(offsets_ns: np.ndarray) -> float:
    """The schedule's own rate: arrivals over the time to the last one (what an exact generator issues)."""
    return float(len(offsets_ns) / (offsets_ns[-1] / NS)) if len(offsets_ns) and offsets_ns[-1] > 0 else 0.0
