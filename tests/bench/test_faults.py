"""Real worker processes misbehaving in every way: the other cells' results survive, correct.

The workers measure the zoo's mnist_cnn as TFLite: LiteRT loads in a fraction of a second without
importing TensorFlow, so each fault costs little; the faults come from the measure task's test hook.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench import scenario
from bench.results.store import RunStore
from bench.runner.jobs import QuietReporter, Reporter, TaskBuilder, run_jobs
from bench.scenario import sweep
from reports.schema import IDENTITY_FIELDS, read_run_file

TEXT = """\
[run]
timeout = {timeout}
{extra_run}
[measure]
warmup_iterations = 2
warmup_time = 0
min_time = 0.05
min_iterations = 10
max_time = 0.3

[sweep]
formats = ["tflite"]
batch_sizes = {batch_sizes}
{extra_sweep}

[[models]]
name = "mnist"
files = {{ tflite = "{model}" }}
"""

pytestmark = pytest.mark.slow  # the zoo export behind the fixture needs TensorFlow workers when not cached


def tflite_model() -> Path:
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported("mnist_cnn") / "model.tflite"  # exported once, then cached


@pytest.fixture(autouse=True)
def _hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFER_BENCH_TEST_HOOKS", "1")

def run_sweep(tmp_path: Path, fault: dict[str, Any] | None = None, batch_sizes: str = "[1, 2, 4]",
              timeout: float = 60, extra_run: str = "", extra_sweep: str = "",
              reporter: Reporter | None = None) -> dict[int, dict[str, Any]]:
    cells = run_cells(tmp_path, fault, batch_sizes, timeout, extra_run, extra_sweep, reporter)
    assert len({c["group_id"] for c in cells}) == 1
    return {c["batch_size"]: c for c in cells}


def run_cells(tmp_path: Path, fault: dict[str, Any] | None = None, batch_sizes: str = "[1, 2, 4]",
              timeout: float = 60, extra_run: str = "", extra_sweep: str = "",
              reporter: Reporter | None = None) -> list[dict[str, Any]]:
    text = TEXT.format(timeout=timeout, batch_sizes=batch_sizes, extra_run=extra_run, extra_sweep=extra_sweep, model=tflite_model())
    s = scenario.parse(text, "t.toml", tmp_path)
    e = sweep.expand(s)
    extra = {"fault": fault} if fault else {}
    builder = TaskBuilder(s, extra=lambda job: extra)
    with RunStore.create(tmp_path / "run", "test") as store:
        run_jobs(sweep.schedule(e.groups, 1), builder, store.append, reporter)
    run = read_run_file(tmp_path / "run" / "results.jsonl")
    assert len(run.cells) == len(e.cells), "every cell gets exactly one record"
    return run.cells


def assert_ok(record: dict[str, Any]) -> None:
    assert record["status"] == "ok", record
    assert record["iterations"] == len(record["latencies_ns"]) >= 10
    assert all(isinstance(x, int) and x > 0 for x in record["latencies_ns"])
    assert record["stop_reason"] in ("ci_target", "max_time")
    assert record["throughput"] > 0 and record["peak_rss_bytes"] > 0
    assert len(record["loadavg_start"]) == 3 and len(record["loadavg_end"]) == 3
    assert set(IDENTITY_FIELDS) <= set(record)
    assert record["worker"]["tensorflow_imported"] is False  # LiteRT alone runs without TensorFlow


def test_healthy_worker_records_every_cell(tmp_path: Path) -> None:
    cells = run_sweep(tmp_path)
    for bs in (1, 2, 4):
        assert_ok(cells[bs])
        assert cells[bs]["group_id"] == "mnist/tflite/cpu" and cells[bs]["repetition"] == 0
    assert cells[1]["first_call_s"] > 0 and cells[1]["warmup_iterations"] >= 2


def test_worker_that_calls_os_exit(tmp_path: Path) -> None:
    cells = run_sweep(tmp_path, {"at_batch": 2, "kind": "exit"})
    assert_ok(cells[1])
    for bs in (2, 4):
        assert cells[bs]["status"] == "crashed"
        assert cells[bs]["exit_code"] == 123 and cells[bs]["signal"] is None
        assert "exited with code 123" in cells[bs]["error"]


def test_worker_that_sigkills_itself(tmp_path: Path) -> None:
    cells = run_sweep(tmp_path, {"at_batch": 2, "kind": "sigkill"})
    assert_ok(cells[1])
    for bs in (2, 4):
        assert cells[bs]["status"] == "crashed" and cells[bs]["signal"] == signal.SIGKILL
        assert "SIGKILL" in cells[bs]["error"] and "OOM killer" in cells[bs]["error"]


class Clocked(QuietReporter):
    """When the job's worker was started and when each batch size's record came in (this process's monotonic
    clock, which the runner's deadline also reads)."""

    def __init__(self) -> None:
        self.started = math.nan
        self.done: dict[int, float] = {}

    def job_started(self, job: Any, index: int, total: int) -> None:
        self.started = time.monotonic()

    def cell_done(self, record: Mapping[str, Any]) -> None:
        self.done[int(record["batch_size"])] = time.monotonic()


HANG_TIMEOUT_S = 10
KILL_SLACK_S = 10  # the runner's wake-up and kill after the deadline, on a machine however busy


def test_worker_that_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    """The timeout covers the worker's whole group: its start-up, batch size 1, then the hang at batch size 2.
    A LiteRT worker starts without TensorFlow (a fraction of a second) and the model is exported before the
    worker starts, so 10 s leaves batch size 1 room on a busy machine; the kill is timed from the worker's
    start, as the runner's deadline is, and must come at the timeout: not before, and not long after."""
    clock = Clocked()
    cells = run_sweep(tmp_path, {"at_batch": 2, "kind": "hang"}, timeout=HANG_TIMEOUT_S, reporter=clock)
    assert_ok(cells[1])
    for bs in (2, 4):
        assert cells[bs]["status"] == "timeout" and f"timed out after {HANG_TIMEOUT_S} s" in cells[bs]["error"]
        assert cells[bs]["signal"] == signal.SIGKILL
    killed = clock.done[2] - clock.started
    assert clock.done[1] < clock.started + HANG_TIMEOUT_S <= clock.started + killed
    assert killed < HANG_TIMEOUT_S + KILL_SLACK_S, f"killed {killed:.1f} s after the worker started"


def test_worker_that_raises(tmp_path: Path) -> None:
    cells = run_sweep(tmp_path, {"at_batch": 2, "kind": "raise"})
    assert_ok(cells[1])
    for bs in (2, 4):
        assert cells[bs]["status"] == "failed" and cells[bs]["exit_code"] == 1
        assert "RuntimeError: injected fault" in cells[bs]["error"]
        assert "Traceback" in cells[bs]["stderr_tail"]


def test_worker_user_error_is_failed_with_its_message(tmp_path: Path) -> None:
    cells = run_sweep(tmp_path, {"at_batch": 1, "kind": "user_error"})
    for bs in (1, 2, 4):
        assert cells[bs]["status"] == "failed" and cells[bs]["exit_code"] == 3
        assert cells[bs]["error"] == "BenchError: injected fault: a user error"


def test_one_failing_batch_size_leaves_the_others_measured(tmp_path: Path) -> None:
    cells = run_sweep(tmp_path, {"at_batch": 2, "kind": "cell_error"})
    assert_ok(cells[1])
    assert_ok(cells[4])
    assert cells[2]["status"] == "failed" and "RuntimeError: injected fault" in cells[2]["error"]


def test_out_of_memory_fails_that_batch_and_skips_larger_ones(tmp_path: Path) -> None:
    # A real allocation failure: the worker caps its address space 300 MB above what it uses
    # after loading; inputs for 10M images (31 GB) cannot be allocated.
    cells = run_sweep(tmp_path, batch_sizes="[1, 10000000, 20000000]", extra_run="memory_limit_mb = 300")
    assert_ok(cells[1])
    assert cells[10_000_000]["status"] == "failed"
    assert cells[10_000_000]["error"].startswith("out of memory at batch size 10000000")
    assert cells[20_000_000]["status"] == "skipped"
    assert cells[20_000_000]["error"] == "skipped: batch size 10000000 ran out of memory"


def test_interpreter_affinity_and_env_axes_reach_the_worker(tmp_path: Path) -> None:
    import os
    import sys

    other = os.path.join(os.path.dirname(sys.executable), "python" if not sys.executable.endswith("/python") else "python3")
    cells = run_cells(tmp_path, batch_sizes="[1]", extra_sweep=f'python = ["", "{other}"]\naffinity = ["", "0"]')
    assert len(cells) == 4 and all(c["status"] == "ok" for c in cells)
    for c in cells:
        assert c["worker"]["python_executable"] == (other if c["python"] else sys.executable)
        if c["affinity"] == "0":
            assert c["worker"]["cpus"] == [0]
        else:
            assert c["worker"]["cpus"] == sorted(os.sched_getaffinity(0))
    assert len({c["worker"]["pid"] for c in cells}) == 4, "one fresh process per group"


def test_missing_interpreter_fails_its_cells_and_the_sweep_goes_on(tmp_path: Path) -> None:
    cells = run_cells(tmp_path, batch_sizes="[1]", extra_sweep='python = ["/no/such/python", ""]')
    by_python = {c["python"]: c for c in cells}
    assert by_python["/no/such/python"]["status"] == "failed"
    assert "cannot start the worker (/no/such/python)" in by_python["/no/such/python"]["error"]
    assert_ok(by_python[""])
