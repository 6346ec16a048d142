"""Records (schema 3; versions 1 and 2 migrated on read), the scenario's load axis and [load] section, and every
bad input of the load commands: one line, exit 2, before any worker starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import ScenarioError
from bench.scenario import parse
from bench.scenario.sweep import expand
from reports.load import load_runs
from reports.schema import SCHEMA_VERSION, CellRecord, read_run_file

V1_CELL = {"schema": 1, "kind": "cell", "run_id": "old", "cell_id": "m/frozen/cpu/b1", "group_id": "m/frozen/cpu",
           "repetition": 0, "model": "m", "variant": "frozen", "device": "cpu", "batch_size": 1, "intra_op_threads": 0,
           "inter_op_threads": 0, "env_toggles": "", "affinity": "", "python": "", "status": "ok",
           "latencies_ns": [1000, 2000, 3000], "iterations": 3}


def test_version_1_records_are_migrated_on_read(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"schema": 1, "kind": "header", "run_id": "old"}) + "\n" + json.dumps(V1_CELL) + "\n")
    run = read_run_file(path)
    assert run.cells[0]["schema"] == SCHEMA_VERSION == 3
    assert run.cells[0]["load_point"] == "" and run.cells[0]["load"] is None  # = a single-stream measurement
    record = CellRecord.from_json(run.cells[0])
    assert record.load_point == "" and record.load is None and record.extra == {}
    runs = load_runs([path])
    assert list(runs.cells["load_point"]) == [""] and runs.serving == []


def test_version_2_capacity_and_tune_intervals_are_read_as_ranges(tmp_path: Path) -> None:
    """Schema 2 called the min-max over processes an "interval"; a results file of that version reads as a range."""
    capacity = {"schema": 2, "kind": "capacity", "run_id": "old", "model": "m", "variant": "frozen", "slo_ms": 5.0,
                "percentile": 99.0, "rule": "observed", "capacity_qps": 400.0, "interval": [380.0, 420.0],
                "estimates": [400.0, 380.0, 420.0], "best_observed_ns": 1_000_000}
    row = {"label": "frozen threads=2", "score": 900.0, "interval": [850.0, 950.0], "rounds": 3}
    tune = {"schema": 2, "kind": "tune", "run_id": "old", "model": "m", "slo_ms": 5.0, "percentile": 99.0,
            "objective": "qps", "rows": [row], "winner": row, "baseline_qps": 300.0, "gain": 3.0}
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ({"schema": 2, "kind": "header", "run_id": "old"}, capacity, tune)) + "\n")
    cap, tuned = read_run_file(path).serving
    assert cap["schema"] == tuned["schema"] == SCHEMA_VERSION and "interval" not in cap
    assert cap["range"] == [380.0, 420.0] and cap["estimates"] == [400.0, 380.0, 420.0]
    assert tuned["rows"] == [{"label": "frozen threads=2", "score": 900.0, "rounds": 3, "range": [850.0, 950.0]}]
    assert tuned["winner"] == tuned["rows"][0]
    current = {**capacity, "schema": SCHEMA_VERSION, "range": [1.0, 2.0], "interval": "kept as it is"}
    path.write_text(json.dumps(current) + "\n")
    assert read_run_file(path).serving == [current]  # a record of this version is not touched


def test_a_load_cell_round_trips_and_the_old_cell_keeps_its_identity(tmp_path: Path) -> None:
    new = CellRecord(**{k: v for k, v in V1_CELL.items() if k not in ("schema", "kind", "run_id")},
                     load_point="server:50", load={"point": "server:50", "valid": True})
    back = CellRecord.from_json(json.loads(json.dumps(new.to_json())))
    assert back == new and back.identity()["load_point"] == "server:50"
    old = CellRecord.from_json(V1_CELL)
    assert old.identity() == {**new.identity(), "load_point": ""}  # matches a single-stream cell of today


SCENARIO = """
[[models]]
zoo = "mnist_cnn"

[sweep]
formats = ["frozen"]
batch_sizes = [1]
load = ["single_stream", "server:50.0", "concurrency:2", "offline"]

[load]
duration = 0.5
min_queries = 40
executor_threads = 2
slo_ms = 20
[load.batching]
max_batch_size = 4
allowed_batch_sizes = [2, 4]
"""


def test_scenario_load_axis_and_section() -> None:
    s = parse(SCENARIO, "s.toml")
    assert s.sweep.load == ("single_stream", "server:50", "concurrency:2", "offline")
    assert s.load is not None and s.load.min_duration == 0.5 and s.load.executor_threads == 2
    assert s.load.batching is not None and s.load.batching.allowed_batch_sizes == (2, 4)
    cells = expand(s).cells
    assert [c.load_point for c in cells] == list(s.sweep.load)
    assert cells[1].cell_id == "mnist_cnn/frozen/cpu/b1/server:50" and len(expand(s).groups) == 1


@pytest.mark.parametrize("old, new, line, message", [
    ('"server:50.0"', '"server:0"', 8, "sweep.load: 'server:0': the target QPS must be > 0"),
    ('"concurrency:2"', '"concurrency:0"', 8, "must be a whole number >= 1"),
    ('"offline"]', '"warp"]', 8, "unknown load point 'warp'"),
    ("duration = 0.5", "duration = 0", 11, "load.duration: must be > 0 seconds"),
    ("executor_threads = 2", "executor_threads = 0", 13, "load.executor_threads: must be an integer >= 1"),
    ("slo_ms = 20", "slo_ms = -1", 14, "load.slo_ms: must be a number >= 0"),
    ("allowed_batch_sizes = [2, 4]", "allowed_batch_sizes = [2, 3]", 17, "allowed_batch_sizes: must rise strictly"),
    ("min_queries = 40", "min_querys = 40", 12, "load.min_querys: unknown key"),
])
def test_bad_scenario_load_settings_name_file_and_line(old: str, new: str, line: int, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse(SCENARIO.replace(old, new), "serving.toml")
    text = str(info.value)
    assert text.startswith(f"serving.toml:{line}:") and message in text, text
    assert "\n" not in text


def test_the_example_scenario_parses() -> None:
    from bench.scenario import load

    s = load(Path(__file__).resolve().parents[2] / "scenarios" / "serving.toml")
    assert s.sweep.load and s.load is not None and s.load.slo_ms




@pytest.mark.parametrize("args, message", [
    (["capacity", "mnist_cnn"], "no SLO: give --slo-ms"),
    (["capacity", "mnist_cnn", "--slo-ms", "0"], "--slo-ms: must be > 0 ms"),
    (["capacity", "mnist_cnn", "--slo-ms", "5", "--slo-percentile", "100"], "--slo-percentile: must be between 0 and 100"),
    (["capacity", "mnist_cnn", "--slo-ms", "5", "--duration", "0"], "--duration: must be > 0 seconds"),
    (["capacity", "mnist_cnn", "--slo-ms", "5", "--executor-threads", "0"], "--executor-threads: must be an integer >= 1"),
    (["capacity", "mnist_cnn", "--slo-ms", "5", "--start-qps", "-1"], "--start-qps: must be > 0 QPS"),
    (["capacity", "mnist_cnn", "--slo-ms", "5", "--max-batch-size", "8", "--allowed-batch-sizes", "2,4"],
     "allowed-batch-sizes: must rise strictly"),
    (["capacity", "/nonexistent/model.pb", "--slo-ms", "5"], "/nonexistent/model.pb"),
    (["capacity", "mnist_cnn", "--slo-ms", "5", "--formats", "onnx"], "--formats: unknown format 'onnx'"),
    (["tune", "mnist_cnn"], "no SLO: give --slo-ms"),
    (["tune", "mnist_cnn", "--slo-ms", "5", "--objective", "p99"], "--objective p99 needs --qps"),
    (["tune", "mnist_cnn", "--slo-ms", "5", "--batching", "8"], "--batching: '8' is not none or MAX_BATCH:TIMEOUT_US"),
    (["tune", "mnist_cnn", "--slo-ms", "5", "--executor-threads", "0"], "--executor-threads: every value must be >= 1"),
])
def test_bad_inputs_are_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infer-bench: error:") and message in lines[0], err
