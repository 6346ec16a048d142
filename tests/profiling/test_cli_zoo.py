"""`infer-bench profile` / `profile-diff` end to end on the zoo models: real worker processes,
real files. The zoo exports are cached (bench.runner.zoo_export.ensure_exported); mobilenet_v2 is
profiled once per module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main

pytestmark = pytest.mark.slow

SEED_FLOPS_PER_SAMPLE = 843_708


@pytest.fixture(scope="module")
def mnist() -> Path:
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported("mnist_cnn")


@pytest.fixture(scope="module")
def mobilenet_32(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One profile of mobilenet_v2 at batch 32. How much of the step its ops account for is a measurement (a busy
    machine inflates the untraced step): benchmarks/bench_profile.py measures it; this test checks the profile's
    shape and that its share is computed from its own numbers."""
    from bench.runner.zoo_export import ensure_exported

    model = ensure_exported("mobilenet_v2") / "frozen.pb"
    out = tmp_path_factory.mktemp("mobilenet") / "profile.json"
    assert main(["profile", str(model), "--batch", "32", "--json", str(out)]) == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def run_json(argv: list[str], tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "out.json"
    assert main([*argv, "--json", str(out)]) == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_mobilenet_profile_has_its_ops_and_their_share_of_the_step(mobilenet_32: dict[str, Any]) -> None:
    prof = mobilenet_32["profile"]
    assert prof["batch_size"] == 32 and len(prof["ops"]) > 100
    assert prof["ops_total_s"] > 0 and prof["step_s"] > 0
    assert prof["ops_fraction"] == pytest.approx(prof["ops_total_s"] / prof["step_s"])
    assert any("Conv2D" in t for t in [r["type"] for r in prof["by_type"][:3]])


def test_mobilenet_flops_count_every_layer_and_compare_with_the_peak(mobilenet_32: dict[str, Any]) -> None:
    flops = mobilenet_32["flops"]
    # MobileNetV2 at 128x128 is ~0.1 GMACs per image; a count stopped at the first BatchNorm's
    # control flow gives 7 MFLOPs (Conv1 only)
    assert 150e6 < flops["per_sample"] < 300e6
    assert flops["by_type"]["DepthwiseConv2dNative"] > 0 and flops["by_type"]["MatMul"] > 0
    achieved = mobilenet_32["achieved"]
    assert achieved["peak_flops"] > achieved["achieved_flops"] > 0
    assert 0 < achieved["fraction_of_peak"] < 1


def test_mnist_frozen_profile_trace_flops_and_report_files(mnist: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    trace, md, html = tmp_path / "trace.json", tmp_path / "p.md", tmp_path / "p.html"
    result = run_json(["profile", str(mnist / "frozen.pb"), "--batch", "32", "--runs", "2", "--trace", str(trace),
                       "--markdown", str(md), "--html", str(html)], tmp_path)
    assert result["flops"]["total"] == SEED_FLOPS_PER_SAMPLE * 32
    ops = result["profile"]["ops"]
    assert ops and result["profile"]["step_s"] > 0
    events = json.loads(trace.read_text())["traceEvents"]
    traced = {e["args"]["name"] for e in events if e.get("ph") == "X"}
    assert ops[0]["name"] in traced and len(traced & {op["name"] for op in ops}) >= len(ops) - 1
    assert "| op | type |" in md.read_text()
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "op-profile" in page
    out = capsys.readouterr().out
    assert "top op types:" in out and "of the measured peak" in out


@pytest.mark.parametrize("variant,batch", [("checkpoint", 1), ("saved_model", 4)])
def test_mnist_flops_are_843708_per_sample_in_other_formats(mnist: Path, tmp_path: Path, variant: str, batch: int) -> None:
    result = run_json(["profile", str(mnist), "--format", variant, "--batch", str(batch), "--runs", "1",
                       "--no-peak"], tmp_path)
    assert result["flops"]["total"] == SEED_FLOPS_PER_SAMPLE * batch
    assert result["achieved"]["peak_flops"] is None


def test_diff_checkpoint_vs_frozen_shows_variable_reads_only_on_the_checkpoint_side_and_why_it_starts_slower(
        mnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(["profile-diff", str(mnist / "checkpoint"), str(mnist / "frozen.pb"), "--batch", "32",
                       "--runs", "2", "--coldstart", "--repeat", "2"], tmp_path)
    diff = result["diff"]
    assert diff["processes"] == 2
    assert "ReadVariableOp" in diff["types_only_before"]
    assert {"ReadVariableOp", "VarHandleOp"} <= {r["type"] for r in diff["only_before"]}
    assert not {"ReadVariableOp", "VarHandleOp"} & {r["type"] for r in diff["only_after"]}
    out = capsys.readouterr().out
    assert "ops only in checkpoint" in out and "median over 2 worker processes" in out
    assert diff["achieved"]["before"]["flops"] == diff["achieved"]["after"]["flops"] == SEED_FLOPS_PER_SAMPLE * 32
    assert "of the measured peak" in out
    assert "cold start — checkpoint" in out and "cold start — frozen" in out
    ckpt, frozen = ({p["name"]: p["seconds"] for p in c["phases"]} for c in result["coldstart"])
    assert "load: variable restore" in ckpt and "load: variable restore" not in frozen
    for phases in (ckpt, frozen):
        assert phases["import tensorflow"] > 0 and phases["process start"] > 0 and phases["inference"] > 0
        assert "runtime: first session" in phases  # the runtime's start, as a measuring worker times it apart
        assert "load: graph optimisation (grappler)" in phases  # the Session callable is made at load time
    assert result["coldstart"][0]["total_s"] == pytest.approx(sum(ckpt.values()))


def test_tflite_profile_lists_ops_and_delegate_partition(mnist: Path, tmp_path: Path) -> None:
    result = run_json(["profile", str(mnist / "model.tflite"), "--no-peak", "--runs", "1"], tmp_path)
    prof = result["profile"]
    assert prof["source"] == "tflite_op_list" and prof["ops"] == [] and result["flops"] is None
    assert {"CONV_2D", "FULLY_CONNECTED"} <= {op["op"] for op in prof["tflite"]["ops"]}
    assert prof["tflite"]["partition"], "LiteRT's default XNNPACK delegate took nothing over"


def test_a_corrupt_model_fails_in_the_worker_with_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.core.helpers import graph_of_an_unknown_op

    bad = graph_of_an_unknown_op(tmp_path / "model.pb")  # well-formed: the parent's preflight passes it
    assert main(["profile", str(bad), "--no-peak"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("infer-bench: error: ") and "model.pb" in err[0]
    assert "NoSuchOp" in err[0]  # the worker's words: it loaded TensorFlow to find this
