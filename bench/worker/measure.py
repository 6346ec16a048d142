"""Worker side of a measurement: load one model, measure each batch size of its group, stream records.

Registered in bench.worker.main.TASKS as "measure". The task is a `bench.worker.protocol.MeasureTask`
(built by bench.runner.jobs). Messages sent back:
  {"kind": "progress", "cell_id", "iterations", "median_ns"}      while a cell is timed
  {"kind": "cell", ...}                                            a whole `reports.schema.CellRecord`

A device that is absent makes every cell `skipped`. A batch size that runs out of memory is
`failed: out of memory ...` and the larger ones are `skipped`. Any other error in one batch size
fails that cell only. An error while loading propagates: the worker reports it and the runner
records it for every cell of the group.

Test hook (only with INFER_BENCH_TEST_HOOKS=1 in the worker's environment): "fault":
{"at_batch": N, "kind": ...} makes the worker misbehave when batch size N starts: exit
(os._exit(123)), sigkill, hang, raise (out of the task), user_error, cell_error (this batch size
only), retrace (a new input shape on every call, so a tf.function traces again each time).
"""

from __future__ import annotations

import os
import platform
import resource
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bench.timing import NS, Measurement, measure
from bench.worker.protocol import CellRef, MeasureTask
from reports.schema import CellRecord

Emit = Callable[[dict[str, Any]], None]
TEST_HOOKS_ENV = "INFER_BENCH_TEST_HOOKS"


def _hooks_enabled() -> bool:
    return os.environ.get(TEST_HOOKS_ENV) == "1"


def peak_rss_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
        return True
    text = str(exc).lower()
    return "out of memory" in text or "oom when allocating" in text or "cannot allocate memory" in text


def limit_memory(extra_mb: int) -> int:
    """Cap the address space at what the process uses now plus `extra_mb` (RLIMIT_AS)."""
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = current + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return limit


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ------------------------------------------------------------------ models


def process_facts() -> dict[str, Any]:
    """Which interpreter and CPUs this worker really got (checks the interpreter and affinity axes)."""
    return {"python_executable": sys.executable, "cpus": sorted(os.sched_getaffinity(0)), "pid": os.getpid()}


def _load(task: MeasureTask) -> tuple[Any, float, dict[str, Any]]:
    """(model, load seconds, facts about this worker and its TensorFlow)."""
    start = time.perf_counter()
    import infer_core

    model = infer_core.load(task.spec)
    load_s = time.perf_counter() - start
    from bench.worker.facts import tf_runtime_facts

    return model, load_s, {**process_facts(), **tf_runtime_facts()}


def _fit_batch(array: np.ndarray, axis: int | None, batch_size: int) -> np.ndarray:
    if axis is None or array.shape[axis] == batch_size:
        return array
    return np.asarray(np.take(array, np.arange(batch_size) % array.shape[axis], axis=axis))


def _feeds(model: Any, task: MeasureTask, batch_size: int) -> dict[str, np.ndarray]:
    from pathlib import Path

    from infer_core import inputs as core_inputs

    if task.inputs_file:
        source = task.inputs_file
        arrays = core_inputs.match_arrays(model.inputs, core_inputs.load_arrays(Path(source)), source)
        return {t.name: _fit_batch(arrays[t.name], t.batch_dim, batch_size) for t in model.inputs}
    shapes = {k: tuple(v) for k, v in task.spec.shapes.items()}
    return core_inputs.synthesize_for(model, batch_size, shapes, task.seed, task.spec.vocab_size)


# ------------------------------------------------------------------ faults (test hooks)


def _fault_kind(task: MeasureTask, batch_size: int) -> str | None:
    fault = task.fault
    if not fault or not _hooks_enabled() or fault.get("at_batch") != batch_size:
        return None
    return str(fault["kind"])


def _inject_fault(task: MeasureTask, batch_size: int, model: Any) -> None:
    kind = _fault_kind(task, batch_size)
    if kind == "exit":
        os._exit(123)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "hang":
        while True:
            time.sleep(60)
    if kind == "raise":
        raise RuntimeError("injected fault: the worker raised")
    if kind == "user_error":
        from bench.errors import BenchError

        raise BenchError("injected fault: a user error")


def _retracing_call(model: Any, task: MeasureTask, batch_size: int) -> Callable[[], object]:
    """Test hook: a new batch size on every call, so a tf.function traces again each time."""
    sizes = iter(range(batch_size, batch_size + 1_000_000))
    return lambda: model.predict(_feeds(model, task, next(sizes)))


# ------------------------------------------------------------------ one cell


def _base_record(cell: CellRef, model: Any, load_s: float, facts: Mapping[str, Any]) -> CellRecord:
    return cell.record(
        load_s=load_s, call_path=getattr(model, "call_path", ""), loadavg_start=_loadavg(), started=time.time(),
        host=platform.node(), worker=dict(facts),
        load_phases=dict((getattr(model, "details", None) or {}).get("load_phases") or {}),
    )


def _fill(record: CellRecord, m: Measurement, batch_size: int) -> None:
    median_s = m.median_ns / NS
    record.latencies_ns, record.iterations, record.stop_reason = m.latencies_ns, len(m.latencies_ns), m.stop_reason
    record.first_call_s, record.warmup_iterations, record.warmup_s = m.first_call_s, m.warmup_iterations, m.warmup_s
    record.throughput = batch_size / median_s if median_s > 0 else None
    record.retraces = m.retraces


def _finish(record: CellRecord, model: Any) -> CellRecord:
    record.peak_rss_bytes = peak_rss_bytes()
    info = model.memory_info()
    record.gpu_peak_bytes = int(info["peak_bytes"]) if info and "peak_bytes" in info else None
    record.loadavg_end = _loadavg()
    record.ended = time.time()
    return record


def measure_cell(model: Any, task: MeasureTask, cell: CellRef, emit: Emit, base: CellRecord) -> tuple[CellRecord, bool]:
    """Measure one batch size: (its record, ok or failed with the error; whether it ran out of memory)."""
    batch_size = cell.batch_size
    _inject_fault(task, batch_size, model)
    if cell.identity.get("load_point"):  # a serving load point (bench.worker.load), not a timing loop
        from bench.worker.load.cell import measure_load_cell

        return _finish(measure_load_cell(model, task, cell, base, lambda n: _feeds(model, task, n)), model), False
    def progress(n: int, median_ns: float) -> None:
        emit({"kind": "progress", "cell_id": cell.cell_id, "iterations": n, "median_ns": median_ns})
    _reset_gpu_peak(task)
    feeds: dict[str, np.ndarray] | None = None
    oom = False
    try:
        if _fault_kind(task, batch_size) == "cell_error":
            raise RuntimeError("injected fault: this batch size failed")
        if _fault_kind(task, batch_size) == "retrace":
            call = _retracing_call(model, task, batch_size)
        else:
            feeds = _feeds(model, task, batch_size)
            call = model.make_runner(feeds)
        _fill(base, measure(call, task.policy, trace_count=model.trace_count, progress=progress), batch_size)
        if task.policy.profile and feeds is not None and base.status == "ok":
            _profile(model, feeds, batch_size, base)
    except Exception as exc:  # one batch size failing must not lose the others
        oom = is_out_of_memory(exc)
        base.status = "failed"
        base.error = (f"out of memory at batch size {batch_size}: {_one_line(exc)}" if oom
                      else f"{type(exc).__name__}: {_one_line(exc)}")
    return _finish(base, model), oom


def _profile(model: Any, feeds: Mapping[str, Any], batch_size: int, base: CellRecord) -> None:
    """The profiled pass after a cell's timing: op breakdown, FLOPs; a failure is recorded, not raised."""
    from infer_core.profiling import count_flops, profile_model

    try:
        flops = count_flops(model, batch_size, dict(feeds))
        base.flops_per_sample = round(flops / batch_size) if flops else None
        base.profile = profile_model(model, dict(feeds), runs=5)
    except Exception as exc:  # a profile that fails must not lose the cell's timing
        base.profile = {"error": f"{type(exc).__name__}: {_one_line(exc)}"}


def _reset_gpu_peak(task: MeasureTask) -> None:
    """So each cell's gpu_peak_bytes is its own batch size's peak, not the worker's so far."""
    device = task.spec.device
    if device.startswith("gpu"):
        from infer_core.devices import reset_gpu_peak

        reset_gpu_peak(device)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:500] + ("..." if len(text) > 500 else "")


def _skip(cells: tuple[CellRef, ...], emit: Emit, reason: str) -> None:
    for cell in cells:
        now, load = time.time(), _loadavg()
        emit(cell.record(status="skipped", error=reason, started=now, ended=now, host=platform.node(),
                         loadavg_start=load, loadavg_end=load).to_json())


def run(raw: dict[str, Any], emit: Emit) -> None:
    """The "measure" worker task."""
    task = MeasureTask.from_json(raw)
    try:
        model, load_s, facts = _load(task)
    except Exception as exc:
        if type(exc).__name__ == "DeviceUnavailable":
            _skip(task.cells, emit, f"skipped: {exc}")
            return
        raise
    if task.memory_limit_mb:
        limit_memory(task.memory_limit_mb)
    try:
        _measure_all(model, task, emit, load_s, facts)
    finally:
        model.close()


def _measure_all(model: Any, task: MeasureTask, emit: Emit, load_s: float, facts: Mapping[str, Any]) -> None:
    oom_at: int | None = None
    for cell in task.cells:
        if oom_at is not None:
            _skip((cell,), emit, f"skipped: batch size {oom_at} ran out of memory")
            continue
        record, oom = measure_cell(model, task, cell, emit, _base_record(cell, model, load_s, facts))
        if oom:
            oom_at = cell.batch_size
        emit(record.to_json())
        del record
