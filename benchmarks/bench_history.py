"""The history database's own numbers: ingest time, dashboard time, and change-point error rates on real runs.

1. Ingest: a synthetic 1,000-cell results file (one process per cell, 2,000 samples each) into a fresh SQLite
   database, timed end to end through `history.ingest` (parse, per-process statistics, one transaction).
   Interleaved with a second ingest of the same file (idempotent: nothing added) to show what is parsing.
2. Dashboard: a database holding 500 commits x 200 series (3 processes per commit), then
   `infer-bench history html` built from it: read, change points per series, page rendered.
3. Change-point error rates on real history. One scenario is run RUNS times with real `infer-bench run`
   (fresh worker processes, REPS per run): a small CNN as a frozen GraphDef (built once), measured at batch
   32 and at batch 35, 40 and 48 in the same worker. Each run is one commit of an unchanged build for the
   batch-32 cell (false alarms per series over RUNS commits; each of the four batch sizes is such a series).
   A real slowdown injected at commit k is the batch-32 cell's processes for commits < k and a larger batch's
   processes of the same runs (relabelled) from commit k on: the same network doing 3/32, 8/32 or 16/32 more
   work per call, nominally +10%, +25%, +50%; the slowdown each really has is measured from the runs and
   printed (it is what the rates refer to). Detection rate and how far the reported commit is from k, per
   size, over several k. (The extra-samples graphs of bench_gate_error_rates.py measured about 3x base in
   workers here whatever their calibration, so they could not give graded sizes.)

    python benchmarks/bench_history.py [--runs 30 --reps 2] [--work DIR]
    python benchmarks/bench_history.py --collect-only --work DIR    # just the real runs (slow)
    python benchmarks/bench_history.py --analyse-only --work DIR    # re-analyse stored runs

The printed results are committed as benchmarks/results/history.txt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

BATCH = 32
SLOW_BATCHES = {35: "+10%", 40: "+25%", 48: "+50%"}  # nominal: the extra work per call
THREADS = 1
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
batch_sizes = {batches}
intra_op_threads = [{threads}]
"""
MODEL = """
[[models]]
name = "{name}"
files = {{ frozen = "models/{file}.pb" }}
inputs = ["x"]
outputs = ["y"]
"""


BUILD = r'''
import sys
from pathlib import Path
import numpy as np
import tensorflow as tf

g = tf.Graph()
with g.as_default():
    rng = np.random.default_rng(0)
    x = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], name="x")
    w1 = tf.constant(rng.normal(0, 0.1, (3, 3, 1, 32)).astype(np.float32))
    w15 = tf.constant(rng.normal(0, 0.05, (3, 3, 32, 64)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.01, (14 * 14 * 64, 10)).astype(np.float32))
    h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME")), 2, 2, "VALID")
    h = tf.nn.relu(tf.nn.conv2d(h, w15, 1, "SAME"))
    tf.nn.softmax(tf.matmul(tf.reshape(h, [-1, 14 * 14 * 64]), w2), name="y")
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
(out / "base.pb").write_bytes(g.as_graph_def().SerializeToString(deterministic=True))
'''


def build_model(work: Path) -> Path:
    """base.pb, built in a child process (this one never imports TensorFlow)."""
    models = work / "models"
    if not (models / "base.pb").exists():
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        subprocess.run([sys.executable, "-c", BUILD, str(models)], check=True, env=env, timeout=900)
    return models / "base.pb"


def write_scenario(work: Path, reps: int, seed: int) -> Path:
    text = SCENARIO.format(reps=reps, seed=seed, batches=[BATCH, *SLOW_BATCHES], threads=THREADS)
    text += MODEL.format(name="base", file="base")
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
    parser.add_argument("--reps", type=int, default=2, help="worker processes per run (default 2)")
    parser.add_argument("--work", type=Path, help="where models and runs are kept (default: a temporary directory)")
    parser.add_argument("--collect-only", action="store_true", help="only make the real runs")
    parser.add_argument("--analyse-only", action="store_true", help="only analyse the runs stored in --work")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    if not args.analyse_only:
        build_model(work)
        collect(work, args.runs, args.reps)
    if args.collect_only:
        return 0
    return report(work)


if __name__ == "__main__":
    sys.exit(main())
