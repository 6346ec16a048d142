"""Every exit code of `compare` and `baseline`, through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compare_fixtures import WriteRun, assert_comparison_can_reject, cell

from reports.compare import compare
from reports.load import load_runs
from tests.reports.gfm import assert_tables_render

ROOT = Path(__file__).resolve().parents[2]
STEADY = [1.00, 1.04, 0.97, 1.02, 0.99]
NOISY = [0.7, 1.3, 1.0, 0.8, 1.2]


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("INFER_BENCH_BASELINES", None)
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def runs(write_run: WriteRun) -> dict[str, Path]:
    return {
        "main": write_run("main", [cell("a", STEADY, seed=1), cell("n", NOISY, seed=2)]),
        "same": write_run("same", [cell("a", STEADY, seed=3), cell("n", NOISY, seed=4)]),
        "slow": write_run("slow", [cell("a", [x * 1.3 for x in STEADY], seed=5), cell("n", NOISY, seed=6)]),
        "vague": write_run("vague", [cell("a", STEADY, seed=7), cell("n", [x * 1.1 for x in NOISY], seed=8)]),
    }


def test_exit_0_unchanged_and_markdown(runs: dict[str, Path], tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    done = cli("compare", runs["main"], runs["same"], "--format", "md", "--summary", summary, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # "n" has a +-30% between-process spread: it cannot be shown unchanged, which is not a failure
    assert done.stdout.startswith("### 🟡") and "1 unchanged, 1 inconclusive" in done.stdout.splitlines()[0]
    assert summary.read_text().strip() == done.stdout.strip()
    assert_tables_render(done.stdout)
    # 5 vs 5 processes, 2 cells: Holm's first level 0.005 is within reach of the rank test (best p 1/252)
    assert_comparison_can_reject(compare(load_runs([runs["main"]]), load_runs([runs["same"]])))


def test_exit_1_slower_with_saved_baseline(runs: dict[str, Path], tmp_path: Path) -> None:
    saved = cli("baseline", "save", runs["main"], "--name", "main", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / ".infer-bench" / "baselines" / "main" / "baseline.json").is_file()
    listed = cli("baseline", "list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("main\t")
    shown = cli("baseline", "show", "main", cwd=tmp_path)
    assert shown.returncode == 0 and "a · frozen · cpu · b1: 5/5 processes ok" in shown.stdout
    done = cli("compare", "--baseline", "main", runs["slow"], "--threshold", "5%", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["verdict"] == "fail"
    assert {c["model"]: c["verdict"] for c in document["cells"]}["a"] == "slower"


def test_pooled_baseline_and_current_runs(write_run: WriteRun, tmp_path: Path) -> None:
    """Runs alternated A B A B: each side pools its runs' processes."""
    a1 = write_run("a1", [cell("a", STEADY[:3], seed=1)])
    a2 = write_run("a2", [cell("a", STEADY[3:], seed=2)])
    b1 = write_run("b1", [cell("a", [x * 1.3 for x in STEADY[:3]], seed=3)])
    b2 = write_run("b2", [cell("a", [x * 1.3 for x in STEADY[3:]], seed=4)])
    done = cli("compare", "--baseline-run", a1, "--baseline-run", a2, b1, b2, "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (only,) = json.loads(done.stdout)["cells"]
    assert (only["n_baseline"], only["n_current"], only["verdict"]) == (5, 5, "slower")


def test_exit_3_only_under_strict(runs: dict[str, Path], tmp_path: Path) -> None:
    assert cli("compare", runs["main"], runs["vague"], cwd=tmp_path).returncode == 0
    done = cli("compare", runs["main"], runs["vague"], "--strict", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "inconclusive" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--baseline", "nope", "CUR"], "no baseline 'nope'"),
        (["compare", "MAIN", "missing-run"], "no such results file"),
        (["compare", "MAIN", "CUR", "--threshold", "5"], "ambiguous"),
        (["compare", "MAIN"], "give BASELINE and CURRENT"),
        (["compare", "MAIN", "CUR", "--metric", "p42"], "invalid choice"),
    ],
)
def test_exit_2_usage_and_input_errors(runs: dict[str, Path], tmp_path: Path, args: list[str], message: str) -> None:
    real = [str(runs["main"]) if a == "MAIN" else str(runs["same"]) if a == "CUR" else a for a in args]
    done = cli(*real, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.startswith("infer-bench")]) <= 1
    assert "Traceback" not in done.stderr


def test_exit_2_corrupt_baseline(runs: dict[str, Path], tmp_path: Path) -> None:
    assert cli("baseline", "save", runs["main"], "--name", "main", cwd=tmp_path).returncode == 0
    (tmp_path / ".infer-bench" / "baselines" / "main" / "results-0.jsonl").write_text("garbage\n")
    done = cli("compare", "--baseline", "main", runs["same"], cwd=tmp_path)
    assert done.returncode == 2
    assert "checksum" in done.stderr and "Traceback" not in done.stderr


def test_exit_2_corrupt_results_file(runs: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.jsonl").write_text('{"schema": 7, "kind": "header"}\n')
    done = cli("compare", runs["main"], bad, cwd=tmp_path)
    assert done.returncode == 2 and "schema version 7" in done.stderr
