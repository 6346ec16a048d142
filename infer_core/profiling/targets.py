"""What a per-op profile traces: a Session, a graph, feeds and fetches — for every graph format.

Checkpoint and frozen models already are a Session: the profile traces the model's own graph.
SavedModel and Keras models run as eager ConcreteFunctions, whose eager run metadata comes back
empty (TF-NOTES.md), so their concrete function is frozen (`convert_variables_to_constants_v2`)
into a GraphDef and traced in a Session of its own: the same ops and kernels, but not the
model's own call path — every profile of such a model says so. Freezing is done once per model.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from infer_core.errors import ProfilingError

SESSION_SOURCE = "session_step_stats"
FROZEN_SOURCE = "frozen_concrete_function"


@dataclass
class SessionTarget:
    session: Any
    graph: Any
    feed_tensors: list[Any]  # aligned with the model's inputs
    fetch_tensors: list[Any]
    source: str
    label: str
    owned: bool  # True when the Session was made here (and must be closed here)

    def feed_dict(self, model: Any, feeds: Mapping[str, np.ndarray]) -> dict[Any, np.ndarray]:
        return {t: np.asarray(feeds[info.name]) for t, info in zip(self.feed_tensors, model.inputs, strict=True)}

    def close(self) -> None:
        if self.owned:
            self.session.close()


@dataclass
class FrozenFunction:
    """A concrete function's graph with variables folded in: GraphDef and tensor names."""

    graph_def: Any
    input_names: list[str]  # tensor names aligned with model.inputs
    output_names: list[str]  # tensor names aligned with model.outputs


_FROZEN: weakref.WeakKeyDictionary[Any, FrozenFunction] = weakref.WeakKeyDictionary()


def is_session_model(model: Any) -> bool:
    return hasattr(model, "session") and hasattr(model, "fetch_tensors")


def is_function_model(model: Any) -> bool:
    return hasattr(model, "concrete_function")


def is_tflite_model(model: Any) -> bool:
    return hasattr(model, "interpreter")


def _flat_output_keys(function: Any) -> list[Any]:
    import tensorflow as tf

    structured = function.structured_outputs
    if isinstance(structured, Mapping):
        return list(tf.nest.flatten({k: k for k in structured}))
    return list(range(len(tf.nest.flatten(structured))))


def _match_inputs(model: Any, placeholders: list[Any]) -> list[str]:
    by_name = {p.op.name: p.name for p in placeholders}
    names = [by_name.get(info.name.split(":")[0]) for info in model.inputs]
    if all(names):
        return [str(n) for n in names]
    if len(placeholders) == len(model.inputs):
        return [p.name for p in placeholders]
    raise ProfilingError(f"cannot match the frozen function's inputs {sorted(by_name)} to the model's inputs "
                         f"{[t.name for t in model.inputs]}")


def _match_outputs(model: Any, function: Any, outputs: list[Any]) -> list[str]:
    keys = _flat_output_keys(function)
    by_key = {str(k): t.name for k, t in zip(keys, outputs, strict=False)}
    names = [by_key.get(info.name) for info in model.outputs]
    if all(names):
        return [str(n) for n in names]
    if len(outputs) == len(model.outputs):
        return [t.name for t in outputs]
    raise ProfilingError(f"cannot match the frozen function's outputs {sorted(by_key)} to the model's outputs "
                         f"{[t.name for t in model.outputs]}")


def freeze_function(model: Any) -> FrozenFunction:
    """The model's concrete function as a constant-folded GraphDef (cached per model)."""
    if model in _FROZEN:
        return _FROZEN[model]
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = model.concrete_function
    try:
        frozen = convert_variables_to_constants_v2(function)
    except Exception as exc:  # unsupported ops, resource types the converter cannot fold
        raise ProfilingError(f"cannot freeze the model's concrete function for profiling "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    result = FrozenFunction(frozen.graph.as_graph_def(), _match_inputs(model, list(frozen.inputs)),
                            _match_outputs(model, function, list(frozen.outputs)))
    _FROZEN[model] = result
    return result


VARIABLE_OPS = ("VarHandleOp", "VariableV2", "Variable")


def frozen_session_graph_def(model: Any) -> Any:
    """A Session model's GraphDef with its variables folded to constants (values from its session),
    so a fresh Session can run it without a restore."""
    import tensorflow as tf

    graph_def = model.graph.as_graph_def()
    if not any(n.op in VARIABLE_OPS for n in graph_def.node):
        return graph_def
    outputs = [t.op.name for t in model.fetch_tensors]
    return tf.compat.v1.graph_util.convert_variables_to_constants(model.session, graph_def, outputs)


def _threading_config() -> Any:
    import tensorflow as tf

    return tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=tf.config.threading.get_intra_op_parallelism_threads(),
        inter_op_parallelism_threads=tf.config.threading.get_inter_op_parallelism_threads(),
        allow_soft_placement=True)


def import_frozen(frozen: FrozenFunction) -> tuple[Any, list[Any], list[Any]]:
    """A fresh tf.Graph holding the frozen function, and its feed/fetch tensors."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen.graph_def, name="")
    feeds = [graph.get_tensor_by_name(n) for n in frozen.input_names]
    fetches = [graph.get_tensor_by_name(n) for n in frozen.output_names]
    return graph, feeds, fetches


def session_target(model: Any) -> SessionTarget:
    """The Session to trace for a graph-format model."""
    if is_session_model(model):
        return SessionTarget(model.session, model.graph, list(model.feed_tensors), list(model.fetch_tensors),
                             SESSION_SOURCE, "op times from fully traced runs of the model's own Session", False)
    if is_function_model(model):
        import tensorflow as tf

        graph, feeds, fetches = import_frozen(freeze_function(model))
        session = tf.compat.v1.Session(graph=graph, config=_threading_config())
        label = ("op times from a Session running the model's concrete function frozen into a GraphDef "
                 "(same kernels; not the model's own eager call path" +
                 ("; XLA not applied in the traced graph" if "+xla" in str(model.variant) else "") + ")")
        return SessionTarget(session, graph, feeds, fetches, FROZEN_SOURCE, label, True)
    raise ProfilingError(f"cannot profile a {type(model).__name__}: it has no Session, concrete function or interpreter")
