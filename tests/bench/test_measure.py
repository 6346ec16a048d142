"""The timing loop against a fake clock: warmup and every stopping rule, exactly."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest

from bench import timing as measure
from bench.timing import NS, Policy, PolicyValueError


class FakeClock:
    """Time moves only when the measured call runs: each call takes the next latency given."""

    def __init__(self, latencies_ns: Iterator[int]) -> None:
        self.now = 0
        self.latencies = latencies_ns
        self.calls = 0

    def __call__(self) -> int:
        return self.now

    def call(self) -> None:
        self.calls += 1
        self.now += next(self.latencies)


def constant(ns: int) -> Iterator[int]:
    while True:
        yield ns


def alternating(a: int, b: int) -> Iterator[int]:
    while True:
        yield a
        yield b


def run(policy: Policy, latencies: Iterator[int], trace_count: Callable[[], int | None] | None = None) -> tuple[measure.Measurement, FakeClock]:
    clock = FakeClock(latencies)
    return measure.measure(clock.call, policy, clock=clock, trace_count=trace_count), clock


def test_first_call_and_warmup_meet_both_minimums() -> None:
    # 1 ms calls: warmup needs 10 iterations AND 0.5 s -> 500 iterations.
    first = iter([250_000_000])
    lat = (x for gen in (first, constant(1_000_000)) for x in gen)
    m, _ = run(Policy(min_time=0.01, max_time=1, min_iterations=5), lat)
    assert m.first_call_s == 0.25
    assert m.warmup_iterations == 500
    assert m.warmup_s == pytest.approx(0.5)


def test_warmup_iterations_rule_wins_for_slow_calls() -> None:
    m, _ = run(Policy(warmup_iterations=10, warmup_time=0.5, min_time=0, min_iterations=1, max_time=10), constant(200_000_000))
    assert m.warmup_iterations == 10
    assert m.warmup_s == pytest.approx(2.0)


def test_ci_target_stops_after_min_time_and_min_iterations() -> None:
    # Constant latency: the interval has zero width, so min_time (1 s of 1 ms calls) decides.
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=1.0, min_iterations=30), constant(1_000_000))
    assert m.stop_reason == "ci_target"
    assert 1000 <= len(m.latencies_ns) <= 1000 * measure.CHECK_GROWTH + 1
    assert set(m.latencies_ns) == {1_000_000}


def test_min_iterations_holds_even_after_min_time() -> None:
    # 100 ms calls: 1 s is 10 calls, but 30 are required.
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=1.0, min_iterations=30), constant(100_000_000))
    assert m.stop_reason == "ci_target"
    assert len(m.latencies_ns) == 30


def test_wide_interval_runs_to_max_time() -> None:
    # Two equally likely latencies 2x apart: the median's interval stays wide, max_time ends it.
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=0.1, max_time=2.0, ci_target=0.01), alternating(1_000_000, 2_000_000))
    assert m.stop_reason == "max_time"
    elapsed = sum(m.latencies_ns)
    assert 2 * NS <= elapsed <= 2 * NS + 2_000_000


def test_max_iterations_cap() -> None:
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=5, max_time=10, max_iterations=100), constant(1_000_000))
    assert m.stop_reason == "max_iterations"
    assert len(m.latencies_ns) == 100


def test_noisy_but_tight_enough_distribution_reaches_the_target() -> None:
    # 1% of samples are 10x outliers: the median's interval is still tight.
    def lat() -> Iterator[int]:
        i = 0
        while True:
            i += 1
            yield 10_000_000 if i % 100 == 0 else 1_000_000 + (i % 7) * 1000
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=0.5, max_time=5.0, ci_target=0.01), lat())
    assert m.stop_reason == "ci_target"
    assert measure.ci_halfwidth(m.latencies_ns) <= 0.01


def test_every_latency_is_kept_and_the_loop_counts_calls_exactly() -> None:
    m, clock = run(Policy(warmup_iterations=3, warmup_time=0, min_time=0, min_iterations=7, max_time=1), constant(5))
    assert clock.calls == 1 + 3 + len(m.latencies_ns)
    assert len(m.latencies_ns) == 7


def test_retrace_during_timed_loop_is_recorded() -> None:
    counter = {"n": 2}
    def call_and_retrace() -> None:
        clock.call()
        counter["n"] += 1
    clock = FakeClock(constant(1_000_000))
    m = measure.measure(call_and_retrace, Policy(warmup_iterations=0, warmup_time=0, min_time=0, min_iterations=5, max_time=1),
                        clock=clock, trace_count=lambda: counter["n"])
    assert m.retraces == len(m.latencies_ns)


def test_no_retrace_counts_zero_and_no_counter_gives_none() -> None:
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=0, min_iterations=5, max_time=1), constant(1), trace_count=lambda: 4)
    assert m.retraces == 0
    m, _ = run(Policy(warmup_iterations=0, warmup_time=0, min_time=0, min_iterations=5, max_time=1), constant(1))
    assert m.retraces is None


def test_progress_reports_live_median() -> None:
    seen: list[tuple[int, float]] = []
    clock = FakeClock(constant(10_000_000))
    measure.timed_loop(clock.call, Policy(min_time=1, max_time=2), clock, lambda n, med: seen.append((n, med)))
    assert seen and all(med == 10_000_000 for _, med in seen)


def test_median_ci_by_hand() -> None:
    samples = list(range(1, 101))  # n=100: ranks 50 -+ 9.8 -> indices 40 and 59
    lo, mid, hi = measure.median_ci(samples)
    assert (lo, mid, hi) == (41.0, 50.5, 60.0)
    assert measure.ci_halfwidth(samples) == pytest.approx(9.5 / 50.5)
    assert math.isnan(measure.median([]))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"min_iterations": 0}, "min_iterations"), ({"ci_target": 0}, "ci_target"), ({"max_time": 0.5}, "max_time"),
     ({"warmup_time": -1}, "warmup_time"), ({"max_iterations": 3}, "max_iterations")],
)
def test_policy_refuses_bad_values(kwargs: dict[str, float], key: str) -> None:
    with pytest.raises(PolicyValueError) as info:
        Policy(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


class Calls:
    """Several calls on one fake clock: call i advances time by its own latency; the order is logged."""

    def __init__(self, clock: FakeClock, latencies_ns: list[int]) -> None:
        self.clock, self.latencies, self.log = clock, latencies_ns, []  # type: list[int]

    def make(self, i: int) -> Callable[[], None]:
        def call() -> None:
            self.log.append(i)
            self.clock.now += self.latencies[i]
        return call


def test_interleaved_rounds_pair_samples_and_alternate_the_order() -> None:
    clock = FakeClock(constant(0))
    calls = Calls(clock, [1_000_000, 3_000_000])  # 1 ms and 3 ms
    policy = Policy(warmup_iterations=2, warmup_time=0, min_time=0.1, min_iterations=10, ci_target=0.01, max_time=1.0,
                    switch_warmup=0, turn_calls=1)
    a, b = measure.measure_interleaved([calls.make(0), calls.make(1)], policy, clock=clock)
    assert a.latencies_ns == [1_000_000] * len(a.latencies_ns) and b.latencies_ns == [3_000_000] * len(b.latencies_ns)
    assert len(a.latencies_ns) == len(b.latencies_ns) == 50  # constant: the interval is a point; 50 rounds = 0.2 s = k x min_time
    assert a.stop_reason == b.stop_reason == "ci_target"
    assert a.warmup_iterations == 2 and a.first_call_s == pytest.approx(0.001) and b.first_call_s == pytest.approx(0.003)
    timed = calls.log[2 + 2 * 2:]  # after the first calls and two warmup rounds: A B, B A, A B, ...
    assert timed[:6] == [0, 1, 1, 0, 0, 1]


def test_interleaved_time_limits_scale_with_the_number_of_calls() -> None:
    clock = FakeClock(constant(0))
    noisy = iter([1_000_000, 9_000_000] * 10_000)

    def jittery() -> None:
        clock.now += next(noisy)

    calls = Calls(clock, [5_000_000, 5_000_000])
    policy = Policy(warmup_iterations=0, warmup_time=0, min_time=0.1, min_iterations=5, ci_target=0.001, max_time=0.5,
                    switch_warmup=0, turn_calls=1)
    results = measure.measure_interleaved([jittery, calls.make(0), calls.make(1)], policy, clock=clock)
    assert {r.stop_reason for r in results} == {"max_time"}  # the jittery call never meets ±0.1%
    elapsed = sum(sum(r.latencies_ns) for r in results) / NS
    assert 1.5 <= elapsed <= 1.5 + 0.02  # 3 calls x max_time 0.5 s, stopped within a round


class ColdAfterSwitch(Calls):
    """A call right after another member's is cold (cache evicted): 5x its warm latency."""

    def make(self, i: int) -> Callable[[], None]:
        def call() -> None:
            cold = bool(self.log) and self.log[-1] != i
            self.log.append(i)
            self.clock.now += self.latencies[i] * (5 if cold else 1)
        return call


@pytest.mark.parametrize(("switch_warmup", "factors"), [(0, {1, 5}), (1, {1}), (2, {1})])
def test_switch_warmup_times_only_the_warm_call_of_each_turn(switch_warmup: int, factors: set[int]) -> None:
    clock = FakeClock(constant(0))
    calls = ColdAfterSwitch(clock, [1_000_000, 3_000_000])
    policy = Policy(warmup_iterations=2, warmup_time=0, min_time=0.1, min_iterations=10, ci_target=0.01, max_time=1.0,
                    switch_warmup=switch_warmup, turn_calls=1)
    a, b = measure.measure_interleaved([calls.make(0), calls.make(1)], policy, clock=clock)
    # strict A B / B A: half the calls follow the other member's (cold); with a lead-in call, none is timed cold
    assert set(a.latencies_ns) == {f * 1_000_000 for f in factors} and set(b.latencies_ns) == {f * 3_000_000 for f in factors}
    per_turn = switch_warmup + 1
    timed = calls.log[2 + 2 * 2:]  # after the first calls and two warmup rounds
    assert timed[:4 * per_turn] == [0] * per_turn + [1] * per_turn + [1] * per_turn + [0] * per_turn
    assert len(timed) == per_turn * (len(a.latencies_ns) + len(b.latencies_ns))  # every call but the timed is untimed
    if switch_warmup:  # the time limits count the untimed calls too: stopped once 0.2 s (k x min_time) of calls ran
        assert a.stop_reason == "ci_target" and (sum(a.latencies_ns) + sum(b.latencies_ns)) / NS < 0.2 / per_turn


def test_turn_calls_time_several_warm_calls_in_a_row() -> None:
    clock = FakeClock(constant(0))
    calls = ColdAfterSwitch(clock, [1_000_000, 3_000_000])
    policy = Policy(warmup_iterations=2, warmup_time=0, min_time=0.1, min_iterations=10, ci_target=0.01, max_time=1.0,
                    switch_warmup=1, turn_calls=3)
    a, b = measure.measure_interleaved([calls.make(0), calls.make(1)], policy, clock=clock)
    assert set(a.latencies_ns) == {1_000_000} and set(b.latencies_ns) == {3_000_000}
    assert len(a.latencies_ns) == len(b.latencies_ns) and len(a.latencies_ns) % 3 == 0  # whole turns
    timed = calls.log[2 + 2 * 2:]
    assert timed[:16] == [0] * 4 + [1] * 4 + [1] * 4 + [0] * 4  # A B / B A by round, each turn 1 untimed + 3 timed


@pytest.mark.parametrize(("kwargs", "key"), [({"switch_warmup": -1}, "switch_warmup"), ({"turn_calls": 0}, "turn_calls")])
def test_turn_settings_are_checked(kwargs: dict[str, int], key: str) -> None:
    with pytest.raises(PolicyValueError) as info:
        Policy(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


def test_three_calls_are_shuffled_per_round_with_a_seed() -> None:
    orders = [measure.round_order(3, i, __import__("random").Random(7)) for i in range(1)]
    rng_a, rng_b = __import__("random").Random(7), __import__("random").Random(7)
    assert [measure.round_order(3, i, rng_a) for i in range(20)] == [measure.round_order(3, i, rng_b) for i in range(20)]
    assert sorted(orders[0]) == [0, 1, 2]
    seen = {tuple(measure.round_order(3, i, rng_a)) for i in range(50)}
    assert len(seen) > 3  # not one fixed order


def test_adaptive_stop_rules() -> None:
    """The adaptive run's stopping rule against fake widths and a fake elapsed time."""
    from bench.runner.session import adaptive_stop
    from bench.scenario import RunOptions
    from reports.adaptive import RatioWidth

    opts = RunOptions(repetitions=5, adaptive=True, target=0.03, max_processes=12, time_budget=100.0)
    tight, wide = RatioWidth("a", 5, 0.02), RatioWidth("b", 5, 0.05)
    assert adaptive_stop(opts, 4, [RatioWidth("a", 4, 0.01)], 10.0) is None  # below the minimum of processes
    assert adaptive_stop(opts, 5, [tight], 10.0) == "target"
    assert adaptive_stop(opts, 5, [tight, wide], 10.0) is None  # one ratio still too wide
    assert adaptive_stop(opts, 6, [tight, wide], 100.0) == "time_budget"
    assert adaptive_stop(opts, 5, [], 1.0) == "no ratios to measure: the minimum of processes"
    assert adaptive_stop(RunOptions(repetitions=5, adaptive=True), 7, [wide], 1e9) is None  # no budget: only max_processes
