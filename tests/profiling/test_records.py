"""Op-profile arithmetic, checked against hand-worked numbers."""

from __future__ import annotations

import pytest

from infer_core.profiling.records import OpSample, aggregate, by_type, new_profile, summarise, top_types


def s(name: str, op_type: str, us: float) -> OpSample:
    return OpSample(name, op_type, "CPU:0", int(us * 1000))


def test_aggregate_takes_the_median_over_runs_and_sums_repeats_within_a_run() -> None:
    runs = [
        [s("conv", "Conv2D", 100), s("mm", "MatMul", 50), s("mm", "MatMul", 10)],  # mm runs twice: 60
        [s("conv", "Conv2D", 300), s("mm", "MatMul", 40)],
        [s("conv", "Conv2D", 200), s("mm", "MatMul", 70)],
    ]
    ops = aggregate(runs)
    assert [op["name"] for op in ops] == ["conv", "mm"]
    assert ops[0]["time_s"] == pytest.approx(200e-6)
    assert ops[1]["time_s"] == pytest.approx(60e-6)  # median of 60, 40, 70
    assert ops[1]["calls"] == 1  # median of 2, 1, 1


def test_an_op_missing_from_a_run_counts_as_zero_there() -> None:
    ops = aggregate([[s("a", "A", 10)], [], [s("a", "A", 30)]])
    assert ops[0]["time_s"] == pytest.approx(10e-6)  # median of 10, 0, 30


def test_summarise_gives_overhead_and_shares_of_the_step() -> None:
    ops = aggregate([[s("conv", "Conv2D", 600), s("relu", "Relu", 100), s("conv2", "Conv2D", 200)]])
    summary = summarise(ops, step_s=1e-3)
    assert summary["ops_total_s"] == pytest.approx(900e-6)
    assert summary["overhead_s"] == pytest.approx(100e-6)
    assert summary["ops_fraction"] == pytest.approx(0.9)
    assert summary["ops"][0]["fraction"] == pytest.approx(0.6)
    conv = summary["by_type"][0]
    assert (conv["type"], conv["ops"], conv["calls"]) == ("Conv2D", 2, 2)
    assert conv["time_s"] == pytest.approx(800e-6) and conv["fraction"] == pytest.approx(0.8)


def test_by_type_without_a_step_has_no_fractions() -> None:
    rows = by_type([{"type": "A", "time_s": 1.0, "calls": 1}], None)
    assert rows[0]["fraction"] is None


def test_new_profile_has_every_documented_key_and_refuses_unknown_ones() -> None:
    p = new_profile(variant="frozen")
    assert p["kind"] == "op_profile" and p["variant"] == "frozen" and p["ops"] == []
    with pytest.raises(AssertionError):
        new_profile(bogus=1)


def test_top_types() -> None:
    p = new_profile(by_type=[{"type": "Conv2D"}, {"type": "MatMul"}, {"type": "Relu"}, {"type": "Add"}])
    assert top_types(p) == ["Conv2D", "MatMul", "Relu"]


def test_merging_processes_takes_medians_per_op_and_step() -> None:
    def prof(conv_us: float, read_us: float | None, step_us: float) -> dict:
        samples = [s("conv", "Conv2D", conv_us)] + ([s("w/Read", "ReadVariableOp", read_us)] if read_us else [])
        return new_profile(**summarise(aggregate([samples]), step_us / 1e6))

    from infer_core.profiling.records import merge_processes

    merged = merge_processes([prof(100, 10, 200), prof(300, None, 400), prof(200, 30, 250)])
    assert merged["processes"] == 3 and merged["step_s"] == pytest.approx(250e-6)
    assert [op["name"] for op in merged["ops"]] == ["conv", "w/Read"]
    assert merged["ops"][0]["time_s"] == pytest.approx(200e-6)
    assert merged["ops"][1]["time_s"] == pytest.approx(10e-6)  # median of 10, 0, 30
    assert merged["ops_total_s"] == pytest.approx(210e-6)
    assert merge_processes([prof(1, None, 2)])["step_s"] == pytest.approx(2e-6)
