"""FLOPs of one inference at a concrete batch size, counted on the inference subgraph only.

TensorFlow's FLOP profiler (`tf.compat.v1.profiler` with `float_operation()`) counts each op from
its registered statistics, which need fully known shapes: with a `None` batch it reports
"incomplete shapes" and counts only element-wise ops (TF-NOTES.md). So the graph is cut down to
what the outputs depend on (`extract_sub_graph`: no initialisers, no save/restore ops) and
re-imported with each input replaced by a placeholder of the concrete shape; shape inference
then fixes the shapes downstream, and where it cannot (control flow), one traced run supplies
them. On the seed CNN this gives 843,708 FLOPs per sample. Ops without registered FLOP
statistics (FusedBatchNorm, activations other than Softmax) count zero, as in TensorFlow.
TFLite models have no TensorFlow graph to count: None.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infer_core.model import Model
from infer_core.profiling.hooks import InferenceGraph


def concrete_shapes(model: Model, batch_size: int, feeds: Mapping[str, np.ndarray] | None) -> list[tuple[int, ...]]:
    """Each input's shape at `batch_size`: from the feeds when given, else from the model's signature."""
    from infer_core.inputs import concrete_shape

    shapes = []
    for info in model.inputs:
        if feeds is not None and info.name in feeds:
            shape = list(np.shape(feeds[info.name]))
            if info.batch_dim is not None:
                shape[info.batch_dim] = batch_size
            shapes.append(tuple(int(d) for d in shape))
        else:
            shapes.append(concrete_shape(info, batch_size, {}))
    return shapes


def _op_name(tensor_name: str) -> str:
    return tensor_name.split(":")[0]


@dataclass(frozen=True)
class ConcreteGraph:
    graph: Any
    placeholders: list[Any]  # the concrete-shape inputs, aligned with the model's inputs
    fetches: list[Any]


def concrete_graph(source: InferenceGraph, shapes: Sequence[tuple[int, ...]]) -> ConcreteGraph:
    """The inference subgraph re-imported with concrete-shape placeholders for the inputs."""
    import tensorflow as tf

    sub = tf.compat.v1.graph_util.extract_sub_graph(source.graph_def, [_op_name(n) for n in source.output_names])
    dtypes = {node.name: node.attr["dtype"].type for node in sub.node if "dtype" in node.attr}
    graph = tf.Graph()
    with graph.as_default():
        placeholders = []
        for i, (name, shape) in enumerate(zip(source.input_names, shapes, strict=True)):
            dtype = tf.dtypes.as_dtype(dtypes.get(_op_name(name)) or tf.float32)
            placeholders.append(tf.compat.v1.placeholder(dtype, shape, name=f"infer_bench_concrete_input_{i}"))
        tf.compat.v1.import_graph_def(sub, input_map=dict(zip(source.input_names, placeholders, strict=True)), name="")
    return ConcreteGraph(graph, placeholders, [graph.get_tensor_by_name(n) for n in source.output_names])


def runtime_shapes(concrete: ConcreteGraph) -> Any:
    """RunMetadata of one traced run (zeros in, grappler off, so every node runs as written).

    Static shape inference stops at control flow (a lowered `cond` merges branches of unknown
    shape: every layer after Keras's first BatchNorm in MobileNetV2); the FLOP profiler fills
    such shapes from a run's step stats. Nodes in an untaken branch stay unshaped and uncounted,
    which is right: they do not run.
    """
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    feeds = {p: np.zeros(p.shape.as_list(), dtype=p.dtype.as_numpy_dtype) for p in concrete.placeholders}
    metadata = tf.compat.v1.RunMetadata()
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    with tf.compat.v1.Session(graph=concrete.graph, config=config) as session:
        session.run(concrete.fetches, feeds, options=options, run_metadata=metadata)
    return metadata


def fill_merge_shapes(graph: Any, run_meta: Any) -> None:
    """Set a Merge's first output shape from the run: the profiler's own filling skips Merge ops
    (two outputs in the graph, one in the step stats), which leaves their consumers uncounted."""
    for dev in run_meta.step_stats.dev_stats:
        for node in dev.node_stats:
            if len(node.output) != 1:
                continue
            try:
                op = graph.get_operation_by_name(node.node_name)
            except (KeyError, ValueError):
                continue
            if op.type in ("Merge", "RefMerge") and not op.outputs[0].shape.is_fully_defined():
                dims = [d.size for d in node.output[0].tensor_description.shape.dim]
                op.outputs[0].set_shape(op.outputs[0].shape.merge_with(dims))


def _profile(graph: Any, run_meta: Any) -> Any:
    import tensorflow as tf

    if run_meta is not None:
        fill_merge_shapes(graph, run_meta)
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    return tf.compat.v1.profiler.profile(graph, run_meta=run_meta, options=options)


def flops_by_op(graph: Any, run_meta: Any = None) -> dict[str, int]:
    """FLOPs per node name (nodes without registered FLOP statistics are absent)."""
    result = _profile(graph, run_meta)
    return {child.name: int(child.total_float_ops) for child in result.children if child.total_float_ops}


def flops_breakdown(model: Model, batch_size: int, feeds: Mapping[str, np.ndarray] | None = None) -> dict[str, Any] | None:
    """{"total", "batch_size", "per_sample", "by_op": {name: flops}, "by_type": {type: flops}} or None."""
    source = model.inference_graph()
    if source is None:
        return None
    concrete = concrete_graph(source, concrete_shapes(model, batch_size, feeds))
    graph = concrete.graph
    by_op = flops_by_op(graph, runtime_shapes(concrete))
    by_type: dict[str, int] = defaultdict(int)
    for name, flops in by_op.items():
        by_type[graph.get_operation_by_name(name).type] += flops
    total = sum(by_op.values())
    return {"total": total, "batch_size": batch_size, "per_sample": total / batch_size if batch_size else None,
            "by_op": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
            "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}


def count_flops(model: Model, batch_size: int, feeds: Mapping[str, np.ndarray] | None = None) -> int | None:
    """FLOPs of one inference of `batch_size` samples; None where they cannot be counted (TFLite).

    `feeds` gives the shapes of dynamic non-batch dimensions (a text model's sequence length).
    """
    breakdown = flops_breakdown(model, batch_size, feeds)
    return int(breakdown["total"]) if breakdown is not None else None
