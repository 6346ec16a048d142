"""The history database's own numbers: ingest time, dashboard time, and change-point error rates on real runs.

1. Ingest: a synthetic 1,000-cell results file (one process per cell, 2,000 samples each) into a fresh SQLite
   database, timed end to end through `history.ingest` (parse, per-process statistics, one transaction).
   Interleaved with a second ingest of the same file (idempotent: nothing added) to show what is parsing.
2. Dashboard: a database holding 500 commits x 200 series (3 processes per commit), then
   `infer-bench history html` built from it: read, change points per series, page rendered.
3. Change-point error rates on real history. One scenario is run RUNS times with real `infer-bench run`
   (fresh worker processes): a small CNN as a frozen GraphDef ("base"), a second copy of it under another
   name ("twin") and slower copies whose network runs on k more samples than the batch ("slow10", "slow25",
   "slow50": the trick of benchmarks/bench_gate_error_rates.py, calibrated in one process). Every run measures
   all of them, interleaved, so each run is one commit of an unchanged build for base and twin (false alarms
   per series over RUNS commits), and a history with a real slowdown injected at commit k is: base's
   processes for commits < k, slowNN's processes of the same runs from commit k on (detection rate and
   how far the reported commit is from k, for each size and several k).

    python benchmarks/bench_history.py [--runs 30 --reps 2] [--work DIR]
    python benchmarks/bench_history.py --collect-only --work DIR    # just the real runs (slow)
    python benchmarks/bench_history.py --analyse-only --work DIR    # re-analyse stored runs

The printed results are committed as benchmarks/results/history.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

NOMINAL = {"slow10": 0.10, "slow25": 0.25, "slow50": 0.50}
BATCH = 32
THREADS = 1
PROBE_UNITS = 16
SPLITS = (8, 12, 16, 20)  # commits at which a slowdown is injected (0-based: the first slow commit)


# ---- real runs ---------------------------------------------------------------------------------------

SCENARIO = """# written by benchmarks/bench_history.py
[run]
repetitions = {reps}
shuffle_seed = {seed}
timeout = 300

[measure]
warmup_time = 0.3
min_time = 0.5
max_time = 2.0

[sweep]
formats = ["frozen"]
batch_sizes = [{batch}]
intra_op_threads = [{threads}]
"""
MODEL = """
[[models]]
name = "{name}"
files = {{ frozen = "models/{file}.pb" }}
inputs = ["x"]
outputs = ["y"]
"""


def build_models(work: Path) -> dict[str, Any]:
    """base.pb and the slow copies, calibrated in one child process (this one never imports TensorFlow)."""
    from bench_gate_error_rates import BUILD

    models = work / "models"
    if not (models / "calibration.json").exists():
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        args = [sys.executable, "-c", BUILD, str(models), str(PROBE_UNITS), json.dumps(NOMINAL), str(ROOT),
                str(BATCH), str(THREADS)]
        subprocess.run(args, check=True, env=env, timeout=900)
    return dict(json.loads((models / "calibration.json").read_text()))


def write_scenario(work: Path, reps: int, seed: int) -> Path:
    text = SCENARIO.format(reps=reps, seed=seed, batch=BATCH, threads=THREADS)
    text += "".join(MODEL.format(name=name, file=name) for name in ("base", *NOMINAL))
    text += MODEL.format(name="twin", file="base")
    path = work / f"scenario-{seed}.toml"
    path.write_text(text)
    return path


def collect(work: Path, runs: int, reps: int) -> list[Path]:
    """RUNS real runs, one after another (runs already complete are kept)."""
    out = []
    for i in range(runs):
        run_dir = work / "runs" / f"run-{i:03d}"
        if not (run_dir / "results.jsonl").exists():
            started = time.time()
            cmd = [sys.executable, "-m", "bench.cli", "run", str(write_scenario(work, reps, i + 1)),
                   "--out", str(run_dir), "--no-report"]
            subprocess.run(cmd, check=False, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=3600)
            print(f"# run {i}: {time.time() - started:.0f} s", file=sys.stderr, flush=True)
        out.append(run_dir)
    return out


# ---- main --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="real runs of the unchanged build (default 30)")
    parser.add_argument("--reps", type=int, default=2, help="worker processes per model per run (default 2)")
    parser.add_argument("--work", type=Path, help="where models and runs are kept (default: a temporary directory)")
    parser.add_argument("--collect-only", action="store_true", help="only make the real runs")
    parser.add_argument("--analyse-only", action="store_true", help="only analyse the runs stored in --work")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    if not args.analyse_only:
        build_models(work)
        collect(work, args.runs, args.reps)
    if args.collect_only:
        return 0
    return report(work)


if __name__ == "__main__":
    sys.exit(main())
