"""The executors of a load point: threads that call the model on the queries a driver (bench.worker.load.engine) submits.

`DirectPool`: a FIFO of single queries, bounded at `max_queue` waiting, and `executor_threads` threads, each calling
the model on one query. `BatchPool`: TF Serving-style batching (`batcher.BatchQueue`) and `num_batch_threads`
threads, each running a padded batch. `runner_for(thread, batch_size)` gives the zero-argument callable that runs
one batch (prepared before the run: a LiteRT interpreter is not thread-safe, so each thread has its own).

A pool lives for one load point. Its driver sets `last_start_ns`, the cut-off after which no model call starts (a
query taken later stays unfinished), and then `shutdown()` drops the queries still waiting and joins every thread,
so no model call of a point runs after it has ended, beside the next point. A thread in a model call finishes that
call first: a point ends at most one model call after its cut-off.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from bench.load_settings import LoadSettings
from bench.worker.load.batcher import Batch, BatchQueue, Query
from bench.worker.load.schedule import NS

Clock = Callable[[], int]
RunnerFor = Callable[[int, int], Callable[[], Any]]


class Tracker:
    """Counts completions and keeps the first executor error; drivers and closed-loop clients wait on it."""

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

    def wait_for(self, count: int, clock: Clock, until_ns: int) -> bool:
        """Until `count` queries are done, an executor fails, or `clock()` reaches `until_ns`; True when done."""
        with self.cond:
            while self.done < count and self.error is None:
                left = (until_ns - clock()) / NS
                if left <= 0:
                    return False
                self.cond.wait(left)
            return self.error is None

    def wait_done(self, q: Query, clock: Clock, until_ns: int) -> None:
        """Until `q` completes, an executor fails, or `clock()` reaches `until_ns` (on the run's clock, so a fake
        clock that the model calls advance ends the wait too)."""
        with self.cond:
            while q.done_ns < 0 and self.error is None:
                left = (until_ns - clock()) / NS
                if left <= 0:
                    return
                self.cond.wait(left)


class DirectPool:
    """`threads` executor threads taking single queries from a FIFO of at most `max_queue` waiting."""

    def __init__(self, runner_for: RunnerFor, threads: int, max_queue: int, clock: Clock, tracker: Tracker) -> None:
        self.runner_for, self.clock, self.tracker, self.max_queue = runner_for, clock, tracker, max_queue
        self.queue: queue.Queue[Query | None] = queue.Queue()  # bounded in `submit`: a stop marker never blocks
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._serve, args=(i,), daemon=True) for i in range(threads)]
        self.max_waiting = 0
        self.last_start_ns: int | None = None

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def submit(self, q: Query) -> bool:
        with self.lock:  # closed-loop clients submit from several threads
            if self.queue.qsize() >= self.max_queue:
                return False
            self.queue.put_nowait(q)
            self.max_waiting = max(self.max_waiting, self.queue.qsize())
        return True

    def _serve(self, index: int) -> None:
        while (q := self.queue.get()) is not None:
            if _too_late(self.last_start_ns, self.clock):
                continue  # past the cut-off: left unfinished
            try:
                self.runner_for(index, q.samples)()
            except BaseException as exc:  # reported by the driver; the other threads stop too
                self.tracker.fail(exc)
                return
            self.tracker.finish([q], self.clock())

    def abort(self) -> int:
        """Drop what is waiting (a run that has stopped); returns how many were dropped."""
        dropped = 0
        with self.lock:
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    return dropped
                dropped += item is not None

    def shutdown(self) -> int:
        """Drop what waits, stop and join every thread (each finishes the call it is in); returns how many were dropped."""
        dropped = self.abort()
        for _ in self.threads:
            self.queue.put_nowait(None)
        for t in self.threads:
            t.join()
        return dropped

    @property
    def rejected(self) -> int:
        return 0


class BatchPool:
    """TF Serving-style batching: `num_batch_threads` threads run batches from a `BatchQueue`."""

    def __init__(self, runner_for: RunnerFor, s: LoadSettings, clock: Clock, tracker: Tracker) -> None:
        assert s.batching is not None
        self.runner_for, self.clock, self.tracker, self.params = runner_for, clock, tracker, s.batching
        self.batches = BatchQueue(s.batching)
        self.cond = threading.Condition()
        self.closing = False
        self.threads = [threading.Thread(target=self._serve, args=(i,), daemon=True)
                        for i in range(s.batching.num_batch_threads)]
        self.max_waiting = 0
        self.last_start_ns: int | None = None

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def submit(self, q: Query) -> bool:
        """Enqueue `q`; False when the batcher rejects it (too many batches waiting), as TF Serving's UNAVAILABLE."""
        with self.cond:
            ok = self.batches.add(q, self.clock())
            self.max_waiting = max(self.max_waiting, len(self.batches))
            self.cond.notify()
        return ok

    def _next(self) -> Batch | None:
        with self.cond:
            while True:
                if self.closing:
                    return None
                batch = self.batches.take(self.clock())
                if batch is not None:
                    return batch
                deadline = self.batches.deadline()
                wait = None if deadline is None else max(0.0, (deadline - self.clock()) / NS)
                self.cond.wait(wait)

    def _serve(self, index: int) -> None:
        while (batch := self._next()) is not None:
            if _too_late(self.last_start_ns, self.clock):
                continue  # past the cut-off: left unfinished
            try:
                self.runner_for(index, self.params.padded(batch.samples))()
            except BaseException as exc:
                self.tracker.fail(exc)
                return
            self.tracker.finish(batch.queries, self.clock())

    def abort(self) -> int:
        """Drop every batch waiting, the open one included; returns how many queries were dropped."""
        with self.cond:
            dropped = sum(len(b.queries) for b in self.batches.closed)
            dropped += len(self.batches.open.queries) if self.batches.open is not None else 0
            rejected = self.batches.rejected
            self.batches = BatchQueue(self.params)
            self.batches.rejected = rejected
            return dropped

    def shutdown(self) -> int:
        """Drop what waits, stop and join every thread (each finishes the batch it runs); returns how many were dropped."""
        with self.cond:
            dropped = self.abort()
            self.closing = True
            self.cond.notify_all()
        for t in self.threads:
            t.join()
        return dropped

    @property
    def rejected(self) -> int:
        return self.batches.rejected


Pool = DirectPool | BatchPool


def _too_late(last_start_ns: int | None, clock: Clock) -> bool:
    return last_start_ns is not None and clock() >= last_start_ns


def make_pool(runner_for: RunnerFor, s: LoadSettings, clock: Clock, tracker: Tracker, max_queue: int) -> Pool:
    """The started pool for `s`: batching when `s.batching` is set, else `executor_threads` direct threads."""
    pool: Pool = (BatchPool(runner_for, s, clock, tracker) if s.batching is not None
                  else DirectPool(runner_for, s.executor_threads, max_queue, clock, tracker))
    pool.start()
    return pool
