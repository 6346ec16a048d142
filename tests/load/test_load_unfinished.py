"""Every issued query counts, no model call outlives its point, and a closed loop ends on time when the batcher rejects.

On a fake clock that only the stand-in model's calls advance (4 ms a call, no real sleep), the bounds are exact
arithmetic: a server point left with a backlog is invalid with the reason, its p99 is over max_duration, no call
starts after the cut-off, and a concurrency point whose queries the batcher rejects ends within max_duration, one
batch timeout and one model call. With real threads and a sleeping stand-in: point k's calls all end before point
k+1's begin, and the rejecting concurrency point returns (it used to wait for a rejected query forever)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from bench.load_settings import Batching, LoadSettings
from bench.worker.load.cell import load_block
from bench.worker.load.engine import LEAD_NS, RunResult, run_point
from bench.worker.load.schedule import NS, server_schedule
from bench.worker.load.task import passes

SERVICE_NS = 4_000_000


class FakeClock:
    """A clock that moves only when told: by the generator's sleeps and by the stand-in model's calls."""

    def __init__(self) -> None:
        self.now = 0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        return self.now

    def advance_to(self, t: int) -> None:
        with self.lock:
            self.now = max(self.now, t)

    def advance(self, ns: int) -> int:
        with self.lock:
            self.now += ns
            return self.now

    def sleep(self, seconds: float) -> None:
        self.advance(int(seconds * NS))


class VirtualModel:
    """runner_for(thread, size) whose calls take SERVICE_NS on the fake clock; keeps (start, end) of each call.
    `gate_ns`: calls wait (really) until the clock reaches it, so the backlog builds while the generator issues."""

    def __init__(self, clock: FakeClock, gate_ns: int = 0, real_s: float = 0.0) -> None:
        self.clock, self.gate_ns, self.real_s = clock, gate_ns, real_s
        self.calls: list[tuple[int, int]] = []

    def __call__(self, thread: int, size: int) -> Callable[[], None]:
        def run() -> None:
            deadline = time.monotonic() + 30
            while self.clock() < self.gate_ns and time.monotonic() < deadline:
                time.sleep(0.001)
            started = self.clock()
            if self.real_s:
                time.sleep(self.real_s)  # gives other threads a turn, as a real model call does
            self.calls.append((started, self.clock.advance(SERVICE_NS)))
        return run


def settings(**kw: object) -> LoadSettings:
    base = {"min_duration": 1.0, "min_queries": 100, "max_duration": 0.2, "slo_ms": 50.0}
    return LoadSettings(**{**base, **kw}).check()  # type: ignore[arg-type]


def run_with_fake_clock(s: LoadSettings, model: VirtualModel, clock: FakeClock) -> RunResult:
    from bench.worker.load import engine

    if s.scenario == "server":
        return engine.run_server(model, s, clock, clock.sleep)
    return engine.run_closed(model, s, s.concurrency, clock)


def test_a_server_point_that_leaves_queries_unfinished_is_invalid_and_its_p99_is_over_max_duration() -> None:
    clock = FakeClock()
    s = settings(scenario="server", qps=1000.0)  # 4 ms calls serve 250 QPS: ~1,000 queries, a backlog of ~750
    last_arrival = LEAD_NS + int(server_schedule(1000.0, s.min_queries, s.min_duration, s.seed)[-1])
    model = VirtualModel(clock, gate_ns=last_arrival)  # the backlog builds while the schedule is issued
    result = run_with_fake_clock(s, model, clock)
    block = load_block(s, result)
    lost = block["queries_unfinished"]
    assert lost == block["queries_issued"] - block["queries_completed"] > 0.01 * block["queries_issued"]
    assert not block["valid"] and block["reasons"][0] == (
        f"{lost} of {block['queries_issued']} queries unfinished 0.2 s (max_duration) after the schedule ended: "
        "the model cannot serve 1000 QPS")
    assert block["queries_completed"] >= 0.2 * NS // SERVICE_NS  # every call that fits in max_duration ran
    assert block["latency_ns"]["p99"] is None and block["latency_ns"]["max"] is None  # +inf: over 1% unfinished
    assert block["observed_ns"] is None and block["slo_met_observed"] is False and block["late"] >= lost
    assert block["unfinished_over_ns"] >= 0.2 * NS  # each unfinished query waited at least max_duration
    assert not passes(block, "observed")  # capacity search: a failed step
    cutoff = result.cutoff_ns
    assert cutoff is not None and all(start < cutoff for start, _ in model.calls)  # nothing starts past the cut-off
    assert result.end_ns <= cutoff + SERVICE_NS  # ... and the point ends one call after it at most


def test_concurrency_whose_queries_the_batcher_rejects_ends_on_time() -> None:
    clock, timeout_us = FakeClock(), 0  # a batch timeout waits on the real clock: the real-thread test below has one
    s = settings(scenario="concurrency", concurrency=8, min_queries=10**6, max_duration=0.1,
                 batching=Batching(max_batch_size=1, batch_timeout_micros=timeout_us, num_batch_threads=1,
                                   max_enqueued_batches=1))
    model = VirtualModel(clock, real_s=0.001)
    result = run_with_fake_clock(s, model, clock)
    block = load_block(s, result)
    assert block["queries_rejected"] >= 1 and not block["valid"]
    assert any(r.startswith(f"the batch queue rejected {block['queries_rejected']} queries") for r in block["reasons"])
    # max_duration, one batch timeout, one model call: the bound the point keeps, exactly, on this clock
    assert result.end_ns - result.start_ns <= 0.1 * NS + timeout_us * 1000 + SERVICE_NS
    assert all(start < result.start_ns + 0.1 * NS + timeout_us * 1000 for start, _ in model.calls)


def test_offline_queries_left_at_max_duration_make_the_point_invalid() -> None:
    clock = FakeClock()
    s = settings(scenario="offline", min_queries=200, max_duration=0.1)  # 200 queries of 4 ms need 0.8 s
    model = VirtualModel(clock)
    block = load_block(s, run_point(model, s, clock))
    assert block["queries_completed"] == 25 == len(model.calls)  # the calls that start within 0.1 s, one at a time
    assert block["queries_unfinished"] == 175 and not block["valid"]
    assert ("175 of 200 queries unfinished after max_duration 0.1 s: the model cannot serve 200 queries offline "
            "within it") in block["reasons"]
    assert block["latency_ns"]["p50"] is None  # most never finished: even the median is over the cut-off


# ---------------------------------------------------------------- real threads, a sleeping stand-in


class Recorder:
    """A runner_for whose calls sleep `service_s` (releasing the GIL as a model call does) and record their times."""

    def __init__(self, service_s: float) -> None:
        self.service_s = service_s
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, thread: int, size: int) -> Callable[[], None]:
        def run() -> None:
            started = time.perf_counter_ns()
            time.sleep(self.service_s)
            with self.lock:
                self.calls.append((started, time.perf_counter_ns()))
        return run


def in_thread(fn: Callable[[], RunResult], limit_s: float = 60.0) -> RunResult:
    """`fn()` in a thread, failing the test (not hanging the suite) if it has not returned within `limit_s`."""
    out: list[RunResult] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(limit_s)
    assert out, f"the load point did not return within {limit_s:g} s"
    return out[0]


@pytest.mark.parametrize("batching", [None, Batching(max_batch_size=2, batch_timeout_micros=500, num_batch_threads=1)])
def test_no_model_call_of_a_point_runs_during_the_next(batching: Batching | None) -> None:
    first, second = Recorder(0.004), Recorder(0.004)
    overloaded = settings(scenario="server", qps=1000.0, min_duration=0.3, max_duration=0.1, executor_threads=2,
                          batching=batching)  # 4 ms calls, 2 threads or 2 queries a batch: 500 QPS at most
    a = in_thread(lambda: run_point(first, overloaded))
    assert load_block(overloaded, a)["queries_unfinished"] > 0  # a backlog was left when the point ended
    b = in_thread(lambda: run_point(second, settings(scenario="server", qps=50.0, min_duration=0.3, min_queries=10)))
    assert max(end for _, end in first.calls) <= a.end_ns <= b.start_ns
    assert max(end for _, end in first.calls) <= min(start for start, _ in second.calls)


def test_concurrency_with_a_rejecting_batcher_returns_with_real_threads() -> None:
    model = Recorder(0.004)
    s = settings(scenario="concurrency", concurrency=8, min_queries=10**6, min_duration=0.3, max_duration=0.3,
                 batching=Batching(max_batch_size=2, batch_timeout_micros=2000, num_batch_threads=1, max_enqueued_batches=1))
    result = in_thread(lambda: run_point(model, s))
    block = load_block(s, result)
    assert block["queries_rejected"] >= 1 and not block["valid"]
    last_start = result.start_ns + int(0.3 * NS) + 2000 * 1000
    assert all(start < last_start for start, _ in model.calls)  # no call starts past max_duration + one timeout
    assert all(end <= result.end_ns for _, end in model.calls)  # and none outlives the point
