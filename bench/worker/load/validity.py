"""Is a load run valid, and does its percentile claim hold? LoadGen's rules, in plain arithmetic.

- every issued query counts (LoadGen's rule): a query left unfinished is a latency of +inf in every percentile,
  and the engine makes its point invalid with the reason; so a point that lost more than 1% of its queries has
  an infinite p99 (recorded as None, with the bound all unfinished latencies exceed: RunResult.unfinished_over_ns);
- minimum duration and query count reached;
- the observed percentile (nearest rank: the ceil(p/100 * n)-th smallest latency) within the SLO;
- early stopping (LoadGen's binomial rule): with n queries, the largest number h of queries over the
  SLO such that, if the true tail fraction were exactly 1 - p/100, seeing h or fewer late queries
  would have probability <= 1 - confidence. Then "p-th percentile <= SLO" holds at that confidence
  when no more than h queries are late; equivalently the latency bound is the (n - h)-th smallest
  latency. At n = 1000, p = 99, confidence 0.99: h = 2 (P(X <= 2) = 0.0027, P(X <= 3) = 0.0101 > 0.01),
  so the bound is the 998th smallest latency, about the observed p99.8; below n = 459 no h exists.
- stability (perf_analyzer's rule): the run is cut into windows by scheduled arrival; in the last 3,
  completions keep up with arrivals within the tolerance and the mean latencies lie within the
  tolerance of their mean (or all far under the SLO, where noise does not matter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NS = 1_000_000_000
LAG_FLOOR_NS = 1_000_000  # a generator issuing within 1 ms of schedule keeps up, whatever the rate
LAG_SHARE = 0.25  # ... or whose median delay is under a quarter of the median latency: the latency is the model's


def finite_ns(value: float | None) -> int | None:
    """A latency as a record holds it: whole ns, or None for +inf (an unfinished query) and for no value."""
    return None if value is None or not math.isfinite(value) else int(value)


def with_unfinished(latency_ns: np.ndarray) -> np.ndarray:
    """Ascending latencies (float ns) with the unfinished ones (-1) as +inf, so every issued query counts."""
    return np.sort(np.where(latency_ns >= 0, latency_ns.astype(np.float64), math.inf))


def nearest_rank(sorted_ns: Sequence[float] | np.ndarray, percentile: float) -> float | None:
    """The nearest-rank percentile of ascending latencies: the ceil(p/100 * n)-th smallest; None when empty
    (+inf when it falls on an unfinished query)."""
    n = len(sorted_ns)
    if n == 0:
        return None
    value = sorted_ns[max(0, math.ceil(percentile / 100.0 * n) - 1)]
    return float(value) if not math.isfinite(value) else int(value)


def _log_pmf(k: int, n: int, q: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(q) + (n - k) * math.log1p(-q)


def late_allowed(n: int, percentile: float, confidence: float) -> int:
    """LoadGen's early-stopping count: the most late queries (over the SLO) that still prove the claim; -1 if none."""
    q = 1.0 - percentile / 100.0
    cdf, h = 0.0, -1
    for k in range(n + 1):
        cdf += math.exp(_log_pmf(k, n, q))
        if cdf > 1.0 - confidence:
            return h
        h = k
    return h


def bound_ns(sorted_ns: Sequence[float] | np.ndarray, percentile: float, confidence: float) -> float | None:
    """The latency the percentile stays under at `confidence`: the (n - h)-th smallest; None if n is too small."""
    h = late_allowed(len(sorted_ns), percentile, confidence)
    if h < 0:
        return None
    value = sorted_ns[len(sorted_ns) - 1 - h]
    return float(value) if not math.isfinite(value) else int(value)


@dataclass(frozen=True)
class Window:
    scheduled: int
    completed: int
    mean_ns: float


def windows(arrival_ns: np.ndarray, latency_ns: np.ndarray, span_ns: int, count: int) -> list[Window]:
    """`count` equal windows of the run by scheduled arrival: arrivals, completions among them, mean latency."""
    edges = np.linspace(0, max(span_ns, 1), count + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (arrival_ns >= lo) & ((arrival_ns < hi) if hi < edges[-1] else (arrival_ns <= hi))
        done = latency_ns[inside]
        done = done[done >= 0]
        out.append(Window(int(inside.sum()), int(len(done)), float(done.mean()) if len(done) else math.nan))
    return out


def stable(ws: Sequence[Window], tol: float, slo_ns: float | None) -> bool:
    """perf_analyzer's check on the last 3 windows (see the module docstring)."""
    last = ws[-3:]
    if len(last) < 3 or any(w.scheduled == 0 or w.completed < w.scheduled * (1 - tol) for w in last):
        return False
    means = [w.mean_ns for w in last]
    if any(math.isnan(m) for m in means):
        return False
    if slo_ns is not None and max(means) < 0.5 * slo_ns:
        return True
    centre = sum(means) / 3
    return all(abs(m - centre) <= tol * centre for m in means)


def summary_ns(values: np.ndarray) -> dict[str, int | None]:
    """p50, p90, p99 and max as a record holds them (None: no value, or +inf: an unfinished query)."""
    s = np.sort(values)
    return {"p50": finite_ns(nearest_rank(s, 50)), "p90": finite_ns(nearest_rank(s, 90)),
            "p99": finite_ns(nearest_rank(s, 99)), "max": finite_ns(s[-1]) if len(s) else None}


def lagging(delay_ns: np.ndarray, latency_p50: int | None, issued_rate: float, scheduled_rate: float) -> str | None:
    """Why the generator did not keep up, or None: it issued under 99% of the schedule's own rate, or its median
    issue delay exceeds both 1 ms and a quarter of the median latency (the latency would be the generator's).
    The median, not the p99: on a busy machine any thread is descheduled now and then, and the delay counts in
    the latency anyway (it runs from the scheduled arrival); a generator that falls behind is late on most queries."""
    if scheduled_rate > 0 and issued_rate < 0.99 * scheduled_rate:
        return f"the generator could not keep up: it issued {issued_rate:.4g}/s of a {scheduled_rate:.4g}/s schedule"
    p50 = nearest_rank(np.sort(delay_ns), 50) if len(delay_ns) else None
    if p50 is not None and p50 > max(LAG_FLOOR_NS, LAG_SHARE * (latency_p50 or 0)):
        return f"the generator could not keep up: median issue delay {p50 / 1e6:.2f} ms"
    return None


def judge(latency_ns: np.ndarray, issue_delay_ns: np.ndarray, duration_s: float, s: Any,
          reasons: Sequence[str] = (), ws: Sequence[Window] = (), rates: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
    """The validity part of a load block. `latency_ns` has one entry per issued query, -1 for one left unfinished
    (the engine's reasons say so, and it counts as +inf here); `s` is the LoadSettings; `reasons` come from the run
    (queue full, queries unfinished ...); `rates` are the server generator's (issued, scheduled) rates."""
    counted = with_unfinished(latency_ns)
    n_done = int((latency_ns >= 0).sum())
    slo_ns = s.slo_ms * 1e6 if s.slo_ms else None
    observed, bound = nearest_rank(counted, s.percentile), bound_ns(counted, s.percentile, s.confidence)
    why = list(reasons)
    if duration_s < s.min_duration * 0.999:
        why.append(f"ran {duration_s:.2f} s < min_duration {s.min_duration:g} s")
    if n_done < s.min_queries:
        why.append(f"{n_done} queries completed < min_queries {s.min_queries}")
    lag = lagging(issue_delay_ns, finite_ns(nearest_rank(counted, 50)), *rates) if s.scenario == "server" else None
    if lag:
        why.append(lag)
    return {
        "valid": not why, "reasons": why,
        "min_duration_met": duration_s >= s.min_duration * 0.999, "min_queries_met": n_done >= s.min_queries,
        "generator_lagging": bool(lag),
        "observed_ns": finite_ns(observed), "bound_ns": finite_ns(bound),
        "late": int((counted > slo_ns).sum()) if slo_ns else None,
        "late_allowed": late_allowed(len(counted), s.percentile, s.confidence),
        "slo_met_observed": (observed is not None and observed <= slo_ns) if slo_ns else None,
        "slo_met_bound": (bound is not None and bound <= slo_ns) if slo_ns else None,
        "stable": stable(ws, s.stability_tol, slo_ns) if ws else None,
    }
