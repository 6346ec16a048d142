"""`infer-bench run` end to end with real TensorFlow workers on the zoo's mnist_cnn.

Slow: each worker imports TensorFlow (~5 s here). Uses the cached zoo export, like `run` does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from reports.schema import IDENTITY_FIELDS, read_run_file

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

FAST = """\
[run]
repetitions = {reps}
{run_extra}
[measure]
warmup_iterations = 5
warmup_time = 0.05
min_time = 0.1
max_time = 0.4

[sweep]
formats = {formats}
batch_sizes = {batch_sizes}
devices = {devices}
{sweep_extra}
[[models]]
zoo = "mnist_cnn"
"""


def recorded_runs() -> list[str]:
    """The run ids in this test's history database ($INFER_BENCH_DB, set per test by tests/conftest.py)."""
    from bench.results.history import connect

    path = Path(os.environ["INFER_BENCH_DB"])
    if not path.exists():
        return []
    with connect(str(path)) as database:
        return [str(row[0]) for row in database.rows("SELECT run_id FROM runs")]


def scenario_file(tmp_path: Path, reps: int = 1, formats: str = '["frozen", "tflite"]', batch_sizes: str = "[1, 8]",
                  devices: str = '["cpu"]', run_extra: str = "", sweep_extra: str = "") -> Path:
    path = tmp_path / "s.toml"
    path.write_text(FAST.format(reps=reps, formats=formats, batch_sizes=batch_sizes, devices=devices,
                                run_extra=run_extra, sweep_extra=sweep_extra))
    return path


def test_run_measures_checks_parity_and_reports(mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs" / "pr-1"
    code = main(["run", str(scenario_file(tmp_path)), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    run = read_run_file(out / "results.jsonl")
    assert run.header is not None and run.header["env"]["tensorflow"]
    assert "zoo = \"mnist_cnn\"" in run.header["scenario_text"]
    assert [p["model"] for p in run.parity] == ["mnist_cnn"] and run.parity[0]["pairs"][0]["ok"]
    assert len(run.cells) == 4
    for cell in run.cells:
        assert cell["status"] == "ok" and set(IDENTITY_FIELDS) <= set(cell)
        assert cell["iterations"] == len(cell["latencies_ns"]) > 0
        assert cell["load_s"] > 0 and cell["first_call_s"] > 0 and cell["call_path"]
        assert isinstance(cell["load_phases"], dict)
        # frozen and tflite share one worker (the default, interleaved): TensorFlow is imported there
        assert cell["worker"]["tf_version"] == run.header["env"]["tensorflow"]
        assert cell["mode"] == "interleaved" and cell["input_shapes"]
    by = {(c["variant"], c["batch_size"]): c for c in run.cells}
    assert by[("frozen", 1)]["load_s"] == by[("frozen", 8)]["load_s"], "one load per worker"
    for batch in (1, 8):  # paired by round: as many samples each, from the same process
        frozen, tflite = by[("frozen", batch)], by[("tflite", batch)]
        assert frozen["iterations"] == tflite["iterations"] and frozen["worker"]["pid"] == tflite["worker"]["pid"]
        assert frozen["input_shapes"] == {"input:0": [batch, 28, 28, 1]} or list(frozen["input_shapes"].values()) == [[batch, 28, 28, 1]]
    assert (tmp_path / "runs" / "latest").resolve() == out.resolve()
    assert (out / "report.md").exists() and (out / "report.html").exists()
    # the last line points at what to open: the HTML report (and the raw results)
    assert printed.out.strip().splitlines()[-1] == (
        f"4 ok; report: {out / 'report.html'} (open it in a browser); results: {out / 'results.jsonl'}")
    assert recorded_runs() == [run.header["run_id"]]  # recorded in the history database by default


def test_run_model_paths_measures_them_with_the_default_sweep(mnist_dir: Path, tmp_path: Path) -> None:
    """`infer-bench run MODEL...`: what a user types first (issue 15, item 3); format detected per path."""
    out = tmp_path / "run"
    code = main(["run", str(mnist_dir / "frozen.pb"), str(mnist_dir / "model.tflite"), "--quick", "--batch-sizes", "1",
                 "--out", str(out), "--no-report", "--no-history"])
    assert code == 0
    assert recorded_runs() == []  # --no-history: nothing recorded (no database created)
    run = read_run_file(out / "results.jsonl")
    assert sorted((c["model"], c["variant"], c["batch_size"], c["status"]) for c in run.cells) == [
        ("frozen.pb", "frozen", 1, "ok"), ("model.tflite", "tflite", 1, "ok")]
    assert run.header is not None and run.header["scenario_path"] == "<model paths>"
    assert str(mnist_dir / "frozen.pb") in run.header["scenario_text"]  # kept, so --resume finds the models
    assert main(["run", "--resume", str(out), "--no-report"]) == 0
    assert len(read_run_file(out / "results.jsonl").cells) == 2  # nothing left to measure, nothing measured twice
    assert recorded_runs() == [run.header["run_id"]]  # the finished run is recorded


def test_absent_gpu_is_skipped_with_the_reason(mnist_dir: Path, tmp_path: Path) -> None:
    if os.environ.get("CUDA_VISIBLE_DEVICES") is None and Path("/dev/nvidia0").exists():
        pytest.skip("a GPU is present")
    out = tmp_path / "run"
    code = main(["run", str(scenario_file(tmp_path, formats='["frozen"]', devices='["gpu"]')), "--out", str(out), "--no-report"])
    assert code == 0
    cells = read_run_file(out / "results.jsonl").cells
    assert [c["status"] for c in cells] == ["skipped", "skipped"]
    assert all("not available" in c["error"] for c in cells)


def test_real_out_of_memory_under_rlimit_as(mnist_dir: Path, tmp_path: Path) -> None:
    # 300 MB of address space above the loaded model: batch 1 fits, 20000 images do not. With
    # oneDNN on (the x86 default) TensorFlow segfaults on the failed allocation (a `crashed`
    # record); with TF_ENABLE_ONEDNN_OPTS=0 it raises ResourceExhaustedError.
    text = scenario_file(tmp_path, formats='["frozen"]', batch_sizes="[1, 20000, 40000]", run_extra="memory_limit_mb = 300",
                         sweep_extra='env = { TF_ENABLE_ONEDNN_OPTS = ["0"] }')
    out = tmp_path / "run"
    assert main(["run", str(text), "--out", str(out), "--no-report"]) == 1
    cells = {c["batch_size"]: c for c in read_run_file(out / "results.jsonl").cells}
    assert cells[1]["status"] == "ok" and cells[1]["env_toggles"] == "TF_ENABLE_ONEDNN_OPTS=0"
    assert cells[20000]["status"] == "failed" and cells[20000]["error"].startswith("out of memory at batch size 20000")
    assert cells[40000]["status"] == "skipped" and "batch size 20000 ran out of memory" in cells[40000]["error"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cell_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if '"kind":"cell"' in line)
    except FileNotFoundError:
        return 0


def test_parent_sigkilled_mid_sweep_then_resume(mnist_dir: Path, tmp_path: Path) -> None:
    s = scenario_file(tmp_path, reps=2, formats='["tflite"]', batch_sizes="[1, 2, 4]")
    out = tmp_path / "run"
    results = out / "results.jsonl"
    cmd = [sys.executable, "-m", "bench.cli", "run", str(s), "--out", str(out), "--no-report"]
    parent = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _cell_lines(results) < 2 and time.monotonic() < deadline and parent.poll() is None:
        time.sleep(0.05)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    before = read_run_file(results)
    assert 2 <= len(before.cells) < 6, "killed mid-sweep with cells finished"
    assert main(["run", "--resume", str(out), "--no-report"]) == 0
    after = read_run_file(results)
    keys = [(c["cell_id"], c["repetition"]) for c in after.cells]
    assert len(keys) == len(set(keys)) == 6, "every cell exactly once"
    assert after.cells[: len(before.cells)] == before.cells, "finished cells kept as they were"
    assert all(c["status"] == "ok" for c in after.cells)
    assert len([line for line in results.read_text().splitlines() if json.loads(line)["kind"] == "header"]) == 1


def test_ctrl_c_stops_cleanly_keeping_finished_cells(mnist_dir: Path, tmp_path: Path) -> None:
    s = scenario_file(tmp_path, reps=2, formats='["tflite"]', batch_sizes="[1, 2, 4]")
    out = tmp_path / "run"
    results = out / "results.jsonl"
    cmd = [sys.executable, "-m", "bench.cli", "run", str(s), "--out", str(out), "--no-report"]
    # SIGINT back to its default in the child: a shell ignores it in background jobs (`pytest &`), and
    # an ignored signal stays ignored across exec, so the run would never see the Ctrl-C
    parent = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while _cell_lines(results) < 1 and time.monotonic() < deadline and parent.poll() is None:
        time.sleep(0.05)
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode == 130, err
    assert "interrupted: finished work is kept" in err and f"--resume {out}" in err
    run = read_run_file(results)
    assert 1 <= len(run.cells) < 6 and all(c["status"] == "ok" for c in run.cells)


def test_a_users_own_files_are_measured_and_parity_checked(mnist_dir: Path, tmp_path: Path) -> None:
    import numpy as np

    # One .npy feeds the single input whatever each format names it (frozen: Placeholder:0, tflite: input).
    np.save(tmp_path / "in.npy", np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32))
    text = f"""
[measure]
warmup_time = 0.05
min_time = 0.1
max_time = 0.3
[sweep]
formats = ["frozen", "tflite"]
batch_sizes = [1, 8]
[[models]]
name = "mine"
inputs_file = "in.npy"
files = {{ frozen = "{mnist_dir / 'frozen.pb'}", tflite = "{mnist_dir / 'model.tflite'}" }}
"""
    path = tmp_path / "mine.toml"
    path.write_text(text)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--no-report"]) == 0
    run = read_run_file(out / "results.jsonl")
    assert sorted((c["variant"], c["batch_size"], c["status"]) for c in run.cells) == [
        ("frozen", 1, "ok"), ("frozen", 8, "ok"), ("tflite", 1, "ok"), ("tflite", 8, "ok")]
    assert run.parity[0]["model"] == "mine" and run.parity[0]["error"] is None
    assert [(p["a"], p["b"], p["ok"]) for p in run.parity[0]["pairs"]] == [("frozen", "tflite", True)]


def test_a_real_retrace_in_the_timed_loop_is_recorded(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # saved_model+xla calls a tf.function: a new input shape on every call makes TensorFlow trace
    # (and compile) again, and the tracing count the record keeps must show it.
    from bench import scenario
    from bench.runner.jobs import TaskBuilder, run_jobs
    from bench.scenario import sweep

    monkeypatch.setenv("INFER_BENCH_TEST_HOOKS", "1")
    s = scenario.parse(FAST.format(reps=1, formats='["saved_model+xla"]', batch_sizes="[1, 2]", devices='["cpu"]',
                                   run_extra="", sweep_extra="").replace("max_time = 0.4", "max_time = 600\nmin_iterations = 5\nmax_iterations = 5"),
                       "s.toml", tmp_path)
    builder = TaskBuilder(s, {"mnist_cnn": mnist_dir}, extra=lambda job: {"fault": {"at_batch": 2, "kind": "retrace"}})
    records: list[dict[str, object]] = []
    run_jobs(sweep.schedule(sweep.expand(s).groups, 1), builder, records.append)
    by = {r["batch_size"]: r for r in records}
    assert by[1]["status"] == "ok" and by[1]["retraces"] == 0
    assert by[2]["status"] == "ok" and by[2]["retraces"] == by[2]["iterations"] >= 5


def test_adaptive_repetitions_stop_at_the_target_or_the_budget(mnist_dir: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """repetitions = "auto" with LiteRT-only workers (no TensorFlow import: cheap): a budget that is spent at once
    stops after the first round, and says so; a target no spread meets runs to max_processes, the progress total
    growing round by round past the minimum; a loose target (±99%) stops at the minimum of 3 processes when the
    3 processes agree within about 28% (t(2) = 4.3), else at max_processes. Which of the two depends on this
    machine's spread between processes, so that case asserts that the run stopped for one of them and that its
    record agrees with the reason (the stopping rule itself: tests/bench/test_measure.py, on made-up widths)."""
    def scenario(extra: str) -> Path:
        path = tmp_path / f"auto{len(extra)}.toml"
        path.write_text(f"""
[run]
repetitions = "auto"
min_processes = 3
max_processes = 4
{extra}
[measure]
warmup_time = 0.02
min_time = 0.05
max_time = 0.2
[sweep]
formats = ["tflite", "tflite+int8"]
batch_sizes = [1]
[[models]]
name = "lite"
files = {{ tflite = "{mnist_dir / 'model.tflite'}", "tflite+int8" = "{mnist_dir / 'model_int8.tflite'}" }}
""")
        return path

    # (scenario line, the stops allowed as (rounds, reason, last progress line))
    cases = (("time_budget = 0.001", ((1, "time_budget", "[2/6]"),)),
             ("target = 0.000001", ((4, "max_processes", "[8/8]"),)),
             ("target = 0.99", ((3, "target", "[6/6]"), (4, "max_processes", "[8/8]"))))
    for extra, allowed in cases:
        out = tmp_path / extra.split()[0] / extra.split()[-1]
        assert main(["run", str(scenario(extra)), "--out", str(out), "--no-report"]) == 0
        progress = [ln.split()[0] for ln in capsys.readouterr().err.splitlines() if ln.startswith("  [")]
        run = read_run_file(out / "results.jsonl")
        (record,) = run.adaptive
        assert (record["rounds"], record["stopped"], progress[-1]) in allowed, (record, progress)
        rounds = record["rounds"]
        assert sorted({c["repetition"] for c in run.cells}) == list(range(rounds))
        assert [r["label"] for r in record["ratios"]] == ["lite b1: tflite+int8/tflite"]
        assert all(c["mode"] == "interleaved" for c in run.cells)
        (ratio,) = record["ratios"]
        assert ratio["pairs"] == rounds
        needed = ratio["procs_needed"]  # at the spread seen: none from one process, none within the cap of 200
        if record["stopped"] == "target":  # every ratio within the target: the record says so, and the width shows it
            assert ratio["reached"] and ratio["half_width"] <= record["target"] and 2 <= needed <= rounds
        elif record["stopped"] == "max_processes":  # stopped by the cap, with the target missed
            assert not ratio["reached"] and ratio["half_width"] > record["target"]
            assert needed is None or needed > rounds
        if extra != "target = 0.99":  # one process (no width), or a ±0.0001% target: no count within the cap
            assert needed is None


def test_all_five_zoo_formats_alternate_in_one_worker(mnist_dir: Path, tmp_path: Path) -> None:
    """checkpoint (through its .meta), frozen, SavedModel, Keras and TFLite load together under Keras 3 and
    their calls alternate round by round: one worker, paired samples, and the idiomatic call beside it."""
    path = scenario_file(tmp_path, formats='["checkpoint", "frozen", "saved_model", "keras", "tflite"]',
                         batch_sizes="[1]", sweep_extra='calls = ["fastest", "idiomatic"]')
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--no-report"]) == 0
    cells = read_run_file(out / "results.jsonl").cells
    assert len(cells) == 10 and {c["status"] for c in cells} == {"ok"}
    assert len({c["worker"]["pid"] for c in cells}) == 1 and {c["mode"] for c in cells} == {"interleaved"}
    assert len({c["iterations"] for c in cells}) == 1  # every call timed once per round
    calls = {(c["variant"], c["call"]): c["call_path"] for c in cells}
    assert calls[("frozen", "idiomatic")] == "session.run(fetches, feed_dict)"
    assert calls[("keras", "idiomatic")] == "model.predict(x, verbose=0)"
    assert calls[("saved_model", "idiomatic")].startswith("signatures[name]")
    assert calls[("tflite", "idiomatic")].startswith("interpreter.get_signature_runner")


def test_sessions_in_the_callers_thread_and_eager_formats_refused(mnist_dir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """inter_op_threads = -1: a scenario that gives it to a SavedModel is refused before anything runs (its functions
    run on the inter-op pool); with that combination excluded, the session formats run each call in the worker's own
    thread and the report says so."""
    sweep = "intra_op_threads = [1]\ninter_op_threads = [-1]"
    path = scenario_file(tmp_path, formats='["frozen", "saved_model", "tflite"]', batch_sizes="[1]", sweep_extra=sweep)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert "sweep.inter_op_threads: -1 (the caller's thread) applies to sessions" in capsys.readouterr().err
    assert not out.exists()
    path.write_text(path.read_text() + '\n[[exclude]]\nformat = "saved_model"\ninter_op_threads = -1\n')
    assert main(["run", str(path), "--out", str(out)]) == 0
    cells = {c["variant"]: c for c in read_run_file(out / "results.jsonl").cells}
    assert set(cells) == {"frozen", "tflite"} and {c["status"] for c in cells.values()} == {"ok"}
    assert cells["frozen"]["inter_op_threads"] == -1
    assert "threads 1/caller" in capsys.readouterr().out
