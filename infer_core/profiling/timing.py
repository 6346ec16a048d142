"""Small timing helpers shared by the profilers (the clock is injectable for tests)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Clock = Callable[[], float]


def time_call(fn: Callable[[], Any], clock: Clock = time.perf_counter) -> float:
    """Seconds one call of `fn` takes."""
    t0 = clock()
    fn()
    return clock() - t0


def time_calls(fn: Callable[[], Any], n: int, clock: Clock = time.perf_counter) -> list[float]:
    return [time_call(fn, clock) for _ in range(n)]


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def batch_size_of(inputs: Sequence[Any], feeds: Mapping[str, np.ndarray]) -> int | None:
    """The batch size the feeds carry (first input that has a batch dimension)."""
    for info in inputs:
        if info.batch_dim is not None and info.name in feeds:
            shape = np.shape(feeds[info.name])
            if len(shape) > info.batch_dim:
                return int(shape[info.batch_dim])
    return None
