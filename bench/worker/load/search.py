"""Capacity search, clock-free: LoadGen's FindPeakPerformance (double until a step fails, then bisect).

`measure(qps)` runs one step and says whether it passed (valid, stable, percentile within the SLO by
the chosen rule); the search only decides which rate to try next (halving stops early when a lower rate
no longer lowers the percentile: the SLO is out of reach, and each lower step would only take longer), so tests drive it with a fake
`measure` whose capacity is known. With `factor` 2 it is the first search; the confirmation runs in fresh
workers use a small factor around the first answer, so each gives its own estimate of the capacity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    qps: float
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    capacity: float | None  # the highest rate that passed; None when none did
    failed_at: float | None  # the lowest rate that failed above it
    steps: list[Step]

    @property
    def gap(self) -> float | None:
        """Relative width of the final bracket."""
        if self.capacity is None or self.failed_at is None:
            return None
        return (self.failed_at - self.capacity) / self.capacity


def find_capacity(measure: Callable[[float], Step], start: float, *, factor: float = 2.0, precision: float = 0.05,
                  max_steps: int = 16, floor: float = 0.5, ceiling: float = 1e6) -> SearchResult:
    """Bracket the capacity (multiply by `factor` while steps pass, divide while they fail), then bisect
    until the bracket is within `precision` (relative) or `max_steps` steps have run."""
    steps: list[Step] = []
    lo, hi = _bracket(measure, start, factor, max_steps, floor, ceiling, steps)
    while lo is not None and hi is not None and (hi - lo) / lo > precision and len(steps) < max_steps:
        step = measure((lo + hi) / 2)
        steps.append(step)
        lo, hi = (step.qps, hi) if step.passed else (lo, step.qps)
    return SearchResult(lo, hi, steps)


def _bracket(measure: Callable[[float], Step], qps: float, factor: float, max_steps: int, floor: float,
             ceiling: float, steps: list[Step]) -> tuple[float | None, float | None]:
    lo: float | None = None
    hi: float | None = None
    while len(steps) < max_steps:
        step = measure(qps)
        steps.append(step)
        if step.passed:
            lo = qps
            if hi is not None or qps * factor > ceiling:
                break
            qps *= factor
        else:
            if lo is None and hi is not None and _no_better(step, steps[-2]):
                hi = qps
                break  # a lower rate did not lower the latency: the SLO is out of reach, stop halving
            hi = qps
            if lo is not None or qps / factor < floor:
                break
            qps /= factor
    return lo, hi


def _no_better(step: Step, before: Step) -> bool:
    """The step's percentile is within 10% of the one at the higher rate before it (both failed)."""
    now, then = step.detail.get("observed_ns"), before.detail.get("observed_ns")
    return now is not None and then is not None and now >= 0.9 * then
