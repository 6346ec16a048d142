"""Duet mode on real workers: the zoo's mnist_cnn as TFLite, two settings that must run in separate processes
(an environment toggle), two workers at a time.

What is asserted is the shape of what the workers recorded on the machine's monotonic clock — the windows
overlap, a lost partner is seen soon after its last window — never how fast this machine is.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from bench import scenario
from bench.cli import main
from bench.results.store import RunStore
from bench.runner.duet import run_scheduled
from bench.runner.jobs import TaskBuilder
from bench.scenario import sweep
from reports.schema import read_run_file

pytestmark = pytest.mark.slow  # the zoo export behind the fixture needs TensorFlow workers when not cached

SCENARIO = """\
[run]
repetitions = {reps}
timeout = 120
[measure]
mode = "duet"
warmup_time = 0.02
min_time = 0.1
max_time = {window}
[sweep]
formats = ["tflite"]
batch_sizes = {batch_sizes}
[sweep.env]
INFER_BENCH_DUET_TEST = ["a", "b"]
[[models]]
name = "lite"
files = {{ tflite = "{model}" }}
"""


def overlap(a: list[int], b: list[int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


def side(cell: dict[str, Any]) -> str:
    return str(cell["env_toggles"]).rsplit("=", 1)[-1]


def test_a_duet_times_both_partners_in_one_recorded_window(mnist_dir: Path, tmp_path: Path) -> None:
    """Two workers started together, each on its own core where the machine has two, time each batch size in
    the same window: each cell's recorded window overlaps its partner's by at least 95% of its own length. The
    cells name each other as partners, each round is a duet of its own, and the report pairs them as duets."""
    path = tmp_path / "duet.toml"
    path.write_text(SCENARIO.format(reps=2, window=0.5, batch_sizes="[1, 8]", model=mnist_dir / "model.tflite"))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--no-report"]) == 0
    cells = read_run_file(out / "results.jsonl").cells
    assert len(cells) == 8 and {c["mode"] for c in cells} == {"duet"} and {c["status"] for c in cells} == {"ok"}
    duets = {rep: {c["duet"]["id"] for c in cells if c["repetition"] == rep} for rep in (0, 1)}
    assert all(len(ids) == 1 for ids in duets.values()) and duets[0] != duets[1]
    for rep in (0, 1):
        for batch in (1, 8):
            a, b = sorted((c for c in cells if c["repetition"] == rep and c["batch_size"] == batch), key=side)
            assert a["worker"]["pid"] != b["worker"]["pid"]
            assert (a["duet"]["partners"], b["duet"]["partners"]) == ([b["cell_id"]], [a["cell_id"]])
            assert not a["duet"]["partner_lost"] and not b["duet"]["partner_lost"]
            shared = overlap(a["window_ns"], b["window_ns"])
            for cell in (a, b):
                length = cell["window_ns"][1] - cell["window_ns"][0]
                assert shared >= 0.95 * length, (a["window_ns"], b["window_ns"])
            if len(os.sched_getaffinity(0)) >= 2:
                first_two = sorted(os.sched_getaffinity(0))[:2]
                assert {tuple(a["worker"]["cpus"]), tuple(b["worker"]["cpus"])} == {(first_two[0],), (first_two[1],)}
    from reports.aggregate import aggregate
    from reports.load import load_runs
    from reports.views import paired_speedup

    agg = aggregate(load_runs([out])).set_index(["env_toggles", "batch_size"])
    got = paired_speedup(agg.loc[("INFER_BENCH_DUET_TEST=a", 1)], agg.loc[("INFER_BENCH_DUET_TEST=b", 1)], 0.95)
    assert got["ci_scope"] == "paired in duets (two processes at once), n=2"


def test_a_killed_partner_is_seen_within_2_s_and_the_survivor_finishes_alone(
        mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker b is SIGKILLed as its batch size 2 starts. Worker a sees it gone within 2 s of b's last window
    (b died after that window ended, so this bounds the detection), times batch sizes 2 and 4 alone instead of
    waiting for b at each, and its records say the partner was lost and when."""
    monkeypatch.setenv("INFER_BENCH_TEST_HOOKS", "1")
    text = SCENARIO.format(reps=1, window=0.3, batch_sizes="[1, 2, 4]", model=mnist_dir / "model.tflite")
    s = scenario.parse(text, "duet.toml", tmp_path)
    expanded = sweep.expand(s)
    fault = {"at_batch": 2, "kind": "sigkill"}
    builder = TaskBuilder(s, extra=lambda job: {"fault": fault} if job.group.key.env_toggles.endswith("=b") else {})
    with RunStore.create(tmp_path / "run", "test") as store:
        run_scheduled(sweep.schedule(expanded.groups, 1), builder, store.append)
    cells = read_run_file(tmp_path / "run" / "results.jsonl").cells
    by = {(side(c), c["batch_size"]): c for c in cells}
    assert len(by) == 6
    b1 = by[("b", 1)]
    assert b1["status"] == "ok" and b1["mode"] == "duet"
    assert [(by[("b", n)]["status"], by[("b", n)]["signal"]) for n in (2, 4)] == [("crashed", signal.SIGKILL)] * 2
    a1, a2, a4 = (by[("a", n)] for n in (1, 2, 4))
    assert a1["mode"] == "duet" and a1["duet"]["partners"] == [b1["cell_id"]] and not a1["duet"]["partner_lost"]
    for cell in (a2, a4):
        assert cell["status"] == "ok" and cell["mode"] == "separate" and cell["iterations"] > 0
        assert cell["duet"]["partner_lost"] and cell["duet"]["partners"] == []
        assert cell["duet"]["lost_ns"] == a2["duet"]["lost_ns"]
    lost = a2["duet"]["lost_ns"]
    assert b1["window_ns"][1] <= lost < b1["window_ns"][1] + 2_000_000_000
    assert lost <= a2["window_ns"][0]  # a timed batch size 2 after seeing b gone, not in a window with it
