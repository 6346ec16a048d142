"""The runtime's start: what a process pays once, before its first model, whatever the model.

A worker that loads several models (an interleaved group) pays TensorFlow's import and start-up only once, and
only the first model's load would hold it if nobody measured it apart: a checkpoint loaded first would look
seconds slower to load than a frozen graph loaded second, for work that belongs to neither. So a worker starts
the runtime itself, as a phase of its own, before it loads any model:

  import tensorflow          where a model needs TensorFlow (every format but TFLite)
  import ai_edge_litert      where a model is a TFLite flatbuffer (LiteRT loads without TensorFlow)
  runtime: first session     a first Session created and run on a one-op graph, with the process's session
                             settings (device, threads): device set-up and the process-wide thread pools, which
                             TensorFlow sizes from the first Session's settings (on a GPU, its context too)
  runtime: eager context     the eager context started by one op: its devices and thread pools (from the
                             start-up variables, as the first function call would)

Each step is only there where a model of the process would pay it (a Session for checkpoint and frozen graph, the
eager context for SavedModel and Keras), so the process ends up in the state its first model would have left it
in. What stays in a model's load and first call is that model's own work. `infer-bench profile --coldstart`
times the same steps for its fresh process (infer_core.profiling.coldstart).

The clock is a parameter so the timing logic can be checked on a fake clock.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from infer_core.errors import InferCoreError
from infer_core.model import ModelSpec
from infer_core.variants import POOL_ONLY_BASES, split_variant

Clock = Callable[[], float]

SESSION_BASES = ("checkpoint", "frozen")  # TF1 graphs run by a Session
EAGER_BASES = POOL_ONLY_BASES  # SavedModel and Keras functions, run by the eager runtime
FIRST_SESSION = "runtime: first session"
EAGER_CONTEXT = "runtime: eager context"


@dataclass(frozen=True)
class Step:
    """One part of the runtime's start: its name (a phase of the record) and the work."""

    name: str
    run: Callable[[], object]


def runtime_module(variant: str) -> str:
    """What a format's loader imports: LiteRT alone for TFLite (no TensorFlow), else TensorFlow."""
    return "ai_edge_litert.interpreter" if variant.startswith("tflite") else "tensorflow"


def import_step(module: str) -> Step:
    return Step(f"import {module.split('.')[0]}", partial(importlib.import_module, module))


def start_steps(specs: Sequence[ModelSpec]) -> list[Step]:
    """The steps these specs' loaders would otherwise pay on the first load, in order: each runtime's import,
    then TensorFlow's start for the kinds of model present. The first spec's device and threads are the
    process's (a worker's specs share them). A spec whose format cannot be told adds nothing: its own load
    reports why."""
    variants = [v for v in (_variant(s) for s in specs) if v is not None]
    if not variants:
        return []
    bases = {split_variant(v)[0] for v in variants}
    steps = [import_step(m) for m in dict.fromkeys(runtime_module(v) for v in variants)]
    process = specs[0]
    if bases & set(SESSION_BASES):
        steps.append(Step(FIRST_SESSION, partial(first_session, process)))
    if bases & set(EAGER_BASES):
        steps.append(Step(EAGER_CONTEXT, partial(eager_context, process.device)))
    return steps


def timed(steps: Sequence[Step], clock: Clock = time.perf_counter) -> dict[str, float]:
    """Run the steps in order: {step name: seconds on `clock`}."""
    phases: dict[str, float] = {}
    for step in steps:
        t0 = clock()
        step.run()
        phases[step.name] = clock() - t0
    return phases


def start(specs: Sequence[ModelSpec], clock: Clock = time.perf_counter) -> dict[str, float]:
    """Start the runtime these specs need and say how long each step took."""
    return timed(start_steps(specs), clock)


def _variant(spec: ModelSpec) -> str | None:
    from infer_core.detect import resolve_variant

    try:
        return resolve_variant(spec)
    except InferCoreError:
        return None


def _gpu_setup(device: str) -> None:
    """Memory growth on the GPUs, as a GPU model's load sets it, before anything initialises them."""
    from infer_core import devices

    if devices.parse_device(device)[0] == "gpu":
        devices.configure_gpus()


def first_session(spec: ModelSpec) -> None:
    """A Session with the process's settings, created and run once on a one-op graph, then closed."""
    import tensorflow as tf

    from infer_core.formats.session import session_config

    _gpu_setup(spec.device)
    graph = tf.Graph()
    with graph.as_default():
        one = tf.constant(1.0) + 0.0
    config = session_config(spec.intra_op_threads, spec.inter_op_threads, spec.device)
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        session.run(one)


def eager_context(device: str) -> None:
    """The eager context started by one op (its threads come from the start-up variables, as for a model)."""
    import tensorflow as tf

    _gpu_setup(device)
    (tf.constant(1.0) + 0.0).numpy()
