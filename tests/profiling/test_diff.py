"""Profile diff: matching, ratios, and ops present on one side only."""

from __future__ import annotations

import pytest

from infer_core.profiling.diff import diff_profiles


def profile(ops: list[tuple[str, str, float]], step: float) -> dict:
    by_type: dict[str, float] = {}
    for _, t, sec in ops:
        by_type[t] = by_type.get(t, 0.0) + sec
    return {"step_s": step, "ops_total_s": sum(o[2] for o in ops),
            "ops": [{"name": n, "type": t, "device": "CPU:0", "time_s": sec, "calls": 1} for n, t, sec in ops],
            "by_type": [{"type": t, "time_s": sec, "calls": 1, "ops": 1} for t, sec in by_type.items()]}


CHECKPOINT = profile([("conv", "Conv2D", 4e-3), ("w", "VarHandleOp", 1e-5), ("conv/Read", "ReadVariableOp", 2e-5)], 5e-3)
FROZEN = profile([("conv", "Conv2D", 2e-3), ("w", "Const", 1e-5)], 2.5e-3)


def test_ratios_are_after_over_before() -> None:
    d = diff_profiles(CHECKPOINT, FROZEN, "checkpoint", "frozen")
    conv = next(r for r in d["ops"] if r["name"] == "conv")
    assert conv["ratio"] == pytest.approx(0.5) and conv["side"] == "both"
    assert d["step"]["ratio"] == pytest.approx(0.5)
    assert d["by_type"][0]["type"] == "Conv2D"


def test_ops_on_one_side_only_are_listed_and_a_changed_type_is_a_different_op() -> None:
    d = diff_profiles(CHECKPOINT, FROZEN, "checkpoint", "frozen")
    assert {(r["name"], r["type"]) for r in d["only_before"]} == {("w", "VarHandleOp"), ("conv/Read", "ReadVariableOp")}
    assert {(r["name"], r["type"]) for r in d["only_after"]} == {("w", "Const")}
    assert d["types_only_before"] == ["ReadVariableOp", "VarHandleOp"]
    assert d["types_only_after"] == ["Const"]
    assert all(r["ratio"] is None for r in d["only_before"])


def test_the_same_op_on_two_devices_is_summed() -> None:
    p = profile([("x", "Add", 1e-3)], 1e-3)
    p["ops"].append({"name": "x", "type": "Add", "device": "GPU:0", "time_s": 3e-3, "calls": 1})
    d = diff_profiles(p, p)
    assert d["ops"][0]["before_s"] == pytest.approx(4e-3)


def test_empty_profiles_diff_to_nothing() -> None:
    d = diff_profiles({}, {})
    assert d["ops"] == [] and d["by_type"] == [] and d["step"]["ratio"] is None


def test_a_tflite_side_is_noted_as_step_only() -> None:
    d = diff_profiles(CHECKPOINT, {"source": "tflite_op_list", "step_s": 1e-4, "ops": []}, "checkpoint", "tflite")
    assert d["notes"] == ["tflite is TFLite: no per-op times, so only its step compares"]
    assert d["step"]["ratio"] == pytest.approx(0.02)
