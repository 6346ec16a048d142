"""What a per-op profile traces and what FLOPs are counted on, for each format family.

Each model family says which it has through its own hooks (`Model.profile_target()`,
`Model.inference_graph()`, `Model.session_graph()`); the functions here build them.
Checkpoint and frozen models already are a Session: the profile traces the model's own graph.
SavedModel and Keras models run as eager ConcreteFunctions, whose eager run metadata comes back
empty (TF-NOTES.md), so their concrete function is frozen (`convert_variables_to_constants_v2`)
into a GraphDef and traced in a Session of its own: the same ops and kernels, but not the
model's own call path — every profile of such a model says so. Freezing is done once per model.
TFLite models have no TensorFlow graph: their target is the interpreter (op list, delegate partition).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from infer_core.errors import ProfilingError
from infer_core.model import TensorInfo
from infer_core.profiling.hooks import InferenceGraph, SessionTarget


class SessionParts(Protocol):
    """What a Session model (checkpoint, frozen: infer_core.formats.session) has to be traced."""

    variant: str
    session: Any
    graph: Any
    feed_tensors: list[Any]
    fetch_tensors: list[Any]


class FunctionParts(Protocol):
    """What a concrete-function model (SavedModel, Keras: infer_core.formats.signature) has to be frozen."""

    variant: str
    concrete_function: Any
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

SESSION_SOURCE = "session_step_stats"
FROZEN_SOURCE = "frozen_concrete_function"


@dataclass
class FrozenFunction:
    """A concrete function's graph with variables folded in: GraphDef and tensor names."""

    graph_def: Any
    input_names: list[str]  # tensor names aligned with model.inputs
    output_names: list[str]  # tensor names aligned with model.outputs


_FROZEN: weakref.WeakKeyDictionary[Any, FrozenFunction] = weakref.WeakKeyDictionary()


def _flat_output_keys(function: Any) -> list[Any]:
    import tensorflow as tf

    structured = function.structured_outputs
    if isinstance(structured, Mapping):
        return list(tf.nest.flatten({k: k for k in structured}))
    return list(range(len(tf.nest.flatten(structured))))


def _match_inputs(model: FunctionParts, placeholders: list[Any]) -> list[str]:
    by_name = {p.op.name: p.name for p in placeholders}
    names = [by_name.get(info.name.split(":")[0]) for info in model.inputs]
    return _matched(names, [p.name for p in placeholders], by_name, [t.name for t in model.inputs], "inputs")


def _match_outputs(model: FunctionParts, function: Any, outputs: list[Any]) -> list[str]:
    keys = _flat_output_keys(function)
    by_key = {str(k): t.name for k, t in zip(keys, outputs, strict=False)}
    names = [by_key.get(info.name) for info in model.outputs]
    return _matched(names, [t.name for t in outputs], by_key, [t.name for t in model.outputs], "outputs")


def _matched(names: list[Any], in_order: list[str], found: Mapping[str, str], wanted: list[str], role: str) -> list[str]:
    """The frozen tensors matched by name; else by position when the counts agree; else an error."""
    if all(names):
        return [str(n) for n in names]
    if len(in_order) == len(wanted):
        return in_order
    raise ProfilingError(f"cannot match the frozen function's {role} {sorted(found)} to the model's {role} {wanted}")


def freeze_function(model: FunctionParts) -> FrozenFunction:
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


def frozen_session_graph_def(model: SessionParts) -> Any:
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


def session_model_target(model: SessionParts) -> SessionTarget:
    """A Session model's own Session, traced as it is."""
    return SessionTarget(model.session, model.graph, list(model.feed_tensors), list(model.fetch_tensors),
                         SESSION_SOURCE, "op times from fully traced runs of the model's own Session", False)


def function_target(model: FunctionParts) -> SessionTarget:
    """A fresh Session over the model's concrete function frozen into a GraphDef."""
    import tensorflow as tf

    graph, feeds, fetches = import_frozen(freeze_function(model))
    session = tf.compat.v1.Session(graph=graph, config=_threading_config())
    label = ("op times from a Session running the model's concrete function frozen into a GraphDef "
             "(same kernels; not the model's own eager call path" +
             ("; XLA not applied in the traced graph" if "+xla" in str(model.variant) else "") + ")")
    return SessionTarget(session, graph, feeds, fetches, FROZEN_SOURCE, label, True)


def session_inference_graph(model: SessionParts) -> InferenceGraph:
    """A Session model's graph, variables folded in, with its feed/fetch names."""
    return InferenceGraph(frozen_session_graph_def(model), [t.name for t in model.feed_tensors],
                          [t.name for t in model.fetch_tensors])


def function_inference_graph(model: FunctionParts) -> InferenceGraph:
    """A concrete function frozen into a GraphDef, with its feed/fetch names."""
    frozen = freeze_function(model)
    return InferenceGraph(frozen.graph_def, frozen.input_names, frozen.output_names)
