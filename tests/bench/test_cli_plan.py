"""`infer-bench plan` and `--help`: correct output, fast start (no TensorFlow, pandas or rich)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from bench.cli import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
heavy = [m for m in ("tensorflow", "pandas", "rich", "matplotlib", "scipy") if m in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["plan", "scenarios/ci.toml"], ["plan", "--quick"]])
def test_help_and_plan_import_nothing_heavy(argv: list[str]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    result = json.loads(out.stderr.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}


def test_plan_lists_groups_and_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(ROOT / "scenarios" / "ci.toml")]) == 0
    out = capsys.readouterr().out
    assert "6 cells in 3 worker groups x 10 repetition(s) = 30 worker processes (order shuffled, seed 3)" in out
    assert "mnist_cnn/frozen/cpu" in out and "batch 1, 32" in out
    assert "worker order (first rounds):" in out
    assert "measure mode separate):" in out  # one variant per worker: no turns to state


def test_plan_states_the_interleaved_turns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["plan"]) == 0
    assert "measure mode interleaved; each variant's turn: 1 untimed + 3 timed calls" in capsys.readouterr().out
    (tmp_path / "s.toml").write_text('[[models]]\nzoo = "mnist_cnn"\n[measure]\nswitch_warmup = 0\nturn_calls = 1\n')
    assert main(["plan", str(tmp_path / "s.toml")]) == 0
    assert "each variant's turn: 0 untimed + 1 timed calls" in capsys.readouterr().out


def test_plan_applies_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--quick", "--formats", "frozen,tflite", "--devices", "cpu", "--repetitions", "2"]) == 0
    out = capsys.readouterr().out
    # frozen and tflite interleaved in one worker, with frozen's idiomatic call (the zero-config default has it)
    assert "6 cells in 1 worker groups x 2 repetition(s)" in out
    assert "interleaved: frozen, frozen (idiomatic), tflite" in out
    assert "batch 1, 8" in out


def test_a_time_budget_makes_the_run_adaptive_and_lifts_the_process_cap(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('[[models]]\nzoo = "mnist_cnn"\n[run]\nrepetitions = 3\n')
    assert main(["plan", str(tmp_path / "s.toml"), "--time-budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "within ±3% (at least 5, at most 200 processes per group; no new round after 300 s)" in out
    assert "for the first 5 processes per group; then rounds until the target or the 300 s budget" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--formats", "frozn"], "--formats: unknown format 'frozn'"),
        (["plan", "--batch-sizes", "1,x"], "--batch-sizes: '1,x' is not a comma-separated list"),
        (["plan", "--devices", "tpu"], "--devices: 'tpu': use cpu, gpu or gpu:N"),
        (["plan", "--repetitions", "0"], "--repetitions: must be at least 1"),
        (["plan", "--time-budget", "soon"], "--time-budget: give a number of seconds > 0, got 'soon'"),
        (["plan", "--time-budget", "0"], "--time-budget: give a number of seconds > 0, got '0'"),
        (["plan", "--time-budget", "60", "--repetitions", "3"], "--time-budget: applies to --repetitions auto"),
        (["plan", "no/such.toml"], "no/such.toml: no such scenario file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_malformed_scenario_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[models]]\nzoo = \"mnist_cnn\"\n\n[sweep]\nbatch_sizes = [0]\n")
    assert main(["plan", str(bad)]) == 2
    assert f"{bad}:5: sweep.batch_sizes: must be an integer >= 1, got 0" in capsys.readouterr().err
