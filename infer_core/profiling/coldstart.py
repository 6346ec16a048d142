"""Cold-start anatomy: where the time to a model's first answer goes, in a fresh process.

Phases, in order, each measured (wall clock):
  process start     parent's spawn → this task starting (Python start-up, harness imports)
  runtime start     the same steps a measuring worker times before its first model (infer_core.runtime):
                    import tensorflow (import ai_edge_litert for TFLite, whose loader never imports
                    TensorFlow), then the runtime's first Session or eager context
  load phases       as the format's loader records them in `model.details["load_phases"]`
                    (graph read/import, meta-graph load, session creation, variable restore,
                    SavedModel load, ...); whatever the loader did beyond them is "load: other"
  first call        first `predict` minus a warm call: one-time work of the first run
                    (kernel set-up, allocation, function instantiation, tracing, XLA compile)
  inference         a warm call: the inference itself
TensorFlow has no timer for grappler. For Session formats it is estimated by difference: fresh
Sessions over a constant-folded copy of the graph, first run with the meta-optimizer off vs on.
The estimate is carved out of the phase that holds it: a Session callable made at load time
optimises the graph then (measured: 0.98 s of MobileNetV2's load, 22 ms of one-time work left in
its first call), so it comes out of "load: other"; a plain `Session.run` optimises on its first
call. For eager formats (SavedModel, Keras) grappler runs when the function is instantiated,
inside the first call's one-time work, and is not separated.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from infer_core import runtime
from infer_core.model import Model, ModelSpec

MIN_PHASE_S = 1e-4  # "load: other" smaller than this is rounding, not a phase


def phase(name: str, seconds: float, kind: str, note: str = "") -> dict[str, Any]:
    return {"name": name, "seconds": max(0.0, float(seconds)), "kind": kind, "note": note}


RUNTIME_NOTES = {runtime.FIRST_SESSION: "once per process: devices and thread pools, sized by the first Session",
                 runtime.EAGER_CONTEXT: "once per process: the eager runtime's devices and thread pools"}


def runtime_phases(spec: ModelSpec, clock: runtime.Clock = time.perf_counter) -> list[dict[str, Any]]:
    """The runtime's start, step by step, as a measuring worker times it before its first model."""
    return [phase(name, s, "runtime", RUNTIME_NOTES.get(name, "once per process"))
            for name, s in runtime.start([spec], clock).items()]


def load_phases(details: Mapping[str, Any], load_s: float) -> list[dict[str, Any]]:
    """The loader's own phases plus the unaccounted rest of the load."""
    recorded = dict(details.get("load_phases") or {})
    phases = [phase(f"load: {name.replace('_', ' ')}", s, "load") for name, s in recorded.items()]
    rest = load_s - sum(recorded.values())
    if rest > MIN_PHASE_S:
        phases.append(phase("load: other", rest, "load", "loader work outside its recorded phases"))
    return phases


def _first_run_s(graph_def: Any, feeds: list[str], fetches: list[str], values: list[np.ndarray], optimize: bool) -> float:
    import tensorflow as tf
    from tensorflow.core.protobuf import rewriter_config_pb2

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = not optimize
    if not optimize:
        config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        feed_dict = {graph.get_tensor_by_name(n): v for n, v in zip(feeds, values, strict=True)}
        t0 = time.perf_counter()
        session.run([graph.get_tensor_by_name(n) for n in fetches], feed_dict)
        return time.perf_counter() - t0


def grappler_estimate(model: Model, feeds: Mapping[str, np.ndarray], pairs: int = 2) -> float | None:
    """Seconds of graph optimisation in a Session's first run, by difference; None for eager formats."""
    source = model.session_graph()
    if source is None:
        return None
    graph_def, feed_names, fetch_names = source.graph_def, source.input_names, source.output_names
    values = [np.asarray(feeds[t.name]) for t in model.inputs]
    off, on = [], []
    for _ in range(pairs):  # interleaved: off, on, off, on
        off.append(_first_run_s(graph_def, feed_names, fetch_names, values, optimize=False))
        on.append(_first_run_s(graph_def, feed_names, fetch_names, values, optimize=True))
    return max(0.0, statistics.median(on) - statistics.median(off))


def first_call_phases(first_s: float, warm_s: float, traced: int | None) -> list[dict[str, Any]]:
    """The first call as its one-time work and the inference itself (a warm call's time)."""
    traced_note = f"; traced {traced} function(s)" if traced else ""
    return [phase("first call: one-time work", max(0.0, first_s - warm_s), "first_call",
                  "first call − warm call: kernel set-up, allocation, function instantiation, tracing, "
                  "XLA compile" + traced_note),
            phase("inference", warm_s, "inference", "a warm call")]


GRAPPLER = "graph optimisation (grappler)"
GRAPPLER_NOTE = "estimated by difference: fresh Sessions over the same graph, meta-optimizer off vs on"


def grappler_phase(call_path: str) -> str:
    """Which phase holds a Session model's graph optimisation: a callable made at load time
    (`session.callable_from_options`) optimises the graph then; `Session.run` does on its first call."""
    return "load: other" if "callable" in call_path else "first call: one-time work"


def split_grappler(phases: list[dict[str, Any]], estimate: float | None, holder: str) -> list[dict[str, Any]]:
    """Carve the grappler estimate out of the phase that holds it (capped at that phase's time)."""
    out: list[dict[str, Any]] = []
    for p in phases:
        if estimate is None or p["name"] != holder:
            out.append(p)
            continue
        g = min(estimate, p["seconds"])
        prefix = holder.split(":")[0]
        out.append(phase(f"{prefix}: {GRAPPLER}", g, p["kind"], GRAPPLER_NOTE))
        out.append({**p, "name": f"{holder} (rest)", "seconds": p["seconds"] - g})
    return out


def anatomy(variant: str, phases: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    """The cold-start record: ordered phases and their total."""
    return {"kind": "coldstart", "variant": variant, "phases": phases,
            "total_s": sum(p["seconds"] for p in phases), "notes": notes}
