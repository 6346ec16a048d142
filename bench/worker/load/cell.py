"""A load point as a cell of the measuring worker: runners for the loaded model, the run, the record.

Called from one place in bench.worker.measure (a cell whose identity has a `load` point). The cell's
batch size is the samples per query. Each executor thread gets its runner before the run starts; a
LiteRT interpreter is not thread-safe, so TFLite loads one more interpreter per extra thread (and per
batch size the batcher may run). The record's `latencies_ns` are the completed queries' latencies from
their scheduled arrival; `throughput` is achieved samples/s; the `load` block says the rest, its percentiles
counting every issued query (an unfinished one as +inf: None, over `unfinished_over_ns`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from bench.load_settings import LoadSettings
from bench.worker.load.engine import RunnerFor, RunResult, latencies, run_point
from bench.worker.load.validity import judge, summary_ns, windows, with_unfinished
from bench.worker.protocol import CellRef, MeasureTask
from reports.schema import CellRecord

WARMUP_CALLS = 5
WARMUP_BUDGET_S = 2.0


def settings_for(task: MeasureTask, cell: CellRef) -> LoadSettings:
    """The task's load settings at this cell's load point and samples per query (its batch size)."""
    assert task.load is not None
    base = LoadSettings.from_json(task.load)
    return replace(base.with_point(str(cell.identity["load_point"])), samples_per_query=cell.batch_size).check()


def sizes_needed(s: LoadSettings) -> list[int]:
    """The batch sizes the model will run at: the query size, or every size the batcher can form."""
    b = s.batching
    if b is None:
        return [s.samples_per_query]
    return list(b.allowed_batch_sizes) or list(range(s.samples_per_query, b.max_batch_size + 1, s.samples_per_query))


class Runners:
    """runner_for(thread, size), prepared ahead; extra LiteRT models are closed by `close`."""

    def __init__(self, model: Any, feeds_for: Callable[[int], Any], spec: Any, s: LoadSettings) -> None:
        self.models = [model]
        self.table: dict[tuple[int, int], Callable[[], Any]] = {}
        per_thread = model.variant.startswith("tflite")
        for i, size in enumerate(sizes_needed(s)):
            feeds = feeds_for(size)
            for t in range(s.threads_needed()):
                owner = model if not per_thread or (t == 0 and i == 0) else self._fresh(spec)
                self.table[(t, size)] = owner.make_runner(feeds)

    def _fresh(self, spec: Any) -> Any:
        import infer_core

        self.models.append(infer_core.load(spec))
        return self.models[-1]

    def __call__(self, thread: int, size: int) -> Callable[[], Any]:
        return self.table[(thread, size)]

    def warm(self) -> None:
        deadline = time.perf_counter() + WARMUP_BUDGET_S
        for runner in self.table.values():
            for _ in range(WARMUP_CALLS):
                if time.perf_counter() > deadline:
                    return
                runner()

    def close(self) -> None:
        for m in self.models[1:]:
            m.close()


def issue_rates(result: RunResult) -> tuple[float, float]:
    """(issued, scheduled) queries per second over the issued queries: equal for a generator that keeps up."""
    qs = [q for q in result.queries if q.issued_ns >= 0]
    if len(qs) < 2:
        return 0.0, 0.0
    n = len(qs) - 1
    issued = (qs[-1].issued_ns - qs[0].issued_ns) / 1e9
    scheduled = (qs[-1].arrival_ns - qs[0].arrival_ns) / 1e9
    return (n / issued if issued > 0 else 0.0), (n / scheduled if scheduled > 0 else 0.0)


def load_block(s: LoadSettings, result: RunResult, inter_op: int | None = None) -> dict[str, Any]:
    """The record's `load` block (reports.schema documents it)."""
    arrival, latency, delay = latencies(result)
    done = latency[latency >= 0]
    span = int(arrival[-1]) if s.scenario == "server" and len(arrival) else result.end_ns - result.start_ns
    ws = windows(arrival, latency, span, s.windows)
    duration = result.duration_s
    rates = issue_rates(result) if s.scenario == "server" else (0.0, 0.0)
    return {
        "point": s.point(), "scenario": s.scenario, "target_qps": s.qps, "concurrency": s.concurrency,
        "executor_threads": s.executor_threads, "samples_per_query": s.samples_per_query,
        "batching": s.batching.to_json() if s.batching else None, "inter_op_threads": inter_op,
        "slo_ms": s.slo_ms, "percentile": s.percentile, "confidence": s.confidence,
        "duration_s": duration, "achieved_qps": len(done) / duration if duration > 0 else 0.0,
        "queries_issued": len(result.queries), "queries_completed": int(len(done)), "queries_rejected": result.rejected,
        "queries_unfinished": len(result.unfinished), "unfinished_over_ns": result.unfinished_over_ns,
        "max_waiting": result.max_waiting, "latency_ns": summary_ns(with_unfinished(latency)),
        "issue_delay_ns": summary_ns(delay),
        "windows": [{"scheduled": w.scheduled, "completed": w.completed, "mean_ns": None if np.isnan(w.mean_ns) else w.mean_ns}
                    for w in ws],
        "issued_rate": rates[0], "scheduled_rate": rates[1],
        **judge(latency, delay, duration, s, result.reasons, ws, rates),
    }


def run_on(runners: RunnerFor, s: LoadSettings, inter_op: int | None) -> tuple[dict[str, Any], list[int]]:
    """Run one load point; (its load block, the completed latencies in ns)."""
    result = run_point(runners, s)
    block = load_block(s, result, inter_op)
    _, latency, _ = latencies(result)
    return block, [int(x) for x in latency[latency >= 0]]


def fill(record: CellRecord, block: dict[str, Any], lat: list[int]) -> CellRecord:
    record.load = block
    record.latencies_ns, record.iterations = lat, len(lat)
    record.throughput = block["achieved_qps"] * block["samples_per_query"]
    return record


def measure_load_cell(model: Any, task: MeasureTask, cell: CellRef, base: CellRecord,
                      feeds_for: Callable[[int], Any]) -> CellRecord:
    """Run this cell's load point on the loaded model; an error fails this cell only."""
    runners: Runners | None = None
    try:
        s = settings_for(task, cell)
        spec = task.specs.get(cell.variant, task.spec)
        runners = Runners(model, feeds_for, spec, s)
        runners.warm()
        block, lat = run_on(runners, s, spec.inter_op_threads)
        fill(base, block, lat)
    except Exception as exc:  # one load point failing must not lose the others
        base.status, base.error = "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
    finally:
        if runners is not None:
            runners.close()
    return base
