"""The threaded engine on a stand-in of known cost (a call that sleeps: releases the GIL like a model call), and
the capacity search on a simulated server of known cost.

Assertions hold on any machine: no timing bound tighter than what sleeping guarantees (a sleep never ends
early). The capacity search runs on `batcher.simulate` (a 1-thread server whose calls take exactly 4 ms, fed the
engine's own Poisson schedule and judged by the engine's own load block): on real threads its steps would also
judge this machine's scheduler (a generator descheduled on a busy machine is flagged, and the step fails)."""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter

import numpy as np

from bench.load_settings import Batching, LoadSettings
from bench.worker.load.batcher import simulate
from bench.worker.load.cell import load_block
from bench.worker.load.engine import RunResult, latencies, run_point
from bench.worker.load.schedule import server_schedule
from bench.worker.load.search import Step, find_capacity
from bench.worker.load.task import passes

SERVICE_S = 0.004


class Sleeper:
    """runner_for(thread, size): each call sleeps SERVICE_S; counts calls per batch size and threads at once."""

    def __init__(self) -> None:
        self.sizes: Counter[int] = Counter()
        self.busy = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, thread: int, size: int) -> object:
        def run() -> None:
            with self.lock:
                self.sizes[size] += 1
                self.busy += 1
                self.most = max(self.most, self.busy)
            time.sleep(SERVICE_S)
            with self.lock:
                self.busy -= 1
        return run


def quick(**kw: object) -> LoadSettings:
    base = {"min_duration": 0.4, "min_queries": 40, "max_duration": 5.0, "slo_ms": 200.0}
    return LoadSettings(**{**base, **kw}).check()  # type: ignore[arg-type]


def test_server_latency_runs_from_the_scheduled_arrival() -> None:
    s = quick(scenario="server", qps=50.0)
    result = run_point(Sleeper(), s)
    arrival, latency, delay = latencies(result)
    assert len(latency) >= 40 and (latency >= SERVICE_S * 1e9).all()  # never less than the service time
    assert (delay >= 0).all() and (np.diff(arrival) >= 0).all()
    block = load_block(s, result)
    assert block["queries_completed"] == len(latency) and block["achieved_qps"] > 0
    assert block["queries_unfinished"] == 0 and not any("unfinished" in r for r in block["reasons"])  # 50 QPS of 4 ms
    assert block["min_queries_met"] and block["late_allowed"] == -1  # 40 queries prove no p99 claim
    assert block["observed_ns"] == int(np.sort(latency)[int(np.ceil(0.99 * len(latency))) - 1])


def test_overload_fills_the_bounded_queue_and_ends_invalid() -> None:
    s = quick(scenario="server", qps=2000.0, max_queue=20, min_queries=400)
    result = run_point(Sleeper(), s)
    block = load_block(s, result)
    assert not block["valid"] and "queue was full (20 queries waiting)" in block["reasons"][0]
    assert block["max_waiting"] <= 20 and block["queries_issued"] < 400


def test_concurrency_keeps_n_queries_outstanding_and_threads_overlap() -> None:
    sleeper = Sleeper()
    s = quick(scenario="concurrency", concurrency=3, executor_threads=3)
    block = load_block(s, run_point(sleeper, s))
    assert sleeper.most == 3  # three executor threads were in the model at once
    assert block["queries_completed"] >= 40 and block["duration_s"] >= 0.4


def test_single_stream_and_offline() -> None:
    sleeper = Sleeper()
    single = load_block(quick(scenario="single_stream"), run_point(sleeper, quick(scenario="single_stream")))
    assert sleeper.most == 1 and single["achieved_qps"] <= 1 / SERVICE_S
    s = quick(scenario="offline", executor_threads=2, min_queries=50)
    offline = load_block(s, run_point(Sleeper(), s))
    assert offline["queries_completed"] >= 50 and offline["achieved_qps"] <= 2 / SERVICE_S * 1.05
    few = quick(scenario="offline", min_queries=60, batching=Batching(2, 0, 1, 3, ()))  # at most 3 batches waiting
    batched = load_block(few, run_point(Sleeper(), few))
    assert batched["queries_completed"] >= 60 and batched["queries_rejected"] == 0 and batched["max_waiting"] <= 3


def test_batching_runs_padded_batches_and_accounts_every_query() -> None:
    sleeper = Sleeper()
    s = quick(scenario="server", qps=600.0, batching=Batching(8, 2000, 1, 100, (2, 4, 8)))
    result = run_point(sleeper, s)
    _, latency, _ = latencies(result)
    assert set(sleeper.sizes) <= {2, 4, 8} and (latency >= SERVICE_S * 1e9).all()
    assert len(latency) == len(result.queries)  # every issued query completed, each with its own latency
    # 600 QPS of 4 ms calls is 2.4x what one unbatched thread serves: batching must have merged queries
    assert sum(sleeper.sizes.values()) < len(result.queries)


ONE_THREAD = Batching(max_batch_size=1, batch_timeout_micros=0, num_batch_threads=1, max_enqueued_batches=10**9)


def simulated_step(qps: float) -> Step:
    """One capacity step on a 1-thread FIFO server whose calls take SERVICE_S, on the engine's schedule for `qps`."""
    s = quick(scenario="server", qps=qps, min_duration=2.0, min_queries=200, slo_ms=30.0)
    arrivals = [int(t) for t in server_schedule(qps, s.min_queries, s.min_duration, s.seed)]
    queries = simulate(arrivals, ONE_THREAD, lambda size: int(SERVICE_S * 1e9))
    block = load_block(s, RunResult(queries, 0, max(q.done_ns for q in queries)))
    return Step(qps, passes(block, "observed"), {"observed_ns": block["observed_ns"]})


def test_capacity_search_on_a_server_of_known_capacity() -> None:
    result = find_capacity(simulated_step, 40.0, precision=0.05, max_steps=12)
    # 4 ms calls serve 250 QPS at most (utilisation 1: the queue grows without bound, the windows' latencies climb,
    # the step is unstable); at 160 QPS (utilisation 0.64) the p99 stays well within 30 ms
    assert result.capacity is not None and 160 <= result.capacity < 1 / SERVICE_S
    assert result.failed_at is not None and result.gap is not None and 0 < result.gap <= 0.05
    assert all(not step.passed for step in result.steps if step.qps >= 1 / SERVICE_S)
    assert find_capacity(simulated_step, 40.0, precision=0.05, max_steps=12) == result  # the same schedule, the same answer


def test_garbage_collection_is_paused_during_a_run_and_restored_after() -> None:
    # a full collection with TensorFlow loaded held the GIL ~200 ms and landed in the p99 (engine's docstring)
    seen: list[bool] = []

    def runner_for(thread: int, size: int) -> object:
        return lambda: seen.append(gc.isenabled())

    s = LoadSettings(scenario="server", qps=2000.0, min_queries=20, min_duration=0.01, seed=0).check()
    assert gc.isenabled()
    run_point(runner_for, s)  # type: ignore[arg-type]
    assert seen and not any(seen) and gc.isenabled() and gc.get_freeze_count() == 0
