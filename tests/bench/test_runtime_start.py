"""The runtime's start is a phase of the worker process, apart from every model's own load.

A worker that loads several models pays TensorFlow's import and first session once; it is recorded once per
process (in its facts, the same on each of its cells) and is in no model's load_s, load_phases or first call.
The timing logic is checked on a fake clock; the real worker is checked on the shape of its records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import scenario
from bench.cli import main
from bench.runner.jobs import TaskBuilder
from bench.scenario import sweep
from bench.worker import measure
from bench.worker.facts import RUNTIME_START
from infer_core.model import ModelSpec
from infer_core.runtime import EAGER_CONTEXT, FIRST_SESSION, Step, start_steps, timed
from reports.schema import read_run_file

MEASURE = """\
[measure]
warmup_iterations = 2
warmup_time = 0
min_time = 0.02
min_iterations = 5
max_time = 0.2
"""


class FakeClock:
    """Time moves by `tick` at every reading, and by a step's known cost when the step runs."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        value, self.now = self.now, self.now + self.tick
        return value

    def advance(self, seconds: float) -> None:
        self.now += seconds


def names(*specs: ModelSpec) -> list[str]:
    return [s.name for s in start_steps(list(specs))]


def test_each_step_is_timed_on_the_clock_given() -> None:
    clock = FakeClock(tick=0.5)
    steps = [Step("import tensorflow", lambda: clock.advance(5.0)), Step(FIRST_SESSION, lambda: clock.advance(0.25))]
    # each step: its own cost plus the one tick between its two readings
    assert timed(steps, clock) == {"import tensorflow": 5.5, FIRST_SESSION: 0.75}


def test_the_steps_are_what_the_process_s_formats_would_pay_on_their_first_load() -> None:
    assert names(ModelSpec("m", "checkpoint"), ModelSpec("m.pb", "frozen")) == ["import tensorflow", FIRST_SESSION]
    assert names(ModelSpec("d", "saved_model+xla"), ModelSpec("m.tflite", "tflite")) == [
        "import tensorflow", "import ai_edge_litert", EAGER_CONTEXT]
    assert names(ModelSpec("m.tflite", "tflite+int8")) == ["import ai_edge_litert"]  # LiteRT loads without TensorFlow
    assert names(ModelSpec("m.pb", "frozen"), ModelSpec("m.keras", "keras")) == [
        "import tensorflow", FIRST_SESSION, EAGER_CONTEXT]


def test_a_spec_whose_format_cannot_be_told_adds_no_step(tmp_path: Path) -> None:
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"x")
    assert names(ModelSpec(str(odd))) == []  # its own load says why it cannot load
    assert names(ModelSpec(str(odd)), ModelSpec("m.tflite", "tflite")) == ["import ai_edge_litert"]


def _task(model_dir: Path, tmp_path: Path) -> dict[str, Any]:
    text = MEASURE + f"""
[sweep]
formats = ["frozen", "tflite"]
batch_sizes = [1, 2]

[[models]]
name = "mnist"
files = {{ frozen = "{model_dir / 'frozen.pb'}", tflite = "{model_dir / 'model.tflite'}" }}
"""
    s = scenario.parse(text, "t.toml", tmp_path)
    jobs = sweep.schedule(sweep.expand(s).groups, 1)
    assert len(jobs) == 1, "both formats share one worker (interleaved)"
    return TaskBuilder(s).task(jobs[0]).to_json()


@pytest.mark.slow
def test_in_a_shared_worker_the_runtime_start_is_recorded_once_and_in_no_load(mnist_dir: Path, tmp_path: Path) -> None:
    """The measure task with real models, its runtime start replaced by steps of known cost on a fake clock:
    every cell carries the same runtime start, and each load_s is one tick (its own two readings), however long
    the runtime's start took."""
    clock = FakeClock(tick=0.5)
    steps = [Step("import tensorflow", lambda: clock.advance(5.0)), Step(FIRST_SESSION, lambda: clock.advance(0.25))]
    records: list[dict[str, Any]] = []
    measure.run(_task(mnist_dir, tmp_path), records.append, clock=clock, steps=steps)
    cells = [r for r in records if r.get("kind") == "cell"]
    assert len(cells) == 4 and {c["status"] for c in cells} == {"ok"}
    assert {c["worker"]["pid"] for c in cells} == {cells[0]["worker"]["pid"]}
    for cell in cells:
        assert cell["worker"][RUNTIME_START] == {"import tensorflow": 5.5, FIRST_SESSION: 0.75}
        assert cell["load_s"] == 0.5  # the model's own load only, whichever loaded first
        assert not set(cell["load_phases"]) & {"import tensorflow", FIRST_SESSION}
        assert cell["first_call_s"] is not None


@pytest.mark.slow
def test_a_real_worker_of_two_formats_records_its_runtime_start_once_per_process(mnist_dir: Path, tmp_path: Path) -> None:
    """checkpoint and frozen graph in one worker, two repetitions: each process records its own runtime start (import
    tensorflow, the first session), the same on every cell of that process, and no model's load holds it."""
    path = tmp_path / "s.toml"
    path.write_text("[run]\nrepetitions = 2\n" + MEASURE
                    + '[sweep]\nformats = ["checkpoint", "frozen"]\nbatch_sizes = [1, 2]\n[[models]]\nzoo = "mnist_cnn"\n')
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--no-report", "--no-history"]) == 0
    cells = read_run_file(out / "results.jsonl").cells
    assert len(cells) == 8 and {c["status"] for c in cells} == {"ok"}
    by_process: dict[int, list[dict[str, Any]]] = {}
    for cell in cells:
        by_process.setdefault(cell["worker"]["pid"], []).append(cell)
    assert len(by_process) == 2 and all(len(own) == 4 for own in by_process.values())
    for own in by_process.values():
        start = own[0]["worker"][RUNTIME_START]
        assert list(start) == ["import tensorflow", FIRST_SESSION] and all(s > 0 for s in start.values())
        assert all(c["worker"][RUNTIME_START] == start for c in own), "one runtime start per process"
        for cell in own:
            phases = cell["load_phases"]
            assert not set(phases) & set(start) and 0 < sum(phases.values()) <= cell["load_s"]
            # had the import been charged to the model loaded first, that model's load_s would be at least the import
            assert cell["load_s"] < start["import tensorflow"]
