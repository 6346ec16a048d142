"""TF Serving-style server-side batching as a clock-free state machine, plus a simulator to check it.

The queue follows TF Serving's basic batch scheduler: queries join the open batch while they fit in
`max_batch_size`; a batch closes when full, and an open batch becomes runnable when
`batch_timeout_micros` have passed since its first query (0: at once, whatever it holds). At most
`max_enqueued_batches` batches (the open one included) wait; a query that would need one more is
rejected (TF Serving answers UNAVAILABLE). A batch runs at the smallest `allowed_batch_sizes` entry that
holds it (padding). Times are integers (ns) passed in by the caller, so tests drive it with a fake clock;
`simulate` replays arrivals against fixed service times to give hand-checkable latencies, each query's
latency counted from its own arrival.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.load_settings import Batching


@dataclass
class Query:
    index: int
    samples: int
    arrival_ns: int  # scheduled arrival (absolute, on the run's clock)
    issued_ns: int = -1
    done_ns: int = -1
    rejected: bool = False  # refused by the batcher (TF Serving's UNAVAILABLE): answered, never run

    @property
    def unfinished(self) -> bool:
        """Issued, not rejected, and not completed: its latency is over however long the run waited for it."""
        return self.issued_ns >= 0 and self.done_ns < 0 and not self.rejected


@dataclass
class Batch:
    opened_ns: int
    queries: list[Query] = field(default_factory=list)
    closed_ns: int | None = None

    @property
    def samples(self) -> int:
        return sum(q.samples for q in self.queries)


class BatchQueue:
    """The batching queue; not thread-safe (the engine holds a lock around it)."""

    def __init__(self, params: Batching) -> None:
        self.params = params
        self.open: Batch | None = None
        self.closed: deque[Batch] = deque()
        self.rejected = 0

    def __len__(self) -> int:
        return len(self.closed) + (1 if self.open is not None else 0)

    def _close(self, now: int) -> None:
        assert self.open is not None
        self.open.closed_ns = now
        self.closed.append(self.open)
        self.open = None

    def add(self, query: Query, now: int) -> bool:
        """Enqueue a query at time `now`; False when it is rejected (too many batches waiting)."""
        cap = self.params.max_batch_size
        if query.samples > cap:
            raise ValueError(f"a query of {query.samples} samples exceeds max_batch_size {cap}")
        if self.open is not None and self.open.samples + query.samples > cap:
            self._close(now)
        if self.open is None:
            if len(self) >= self.params.max_enqueued_batches:
                self.rejected += 1
                return False
            self.open = Batch(now)
        self.open.queries.append(query)
        if self.open.samples == cap:
            self._close(now)
        return True

    def deadline(self) -> int | None:
        """When the open batch becomes runnable (its timeout); None without an open batch."""
        return None if self.open is None else self.open.opened_ns + self.params.batch_timeout_micros * 1000

    def ready_at(self) -> int | None:
        """The earliest time a batch can be taken: a closed one at once, else the open one's deadline."""
        return self.closed[0].closed_ns if self.closed else self.deadline()

    def take(self, now: int) -> Batch | None:
        """A batch to run now: the oldest closed one, else the open one once its timeout has passed."""
        if self.closed:
            return self.closed.popleft()
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            self._close(now)
            return self.closed.popleft()
        return None


def simulate(arrivals_ns: Sequence[int], params: Batching, service_ns: Callable[[int], int],
             samples: int = 1) -> list[Query]:
    """Discrete-event replay: queries arrive at `arrivals_ns` (rising), `num_batch_threads` servers run a
    batch of padded size b in `service_ns(b)`; returns the queries with done_ns (-1 if rejected)."""
    queue = BatchQueue(params)
    queries = [Query(i, samples, t, issued_ns=t) for i, t in enumerate(arrivals_ns)]
    free = [0] * params.num_batch_threads
    i = 0
    while True:
        ready = queue.ready_at()
        start = max(free[0], ready) if ready is not None else None
        if i < len(queries) and (start is None or queries[i].arrival_ns <= start):
            queue.add(queries[i], queries[i].arrival_ns)
            i += 1
            continue
        if start is None:
            return queries
        batch = queue.take(start)
        assert batch is not None
        end = start + service_ns(params.padded(batch.samples))
        heapq.heapreplace(free, end)
        for q in batch.queries:
            q.done_ns = end
