"""Run one load point with real threads: a generator (or closed-loop clients) and an executor pool (bench.worker.load.pools).

A query's latency is completion minus its *scheduled* arrival (server) or its issue (closed loop, offline); the issue
delay (actual minus scheduled issue) is kept apart. The generator never waits for completions (open loop, no
coordinated omission); when the bounded queue is full the run stops, drops what is waiting, and says why, so memory
stays bounded.

Every issued query counts, as in MLPerf LoadGen: a query still unfinished when the point stops waiting (a server
point waits `max_duration` after its schedule ends; a closed loop stops issuing at `max_duration` from its start and
waits one batch timeout more; offline waits `max_duration` from its start) makes the point invalid, says so in its
reasons, and enters its percentiles as +inf (`latencies`). The pool is then shut down: what still waits is dropped
and every executor thread is joined, so no model call of this point runs during the next. A query the batcher
rejects is answered as rejected (TF Serving's UNAVAILABLE): a closed-loop client whose query is rejected stops.

Model calls release the GIL (Session.run, eager functions, LiteRT invoke), so threads overlap in the model.

Python's cyclic garbage collector is paused for a run (`gc_paused`): with TensorFlow loaded a process tracks
~355,000 objects, and a full collection, which the run's own allocations trigger now and then, held the GIL
for ~200 ms (measured, mnist_cnn frozen): the generator and the executors stopped alike, and every query
scheduled meanwhile had the pause in its latency (p99 164-188 ms where the model's own queue gave under 1 ms,
in 3 runs of 27: benchmarks/results/load_vs_loadgen_v2.txt; LoadGen, which never showed it, allocates little).
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from bench.load_settings import LoadSettings
from bench.worker.load.batcher import Query
from bench.worker.load.pools import Clock, Pool, RunnerFor, Tracker, make_pool
from bench.worker.load.schedule import NS, server_schedule

__all__ = ["Clock", "RunResult", "RunnerFor", "issue_schedule", "latencies", "run_closed", "run_offline",
           "run_point", "run_server"]

Sleep = Callable[[float], None]
LEAD_NS = 2_000_000  # the schedule starts this long after it is made, so query 0 is not late by construction


@dataclass
class RunResult:
    """What one load point did; `queries` in issue order (done_ns -1: not completed).

    `cutoff_ns` is when the point stopped waiting for its queries: an unfinished query's latency is over
    `cutoff_ns` minus its arrival."""

    queries: list[Query]
    start_ns: int
    end_ns: int
    reasons: list[str] = field(default_factory=list)
    rejected: int = 0
    max_waiting: int = 0  # the most queries (or batches) waiting at once
    cutoff_ns: int | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS

    @property
    def unfinished(self) -> list[Query]:
        return [q for q in self.queries if q.unfinished]

    @property
    def unfinished_over_ns(self) -> int | None:
        """The latency every unfinished query is known to exceed (None when none is unfinished)."""
        late = self.unfinished
        if not late or self.cutoff_ns is None:
            return None
        return min(self.cutoff_ns - q.arrival_ns for q in late)


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


def run_server(runner_for: RunnerFor, s: LoadSettings, clock: Clock = time.perf_counter_ns, sleep: Sleep = time.sleep) -> RunResult:
    """Open loop: Poisson arrivals at s.qps generated ahead from s.seed; then at most `max_duration` for the backlog."""
    assert s.qps is not None
    offsets = server_schedule(s.qps, s.min_queries, s.min_duration, s.seed)
    tracker = Tracker()
    pool = make_pool(runner_for, s, clock, tracker, s.max_queue)
    start = clock() + LEAD_NS
    queries = [Query(i, s.samples_per_query, start + int(t)) for i, t in enumerate(offsets)]
    issued = issue_schedule(queries, pool.submit, clock, sleep, lambda: tracker.error is not None)
    stopped = issued < len(queries) and tracker.error is None  # the queue refused a query
    dropped = pool.abort() if stopped else 0
    reasons = _overflow_reason(s, issued, len(queries), dropped) if stopped else []
    pool.last_start_ns = clock() + int(s.max_duration * NS)
    tracker.wait_for(issued - dropped, clock, pool.last_start_ns)
    return _finish(queries[:issued], start, tracker, pool, clock, reasons,
                   f"{s.max_duration:g} s (max_duration) after the schedule ended: the model cannot serve {s.qps:g} QPS",
                   dropped)


def _overflow_reason(s: LoadSettings, issued: int, total: int, dropped: int) -> list[str]:
    what = (f"the batch queue was full ({s.batching.max_enqueued_batches} batches)" if s.batching is not None
            else f"the queue was full ({s.max_queue} queries waiting)")
    return [f"{what} at query {issued + 1} of {total}: the model cannot serve {s.qps:g} QPS; the run stopped there"
            + (f" and dropped the {dropped} queries waiting" if dropped else "")]


def _finish(queries: list[Query], start: int, tracker: Tracker, pool: Pool, clock: Clock, reasons: list[str],
            unfinished_why: str, dropped: int = 0) -> RunResult:
    """Stop waiting now (the cut-off), shut the pool down (no model call outlives the point) and say what was lost:
    the queries unfinished besides the `dropped` ones that `reasons` already explain."""
    cutoff = clock()
    pool.shutdown()
    end = clock()
    if tracker.error is not None:
        raise tracker.error
    result = RunResult(queries, start, end, list(reasons), pool.rejected, pool.max_waiting, cutoff)
    lost = len(result.unfinished) - dropped
    if lost > 0:
        result.reasons.append(f"{lost} of {len(queries)} queries unfinished {unfinished_why}")
    return result


def run_closed(runner_for: RunnerFor, s: LoadSettings, clients: int, clock: Clock = time.perf_counter_ns) -> RunResult:
    """Closed loop: `clients` callers, each issuing its next query when the last completes, until min_duration and
    min_queries are reached or max_duration has passed; the last queries get one batch timeout more to complete.
    A client whose query the batcher rejects stops (the point is invalid: it could not hold `clients` queries)."""
    tracker = Tracker()
    pool = make_pool(runner_for, s, clock, tracker, max(clients, 1))
    queries: list[Query] = []
    lock = threading.Lock()
    start = clock()
    deadline = start + int(s.max_duration * NS)
    grace = s.batching.batch_timeout_micros * 1000 if s.batching is not None else 0
    last_start = pool.last_start_ns = deadline + grace

    def enough(now: int) -> bool:
        return now >= deadline or ((now - start) / NS >= s.min_duration and tracker.done >= s.min_queries)

    def client() -> None:
        while tracker.error is None and not enough(clock()):
            with lock:
                q = Query(len(queries), s.samples_per_query, clock())
                queries.append(q)
            q.issued_ns = q.arrival_ns
            if not pool.submit(q):
                q.rejected = True
                return
            tracker.wait_done(q, clock, last_start)
            if q.done_ns < 0:
                return  # cut off at max_duration (or an executor failed)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rejected = sum(q.rejected for q in queries)
    reasons = [f"the batch queue rejected {rejected} queries ({s.batching.max_enqueued_batches} batches waiting at most): "
               f"it cannot hold {clients} concurrent queries; {rejected} of {clients} clients stopped"] if rejected and s.batching else []
    what = f"{clients} concurrent queries" if s.scenario == "concurrency" else "one query at a time"
    return _finish(queries, start, tracker, pool, clock, reasons,
                   f"after max_duration {s.max_duration:g} s: the model cannot serve {what} within it")


def run_offline(runner_for: RunnerFor, s: LoadSettings, count: int, clock: Clock = time.perf_counter_ns) -> RunResult:
    """Every query available at once; the executors (or the batcher) drain them, for at most max_duration."""
    tracker = Tracker()
    pool = make_pool(runner_for, s, clock, tracker, count + 1)
    start = clock()
    deadline = pool.last_start_ns = start + int(s.max_duration * NS)
    queries = [Query(i, s.samples_per_query, start, issued_ns=start) for i in range(count)]
    for q in queries:  # all are available at once; a full batch queue only makes the issuer wait its turn
        while not pool.submit(q) and tracker.error is None and clock() < deadline:
            tracker.wait_for(tracker.done + 1, clock, min(deadline, clock() + 10_000_000))
        if clock() >= deadline or tracker.error is not None:
            break
    tracker.wait_for(count, clock, deadline)
    result = _finish(queries, start, tracker, pool, clock, [],
                     f"after max_duration {s.max_duration:g} s: the model cannot serve {count} queries offline within it")
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
        if result.unfinished or (result.duration_s >= s.min_duration and len(result.queries) >= s.min_queries):
            break  # done, or the model cannot even finish the probe within max_duration (invalid, said in its reasons)
        rate = len(result.queries) / max(result.duration_s, 1e-9)
        result = run_offline(runner_for, s, max(s.min_queries, math.ceil(rate * s.min_duration * 1.2)), clock)
    return result


def latencies(result: RunResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scheduled arrival offsets, latencies (-1: unfinished), issue delays) in ns, per issued query the model was to
    answer (a query the batcher rejected was answered at once and is counted apart, in RunResult.rejected)."""
    counted = [q for q in result.queries if q.issued_ns >= 0 and not q.rejected]
    arrival = np.array([q.arrival_ns - result.start_ns for q in counted], dtype=np.int64)
    latency = np.array([q.done_ns - q.arrival_ns if q.done_ns >= 0 else -1 for q in counted], dtype=np.int64)
    delay = np.array([q.issued_ns - q.arrival_ns for q in counted], dtype=np.int64)
    return arrival, latency, delay
