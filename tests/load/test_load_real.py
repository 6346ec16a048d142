"""Serving load on the real mnist_cnn in real worker processes, with short durations: every scenario in a
sweep (TFLite with two executor threads: one interpreter each), a rate the model cannot serve (an invalid point
with its unfinished queries), capacity with server-side batching and its range over processes, a worker killed
mid-search keeping its finished steps, an SLO that cannot be met, and tune.

What a real step passes or fails depends on this machine's speed and load at that moment, so these tests assert
the shape of the outcome (one estimate per process, the range over them, the steps kept), not which rates passed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.load_settings import LoadSettings
from bench.runner.capacity import Request, capacity
from bench.runner.zoo_export import ensure_exported, spec_for
from reports.schema import read_run_file

pytestmark = pytest.mark.slow
SHORT = ["--duration", "0.3", "--min-queries", "40"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def zoo() -> Path:
    return ensure_exported("mnist_cnn")


def test_every_scenario_in_a_sweep(tmp_path: Path, zoo: Path) -> None:
    scenario = tmp_path / "serving.toml"
    scenario.write_text("""
[[models]]
zoo = "mnist_cnn"
[sweep]
formats = ["tflite"]
batch_sizes = [1]
load = ["single_stream", "server:100", "server:200", "concurrency:2", "offline"]
[load]
duration = 0.3
min_queries = 40
executor_threads = 2
slo_ms = 200
""")
    done = cli("run", str(scenario), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    cells = {c["load_point"]: c for c in read_run_file(tmp_path / "run" / "results.jsonl").cells}
    assert set(cells) == {"single_stream", "server:100", "server:200", "concurrency:2", "offline"}
    for point, cell in cells.items():
        block = cell["load"]
        assert cell["status"] == "ok" and block["queries_completed"] >= 40 and len(cell["latencies_ns"]) == cell["iterations"]
        assert block["executor_threads"] == 2 and block["min_duration_met"], point
    assert cells["server:100"]["load"]["target_qps"] == 100 and cells["server:100"]["load"]["issue_delay_ns"]["p50"] >= 0
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Serving load and capacity" in html and 'data-plot="serving"' in html  # a curve over the two rates


def test_a_rate_the_model_cannot_serve_is_an_invalid_point_that_says_so(tmp_path: Path, zoo: Path) -> None:
    scenario = tmp_path / "overload.toml"
    scenario.write_text("""
[[models]]
zoo = "mnist_cnn"
[sweep]
formats = ["frozen"]
batch_sizes = [256]
load = ["server:2000"]
[load]
duration = 0.3
max_duration = 0.2
min_queries = 40
slo_ms = 1000
""")  # 600 queries of 256 images in 0.3 s: far beyond a CPU; whatever is not done 0.2 s after the schedule is lost
    done = cli("run", str(scenario), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    (cell,) = read_run_file(tmp_path / "run" / "results.jsonl").cells
    block = cell["load"]
    lost, issued = block["queries_unfinished"], block["queries_issued"]
    assert cell["status"] == "ok" and lost == issued - block["queries_completed"] > 0.01 * issued
    assert not block["valid"] and (f"{lost} of {issued} queries unfinished 0.2 s (max_duration) after the schedule "
                                   "ended: the model cannot serve 2000 QPS") in block["reasons"]
    assert block["latency_ns"]["p99"] is None and block["unfinished_over_ns"] >= 0.2e9
    assert len(cell["latencies_ns"]) == block["queries_completed"]
    md = (tmp_path / "run" / "report.md").read_text()
    assert "queries unfinished" in md and re.search(r"\| server:2000 \|[^\n]*\| &gt; \d", md)


def test_capacity_with_batching_has_a_range_and_a_report(tmp_path: Path, zoo: Path) -> None:
    # batches wait up to 20 ms to fill: at these rates most latencies are ~20 ms, so a generator a few ms late on a
    # busy machine is within a quarter of the median latency (validity.lagging) and the steps stand on the SLO
    done = cli("capacity", "mnist_cnn", "--formats", "frozen", "--slo-ms", "500", *SHORT, "--confirm", "1",
               "--start-qps", "50", "--precision", "0.3", "--max-steps", "4", "--max-batch-size", "4",
               "--batch-timeout-micros", "20000", "--allowed-batch-sizes", "2,4", "--out", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr[-3000:]
    run = read_run_file(tmp_path / "c" / "results.jsonl")
    (record,) = [r for r in run.serving if r["kind"] == "capacity"]
    assert record["capacity_qps"] > 0 and record["estimates"][0] == record["capacity_qps"]
    assert len(record["estimates"]) == 2  # one per process, the confirming one's None if no rate passed in it
    found = [e for e in record["estimates"] if e is not None]
    assert record["range"] == [min(found), max(found)] and "interval" not in record
    phases = {c["load"]["phase"] for c in run.cells}
    assert phases == {"search", "confirm"} and all(c["load"]["batching"]["max_batch_size"] == 4 for c in run.cells)
    assert all(c["load_point"].endswith("@t1+b4/20000us") for c in run.cells)
    assert re.search(r"capacity [\d.]+ QPS at p99 <= 500 ms; range [\d.]+–[\d.]+ QPS over (2 processes|the 1 of 2)", done.stdout)
    md = (tmp_path / "c" / "report.md").read_text()
    assert "Capacity at the SLO" in md and "range over processes" in md


def test_a_worker_killed_mid_search_keeps_its_finished_steps(tmp_path: Path, zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # killed at its second step, which every search reaches (the first passes: double; fails: halve, above the floor);
    # a later step would not be reached when both first steps fail and the lower rate was no better
    monkeypatch.setenv("INFER_BENCH_TEST_HOOKS", "1")
    settings = LoadSettings(scenario="server", qps=1.0, min_duration=0.3, min_queries=40, slo_ms=200.0)
    kept: list[dict[str, Any]] = []
    out = capacity(Request("mnist_cnn", spec_for(zoo, "frozen"), settings, start=50.0, confirm=1,
                           fault={"at_step": 1, "kind": "sigkill"}), kept.append)
    assert len(kept) == 1 and out.steps == kept  # step 0 finished and was kept; step 1 was killed
    assert out.error is not None and "SIGKILL" in out.error
    assert kept[0]["load"]["step"] == 0 and kept[0]["load"]["target_qps"] == 50.0 and kept[0]["load"]["phase"] == "search"
    # the answer is the finished step's rate if it passed (None if not), and no confirmation ran after the crash
    assert out.capacity == (50.0 if kept[0]["load"]["passed"] else None) and out.estimates == [out.capacity]


def test_an_slo_that_cannot_be_met_says_so_with_the_best_seen(tmp_path: Path, zoo: Path) -> None:
    done = cli("capacity", "mnist_cnn", "--formats", "frozen", "--slo-ms", "0.001", "--duration", "0.2",
               "--min-queries", "20", "--start-qps", "400",
               "--out", str(tmp_path / "never"))
    assert done.returncode == 1, done.stderr[-3000:]
    assert re.search(r"p99 <= 0.001 ms cannot be met even at [\d.]+ QPS; best p99 seen [\d.]+ ms", done.stdout), done.stdout


def test_tune_ranks_candidates_and_writes_tf_serving_text(tmp_path: Path, zoo: Path) -> None:
    done = cli("tune", "mnist_cnn", "--formats", "tflite", "--executor-threads", "1", "--batching", "none,4:500",
               "--slo-ms", "200", *SHORT, "--confirm", "0", "--out", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [r for r in read_run_file(tmp_path / "t" / "results.jsonl").serving if r["kind"] == "tune"]
    assert len(record["rows"]) == 2 and record["winner"] == record["rows"][0]
    assert record["rows"][0]["score"] >= record["rows"][1]["score"]
    assert all("range" in row and "interval" not in row for row in record["rows"])
    assert record["baseline_qps"] and record["gain"] == pytest.approx(record["rows"][0]["score"] / record["baseline_qps"])
    assert "tensorflow_intra_op_parallelism" in record["batching_parameters"]
    md = (tmp_path / "t" / "report.md").read_text()
    assert "Tune: mnist\\_cnn" in md and "single-stream batch-1" in md
    json.dumps(record)


def test_the_callers_thread_is_refused_for_eager_formats_before_a_worker_starts(tmp_path: Path) -> None:
    done = cli("capacity", "mnist_cnn", "--formats", "frozen,saved_model", "--inter-op-threads", "-1", "--slo-ms", "5",
               "--out", str(tmp_path / "never"))
    assert done.returncode == 2 and not (tmp_path / "never").exists()
    assert done.stderr.strip() == ("infer-bench: error: --inter-op-threads -1 (the caller's thread) applies to sessions "
                                   "(checkpoint, frozen graph), but saved_model run on TensorFlow's inter-op pool: give "
                                   "--formats without them, e.g. --formats frozen,tflite")
