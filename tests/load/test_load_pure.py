"""The pure parts of serving load, against hand-worked numbers: Poisson schedule, TF Serving-style
batching (fake clock), validity and LoadGen's early-stopping rule, stability windows, the capacity search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.load_settings import Batching, LoadSettings, LoadValueError, canonical_point, parse_point
from bench.runner.capacity import enforce_threads
from bench.runner.tune import Candidate, Row, Tuner, serving_text, survivors
from bench.worker.load import validity
from bench.worker.load.batcher import BatchQueue, Query, simulate
from bench.worker.load.engine import issue_schedule
from bench.worker.load.schedule import NS, poisson_offsets_ns, realised_rate, server_schedule
from bench.worker.load.search import Step, find_capacity
from infer_core.model import CALLER_THREAD, ModelSpec

US = 1000


# ---------------------------------------------------------------- schedule


def test_poisson_schedule_is_seeded_and_within_its_bound() -> None:
    a, b = poisson_offsets_ns(100.0, 10_000, seed=3), poisson_offsets_ns(100.0, 10_000, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, poisson_offsets_ns(100.0, 10_000, seed=4))
    assert np.all(np.diff(a) >= 0)
    # realised rate vs target: the 1/sqrt(N) Poisson bound, 3 sigma = 3% at N = 10,000
    assert abs(realised_rate(a) / 100.0 - 1) < 3 / math.sqrt(10_000)


def test_server_schedule_reaches_both_duration_and_count() -> None:
    few = server_schedule(1000.0, min_queries=10, min_duration=2.0, seed=0)
    assert few[-1] >= 2 * NS and len(few) >= 10 and few[-2] < 2 * NS  # stops at the first arrival past 2 s
    many = server_schedule(10.0, min_queries=500, min_duration=1.0, seed=0)
    assert len(many) == 500


# ---------------------------------------------------------------- batching with a fake clock


def params(**kw: int | tuple[int, ...]) -> Batching:
    base = {"max_batch_size": 2, "batch_timeout_micros": 1000, "num_batch_threads": 1, "max_enqueued_batches": 100}
    return Batching(**{**base, **kw})  # type: ignore[arg-type]


def test_batch_queue_closes_when_full_and_opens_on_timeout() -> None:
    q = BatchQueue(params(max_batch_size=3))
    assert q.add(Query(0, 1, 0), now=0) and q.deadline() == 1000 * US
    assert q.take(now=999 * US) is None  # not full, timeout not reached
    assert q.add(Query(1, 2, 10), now=10)  # 3 samples: full, closed at once
    batch = q.take(now=11)
    assert batch is not None and [x.index for x in batch.queries] == [0, 1] and batch.closed_ns == 10
    assert q.add(Query(2, 1, 20), now=20) and q.take(now=1000 * US + 19) is None
    late = q.take(now=1000 * US + 20)
    assert late is not None and [x.index for x in late.queries] == [2]


def test_batch_queue_rejects_past_max_enqueued_batches() -> None:
    q = BatchQueue(params(max_batch_size=1, max_enqueued_batches=2))
    assert q.add(Query(0, 1, 0), 0) and q.add(Query(1, 1, 0), 0)
    assert not q.add(Query(2, 1, 0), 0) and q.rejected == 1
    with pytest.raises(ValueError, match="exceeds max_batch_size"):
        q.add(Query(3, 2, 0), 0)


def test_simulated_latencies_run_from_each_querys_own_arrival() -> None:
    # max batch 2, timeout 1000 us, one thread, any batch takes 1000 us. Hand-worked:
    # q0 @0 opens a batch; q1 @100 fills it -> runs 100..1100: latencies 1100, 1000.
    # q2 @200 opens a batch; its timeout ends @1200 (thread free @1100) -> runs 1200..2200: latency 2000.
    # q3 @5000 alone -> waits its timeout -> 6000..7000: latency 2000.
    done = simulate([0, 100 * US, 200 * US, 5000 * US], params(), lambda b: 1000 * US)
    assert [(q.done_ns - q.arrival_ns) // US for q in done] == [1100, 1000, 2000, 2000]
    # timeout 0: q0 runs alone at once (0..1000); q1 @100 waits for the busy thread and q2 @200 joins its
    # batch, which runs 1000..2000: latencies 1900 and 1800; q3 runs at once: 1000
    done = simulate([0, 100 * US, 200 * US, 5000 * US], params(batch_timeout_micros=0), lambda b: 1000 * US)
    assert [(q.done_ns - q.arrival_ns) // US for q in done] == [1000, 1900, 1800, 1000]


def test_padding_to_allowed_sizes_and_rejection_in_the_simulator() -> None:
    b = params(max_batch_size=8, allowed_batch_sizes=(4, 8), batch_timeout_micros=0)
    assert [b.padded(n) for n in (1, 3, 4, 5, 8)] == [4, 4, 4, 8, 8]
    sizes: list[int] = []
    simulate([0, 0, 0], b, lambda n: sizes.append(n) or 100 * US)  # type: ignore[func-returns-value]
    assert sizes == [4]  # three queries, one batch, padded to 4
    done = simulate([0, 0], params(max_batch_size=1, max_enqueued_batches=1), lambda n: 100 * US)
    assert [q.done_ns for q in done] == [100 * US, -1]  # the second arrived while one batch waited


def test_batching_parameters_text() -> None:
    text = Batching(8, 1000, 2, 50, (2, 4, 8)).to_text()
    assert "max_batch_size { value: 8 }" in text and "batch_timeout_micros { value: 1000 }" in text
    assert "num_batch_threads { value: 2 }" in text and "allowed_batch_sizes: 4" in text
    assert Batching(8, 1000, 1, 100, (2, 4)).problems()  # must end at max_batch_size (TF Serving)


# ---------------------------------------------------------------- the generator with a fake clock


class FakeClock:
    def __init__(self, lag_ns: int = 0) -> None:
        self.now, self.lag = 0, lag_ns

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += int(round(seconds * NS)) + self.lag  # the OS wakes us `lag` late


def test_generator_issues_on_schedule_and_records_its_delay() -> None:
    clock = FakeClock(lag_ns=50 * US)
    queries = [Query(i, 1, t) for i, t in enumerate((1000 * US, 2000 * US, 2010 * US))]
    issued = issue_schedule(queries, lambda q: True, clock, clock.sleep)
    assert issued == 3
    # 1st and 2nd wake 50 us late; the 3rd was already due when the 2nd went out: 40 us late, no sleep
    assert [q.issued_ns - q.arrival_ns for q in queries] == [50 * US, 50 * US, 40 * US]


def test_generator_stops_when_the_queue_refuses() -> None:
    clock = FakeClock()
    queries = [Query(i, 1, i * US) for i in range(5)]
    assert issue_schedule(queries, lambda q: q.index < 2, clock, clock.sleep) == 2
    assert queries[2].issued_ns == -1


# ---------------------------------------------------------------- validity and early stopping


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 11))
    assert validity.nearest_rank(values, 50) == 5 and validity.nearest_rank(values, 90) == 9
    assert validity.nearest_rank(values, 99) == 10 and validity.nearest_rank([], 99) is None


def test_early_stopping_counts_match_the_binomial_by_hand() -> None:
    # P(X=0) for X~Binom(n, 0.01) is 0.99**n: <= 0.01 first at n = 459 (0.99**458 = 0.01002)
    assert validity.late_allowed(458, 99, 0.99) == -1 and validity.late_allowed(459, 99, 0.99) == 0
    # n = 1000: P(X<=2) = 0.00268, P(X<=3) = 0.01007 > 0.01 -> at most 2 late queries (LoadGen: "about 2")
    assert validity.late_allowed(1000, 99, 0.99) == 2
    assert validity.late_allowed(10_000, 99, 0.99) == 77
    # the bound is the (n - h)-th smallest latency: 1..1000 ms -> the 998th
    assert validity.bound_ns(np.arange(1, 1001), 99, 0.99) == 998
    assert validity.bound_ns(np.arange(1, 101), 99, 0.99) is None  # too few queries to claim anything


def test_judge_shows_both_rules_and_why_a_run_is_invalid() -> None:
    s = LoadSettings(scenario="server", qps=100, min_duration=10, min_queries=1000, slo_ms=9.95)
    lat = np.arange(1, 1001, dtype=np.int64) * 10_000  # 0.01 .. 10 ms; observed p99 = 9.90 ms, bound = 9.98 ms
    v = validity.judge(lat, np.zeros(1000, dtype=np.int64), 10.0, s)
    assert v["valid"] and v["observed_ns"] == 9_900_000 and v["bound_ns"] == 9_980_000
    assert v["slo_met_observed"] is True and v["slo_met_bound"] is False  # the claim fails at 99% confidence
    assert v["late"] == 5 and v["late_allowed"] == 2
    short = validity.judge(lat[:999], np.zeros(999, dtype=np.int64), 5.0, s)
    assert not short["valid"] and any("min_duration" in r for r in short["reasons"])
    assert any("999 queries" in r for r in short["reasons"])


def test_generator_lag_is_flagged() -> None:
    delay = np.full(100, 3_000_000)  # 3 ms late at the median, latency median 4 ms
    assert "median issue delay" in (validity.lagging(delay, 4_000_000, 100.0, 100.0) or "")
    assert validity.lagging(np.full(100, 100_000), 4_000_000, 100.0, 100.0) is None
    assert "issued 90/s" in (validity.lagging(np.zeros(10), 1, 90.0, 100.0) or "")


def test_stability_on_the_last_three_windows() -> None:
    w = validity.Window
    steady = [w(100, 100, 5.0), w(100, 100, 1.0), w(100, 100, 1.0), w(100, 99, 1.05), w(100, 100, 0.97)]
    assert validity.stable(steady, 0.10, None)
    rising = steady[:2] + [w(100, 100, 1.0), w(100, 100, 1.3), w(100, 100, 1.8)]
    assert not validity.stable(rising, 0.10, None)
    assert validity.stable(rising, 0.10, slo_ns=10.0)  # all far under the SLO: noise does not matter
    behind = steady[:2] + [w(100, 100, 1.0), w(100, 80, 1.0), w(100, 100, 1.0)]
    assert not validity.stable(behind, 0.10, slo_ns=10.0)  # completions fell behind arrivals


# ---------------------------------------------------------------- capacity search (known capacity)


def fake_system(capacity: float) -> tuple[list[float], object]:
    tried: list[float] = []

    def measure(qps: float) -> Step:
        tried.append(qps)
        return Step(qps, qps <= capacity)

    return tried, measure


def test_search_doubles_then_bisects_to_the_known_capacity() -> None:
    tried, measure = fake_system(137.0)
    result = find_capacity(measure, 10.0, precision=0.02)  # type: ignore[arg-type]
    assert tried[:5] == [10, 20, 40, 80, 160]  # doubling until the first failure
    assert result.capacity is not None and result.failed_at is not None
    assert 137 * 0.98 <= result.capacity <= 137 < result.failed_at and result.gap is not None and result.gap <= 0.02


def test_search_halves_down_and_reports_none_when_nothing_passes() -> None:
    tried, measure = fake_system(30.0)
    assert find_capacity(measure, 100.0, precision=0.05).capacity == pytest.approx(30.0, rel=0.05)  # type: ignore[arg-type]
    assert tried[:3] == [100, 50, 25]
    tried, never = fake_system(0.0)
    result = find_capacity(never, 100.0, floor=10.0)  # type: ignore[arg-type]
    assert result.capacity is None and tried == [100, 50, 25, 12.5]


def test_halving_stops_when_a_lower_rate_no_longer_lowers_the_latency() -> None:
    p99 = {100.0: 50.0, 50.0: 20.0, 25.0: 19.0, 12.5: 19.0}  # ms: the floor of this model's latency is 19 ms
    tried: list[float] = []

    def measure(qps: float) -> Step:
        tried.append(qps)
        return Step(qps, False, {"observed_ns": p99[qps] * 1e6})

    assert find_capacity(measure, 100.0, floor=1.0).capacity is None
    assert tried == [100, 50, 25]  # 25 QPS was no better than 50: no point in 12.5


# ---------------------------------------------------------------- the capacity's range over processes


def test_the_capacity_comes_with_the_range_of_the_processes_estimates() -> None:
    from bench.cli.capacity import verdict
    from bench.runner.capacity import Outcome, Request

    r = Request("m", ModelSpec("m.pb", variant="frozen"), LoadSettings(slo_ms=5.0))
    out = Outcome(r, 400.0, [400.0, None, 380.0])  # the second fresh process found no rate within the SLO
    assert out.found == [400.0, 380.0] and out.estimate_range == (380.0, 400.0)
    record = out.record()
    assert record["range"] == [380.0, 400.0] and record["estimates"] == [400.0, None, 380.0] and "interval" not in record
    assert verdict(out) == ("m frozen: capacity 400 QPS at p99 <= 5 ms; range 380–400 QPS over the 2 of 3 processes "
                            "that found a rate within the SLO")
    assert verdict(Outcome(r, 400.0, [400.0, 420.0])).endswith("; range 400–420 QPS over 2 processes")
    assert verdict(Outcome(r, 400.0, [400.0])).endswith("; from one process (no range)")
    assert Outcome(r, None, [None]).record()["range"] is None


# ---------------------------------------------------------------- tune's successive halving (fake trials)


def _row(name: str, score: float, span: tuple[float, float] | None) -> Row:
    return Row(Candidate(name, 0, 1), score, 1, span)


def test_survivors_keep_the_better_half_and_whoever_is_within_the_noise_of_the_best() -> None:
    rows = [_row("c", 80, (75, 96)), _row("a", 100, (95, 115)), _row("d", 50, (45, 57)), _row("b", 90, (85, 104)),
            _row("e", 0, None)]
    kept, dropped = survivors(rows)
    # half of 5 is 2 (a, b); c's top 96 reaches a's bottom 95: a 20% gap, but within the round's noise
    assert [r.candidate.variant for r in kept] == ["a", "b", "c"]
    assert [r.candidate.variant for r in dropped] == ["d", "e"]


class FakeTuner(Tuner):
    """Trials from a table: score and range per (candidate, round scale); no worker processes."""

    def __init__(self, table: dict[str, dict[float, tuple[float, float]]]) -> None:
        super().__init__("m", {}, LoadSettings(slo_ms=5.0), lambda _: None)
        self.table = table
        self.calls: list[tuple[str, float, int]] = []

    def trial(self, c: Candidate, scale: float, confirm: int) -> tuple[float, list[float | None], tuple[float, float] | None]:
        self.calls.append((c.variant, scale, confirm))
        lo, hi = self.table[c.variant][scale]
        return (lo + hi) / 2 / 1.075, [lo, hi / 1.15], (lo, hi)

    def baseline(self, first: Candidate) -> tuple[float | None, float | None]:
        return 50.0, 4.0


def test_tune_keeps_a_candidate_whose_short_round_was_within_the_noise() -> None:
    # "batch" is the best at length, but its quarter-length round came out below two others, inside their noise;
    # "slow" is clearly worse (its range ends below the best's) and is dropped in round one.
    table: dict[str, dict[float, tuple[float, float]]] = {"batch": {0.25: (60, 140), 0.5: (240, 300), 1.0: (300, 320)},
             "fast": {0.25: (100, 120), 0.5: (150, 170), 1.0: (160, 170)},
             "mid": {0.25: (95, 115), 0.5: (140, 160), 1.0: (150, 160)},
             "slow": {0.25: (40, 60)}}
    tuner = FakeTuner(table)
    result = tuner.run([Candidate(v, 0, 1) for v in table])
    assert result.winner is not None and result.winner.candidate.variant == "batch"
    assert [r.candidate.variant for r in result.rows] == ["batch", "fast", "mid", "slow"]
    assert ("slow", 0.5, 1) not in tuner.calls and ("batch", 0.5, 1) in tuner.calls  # rounds measure their noise
    assert ("mid", 1.0, 2) not in tuner.calls  # round two told mid from batch apart: only two in the final


def test_tune_ends_when_nobody_can_be_dropped_at_full_length() -> None:
    same = {0.25: (90.0, 110.0), 0.5: (90.0, 110.0), 1.0: (90.0, 110.0)}
    tuner = FakeTuner({v: same for v in "abc"})
    result = tuner.run([Candidate(v, 0, 1) for v in "abc"])
    assert len(result.rows) == 3 and all(r.rounds == 4 for r in result.rows)  # 3 rounds, then all three in the final
    assert sorted(c for c in tuner.calls if c[1] == 1.0 and c[2] == 2) == [("a", 1.0, 2), ("b", 1.0, 2), ("c", 1.0, 2)]


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("text, message", [
    ("server:0", "must be > 0"), ("server:-5", "must be > 0"), ("server", "needs a value"),
    ("concurrency:0", ">= 1"), ("concurrency:1.5", "whole number"), ("burst:3", "unknown load point"),
    ("offline:3", "takes no value"), ("server:abc", "not a number"),
])
def test_bad_load_points(text: str, message: str) -> None:
    with pytest.raises(LoadValueError, match=message):
        parse_point(text)


def test_points_and_settings() -> None:
    assert canonical_point("server:50.0") == "server:50" and parse_point("offline") == ("offline", None)
    s = LoadSettings().with_point("concurrency:4")
    assert s.scenario == "concurrency" and s.concurrency == 4 and s.point() == "concurrency:4"
    assert LoadSettings(scenario="server", qps=5, executor_threads=2).point() == "server:5@t2"
    assert LoadSettings(scenario="server", qps=None).problems()[0][0] == "qps"
    assert {k for k, _ in LoadSettings(scenario="server", qps=1, slo_ms=0, percentile=100).problems()} == {"slo_ms", "percentile"}
    assert LoadSettings.from_json(LoadSettings(batching=Batching(4)).to_json()).batching == Batching(4)


def test_executor_threads_raise_the_pool_but_leave_a_session_in_its_callers_thread() -> None:
    two = LoadSettings(executor_threads=2)
    assert enforce_threads(ModelSpec("m.pb", variant="frozen"), two).inter_op_threads == 2
    assert enforce_threads(ModelSpec("m.pb", variant="frozen", inter_op_threads=CALLER_THREAD), two).inter_op_threads == -1
    assert "--tensorflow_inter_op_parallelism=2" in serving_text(Candidate("frozen", 1, 2), ModelSpec("m.pb"))
    caller = serving_text(Candidate("frozen", 1, 2), ModelSpec("m.pb", inter_op_threads=CALLER_THREAD))
    assert "--tensorflow_inter_op_parallelism=-1" in caller
