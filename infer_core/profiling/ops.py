"""Per-op profile of a loaded model: where one inference's time goes.

After warmup, `runs` fully traced runs (RunOptions FULL_TRACE + RunMetadata) give every op's time;
an op's time is the median over the runs. Untraced calls of the model's own call path
(`make_runner`) are interleaved with the traced runs (trace, untraced × k, trace, ...), and their
median is the step a user's timed loop sees; step − sum of ops is the framework overhead. The
traced runs happen here, never inside a timed loop of the measurement engine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infer_core.model import Model
from infer_core.profiling import hooks, records, stepstats, targets, tflite
from infer_core.profiling.timing import batch_size_of, median, time_call

DEFAULT_RUNS = 5
DEFAULT_WARMUP = 3
DEFAULT_STEP_CALLS = 20  # untraced calls in all, spread between the traced runs


@dataclass
class TracedRuns:
    metadata: list[Any] = field(default_factory=list)
    traced_s: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    graph_step_s: list[float] = field(default_factory=list)


def _traced_call(target: hooks.SessionTarget, feed_dict: dict[Any, np.ndarray]) -> Callable[[], Any]:
    import tensorflow as tf

    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)

    def call() -> Any:
        metadata = tf.compat.v1.RunMetadata()
        target.session.run(target.fetch_tensors, feed_dict, options=options, run_metadata=metadata)
        return metadata

    return call


def _interleave(traced: Callable[[], Any], runner: Callable[[], Any], graph_run: Callable[[], Any] | None,
                runs: int, step_calls: int) -> TracedRuns:
    """trace, untraced × k, [graph untraced × k], trace, ... (A B A B: drift hits both alike)."""
    out = TracedRuns()
    per_round = max(1, -(-step_calls // runs))
    for _ in range(runs):
        t0 = time.perf_counter()
        out.metadata.append(traced())
        out.traced_s.append(time.perf_counter() - t0)
        out.step_s += [time_call(runner) for _ in range(per_round)]
        if graph_run is not None:
            out.graph_step_s += [time_call(graph_run) for _ in range(per_round)]
    return out


def _warm(fns: list[Callable[[], Any] | None], warmup: int) -> None:
    for fn in fns:
        for _ in range(warmup if fn is not None else 0):
            fn()  # type: ignore[misc]


def _median_run(runs: list[list[records.OpSample]]) -> int:
    """Index of the traced run whose op total is the median (the one exported as a timeline)."""
    totals = [sum(s.ns for s in run) for run in runs]
    order = sorted(range(len(totals)), key=totals.__getitem__)
    return order[len(order) // 2]


def _graph_profile(model: Model, target: hooks.SessionTarget, feeds: Mapping[str, np.ndarray], runs: int,
                   warmup: int, step_calls: int) -> tuple[dict[str, Any], str | None]:
    try:
        feed_dict = target.feed_dict([t.name for t in model.inputs], feeds)
        traced = _traced_call(target, feed_dict)
        graph_run = (lambda: target.session.run(target.fetch_tensors, feed_dict)) if target.owned else None
        runner = model.make_runner(feeds)
        _warm([runner, traced, graph_run], warmup)
        result = _interleave(traced, runner, graph_run, runs, step_calls)
        lookup = stepstats.graph_lookup(target.graph)
        samples = [stepstats.samples(md.step_stats, lookup) for md in result.metadata]
        trace = _trace_json(result.metadata[_median_run(samples)], target.graph)
    finally:
        target.close()
    profile = records.new_profile(
        variant=model.variant, call_path=model.call_path, batch_size=batch_size_of(model.inputs, feeds),
        source=target.source, label=target.label, runs=runs, warmup=warmup,
        step_samples=len(result.step_s), traced_step_s=median(result.traced_s),
        graph_step_s=median(result.graph_step_s),
        **records.summarise(records.aggregate(samples), median(result.step_s) or 0.0))
    profile["notes"] = _notes(profile)
    return profile, trace


def _trace_json(metadata: Any, graph: Any) -> str:
    from infer_core.profiling.trace import chrome_trace

    return chrome_trace(metadata.step_stats, graph)


def _notes(profile: dict[str, Any]) -> list[str]:
    notes = ["framework overhead = untraced step of the model's call path − sum of traced op times"]
    if profile["overhead_s"] is not None and profile["overhead_s"] < 0:
        notes.append("ops overlap in time (inter-op parallelism or tracing cost): their sum exceeds the step")
    if profile["source"] == targets.FROZEN_SOURCE:
        notes.append("op times come from the frozen concrete function in a Session, not the model's own call path")
    return notes


def _tflite_profile(model: Model, target: hooks.TFLiteTarget, feeds: Mapping[str, np.ndarray], runs: int,
                    warmup: int, step_calls: int) -> dict[str, Any]:
    runner = model.make_runner(feeds)
    _warm([runner], warmup)
    steps = [time_call(runner) for _ in range(max(step_calls, runs))]
    part = tflite.partition(tflite.op_details(target.interpreter))
    return records.new_profile(
        variant=model.variant, call_path=model.call_path, batch_size=batch_size_of(model.inputs, feeds),
        source="tflite_op_list", label="LiteRT: op list and delegate partition; no per-op times "
        "(the Python interpreter has none, and a delegate runs its ops as one node)",
        runs=0, warmup=warmup, step_s=median(steps), step_samples=len(steps), tflite=part,
        notes=[tflite.describe_partition(part), "the step is the untraced invoke time of the whole model"])


def profile_with_trace(model: Model, feeds: Mapping[str, np.ndarray], runs: int = DEFAULT_RUNS,
                       warmup: int = DEFAULT_WARMUP, step_calls: int = DEFAULT_STEP_CALLS
                       ) -> tuple[dict[str, Any], str | None]:
    """(profile dict, Chrome trace JSON of the median traced run or None for TFLite)."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    load_start = os.getloadavg()[0]
    target = model.profile_target()
    if isinstance(target, hooks.TFLiteTarget):
        profile, trace = _tflite_profile(model, target, feeds, runs, warmup, step_calls), None
    else:
        profile, trace = _graph_profile(model, target, feeds, runs, warmup, step_calls)
    profile["load_average"] = [load_start, os.getloadavg()[0]]
    profile["cpu_count"] = os.cpu_count()
    return profile, trace


def profile_model(model: Model, feeds: Mapping[str, np.ndarray], runs: int = DEFAULT_RUNS) -> dict[str, Any]:
    """The per-op profile of `model` on `feeds` (JSON-able; see records.py for the keys), with the
    device's peak FLOP/s probe (measured once per process) so a report can show % of peak."""
    from infer_core.profiling.peak import cached_peak

    profile = profile_with_trace(model, feeds, runs)[0]
    profile["peak"] = cached_peak(model.device or "cpu")
    return profile
