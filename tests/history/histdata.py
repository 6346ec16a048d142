"""Results files for the history tests, written the way `infer-bench run` writes them (CellRecord, dumps).

The values are chosen by the tests (a step at a known commit, a known median): the database, the ingest and
the change points are real; only the measurement is skipped here (test_history_bisect measures for real).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reports.history import Point, Series
from reports.schema import CellRecord, dumps

ROOT = Path(__file__).resolve().parents[2]


def env(host: str = "hostA", commit: str | None = None, branch: str | None = "main",
        committed: str | None = None, parent: str | None = None) -> dict[str, Any]:
    git = {"commit": commit, "dirty": False, "branch": branch, "parent": parent, "committed": committed} if commit else None
    return {"host": host, "cpu": {"model": "Test CPU", "logical_cores": 2}, "memory_bytes": 8 << 30, "gpus": [],
            "git": git}


def write_run(run_dir: Path, run_id: str, processes: Mapping[str, Sequence[Sequence[int]]], created: str | None = None,
              **env_args: Any) -> Path:
    """A results.jsonl: for each model, one cell record per process (repetition) with these latencies."""
    run_dir.mkdir(parents=True, exist_ok=True)
    created = created or f"2026-01-01T00:00:{len(run_id) % 60:02d}+00:00"
    lines = [dumps({"kind": "header", "run_id": run_id, "created": created,
                    "scenario_path": None, "scenario_text": "", "policy": {}, "env": env(**env_args)})]
    for model, procs in processes.items():
        for rep, lat in enumerate(procs):
            record = CellRecord(cell_id=f"{model}/frozen/cpu/b1", group_id=f"{model}/frozen/cpu", repetition=rep,
                                model=model, variant="frozen", latencies_ns=[int(v) for v in lat], iterations=len(lat))
            lines.append(dumps({**record.to_json(), "run_id": run_id}))
    path = run_dir / "results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return run_dir


def sha(i: int) -> str:
    """The made-up commit of run i (its first 10 characters differ)."""
    return f"{i:04x}" + "e" * 36


def step_history(root: Path, commits: int, step_at: int | None, factor: float, models: Sequence[str] = ("m",),
                 processes: int = 3, seed: int = 0, host: str = "hostA") -> list[Path]:
    """`commits` runs, one per commit; from commit `step_at` on every process is `factor` slower."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(commits):
        scale = factor if step_at is not None and i >= step_at else 1.0
        procs = {m: [list(rng.lognormal(np.log(1e6 * scale * rng.lognormal(0, 0.03)), 0.02, 50)) for _ in range(processes)]
                 for m in models}
        runs.append(write_run(root / f"run{i:03d}", f"run-{host}-{i:03d}", procs, host=host, commit=sha(i),
                              committed=f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00+00:00"))
    return runs


def cli(*args: str, env_extra: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`infer-bench ARGS` in a fresh process (what a user runs)."""
    environ = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=environ, cwd=cwd or ROOT)


class Done:
    """What an in-process `infer-bench` call returned and printed (like CompletedProcess)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def main(capsys: Any, *args: str) -> Done:
    """`infer-bench ARGS` in this process: the same code path and output, without a Python start-up."""
    from bench.cli import main as cli_main

    capsys.readouterr()
    code = cli_main(list(args))
    out = capsys.readouterr()
    return Done(code, out.out, out.err)


def series_with(values: list[list[float]]) -> Series:
    points = tuple(Point(f"{i:04x}" + "0" * 36, tuple(v)) for i, v in enumerate(values))
    return Series("m1", "hostA", {"model": "m", "variant": "frozen", "device": "cpu", "batch_size": 1}, "p50", "main", points)


def noisy(n: int, step_at: int | None, factor: float, seed: int, procs: int = 3, sd: float = 0.05) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [list(rng.lognormal(np.log(factor if step_at is not None and i >= step_at else 1.0), sd, procs))
            for i in range(n)]
