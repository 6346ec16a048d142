"""Worker side of a measurement: load the group's variants, measure each batch size, stream records.

Cells of one batch size are measured together: their calls (each variant's fastest path and, where asked,
the user's idiomatic call) take turns round by round (an untimed lead-in call, then `turn_calls` timed ones),
so the samples of every cell come from the same rounds and a ratio of two cells is paired
(`bench.timing.measure_interleaved`). One cell alone is timed as before.

Before any model loads, the worker starts the runtime as a phase of its own (`start_runtime`: import tensorflow,
its first session or eager context; infer_core.runtime) and records it once, in its facts (`worker.runtime_start`):
each model's load_s and first call are that model's own work, whichever model the process loads first.

Registered in bench.worker.main.TASKS as "measure". The task is a `bench.worker.protocol.MeasureTask`
(built by bench.runner.jobs). Messages sent back:
  {"kind": "progress", "cell_id", "iterations", "median_ns"}      while a cell is timed
  {"kind": "cell", ...}                                            a whole `reports.schema.CellRecord`

A device that is absent makes every cell `skipped`. A batch size that runs out of memory is
`failed: out of memory ...` and the larger ones are `skipped`. Any other error in one batch size
fails that cell only. With one variant, an error while loading propagates: the worker reports it and the
runner records it for every cell. With several, a variant that does not load fails its own cells only.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.timing import NS, Measurement, measure_interleaved
from bench.worker.protocol import CellRef, MeasureTask
from infer_core.model import Model, ModelSpec
from infer_core.runtime import Clock, Step, start_steps, timed
from reports.schema import CellRecord, Status

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


@dataclass
class Loaded:
    model: Any
    load_s: float  # this model's own load: the runtime's start (paid once per process) is not in it


def start_runtime(task: MeasureTask, clock: Clock = time.perf_counter,
                  steps: Sequence[Step] | None = None) -> dict[str, float]:
    """The runtime's start (import, first session or eager context), timed before any model loads: a phase of
    the process, recorded once in its facts, so no model's load_s or first call holds it (infer_core.runtime).
    `steps` replaces the real steps (tests, with a fake clock)."""
    return timed(start_steps(list(task.specs.values())) if steps is None else steps, clock)


def _load_one(spec: ModelSpec, clock: Clock = time.perf_counter) -> Loaded:
    import infer_core

    start = clock()
    model = infer_core.load(spec)
    return Loaded(model, clock() - start)


def _load_all(task: MeasureTask, emit: Emit, clock: Clock = time.perf_counter) -> dict[str, Loaded]:
    """Every variant that loads. One variant: its error propagates (the runner records it for each cell and
    may retry under tf-keras). Several: a variant that does not load gets failed (or skipped) cells."""
    if len(task.specs) == 1:
        variant, spec = next(iter(task.specs.items()))
        return {variant: _load_one(spec, clock)}
    from infer_core.errors import InferCoreError

    loaded: dict[str, Loaded] = {}
    for variant, spec in task.specs.items():
        try:
            loaded[variant] = _load_one(spec, clock)
        except InferCoreError as exc:
            if type(exc).__name__ == "LegacyKerasRequired":
                raise  # the runner retries the whole worker under tf-keras
            cells = tuple(c for c in task.cells if c.variant == variant)
            if type(exc).__name__ == "DeviceUnavailable":
                _skip(cells, emit, f"skipped: {exc}")
            else:
                _fail(cells, emit, f"{type(exc).__name__}: {exc}")
    return loaded


def _facts(runtime_start: Mapping[str, float]) -> dict[str, Any]:
    from bench.worker.facts import RUNTIME_START, tf_runtime_facts

    return {**process_facts(), **tf_runtime_facts(), RUNTIME_START: dict(runtime_start)}


def _fit_batch(array: np.ndarray, axis: int | None, batch_size: int) -> np.ndarray:
    if axis is None or array.shape[axis] == batch_size:
        return array
    return np.asarray(np.take(array, np.arange(batch_size) % array.shape[axis], axis=axis))


def _feeds(model: Model, task: MeasureTask, batch_size: int) -> dict[str, np.ndarray]:
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


def _inject_fault(task: MeasureTask, batch_size: int, model: Model) -> None:
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


def _retracing_call(model: Model, task: MeasureTask, batch_size: int) -> Callable[[], object]:
    """Test hook: a new batch size on every call, so a tf.function traces again each time."""
    sizes = iter(range(batch_size, batch_size + 1_000_000))
    return lambda: model.predict(_feeds(model, task, next(sizes)))


# ------------------------------------------------------------------ one cell


def _base_record(cell: CellRef, model: Model, load_s: float, facts: Mapping[str, Any]) -> CellRecord:
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


def _finish(record: CellRecord, model: Model) -> CellRecord:
    record.peak_rss_bytes = peak_rss_bytes()
    info = model.memory_info()
    record.gpu_peak_bytes = int(info["peak_bytes"]) if info and "peak_bytes" in info else None
    record.loadavg_end = _loadavg()
    record.ended = time.time()
    return record


@dataclass
class Member:
    """One cell of a batch size: its record so far, its model, and the call to time."""

    cell: CellRef
    record: CellRecord
    model: Any
    feeds: dict[str, np.ndarray] | None = None
    call: Callable[[], object] | None = None


def _prepare(member: Member, task: MeasureTask) -> None:
    """The member's call: the fastest path, the idiomatic one, or the retracing test hook."""
    batch_size, model = member.cell.batch_size, member.model
    if _fault_kind(task, batch_size) == "cell_error":
        raise RuntimeError("injected fault: this batch size failed")
    if _fault_kind(task, batch_size) == "retrace":
        member.call = _retracing_call(model, task, batch_size)
        return
    member.feeds = _feeds(model, task, batch_size)
    member.record.input_shapes = {name: list(a.shape) for name, a in member.feeds.items()}
    if member.cell.call == "idiomatic":
        member.call, path = model.idiomatic_runner(member.feeds)
        member.record.call_path = path or f"{model.call_path} (this format's idiomatic call is its fastest)"
    else:
        member.call = model.make_runner(member.feeds)


def _failed(member: Member, exc: BaseException) -> bool:
    """Record the member's failure; True when it ran out of memory (larger batch sizes are then skipped)."""
    oom = is_out_of_memory(exc)
    member.record.status = "failed"
    member.record.error = (f"out of memory at batch size {member.cell.batch_size}: {_one_line(exc)}" if oom
                           else f"{type(exc).__name__}: {_one_line(exc)}")
    return oom


def _culprits(members: list[Member]) -> list[Member]:
    """After a shared loop raised: call each member once to find which ones fail."""
    found = []
    for member in members:
        try:
            assert member.call is not None
            member.call()
        except Exception as exc:  # this one is broken: it leaves the loop
            _failed(member, exc)
            found.append(member)
    return found


def _time_members(members: list[Member], task: MeasureTask, emit: Emit) -> None:
    """Time every runnable member together; a member that raises is found, failed, and the rest timed again."""
    if not members:
        return
    batch_size = members[0].cell.batch_size

    def progress(n: int, median_ns: float) -> None:
        emit({"kind": "progress", "cell_id": members[0].cell.cell_id, "iterations": n, "median_ns": median_ns})

    policy, mode, step = task.policy, "interleaved" if len(members) > 1 else "separate", None
    if task.duet:  # the timed window shared with the partner worker, on CLOCK_MONOTONIC
        from bench.worker.duet import Step, place_of, window_policy

        policy, step = window_policy(task.policy), Step(place_of(task.duet), batch_size, [m.cell.cell_id for m in members])
    while members:
        calls = [m.call for m in members if m.call is not None]
        try:
            results = measure_interleaved(calls, policy, trace_counts=[m.model.trace_count for m in members],
                                          progress=progress, seed=task.seed + batch_size, meeting=step,
                                          clock=time.monotonic_ns if step else time.perf_counter_ns)
        except Exception as exc:
            bad = _culprits(members) if len(members) > 1 else []
            if not bad:
                for member in members:
                    _failed(member, exc)
                return
            members = [m for m in members if m not in bad]
            continue
        for member, measured in zip(members, results, strict=True):
            _fill(member.record, measured, batch_size)
            member.record.mode = mode
            if step is not None:
                step.stamp(member.record, measured)
        return


def measure_batch(models: Mapping[str, Loaded], task: MeasureTask, cells: list[CellRef], emit: Emit,
                  facts: Mapping[str, Any]) -> list[tuple[CellRecord, bool]]:
    """Measure the cells of one batch size together: (record, ran out of memory) for each, in order."""
    batch_size = cells[0].batch_size
    _inject_fault(task, batch_size, models[cells[0].variant].model)
    served = [_load_point(models[c.variant], task, c, facts) for c in cells if c.identity.get("load_point")]
    cells = [c for c in cells if not c.identity.get("load_point")]
    if not cells:
        return served
    _reset_gpu_peak(task)
    members = [Member(c, _base_record(c, models[c.variant].model, models[c.variant].load_s, facts),
                      models[c.variant].model) for c in cells]
    oom: dict[int, bool] = {}
    for i, member in enumerate(members):
        try:
            _prepare(member, task)
        except Exception as exc:  # one cell failing must not lose the others
            oom[i] = _failed(member, exc)
    _time_members([m for m in members if m.record.status == "ok"], task, emit)
    for member in members:
        if task.policy.profile and member.feeds is not None and member.record.status == "ok" and member.cell.call == "fastest":
            _profile(member.model, member.feeds, batch_size, member.record)
    return served + [(_finish(m.record, m.model), oom.get(i, False) or _is_oom(m.record)) for i, m in enumerate(members)]


def _load_point(loaded: Loaded, task: MeasureTask, cell: CellRef, facts: Mapping[str, Any]) -> tuple[CellRecord, bool]:
    """A serving load point (bench.worker.load) on the loaded model: one at a time, never interleaved."""
    from bench.worker.load.cell import measure_load_cell

    model = loaded.model
    base = _base_record(cell, model, loaded.load_s, facts)
    return _finish(measure_load_cell(model, task, cell, base, lambda n: _feeds(model, task, n)), model), False


def _is_oom(record: CellRecord) -> bool:
    return record.status == "failed" and str(record.error or "").startswith("out of memory")


def _profile(model: Model, feeds: Mapping[str, Any], batch_size: int, base: CellRecord) -> None:
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
    _emit_ended(cells, emit, "skipped", reason)


def _fail(cells: tuple[CellRef, ...], emit: Emit, reason: str) -> None:
    _emit_ended(cells, emit, "failed", reason)


def _emit_ended(cells: tuple[CellRef, ...], emit: Emit, status: Status, reason: str) -> None:
    for cell in cells:
        now, load = time.time(), _loadavg()
        emit(cell.record(status=status, error=reason, started=now, ended=now, host=platform.node(),
                         loadavg_start=load, loadavg_end=load).to_json())


def run(raw: dict[str, Any], emit: Emit, clock: Clock = time.perf_counter, steps: Sequence[Step] | None = None) -> None:
    """The "measure" worker task. `clock` times the runtime's start and the loads, `steps` replaces the runtime's
    start (both for tests: a fake clock, steps of known cost)."""
    task = MeasureTask.from_json(raw)
    try:
        runtime_start, models = start_and_load(task, emit, clock, steps)
    except Exception as exc:
        if type(exc).__name__ == "DeviceUnavailable":
            _skip(task.cells, emit, f"skipped: {exc}")
            return
        raise
    if task.memory_limit_mb:
        limit_memory(task.memory_limit_mb)
    try:
        _measure_all(models, task, emit, _facts(runtime_start))
        if task.duet:  # only a worker that measured all it had to leaves; the parent marks any other end
            from bench.worker.duet import place_of

            place_of(task.duet).leave()
    finally:
        for loaded in models.values():
            loaded.model.close()


def start_and_load(task: MeasureTask, emit: Emit, clock: Clock = time.perf_counter,
                   steps: Sequence[Step] | None = None) -> tuple[dict[str, float], dict[str, Loaded]]:
    """The runtime's start, then every model, timed apart on one clock: (runtime start phases, loaded models)."""
    return start_runtime(task, clock, steps), _load_all(task, emit, clock)


def _measure_all(models: Mapping[str, Loaded], task: MeasureTask, emit: Emit, facts: Mapping[str, Any]) -> None:
    """Batch sizes in ascending order; a variant that ran out of memory skips its larger batch sizes."""
    oom_at: dict[str, int] = {}
    for batch_size in sorted({c.batch_size for c in task.cells}):
        cells = [c for c in task.cells if c.batch_size == batch_size and c.variant in models]
        for cell in [c for c in cells if c.variant in oom_at]:
            _skip((cell,), emit, f"skipped: batch size {oom_at[cell.variant]} ran out of memory")
        cells = [c for c in cells if c.variant not in oom_at]
        if not cells:
            continue
        for record, oom in measure_batch(models, task, cells, emit, facts):
            if oom:
                oom_at.setdefault(record.variant, batch_size)
            emit(record.to_json())
