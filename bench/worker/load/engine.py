"""Run one load point with real threads: a generator (or closed-loop clients) and an executor pool.

Pools: `DirectPool` (a bounded FIFO queue and `executor_threads` threads, each calling the model on
one query) and `BatchPool` (TF Serving-style batching: `batcher.BatchQueue` and `num_batch_threads`
threads, each running a padded batch). A query's latency is completion minus its *scheduled* arrival
(server) or its issue (closed loop); the issue delay (actual minus scheduled issue) is kept apart.
The generator never waits for completions (open loop, no coordinated omission); when the bounded queue is
full the run stops, drops what is waiting, and says why, so memory stays bounded.

`runner_for(thread, batch_size)` gives the zero-argument callable that runs one batch (prepared before
the run: a LiteRT interpreter is not thread-safe, so each thread has its own). Model calls release the
GIL (Session.run, eager functions, LiteRT invoke), so threads overlap in the model.

Python's cyclic garbage collector is paused for a run (`gc_paused`): with TensorFlow loaded a process tracks
~355,000 objects, and a full collection, which the run's own allocations trigger now and then, held the GIL
for ~200 ms (measured, mnist_cnn frozen): the generator and the executors stopped alike, and every query
scheduled meanwhile had the pause in its latency (p99 164-188 ms where the model's own queue gave under 1 ms,
in 3 runs of 27: benchmarks/results/load_vs_loadgen_v2.txt; LoadGen, which never showed it, allocates little).
"""

from __future__ import annotations

import gc
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.load_settings import LoadSettings
from bench.worker.load.batcher import Batch, BatchQueue, Query
from bench.worker.load.schedule import NS, server_schedule

Clock = Callable[[], int]
Sleep = Callable[[float], None]
RunnerFor = Callable[[int, int], Callable[[], Any]]
LEAD_NS = 2_000_000  # the schedule starts this long after it is made, so query 0 is not late by construction


@dataclass
class RunResult:
    """What one load point did; `queries` in issue order (done_ns -1: not completed)."""

    queries: list[Query]
    start_ns: int
    end_ns: int
    reasons: list[str] = field(default_factory=list)
    rejected: int = 0
    max_waiting: int = 0  # the most queries (or batches) waiting at once

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS


class _Tracker:
    """Counts completions and keeps the first executor error; closed-loop clients wait on it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.done = 0
        self.error: BaseException | None = None

    def finish(self, queries: list[Query], now: int) -> None:
        with self.cond:
            for q in queries:
                q.done_ns = now
            self.done += len(queries)
            self.cond.notify_all()

    def fail(self, exc: BaseException) -> None:
        with self.cond:
            self.error = self.error or exc
            self.cond.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.done >= count or self.error is not None, timeout_s)


class DirectPool:
    """`threads` executor threads taking single queries from a bounded FIFO."""

    def __init__(self, runner_for: RunnerFor, threads: int, max_queue: int, clock: Clock, tracker: _Tracker) -> None:
        self.runner_for, self.clock, self.tracker = runner_for, clock, tracker
        self.queue: queue.Queue[Query | None] = queue.Queue(maxsize=max_queue)
        self.threads = [threading.Thread(target=self._serve, args=(i,), daemon=True) for i in range(threads)]
        self.max_waiting = 0

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def submit(self, q: Query) -> bool:
        try:
            self.queue.put_nowait(q)
        except queue.Full:
            return False
        self.max_waiting = max(self.max_waiting, self.queue.qsize())
        return True

    def _serve(self, index: int) -> None:
        while (q := self.queue.get()) is not None:
            try:
                self.runner_for(index, q.samples)()
            except BaseException as exc:  # reported by the driver; the other threads stop too
                self.tracker.fail(exc)
                return
            self.tracker.finish([q], self.clock())

    def abort(self) -> int:
        """Drop what is waiting (a run that has already failed); returns how many were dropped."""
        dropped = 0
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return dropped
            dropped += 1

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)

    @property
    def rejected(self) -> int:
        return 0


class BatchPool:
    """TF Serving-style batching: `num_batch_threads` threads run batches from a `BatchQueue`."""

    def __init__(self, runner_for: RunnerFor, s: LoadSettings, clock: Clock, tracker: _Tracker) -> None:
        assert s.batching is not None
        self.runner_for, self.clock, self.tracker, self.params = runner_for, clock, tracker, s.batching
        self.batches = BatchQueue(s.batching)
        self.cond = threading.Condition()
        self.closing = False
        self.threads = [threading.Thread(target=self._serve, args=(i,), daemon=True)
                        for i in range(s.batching.num_batch_threads)]
        self.max_waiting = 0

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def submit(self, q: Query) -> bool:
        with self.cond:
            ok = self.batches.add(q, self.clock())
            self.max_waiting = max(self.max_waiting, len(self.batches))
            self.cond.notify()
        return ok

    def _next(self) -> Batch | None:
        with self.cond:
            while True:
                batch = self.batches.take(self.clock())
                if batch is not None or (self.closing and not len(self.batches)):
                    return batch
                deadline = self.batches.deadline()
                wait = None if deadline is None else max(0.0, (deadline - self.clock()) / NS)
                self.cond.wait(wait)

    def _serve(self, index: int) -> None:
        while (batch := self._next()) is not None:
            try:
                self.runner_for(index, self.params.padded(batch.samples))()
            except BaseException as exc:
                self.tracker.fail(exc)
                return
            self.tracker.finish(batch.queries, self.clock())

    def abort(self) -> int:
        with self.cond:
            dropped = sum(len(b.queries) for b in self.batches.closed)
            dropped += len(self.batches.open.queries) if self.batches.open is not None else 0
            rejected = self.batches.rejected
            self.batches = BatchQueue(self.params)
            self.batches.rejected = rejected
            return dropped

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()

    @property
    def rejected(self) -> int:
        return self.batches.rejected


Pool = DirectPool | BatchPool


def issue_schedule(queries: list[Query], submit: Callable[[Query], bool], clock: Clock, sleep: Sleep,
                   stop: Callable[[], bool] = lambda: False) -> int:
    """Issue each query at its scheduled arrival (sleeping, never spinning); returns how many were issued.

    Stops at the first query the pool refuses (queue full) or when `stop()` says so (an executor failed)."""
    for n, q in enumerate(queries):
        now = clock()
        if q.arrival_ns > now:
            sleep((q.arrival_ns - now) / NS)
        q.issued_ns = clock()
        if stop() or not submit(q):
            q.issued_ns = -1
            return n
    return len(queries)


def _make_pool(runner_for: RunnerFor, s: LoadSettings, clock: Clock, tracker: _Tracker, max_queue: int) -> Pool:
    pool: Pool = (BatchPool(runner_for, s, clock, tracker) if s.batching is not None
                  else DirectPool(runner_for, s.executor_threads, max_queue, clock, tracker))
    pool.start()
    return pool


def run_server(runner_for: RunnerFor, s: LoadSettings, clock: Clock = time.perf_counter_ns, sleep: Sleep = time.sleep) -> RunResult:
    """Open loop: Poisson arrivals at s.qps generated ahead from s.seed."""
    assert s.qps is not None
    offsets = server_schedule(s.qps, s.min_queries, s.min_duration, s.seed)
    tracker = _Tracker()
    pool = _make_pool(runner_for, s, clock, tracker, s.max_queue)
    start = clock() + LEAD_NS
    queries = [Query(i, s.samples_per_query, start + int(t)) for i, t in enumerate(offsets)]
    issued = issue_schedule(queries, pool.submit, clock, sleep, lambda: tracker.error is not None)
    reasons = _overflow_reason(s, pool, issued, len(queries), tracker)
    dropped = pool.abort() if reasons else 0
    pool.close()
    tracker.wait_for(issued - dropped, s.max_duration)
    return _finish(queries[:issued], start, clock(), tracker, pool, reasons)


def _overflow_reason(s: LoadSettings, pool: Pool, issued: int, total: int, tracker: _Tracker) -> list[str]:
    if issued == total or tracker.error is not None:
        return []
    what = (f"the batch queue was full ({s.batching.max_enqueued_batches} batches)" if s.batching is not None
            else f"the queue was full ({s.max_queue} queries waiting)")
    return [f"{what} at query {issued + 1} of {total}: the model cannot serve {s.qps:g} QPS; the run stopped there"]


def _finish(queries: list[Query], start: int, end: int, tracker: _Tracker, pool: Pool, reasons: list[str]) -> RunResult:
    if tracker.error is not None:
        raise tracker.error
    return RunResult(queries, start, end, reasons, pool.rejected, pool.max_waiting)


def _wait_done(tracker: _Tracker, q: Query) -> None:
    with tracker.cond:
        tracker.cond.wait_for(lambda: q.done_ns >= 0 or tracker.error is not None)


def run_closed(runner_for: RunnerFor, s: LoadSettings, clients: int, clock: Clock = time.perf_counter_ns) -> RunResult:
    """Closed loop: `clients` callers, each issuing its next query when the last completes."""
    tracker = _Tracker()
    pool = _make_pool(runner_for, s, clock, tracker, max(clients, 1))
    queries: list[Query] = []
    lock = threading.Lock()
    start = clock()

    def enough(now: int) -> bool:
        elapsed = (now - start) / NS
        return elapsed >= s.max_duration or (elapsed >= s.min_duration and tracker.done >= s.min_queries)

    def client() -> None:
        while tracker.error is None and not enough(clock()):
            with lock:
                q = Query(len(queries), s.samples_per_query, clock())
                queries.append(q)
            q.issued_ns = q.arrival_ns
            pool.submit(q)
            _wait_done(tracker, q)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = clock()
    pool.close()
    return _finish(queries, start, end, tracker, pool, [])


def run_offline(runner_for: RunnerFor, s: LoadSettings, count: int, clock: Clock = time.perf_counter_ns) -> RunResult:
    """Every query available at once; the executors (or the batcher) drain them."""
    tracker = _Tracker()
    pool = _make_pool(runner_for, s, clock, tracker, count + 1)
    start = clock()
    queries = [Query(i, s.samples_per_query, start, issued_ns=start) for i in range(count)]
    for q in queries:  # all are available at once; a full batch queue only makes the issuer wait its turn
        while not pool.submit(q) and tracker.error is None:
            tracker.wait_for(tracker.done + 1, 0.01)
    tracker.wait_for(count, s.max_duration)
    end = clock()
    pool.close()
    result = _finish(queries, start, end, tracker, pool, [])
    result.rejected = 0  # retried, not lost
    return result


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: what exists is frozen (a collection forced meanwhile stays cheap)
    and automatic collection is off; both are restored after. Reference counting still frees acyclic objects,
    and what a run allocates is bounded by its queries."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def run_point(runner_for: RunnerFor, s: LoadSettings, clock: Clock = time.perf_counter_ns) -> RunResult:
    """Run the load point `s` (settings already checked), with the garbage collector paused (module docstring)."""
    with gc_paused():
        return _run_point(runner_for, s, clock)


def _run_point(runner_for: RunnerFor, s: LoadSettings, clock: Clock) -> RunResult:
    if s.scenario == "server":
        return run_server(runner_for, s, clock)
    if s.scenario in ("concurrency", "single_stream"):
        return run_closed(runner_for, s, s.concurrency if s.scenario == "concurrency" else 1, clock)
    result = run_offline(runner_for, s, min(s.min_queries, 200), clock)  # a probe of the rate, then the run
    for _ in range(3):  # the probe may have caught a fast moment: scale up until min_duration is reached
        if result.duration_s >= s.min_duration and len(result.queries) >= s.min_queries:
            break
        rate = len(result.queries) / max(result.duration_s, 1e-9)
        result = run_offline(runner_for, s, max(s.min_queries, math.ceil(rate * s.min_duration * 1.2)), clock)
    return result


def latencies(result: RunResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scheduled arrival offsets, latencies (-1: not completed), issue delays) in ns, per issued query."""
    arrival = np.array([q.arrival_ns - result.start_ns for q in result.queries], dtype=np.int64)
    latency = np.array([q.done_ns - q.arrival_ns if q.done_ns >= 0 else -1 for q in result.queries], dtype=np.int64)
    delay = np.array([q.issued_ns - q.arrival_ns for q in result.queries if q.issued_ns >= 0], dtype=np.int64)
    return arrival, latency, delay
