"""Worker-side profiling tasks: "profile" and "coldstart" (registered in bench.worker.TASKS).

profile    {"task": "profile", "spec": ModelSpec JSON, "batch_size", "runs", "trace": bool,
            "flops": bool, "peak": bool, "seed"}
           emits {"kind": "profile", "profile": {...}, "flops": {...}|None, "peak": {...}|None,
                  "achieved": {...}, "trace": str|None, "describe": {...}}
coldstart  {"task": "coldstart", "spec", "batch_size", "spawned_at" (parent's time.time() at spawn)}
           emits {"kind": "coldstart", "coldstart": {...}}

Nothing here imports TensorFlow at import time: the coldstart task times that import itself.
"""

from __future__ import annotations

import time
from typing import Any

from bench.worker.main import Emit
from infer_core.model import Model, ModelSpec


def _feeds(model: Model, spec: ModelSpec, task: dict[str, Any]) -> dict[str, Any]:
    from infer_core.inputs import synthesize

    return synthesize(model.inputs, int(task.get("batch_size", 1)), spec.shapes,
                      seed=int(task.get("seed", 0)), vocab_size=spec.vocab_size)


def _flops(model: Model, batch_size: int, feeds: dict[str, Any], wanted: bool) -> dict[str, Any] | None:
    from infer_core.profiling.flops import flops_breakdown

    return flops_breakdown(model, batch_size, feeds) if wanted else None


def profile(task: dict[str, Any], emit: Emit) -> None:
    """Load, profile per op (and trace), count FLOPs, probe the peak — in that order, one process."""
    import infer_core
    from infer_core.profiling.ops import profile_with_trace
    from infer_core.profiling.peak import achieved, cached_peak

    spec = ModelSpec.from_json(task["spec"])
    batch_size = int(task.get("batch_size", 1))
    model = infer_core.load(spec)
    try:
        feeds = _feeds(model, spec, task)
        prof, trace = profile_with_trace(model, feeds, runs=int(task.get("runs", 5)))
        flops = _flops(model, batch_size, feeds, bool(task.get("flops", True)))
        described = model.describe()
    finally:
        model.close()
    peak = cached_peak(spec.device) if task.get("peak", True) else None
    emit({"kind": "profile", "profile": prof, "flops": flops, "peak": peak,
          "achieved": achieved(flops["total"] if flops else None, prof["step_s"], peak, prof.get("batch_size")),
          "trace": trace if task.get("trace") else None, "describe": described})


def coldstart(task: dict[str, Any], emit: Emit) -> None:
    """Time a fresh process's way to its first answer (see infer_core.profiling.coldstart)."""
    started = time.time()
    from infer_core.profiling import coldstart as cs

    spec = ModelSpec.from_json(task["spec"])
    phases = [cs.phase("process start", started - float(task.get("spawned_at", started)), "process",
                       "spawn → task start: Python start-up and harness imports")]
    phases += cs.runtime_phases(spec)  # the runtime's start, as a measuring worker times it: in no load phase
    model, load_s = _timed_load(spec)
    try:
        feeds = _feeds(model, spec, task)
        phases += cs.load_phases(model.details, load_s)
        phases += _first_call(model, feeds)
        estimate = cs.grappler_estimate(model, feeds)
        phases = cs.split_grappler(phases, estimate, cs.grappler_phase(model.call_path))
        notes = list(model.notes) + ([] if estimate is not None else [
            "graph optimisation is not separated for this format: it is inside the first call's one-time work"])
        record = cs.anatomy(model.variant, phases, notes)
    finally:
        model.close()
    emit({"kind": "coldstart", "coldstart": record})


def _timed_load(spec: ModelSpec) -> tuple[Any, float]:
    import infer_core

    t0 = time.perf_counter()
    model = infer_core.load(spec)
    return model, time.perf_counter() - t0


def _first_call(model: Model, feeds: dict[str, Any]) -> list[dict[str, Any]]:
    from infer_core.profiling import coldstart as cs
    from infer_core.profiling.timing import median, time_call

    traces_before = model.trace_count()
    first = time_call(lambda: model.predict(feeds))
    traced = (model.trace_count() or 0) - (traces_before or 0) if traces_before is not None else None
    warm = median([time_call(lambda: model.predict(feeds)) for _ in range(5)]) or 0.0
    return cs.first_call_phases(first, warm, traced)
