"""Shared by the benchmarks that need real runs with real, calibrated slowdowns (bench_gate_error_rates.py,
bench_history.py): build a base CNN and slowed copies of it, write the scenario, run it with `infer-bench run`.

The slowed copies run their network on k more samples than the batch (copies of the first ones, dropped from
the output): the same kind of work, granular to about 1/batch, with almost no fixed cost. k comes from a
two-point calibration in one process (two probe sizes, alternated with base), aimed at each nominal slowdown.
This process never imports TensorFlow: the models are built in a child process. Also: `spread`, the one
spelling of "median [min-max] ±95% t half-width" the process-level benchmarks print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROBE_UNITS = 16  # extra samples in the larger calibration probe (the smaller has half)

BUILD = r'''
import json, sys, time
from pathlib import Path
import numpy as np
import tensorflow as tf

PROBE, BATCH, THREADS = int(sys.argv[2]), int(sys.argv[5]), int(sys.argv[6])
INTER = int(sys.argv[7]) if len(sys.argv) > 7 else 0
NOMINAL = json.loads(sys.argv[3])
out = Path(sys.argv[1])

def graph(extra):
    g = tf.Graph()
    with g.as_default():
        rng = np.random.default_rng(0)
        x = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], name="x")
        w1 = tf.constant(rng.normal(0, 0.1, (3, 3, 1, 32)).astype(np.float32))
        w15 = tf.constant(rng.normal(0, 0.05, (3, 3, 32, 64)).astype(np.float32))
        w2 = tf.constant(rng.normal(0, 0.01, (14 * 14 * 64, 10)).astype(np.float32))
        inp = x
        if extra:
            # the network runs on `extra` more samples (copies of the first ones), and the extra rows
            # are dropped from the output: the same kind of work, one sample at a time, so the
            # slowdown is granular to about 1/batch and has almost no fixed cost (a concat, a slice)
            inp = tf.concat([x, x[:extra]], axis=0)
        h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(inp, w1, 1, "SAME")), 2, 2, "VALID")
        h = tf.nn.relu(tf.nn.conv2d(h, w15, 1, "SAME"))
        logits = tf.matmul(tf.reshape(h, [-1, 14 * 14 * 64]), w2)
        if extra:
            logits = logits[: tf.shape(x)[0]]
        tf.nn.softmax(logits, name="y")
    return g

out.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, sys.argv[4])
import infer_core
from infer_core.model import ModelSpec

def timer(name, extra):
    # time the model the way a worker does: infer_core.load, then make_runner (its call path)
    path = out / f"{name}.pb"
    path.write_bytes(graph(extra).as_graph_def().SerializeToString(deterministic=True))
    model = infer_core.load(ModelSpec(path=str(path), variant="frozen", inputs=("x",), outputs=("y",),
                                      intra_op_threads=THREADS, inter_op_threads=INTER))
    feed = np.random.default_rng(1).random((BATCH, 28, 28, 1), dtype=np.float32)
    call = model.make_runner({model.inputs[0].name: feed})
    for _ in range(100):
        call()
    def median_s(n=150):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter(); call(); ts.append(time.perf_counter() - t0)
        return float(np.median(ts))
    return median_s

base, small, large = timer("base", 0), timer("probe_small", PROBE // 2), timer("probe_large", PROBE)
b, lo, hi = [], [], []
for _ in range(12):  # alternate, so drift falls on all three
    b.append(base()); lo.append(small()); hi.append(large())
base_s, small_s, large_s = float(np.median(b)), float(np.median(lo)), float(np.median(hi))
# two points separate the extra work's fixed cost from its cost per extra sample
unit_s = max((large_s - small_s) / (PROBE - PROBE // 2), 1e-9)
fixed_s = max(small_s - base_s - unit_s * (PROBE // 2), 0.0)
units = {name: max(1, round((frac * base_s - fixed_s) / unit_s)) for name, frac in NOMINAL.items()}
for name, extra in units.items():
    (out / f"{name}.pb").write_bytes(graph(extra).as_graph_def().SerializeToString(deterministic=True))
for probe in ("probe_small", "probe_large"):
    (out / f"{probe}.pb").unlink()
(out / "calibration.json").write_text(json.dumps({"base_ms": base_s * 1e3, "unit_us": unit_s * 1e6,
    "fixed_us": fixed_s * 1e6, "batch": BATCH, "threads": THREADS, "inter_op_threads": INTER,
    "units": units, "tensorflow": tf.__version__}, indent=2))
'''


def build_models(work: Path, nominal: Mapping[str, float], batch: int, threads: int,
                 probe_units: int = PROBE_UNITS, inter_op_threads: int = 0) -> dict[str, Any]:
    """base.pb and one slowed copy per entry of `nominal` (name -> fraction) under work/models, calibrated at
    this batch size and thread counts (inter-op -1: the caller's thread); kept once made (calibration.json says
    what was made)."""
    models = work / "models"
    if not (models / "calibration.json").exists():
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        args = [sys.executable, "-c", BUILD, str(models), str(probe_units), json.dumps(dict(nominal)), str(ROOT),
                str(batch), str(threads), str(inter_op_threads)]
        subprocess.run(args, check=True, env=env, timeout=600)
    return dict(json.loads((models / "calibration.json").read_text()))


SCENARIO = """# written by benchmarks/{writer}
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
batch_sizes = {batch_sizes}
intra_op_threads = [{threads}]
inter_op_threads = [{inter}]
"""
MODEL = """
[[models]]
name = "{name}"
files = {{ frozen = "models/{file}.pb" }}
inputs = ["x"]
outputs = ["y"]
"""


def write_scenario(work: Path, writer: str, reps: int, seed: int, batch_sizes: Sequence[int], threads: int,
                   models: Sequence[tuple[str, str]], inter_op_threads: int = 0) -> Path:
    """work/scenario-SEED.toml: every (name, file) model in one run, its processes interleaved and shuffled."""
    text = SCENARIO.format(writer=writer, reps=reps, seed=seed, batch_sizes=list(batch_sizes), threads=threads,
                           inter=inter_op_threads)
    text += "".join(MODEL.format(name=name, file=file) for name, file in models)
    path = work / f"scenario-{seed}.toml"
    path.write_text(text)
    return path


def run_scenario(work: Path, scenario: Path, run_dir: Path) -> None:
    """One real `infer-bench run` (a failed run leaves no results file; the caller sees that)."""
    cmd = [sys.executable, "-m", "bench.cli", "run", str(scenario), "--out", str(run_dir), "--no-report"]
    subprocess.run(cmd, check=False, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=3600)


def collect(work: Path, runs: int, scenario: Callable[[int], Path], run_name: Callable[[int], str],
            flush: bool = False) -> list[Path]:
    """RUNS runs one after another, run i from `scenario(i)` into work/runs/`run_name(i)` (runs already
    complete are kept)."""
    out = []
    for i in range(runs):
        run_dir = work / "runs" / run_name(i)
        if not (run_dir / "results.jsonl").exists():
            started = time.time()
            run_scenario(work, scenario(i), run_dir)
            print(f"# run {i}: {time.time() - started:.0f} s", file=sys.stderr, flush=flush)
        out.append(run_dir)
    return out


def spread(values: Sequence[float]) -> str:
    """"1.031 [0.985-1.074] ±3.0%": the median, the range, and the half-width of a 95% Student-t interval on the
    logs (as the reports compute a ratio's interval over processes)."""
    import statistics

    from reports import stats

    half = stats.log_t_interval(list(values), 0.95).half_width if len(values) >= 2 else float("nan")
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}] ±{half * 100:.1f}%"
