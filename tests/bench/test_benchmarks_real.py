"""The issue-11 benchmarks run end to end in a shortened form (their numbers are committed separately)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_calibration_benchmark_runs_shortened(mnist_dir: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_calibration.py"), "--runs", "2", "--procs", "2",
                           "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.count("\nrun 0") == 2
    assert "ALL ratio: rerun intervals held the next run's estimate in" in out
    assert "frozen/checkpoint b1" in out and "median tflite b32" in out
