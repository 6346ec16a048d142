"""`infer-bench import pytest-benchmark`: JSON made by really running pytest-benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compare_fixtures import own_session_env

from bench.errors import ImportFileError
from bench.integrations.import_pytest_benchmark import import_files, read_document
from reports.compare import compare
from reports.load import load_runs

ROOT = Path(__file__).resolve().parents[2]
TINY = """
def test_sum(benchmark):
    benchmark(sum, range(200))

def test_sorted(benchmark):
    benchmark.extra_info["batch_size"] = 4
    benchmark(sorted, list(range(300, 0, -1)))
"""


def run_pytest_benchmark(where: Path, name: str, save_data: bool = True) -> Path:
    """Run pytest-benchmark for real on a tiny test file; returns its JSON.

    --benchmark-save writes raw timings only with --benchmark-save-data (--benchmark-json always
    writes them), so the summary-only case saves without that flag."""
    where.mkdir(exist_ok=True)
    (where / "test_tiny_bench.py").write_text(TINY)
    storage = where / f"storage-{name}"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny_bench.py",
            f"--benchmark-save={name}", f"--benchmark-storage=file://{storage}",
            "--benchmark-min-rounds=10", "--benchmark-max-time=0.02", "--benchmark-warmup=off"]
    if save_data:
        args.append("--benchmark-save-data")
    done = subprocess.run(args, cwd=where, env=own_session_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (saved,) = storage.glob(f"*/*_{name}.json")
    return saved


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    where = tmp_path_factory.mktemp("pb")
    return [run_pytest_benchmark(where, f"s{i}") for i in range(3)]


def test_import_with_raw_data(sessions: list[Path], tmp_path: Path) -> None:
    path, cells, repetitions = import_files(sessions, tmp_path / "imported")
    assert (cells, repetitions) == (2, 3)
    runs = load_runs([path])
    assert len(runs.cells) == 6
    assert set(runs.cells["repetition"]) == {0, 1, 2}
    by_model = runs.cells.drop_duplicates("model").set_index("model")
    assert by_model.loc["test_tiny_bench.py::test_sorted", "batch_size"] == 4
    raw = json.loads(sessions[0].read_text())["benchmarks"][0]["stats"]["data"]
    first = runs.cells.index[(runs.cells["repetition"] == 0) & (runs.cells["model"].str.endswith("test_sum"))][0]
    assert list(runs.latencies[first]) == [round(x * 1e9) for x in raw]
    assert runs.headers[next(iter(runs.headers))]["env"]["imported_from"] == "pytest-benchmark"


def test_imported_runs_compare(sessions: list[Path], tmp_path: Path) -> None:
    base, _, _ = import_files(sessions, tmp_path / "a")
    cur, _, _ = import_files(sessions, tmp_path / "b")
    frame = compare(load_runs([base]), load_runs([cur])).frame
    # the same processes on both sides: no change, whatever the noise between the pytest sessions
    assert set(frame["verdict"]) <= {"unchanged", "inconclusive"}
    assert (frame["ratio"] == 1.0).all()
    assert (frame["n_baseline"] == 3).all()


def test_import_without_raw_data_says_what_is_missing(tmp_path: Path) -> None:
    summary_only = run_pytest_benchmark(tmp_path / "w", "summary", save_data=False)
    with pytest.raises(ImportFileError, match="2 of 2 benchmarks have no raw timings.*--benchmark-save-data"):
        read_document(summary_only)
    done = cli("import", "pytest-benchmark", summary_only, "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "--benchmark-save-data" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_cli_import_and_bad_files(sessions: list[Path], tmp_path: Path) -> None:
    done = cli("import", "pytest-benchmark", *sessions[:2], "--out", tmp_path / "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 benchmarks x 2 repetition(s)" in done.stdout and "fewer than 3" in done.stdout
    assert (tmp_path / "run" / "results.jsonl").is_file()
    (tmp_path / "junk.json").write_text("{nope")
    assert cli("import", "pytest-benchmark", tmp_path / "junk.json", "--out", tmp_path / "x", cwd=tmp_path).returncode == 2
    (tmp_path / "other.json").write_text(json.dumps({"benchmarks": "no"}))
    with pytest.raises(ImportFileError, match="no \"benchmarks\" list"):
        read_document(tmp_path / "other.json")
    with pytest.raises(ImportFileError, match="no such file"):
        read_document(tmp_path / "absent.json")
