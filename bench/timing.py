"""The timing loop: first call, warmup, timed iterations until the median is known well enough.

Pure: the clock, the call and the tracing counter are injected, so every stopping rule is tested
exactly with a fake clock. The loop itself is as bare as a hand-written one (read clock, call, read
clock, append); the stopping rules are checked between iterations, and only every few percent more
samples, so the bookkeeping stays out of the measured latencies and cheap next to them.

Stopping rules (the record's `stop_reason`):
  ci_target       min_time and min_iterations both met AND the 95% confidence interval of the
                  median is within +-ci_target of the median;
  max_time        max_time ran out first (the interval was still too wide);
  max_iterations  the optional iteration cap was reached first.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

Clock = Callable[[], int]  # nanoseconds, monotonic
Progress = Callable[[int, float], None]  # (iterations so far, current median in ns)
# Duet: called once warmup is done with this side's window length (ns); returns the deadline on the loop's clock
# that both partners time until (returning at the shared start), or None to time alone under the policy.
Meeting = Callable[[int], int | None]

NS = 1_000_000_000
# interleaved: the variants of a model that can load together share one worker and their calls alternate
# (paired samples); duet: one worker per variant, two at a time, started together, each on its own core,
# timing the same batch size in the same time window (Bulej et al., ICPE 2020); separate: one worker per
# variant, one after another (processes compared across rounds).
MODES = ("interleaved", "duet", "separate")
CHECK_GROWTH = 1.05  # re-check the stopping rules after 5% more samples
PROGRESS_EVERY_NS = NS // 4


class PolicyValueError(ValueError):
    """A policy field is out of range; `key` names the field (the scenario parser adds file and line)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Policy:
    """How long to warm up and measure one cell. Times in seconds."""

    warmup_iterations: int = 10
    warmup_time: float = 0.5
    min_time: float = 1.0
    min_iterations: int = 30
    ci_target: float = 0.01
    max_time: float = 10.0
    max_iterations: int | None = None
    profile: bool = False  # after timing, one profiled pass per cell (never during timed iterations)
    mode: str = "interleaved"  # how variants of a model share processes: MODES
    # interleaved: untimed calls a variant makes when its turn comes, before its timed ones, so no timed call
    # pays for the caches the other variant's call evicted (benchmarks/results/switch_warmup.txt)
    switch_warmup: int = 1
    turn_calls: int = 3  # interleaved: timed calls a variant makes in a row on its turn, after its lead-in calls

    def __post_init__(self) -> None:
        self._check_times()
        _non_negative("switch_warmup", self.switch_warmup)
        if self.turn_calls < 1:
            raise PolicyValueError("turn_calls", f"must be at least 1, got {self.turn_calls}")
        if self.mode not in MODES:
            raise PolicyValueError("mode", f"must be one of {', '.join(MODES)}, got {self.mode!r}")

    def _check_times(self) -> None:
        _non_negative("warmup_iterations", self.warmup_iterations)
        _non_negative("warmup_time", self.warmup_time)
        _non_negative("min_time", self.min_time)
        if self.min_iterations < 1:
            raise PolicyValueError("min_iterations", f"must be at least 1, got {self.min_iterations}")
        if not 0 < self.ci_target < 1:
            raise PolicyValueError("ci_target", f"must be a fraction between 0 and 1 (0.01 = +-1%), got {self.ci_target}")
        if self.max_time < self.min_time:
            raise PolicyValueError("max_time", f"must be >= min_time ({self.min_time}), got {self.max_time}")
        if self.max_iterations is not None and self.max_iterations < self.min_iterations:
            raise PolicyValueError("max_iterations", f"must be >= min_iterations ({self.min_iterations}), got {self.max_iterations}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _non_negative(key: str, value: float) -> None:
    if value < 0:
        raise PolicyValueError(key, f"must be >= 0, got {value}")


@dataclass
class Measurement:
    """What one cell's loop saw. Latencies in ns, times in seconds."""

    first_call_s: float
    warmup_iterations: int
    warmup_s: float
    latencies_ns: list[int] = field(default_factory=list)
    stop_reason: str = ""
    retraces: int | None = None
    window_ns: tuple[int, int] | None = None  # the timed loop's start and end on the clock given

    @property
    def median_ns(self) -> float:
        return median(self.latencies_ns)


def median(samples: Sequence[int]) -> float:
    ordered = sorted(samples)
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def median_ci(samples: Sequence[int], z: float = 1.96) -> tuple[float, float, float]:
    """(low, median, high): a distribution-free 95% interval of the median from order statistics.

    The ranks n/2 -+ z*sqrt(n)/2 bound the median (binomial normal approximation); no assumption
    about the latency distribution, which is skewed and often multi-modal.
    """
    ordered = sorted(samples)
    n = len(ordered)
    half = z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return float(ordered[lo]), median(ordered), float(ordered[hi])


def ci_halfwidth(samples: Sequence[int]) -> float:
    """The interval's larger half as a fraction of the median (0.01 = +-1%)."""
    lo, mid, hi = median_ci(samples)
    return max(mid - lo, hi - mid) / mid if mid > 0 else math.inf


def time_first_call(call: Callable[[], object], clock: Clock) -> float:
    start = clock()
    call()
    return (clock() - start) / NS


def warm_up(call: Callable[[], object], policy: Policy, clock: Clock) -> tuple[int, float]:
    """Run until both warmup minima are met (bounded by max_time); returns (iterations, seconds)."""
    start = clock()
    min_ns, cap_ns = policy.warmup_time * NS, policy.max_time * NS
    count = 0
    while True:
        elapsed = clock() - start
        if (count >= policy.warmup_iterations and elapsed >= min_ns) or (elapsed >= cap_ns and count > 0):
            return count, elapsed / NS
        call()
        count += 1


def stop_reason(samples: Sequence[int], elapsed_ns: int, policy: Policy) -> str | None:
    """Which rule ends the loop now, or None to go on."""
    n = len(samples)
    if policy.max_iterations is not None and n >= policy.max_iterations:
        return "max_iterations"
    if elapsed_ns >= policy.min_time * NS and n >= policy.min_iterations and ci_halfwidth(samples) <= policy.ci_target:
        return "ci_target"
    if elapsed_ns >= policy.max_time * NS:
        return "max_time"
    return None


def _next_check(n: int, policy: Policy) -> int:
    grown = max(n + 1, math.ceil(n * CHECK_GROWTH))
    if n < policy.min_iterations:
        grown = min(grown, policy.min_iterations)
    if policy.max_iterations is not None:
        grown = min(grown, policy.max_iterations)
    return max(grown, 1)


def timed_loop(
    call: Callable[[], object], policy: Policy, clock: Clock, progress: Progress | None = None
) -> tuple[list[int], str]:
    """Time `call` until a stopping rule fires; returns (latencies_ns, stop_reason).

    Between checks the loop does nothing but time calls. A check happens when the sample count
    grows by 5%, or earlier when a time limit may have been crossed (each call's latency is known,
    so the elapsed time is tracked without reading the clock again).
    """
    samples: list[int] = []
    append = samples.append
    start = clock()
    next_check, next_progress = 1, PROGRESS_EVERY_NS
    min_ns, max_ns = int(policy.min_time * NS), int(policy.max_time * NS)
    next_deadline = min_ns if min_ns > 0 else max_ns
    while True:
        t0 = clock()
        call()
        t1 = clock()
        append(t1 - t0)
        if len(samples) < next_check and t1 - start < next_deadline:
            continue
        elapsed = t1 - start
        reason = stop_reason(samples, elapsed, policy)
        if reason is not None:
            return samples, reason
        next_check = _next_check(len(samples), policy)
        next_deadline = min_ns if elapsed < min_ns else max_ns
        if progress is not None and elapsed >= next_progress:
            progress(len(samples), median(samples))
            next_progress = elapsed + PROGRESS_EVERY_NS


def measure(
    call: Callable[[], object],
    policy: Policy,
    clock: Clock = time.perf_counter_ns,
    trace_count: Callable[[], int | None] | None = None,
    progress: Progress | None = None,
    meeting: Meeting | None = None,
) -> Measurement:
    """First call (cold), warmup, timed loop; records retraces seen during the timed loop. With a `meeting`
    (duet), the timed loop starts when the meeting returns and ends at the deadline it gives."""
    first = time_first_call(call, clock)
    warm_n, warm_s = warm_up(call, policy, clock)
    policy = meet(meeting, policy, 1, clock)
    before = trace_count() if trace_count is not None else None
    start = clock()
    samples, reason = timed_loop(call, policy, clock, progress)
    window = (start, clock())
    after = trace_count() if trace_count is not None else None
    retraces = after - before if before is not None and after is not None else None
    return Measurement(first, warm_n, warm_s, samples, reason, retraces, window)


def meet(meeting: Meeting | None, policy: Policy, k: int, clock: Clock) -> Policy:
    """The policy of the timed loop after a duet's meeting: no stopping rule but the shared deadline (the loop
    stops after the call that reaches it). Unchanged without a meeting, or when the partner did not come."""
    deadline = meeting(int(policy.max_time * NS * k)) if meeting is not None else None
    if deadline is None:
        return policy
    seconds = max(0, deadline - clock()) / NS / k  # the loops scale time limits with k
    return replace(policy, min_time=seconds, max_time=seconds, min_iterations=1, max_iterations=None)


# ------------------------------------------------------------------ interleaved: several calls, one process


def interleaved_stop(samples: Sequence[Sequence[int]], elapsed_ns: int, policy: Policy) -> str | None:
    """The stopping rules of `stop_reason` for k calls timed in rounds: times scale with k (each call
    gets about its own min_time/max_time), counts and the interval target hold for every call."""
    k, n = len(samples), len(samples[0])
    if policy.max_iterations is not None and n >= policy.max_iterations:
        return "max_iterations"
    if (elapsed_ns >= policy.min_time * NS * k and n >= policy.min_iterations
            and all(ci_halfwidth(s) <= policy.ci_target for s in samples)):
        return "ci_target"
    if elapsed_ns >= policy.max_time * NS * k:
        return "max_time"
    return None


def round_order(k: int, round_index: int, rng: random.Random) -> list[int]:
    """The order of the k calls in one round: A B / B A alternation for two, a seeded shuffle for more,
    so no call always runs right after another (caches, frequency) and position effects cancel."""
    if k == 2:
        return [0, 1] if round_index % 2 == 0 else [1, 0]
    order = list(range(k))
    rng.shuffle(order)
    return order


def interleaved_loop(
    calls: Sequence[Callable[[], object]], policy: Policy, clock: Clock, seed: int = 0, progress: Progress | None = None
) -> tuple[list[list[int]], str]:
    """Time k calls in rounds (each call has one turn per round, order per `round_order`) until a rule fires.

    On its turn a call runs `policy.switch_warmup` times untimed, then `policy.turn_calls` times timed: the
    call timed right after another model's finds its weights evicted from the caches (a 0.03 ms LiteRT call
    timed right after a TensorFlow session's took up to 2.6x as long as alone), which is no user's steady
    state. Samples t*i .. t*i+t-1 of every call (t = turn_calls) come from round i: the calls are paired by
    round, so a ratio of two calls is measured under the same interference (what duet benchmarking aims at,
    inside one process)."""
    rng = random.Random(seed)
    samples: list[list[int]] = [[] for _ in calls]
    k, lead_in, turn = len(calls), range(policy.switch_warmup), range(policy.turn_calls)
    min_ns, max_ns = int(policy.min_time * NS * k), int(policy.max_time * NS * k)
    start = clock()
    next_check, next_progress, next_deadline = 1, PROGRESS_EVERY_NS, min_ns if min_ns > 0 else max_ns
    while True:
        for i in round_order(k, len(samples[0]) // policy.turn_calls, rng):
            call, times = calls[i], samples[i]
            for _ in lead_in:
                call()
            for _ in turn:
                t0 = clock()
                call()
                times.append(clock() - t0)
        elapsed = clock() - start  # once a round, between timed calls
        if len(samples[0]) < next_check and elapsed < next_deadline:
            continue
        reason = interleaved_stop(samples, elapsed, policy)
        if reason is not None:
            return samples, reason
        next_check = _next_check(len(samples[0]), policy)
        next_deadline = min_ns if elapsed < min_ns else max_ns
        if progress is not None and elapsed >= next_progress:
            progress(len(samples[0]), median(samples[0]))
            next_progress = elapsed + PROGRESS_EVERY_NS


def interleaved_warm_up(calls: Sequence[Callable[[], object]], policy: Policy, clock: Clock) -> tuple[int, float]:
    """Round-robin warmup until every call has its warmup iterations and the time is k x warmup_time."""
    k, start, count = len(calls), clock(), 0
    min_ns, cap_ns = policy.warmup_time * NS * k, policy.max_time * NS * k
    while True:
        elapsed = clock() - start
        if (count >= policy.warmup_iterations and elapsed >= min_ns) or (elapsed >= cap_ns and count > 0):
            return count, elapsed / NS / k
        for call in calls:
            call()
        count += 1


def measure_interleaved(
    calls: Sequence[Callable[[], object]],
    policy: Policy,
    clock: Clock = time.perf_counter_ns,
    trace_counts: Sequence[Callable[[], int | None] | None] = (),
    progress: Progress | None = None,
    seed: int = 0,
    meeting: Meeting | None = None,
) -> list[Measurement]:
    """`measure` for several calls in one process: first calls, interleaved warmup, interleaved timed rounds.
    One Measurement per call; their latencies are paired by round. `meeting`: as for `measure`."""
    if len(calls) == 1:
        counter = trace_counts[0] if trace_counts else None
        return [measure(calls[0], policy, clock, counter, progress, meeting)]
    firsts = [time_first_call(call, clock) for call in calls]
    warm_n, warm_s = interleaved_warm_up(calls, policy, clock)
    policy = meet(meeting, policy, len(calls), clock)
    counters = list(trace_counts) or [None] * len(calls)
    before = [c() if c is not None else None for c in counters]
    start = clock()
    samples, reason = interleaved_loop(calls, policy, clock, seed, progress)
    window = (start, clock())
    after = [c() if c is not None else None for c in counters]
    return [Measurement(first, warm_n, warm_s, lat, reason, b2 - b1 if b1 is not None and b2 is not None else None,
                        window)
            for first, lat, b1, b2 in zip(firsts, samples, before, after, strict=True)]
