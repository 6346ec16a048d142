"""`profile = true` in a scenario: each cell gets a profiled pass after its timing (issue 6, section 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from reports.schema import read_run_file

SCENARIO = """\
[measure]
warmup_iterations = 3
warmup_time = 0.05
min_time = 0.1
max_time = 0.3
profile = {profile}

[sweep]
formats = ["frozen", "tflite"]
batch_sizes = [2]

[[models]]
zoo = "mnist_cnn"
"""


@pytest.mark.slow
def test_profiled_cells_carry_op_breakdown_and_flops(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(profile="true"))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--no-report"]) == 0
    cells = {c["variant"]: c for c in read_run_file(tmp_path / "run" / "results.jsonl").cells}
    frozen, tflite = cells["frozen"], cells["tflite"]
    assert frozen["status"] == "ok" and len(frozen["latencies_ns"]) > 0  # the timing is kept
    assert frozen["flops_per_sample"] == 843_708  # the seed network, per sample
    assert frozen["profile"] and "error" not in frozen["profile"]
    assert tflite["profile"] and tflite["flops_per_sample"] is None  # op list only, no invented times


def test_profile_must_be_a_boolean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(profile='"yes"'))
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "s.toml:6" in err and "measure.profile" in err and "true or false" in err
