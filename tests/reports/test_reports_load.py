"""reports.load and reports.aggregate over real results files written with schema.dumps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import synth

from reports.aggregate import SCOPE_BETWEEN, SCOPE_WITHIN, aggregate, public_columns
from reports.errors import ResultsFileError
from reports.load import load_runs
from reports.schema import IDENTITY_FIELDS, dumps, jsonable


def ms(values: list[float]) -> list[int]:
    return [int(v * 1e6) for v in values]


def test_cells_samples_parity_and_headers_of_a_run(tmp_path: Path) -> None:
    run = synth.standard_run(tmp_path / "r")
    runs = load_runs([run])
    assert len(runs.cells) == 22  # 2 reps x 3 formats x 3 batches + 3 bad cells + 1 hostile model
    assert set(IDENTITY_FIELDS) | {"host", "run_id", "repetition", "status", "error"} <= set(runs.cells.columns)
    assert "latencies_ns" not in runs.cells.columns
    assert len(runs.samples) == sum(len(a) for a in runs.latencies) == 18 * 200 + 100
    assert {"latency_ns", "repetition", "run_id", "host", *IDENTITY_FIELDS} <= set(runs.samples.columns)
    assert list(runs.headers) == ["hostA · run-a"]
    assert sorted(runs.parity["b"]) == ["frozen", "tflite"]
    assert runs.warnings == []


def test_pooled_percentiles_are_recomputed_never_averaged(tmp_path: Path) -> None:
    # Process 0: 1, 2, 3 ms; process 1: 10, 20, 30, 40, 50 ms. Pooled and sorted:
    # 1 2 3 10 20 30 40 50 -> median (10 + 20) / 2 = 15 ms. The mean of the two medians would be 16.
    records = [
        synth.cell("frozen", 1, ms([3, 1, 2]), repetition=0),
        synth.cell("frozen", 1, ms([50, 10, 40, 20, 30]), repetition=1),
    ]
    agg = aggregate(load_runs([synth.write_run(tmp_path / "r", records)]))
    row = agg.iloc[0]
    assert row["p50_ms"] == pytest.approx(15.0)
    assert row["count"] == 8
    assert row["min_ms"] == pytest.approx(1.0) and row["max_ms"] == pytest.approx(50.0)
    assert row["mean_ms"] == pytest.approx(156 / 8)
    assert (row["rep_p50_min_ms"], row["rep_p50_max_ms"]) == pytest.approx((2.0, 30.0))
    assert row["rep_spread"] == pytest.approx(15.0)
    assert row["throughput"] == pytest.approx(1000 / 15.0)  # batch 1: samples/s from the median
    assert row["ci_scope"] == f"{SCOPE_BETWEEN} (n=2)" and row["reps_ok"] == 2


def test_one_process_gets_an_exact_within_process_interval(tmp_path: Path) -> None:
    # 10 samples of 10..100 ms: the median's exact 95% interval is (x(2), x(9)) = (20, 90) ms.
    records = [synth.cell("frozen", 4, ms([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]))]
    row = aggregate(load_runs([synth.write_run(tmp_path / "r", records)])).iloc[0]
    assert (row["p50_ci_lo_ms"], row["p50_ci_hi_ms"]) == pytest.approx((20.0, 90.0))
    assert row["ci_scope"] == SCOPE_WITHIN and row["ci_method"] == "order statistic"
    assert row["throughput"] == pytest.approx(4000 / 55.0)
    assert row["throughput_ci_lo"] == pytest.approx(4000 / 90.0)


def test_failed_skipped_and_partial_cells(tmp_path: Path) -> None:
    records = [
        synth.cell("frozen", 1, ms([1, 1.1, 1.2]), repetition=0),
        synth.cell("frozen", 1, [], repetition=1, status="crashed", error="signal 9"),
        synth.cell("keras", 1, [], status="skipped", error="no GPU"),
    ]
    agg = aggregate(load_runs([synth.write_run(tmp_path / "r", records)]))
    frozen = agg[agg["variant"] == "frozen"].iloc[0]
    assert (frozen["status"], frozen["reps"], frozen["reps_ok"], frozen["reps_failed"]) == ("ok", 2, 1, 1)
    assert frozen["error"] == "signal 9"
    keras = agg[agg["variant"] == "keras"].iloc[0]
    assert keras["status"] == "skipped" and keras["count"] == 0 and np.isnan(keras["p50_ms"])


def test_two_runs_on_two_hosts_stay_apart(tmp_path: Path) -> None:
    a = synth.write_run(tmp_path / "a", synth.sweep_records(reps=1, run_id="a", host="h1"), "a", "h1")
    b = synth.write_run(tmp_path / "b", synth.sweep_records(reps=1, run_id="b", host="h2", speed=0.5), "b", "h2")
    runs = load_runs([a, b])
    agg = aggregate(runs)
    assert list(runs.headers) == ["a", "b"]  # side by side: the directory names the user gave
    assert len(agg) == 2 * 9
    assert set(agg["host"]) == {"h1", "h2"}


def test_same_run_id_twice_gets_distinct_labels(tmp_path: Path) -> None:
    a = synth.write_run(tmp_path / "a", synth.sweep_records(reps=1))
    b = synth.write_run(tmp_path / "b", synth.sweep_records(reps=1))
    labels = list(load_runs([a, b]).headers)
    assert labels == ["a", "b"]


def test_side_by_side_runs_are_labelled_by_the_directories_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("x/run", "y/run", "base"):
        synth.write_run(tmp_path / name, synth.sweep_records(reps=1))
    monkeypatch.chdir(tmp_path)
    assert list(load_runs([Path("x/run"), Path("y/run"), Path("base/results.jsonl")]).headers) == ["x/run", "y/run", "base"]
    assert list(load_runs([Path("base"), Path("base")]).headers) == ["base (1)", "base (2)"]
    assert list(load_runs([Path("base")]).headers) == ["hostA · run-a"]  # one run: host and run id


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    run = synth.write_run(tmp_path / "r", synth.sweep_records(reps=1))
    path = run / "results.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(dumps(synth.cell("frozen", 64, ms([1.0])))[:40])
    runs = load_runs([run])
    assert len(runs.cells) == 9
    assert any("incomplete last line" in w for w in runs.warnings)


def test_unreadable_inputs_raise_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="no such results file"):
        load_runs([tmp_path / "missing"])
    with pytest.raises(ResultsFileError, match="at least one"):
        load_runs([])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.jsonl").write_text(json.dumps({"schema": 99, "kind": "header"}) + "\n", encoding="utf-8")
    with pytest.raises(ResultsFileError, match="schema version 99"):
        load_runs([bad])
    corrupt = {**synth.cell("frozen", 1, ms([1.0])), "latencies_ns": "fast"}
    wrong = synth.write_run(tmp_path / "w", [corrupt])
    with pytest.raises(ResultsFileError, match="latencies_ns"):
        load_runs([wrong])


def test_public_columns_drop_internal_ones(tmp_path: Path) -> None:
    agg = aggregate(load_runs([synth.standard_run(tmp_path / "r")]))
    assert "_p50_draws" in agg.columns
    assert not [c for c in public_columns(agg).columns if c.startswith("_")]


def test_aggregation_is_reproducible(tmp_path: Path) -> None:
    runs = load_runs([synth.standard_run(tmp_path / "r")])
    a, b = public_columns(aggregate(runs)), public_columns(aggregate(runs))
    assert a.equals(b)


def test_jsonable_turns_non_finite_numbers_and_numpy_scalars_into_json() -> None:
    value = {"a": float("nan"), "b": [np.float32(1.5), (np.int64(2), float("inf"))], "c": "x", "d": None}
    text = json.dumps(jsonable(value), allow_nan=False)
    assert json.loads(text) == {"a": None, "b": [1.5, [2, None]], "c": "x", "d": None}


def test_an_adaptive_record_is_read_and_summarised(tmp_path: Path) -> None:
    from reports.api import render_report

    records = synth.sweep_records(reps=2)
    records.append({"kind": "adaptive", "run_id": "run-a", "rounds": 7, "stopped": "time_budget", "elapsed_s": 120.5,
                    "target": 0.03, "min_processes": 5, "max_processes": 12, "time_budget": 120,
                    "ratios": [{"label": "mnist_cnn b1: frozen/checkpoint", "pairs": 7, "half_width": 0.021, "reached": True},
                               {"label": "mnist_cnn b32: tflite/checkpoint", "pairs": 7, "half_width": 0.08, "reached": False}]})
    text = render_report([synth.write_run(tmp_path / "r", records)], "md")
    assert ("7 worker processes per group (auto), stopped by time\\_budget: 1 of 2 ratios within ±3%; widest "
            "mnist\\_cnn b32: tflite/checkpoint (±8.0%)") in text
