"""The profilers on small real models in this process: seed CNN as checkpoint, frozen graph,
SavedModel and TFLite, built once per module in a temporary directory."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SEED_FLOPS_PER_SAMPLE = 843_708  # TF-NOTES.md: Conv2D 389,376 + BiasAdd 21,632 + MatMul 432,640 + 10 + 50


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .tiny_models import build_all

    return build_all(tmp_path_factory.mktemp("seed"))


@pytest.fixture(scope="module")
def models(paths: dict[str, Path]) -> Iterator[dict[str, Any]]:
    import infer_core
    from infer_core.model import ModelSpec

    loaded = {v: infer_core.load(ModelSpec(str(p), v)) for v, p in paths.items()}
    yield loaded
    for m in loaded.values():
        m.close()


def feeds(model: Any, batch: int) -> dict[str, np.ndarray]:
    from infer_core.inputs import synthesize

    return synthesize(model.inputs, batch)


@pytest.mark.parametrize("variant", ["checkpoint", "frozen", "saved_model"])
@pytest.mark.parametrize("batch", [1, 4])
def test_seed_flops_are_843708_per_sample(models: dict[str, Any], variant: str, batch: int) -> None:
    from infer_core.profiling import count_flops
    from infer_core.profiling.flops import flops_breakdown

    assert count_flops(models[variant], batch) == SEED_FLOPS_PER_SAMPLE * batch
    by_type = flops_breakdown(models[variant], batch)["by_type"]  # type: ignore[index]
    assert by_type["Conv2D"] == 389_376 * batch and by_type["MatMul"] == 432_640 * batch


def test_tflite_flops_are_unknown(models: dict[str, Any]) -> None:
    from infer_core.profiling import count_flops

    assert count_flops(models["tflite"], 1) is None


def test_frozen_profile_lists_ops_by_time_with_overhead_and_a_valid_trace(models: dict[str, Any]) -> None:
    from infer_core.profiling.ops import profile_with_trace
    from infer_core.profiling.trace import trace_op_names

    model = models["frozen"]
    prof, trace = profile_with_trace(model, feeds(model, 8), runs=3, step_calls=6)
    assert prof["source"] == "session_step_stats" and prof["batch_size"] == 8 and prof["runs"] == 3
    assert prof["ops"] and prof["by_type"]
    times = [op["time_s"] for op in prof["ops"]]
    assert times == sorted(times, reverse=True) and times[0] > 0
    assert prof["overhead_s"] == pytest.approx(prof["step_s"] - prof["ops_total_s"])
    assert any("Conv2D" in t for t in (r["type"] for r in prof["by_type"][:2]))  # conv dominates (maybe fused)
    json.dumps(prof, allow_nan=False)
    assert trace is not None
    names = trace_op_names(trace)
    assert {op["name"] for op in prof["ops"]} <= names | {"_SOURCE"}
    assert "probs" in names


def test_checkpoint_profile_reads_variables_and_frozen_does_not(models: dict[str, Any]) -> None:
    from infer_core.profiling import profile_model
    from infer_core.profiling.diff import diff_profiles

    ckpt = profile_model(models["checkpoint"], feeds(models["checkpoint"], 4), runs=2)
    frozen = profile_model(models["frozen"], feeds(models["frozen"], 4), runs=2)
    d = diff_profiles(ckpt, frozen, "checkpoint", "frozen")
    assert "ReadVariableOp" in d["types_only_before"]
    assert {r["type"] for r in d["only_before"]} >= {"ReadVariableOp", "VarHandleOp"}
    assert not any(r["type"] in ("ReadVariableOp", "VarHandleOp") for r in d["only_after"])


def test_saved_model_is_profiled_as_its_frozen_concrete_function(models: dict[str, Any]) -> None:
    from infer_core.profiling import profile_model

    model = models["saved_model"]
    prof = profile_model(model, feeds(model, 2), runs=2)
    assert prof["source"] == "frozen_concrete_function"
    assert "frozen into a GraphDef" in prof["label"] and prof["graph_step_s"] > 0
    assert prof["call_path"] == model.call_path and prof["ops"]


def test_tflite_profile_is_the_op_list_and_delegate_partition(models: dict[str, Any]) -> None:
    from infer_core.profiling.ops import profile_with_trace

    model = models["tflite"]
    prof, trace = profile_with_trace(model, feeds(model, 1), runs=2, step_calls=4)
    assert trace is None and prof["ops"] == [] and prof["ops_total_s"] is None and prof["step_s"] > 0
    ops = [op["op"] for op in prof["tflite"]["ops"]]
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops and "SOFTMAX" in ops
    # XNNPACK (LiteRT's default delegate) takes over the float conv and dense layers
    assert prof["tflite"]["partition"] and prof["tflite"]["delegated_fraction"] > 0


def test_grappler_estimate_only_for_session_models(models: dict[str, Any]) -> None:
    from infer_core.profiling.coldstart import grappler_estimate

    estimate = grappler_estimate(models["checkpoint"], feeds(models["checkpoint"], 1), pairs=1)
    assert estimate is not None and estimate >= 0
    assert grappler_estimate(models["saved_model"], feeds(models["saved_model"], 1)) is None


def test_peak_probe_measures_a_positive_rate() -> None:
    from infer_core.profiling.peak import measure_peak

    peak = measure_peak("cpu", n=256, repeats=2, warmup=1)
    assert peak["flops_per_call"] == 2 * 256**3
    assert peak["peak_flops"] >= peak["median_flops"] > 0


def test_flops_are_counted_past_control_flow_of_unknown_shape() -> None:
    """Static shape inference stops at a Merge whose branches differ (Keras BatchNorm's lowered cond in
    MobileNetV2); the count must still include the MatMul after it: 2 · B · 4 · 3 FLOPs."""
    import tensorflow as tf

    from infer_core.profiling.flops import InferenceGraph, concrete_graph, flops_by_op, runtime_shapes

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 4), name="x")
        out_false, out_true = tf.raw_ops.Switch(data=x, pred=tf.constant(False))
        unknown = tf.reshape(out_true, tf1.placeholder_with_default([-1, 4], [2]))
        merged = tf.raw_ops.Merge(inputs=[out_false * 2.0, unknown])[0]
        tf.matmul(merged, tf.ones((4, 3)), name="y")
    source = InferenceGraph(graph.as_graph_def(), ["x:0"], ["y:0"])
    concrete = concrete_graph(source, [(5, 4)])
    assert not concrete.graph.get_tensor_by_name("y:0").shape.is_fully_defined()
    assert flops_by_op(concrete.graph, runtime_shapes(concrete))["y"] == 2 * 5 * 4 * 3
