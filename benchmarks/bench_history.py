"""The history database's own numbers: ingest time, dashboard time, and change-point error rates on real runs.

1. Ingest: a synthetic 1,000-cell results file (one process per cell, 2,000 samples each) into a fresh SQLite
   database, timed end to end through `history.ingest` (parse, per-process statistics, one transaction).
   Interleaved with a second ingest of the same file (idempotent: nothing added) to show what is parsing.
2. Dashboard: a database holding 500 commits x 200 series (3 processes per commit), then
   `infer-bench history html` built from it: read, change points per series, page rendered.
3. Change-point error rates on real history. One scenario is run RUNS times with real `infer-bench run`
   (fresh worker processes, REPS per run): a small CNN as a frozen GraphDef (built once), measured at batch
   32 and at batch 37, 40 and 44 in the same worker. Each run is one commit of an unchanged build for the
   batch-32 cell (false alarms per series over RUNS commits; each of the four batch sizes is such a series).
   A real slowdown injected at commit k is the batch-32 cell's processes for commits < k and a larger batch's
   processes of the same runs (relabelled) from commit k on: the same network doing 5/32, 8/32 or 12/32 more
   work per call, aimed at +10%, +25%, +50% (time is not linear in batch here); the slowdown each really has is measured from the runs and
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
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 32
SLOW_BATCHES = {37: "+10%", 40: "+25%", 44: "+50%"}  # nominal slowdowns; batch 35/40/48 measured +5/+23/+75% here
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


# ---- 1 and 2: ingest and dashboard timings ------------------------------------------------------------


def synthetic_run(path: Path, run_id: str, commit: str, cells: int, processes: int, samples: int,
                  rng: Any, steps: dict[int, float] | None = None, index: int = 0, step_at: int = 0) -> Path:
    """A results.jsonl as `infer-bench run` writes it: `cells` cells x `processes` processes."""
    from reports.schema import CellRecord, dumps

    path.mkdir(parents=True, exist_ok=True)
    env = {"host": "bench-host", "cpu": {"model": "bench CPU", "logical_cores": 2}, "memory_bytes": 1 << 33,
           "gpus": [], "git": {"commit": commit, "branch": "main", "dirty": False, "parent": None,
                              "committed": None}}
    lines = [dumps({"kind": "header", "run_id": run_id, "created": f"2026-01-01T{index:06d}", "scenario_path": None,
                    "scenario_text": "", "policy": {}, "env": env})]
    for c in range(cells):
        scale = (steps or {}).get(c, 1.0) if index >= step_at else 1.0
        for rep in range(processes):
            lat = (rng.lognormal(np.log(1e6 * scale * rng.lognormal(0, 0.1)), 0.05, samples)).astype(np.int64).tolist()
            record = CellRecord(cell_id=f"m{c}/frozen/cpu/b1", group_id=f"m{c}", repetition=rep, model=f"m{c}",
                                variant="frozen", latencies_ns=lat, iterations=samples)
            lines.append(dumps({**record.to_json(), "run_id": run_id}))
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def time_ingest(work: Path, trials: int = 5) -> list[str]:
    from bench.results import history

    rng = np.random.default_rng(0)
    run = synthetic_run(work / "ingest-run", "ingest-run", "f" * 40, cells=1000, processes=1, samples=2000, rng=rng)
    size = (run / "results.jsonl").stat().st_size
    fresh, again = [], []
    for t in range(trials):  # interleaved: a fresh database, then the same run once more (idempotent)
        db = work / f"ingest-{t}.sqlite"
        db.unlink(missing_ok=True)
        with history.connect(str(db)) as database:
            started = time.perf_counter()
            added = history.ingest(database, run)
            fresh.append(time.perf_counter() - started)
            started = time.perf_counter()
            second = history.ingest(database, run)
            again.append(time.perf_counter() - started)
        assert added.added and added.processes == 1000 and not second.added
    return [f"ingest of a 1,000-cell run (1 process x 2,000 samples per cell, {size / 1e6:.1f} MB) into a fresh "
            f"SQLite file, {trials} trials: median {np.median(fresh):.2f} s (range {min(fresh):.2f}-{max(fresh):.2f} s; "
            f"limit 5 s); the same run again (nothing added, still parsed): median {np.median(again):.2f} s"]


def time_dashboard(work: Path, commits: int = 500, series: int = 200, processes: int = 3) -> list[str]:
    from bench.results import history

    db = work / "dashboard.sqlite"
    rng = np.random.default_rng(1)
    steps = {c: 1.3 for c in range(0, series, 40)}  # 5 series get 30% slower halfway
    if not db.exists():
        building = work / "dashboard.building.sqlite"
        building.unlink(missing_ok=True)
        with history.connect(str(building)) as database:
            for i in range(commits):
                run = synthetic_run(work / "dash-run", f"dash-{i:04d}", f"{i:08x}" + "a" * 32, series, processes,
                                    20, rng, steps, i, commits // 2)
                history.ingest(database, run)
        os.replace(building, db)
    timings, sizes, lines = [], [], []
    for t in range(3):
        out = work / f"site-{t}"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench.cli", "history", "--db", str(db), "html", "--out", str(out)],
                              capture_output=True, text=True, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)})
        timings.append(time.perf_counter() - started)
        sizes.append((out / "index.html").stat().st_size)
        lines = [done.stdout.strip()]
    return [f"dashboard over {commits} commits x {series} series ({processes} processes each; `infer-bench history "
            f"html`, end to end in a fresh process, 3 trials): median {np.median(timings):.1f} s "
            f"(range {min(timings):.1f}-{max(timings):.1f} s; limit 30 s), page {max(sizes) / 1e6:.2f} MB (limit 5 MB)",
            f"  {lines[0]} ({len(steps)} series were made 30% slower at commit {commits // 2})"]


# ---- 3: change-point error rates on the real runs -------------------------------------------------------


def load_values(work: Path) -> tuple[list[str], dict[int, list[list[float]]]]:
    """Per batch size, per run (in the order made): the per-process medians (ns)."""
    from bench.results.history.ingest import process_stats
    from reports.schema import read_run_file

    values: dict[int, list[list[float]]] = {b: [] for b in (BATCH, *SLOW_BATCHES)}
    used = []
    for run_dir in sorted((work / "runs").glob("run-*")):
        if not (run_dir / "results.jsonl").exists():
            continue
        run = read_run_file(run_dir / "results.jsonl")
        per: dict[int, list[float]] = {b: [] for b in values}
        for cell in run.cells:
            if cell.get("status") == "ok" and cell.get("latencies_ns"):
                per[int(cell["batch_size"])].append(float(process_stats(cell["latencies_ns"])[1] or 0))
        if all(per.values()):
            used.append(run_dir.name)
            for b in values:
                values[b].append(per[b])
    return used, values


def error_rates(work: Path, alpha: float, min_size: int) -> list[str]:
    from reports.changepoints import Settings, detect

    used, values = load_values(work)
    n = len(used)
    settings = Settings(alpha=alpha, min_size=min_size)
    lines = [f"settings: alpha {alpha}, minimum magnitude {settings.min_magnitude:.0%}, min size {min_size} commits, "
             f"{settings.permutations} permutations"]
    false = {b: detect(values[b], settings) for b in values}
    total = sum(len(f) for f in false.values())
    lines.append(f"  A/A (unchanged build, {n} commits): series with a false change point {sum(bool(f) for f in false.values())}"
                 f" of {len(false)}; false change points {total} in {len(false) * n} commit-steps"
                 + "".join(f"; b{b}: {', '.join(f'{c.ratio - 1:+.0%} at {c.index} (p={c.p_value:.3f})' for c in f)}"
                           for b, f in false.items() if f))
    for slow, nominal in SLOW_BATCHES.items():
        base_med = [float(np.median(v)) for v in values[BATCH]]
        true = float(np.median([float(np.median(v)) / m for v, m in zip(values[slow], base_med)]))
        hits, offsets, extra = 0, [], 0
        splits = [k for k in SPLITS if min_size <= k <= n - min_size]
        for k in splits:
            found = [c for c in detect(values[BATCH][:k] + values[slow][k:], settings) if c.regression]
            near = [c for c in found if abs(c.index - k) <= 2]
            hits += bool(near)
            offsets += [min(near, key=lambda c: abs(c.index - k)).index - k] if near else []
            extra += len(found) - bool(near)
        lines.append(f"  slowdown {nominal} nominal ({true - 1:+.1%} measured, median per-run ratio): detected within "
                     f"2 commits in {hits} of {len(splits)} injections (at commits {', '.join(map(str, splits))}); "
                     f"commit offsets {offsets or '-'}; other change points {extra}")
    return lines


def synthetic_rates(sigma_run: float, commits: int = 30, step_at: int = 15, series: int = 100,
                    processes: int = 2) -> list[str]:
    """The same detector on synthetic series whose whole runs shift by a lognormal factor (sd `sigma_run` of the
    log) and whose processes scatter around their run (sd 0.05): what it can do on a quieter machine, labelled so."""
    from reports.changepoints import Settings, detect

    rng = np.random.default_rng(7)
    settings = Settings()

    def one(size: float) -> list[list[float]]:
        return [list(np.exp(rng.normal(np.log(1 + size) * (i >= step_at) + rng.normal(0, sigma_run), 0.05, processes)))
                for i in range(commits)]
    false = sum(bool(detect(one(0.0), settings)) for _ in range(series))
    parts = [f"synthetic, run-to-run sd {sigma_run:.2f} (log), {commits} commits x {processes} processes, step at "
             f"{step_at}, {series} series each: A/A series with a false change point {false}/{series}"]
    for size in (0.10, 0.25, 0.50):
        found = [[c.index - step_at for c in detect(one(size), settings) if c.regression] for _ in range(series)]
        near = [min(f, key=abs) for f in found if f and min(abs(x) for x in f) <= 2]
        parts.append(f"+{size:.0%} detected (within 2 commits) {len(near)}/{series}, exact commit {near.count(0)}")
    return ["  " + "; ".join(parts)]


def run_sigma(work: Path) -> float:
    """The measured run-to-run sd (log) of the unchanged build's batch-32 cell: one value per run."""
    _, values = load_values(work)
    return float(np.std(np.log([np.median(v) for v in values[BATCH]]), ddof=1))


def report(work: Path) -> int:
    used, _ = load_values(work)
    out = [f"# benchmarks/bench_history.py on {platform.node()} ({os.cpu_count()} cores), "
           f"{time.strftime('%Y-%m-%d %H:%M')}", ""]
    out += time_ingest(work) + [""] + time_dashboard(work) + [""]
    out.append(f"change points on real history: {len(used)} real `infer-bench run`s of one unchanged build (frozen CNN, "
               f"batch {BATCH}, 1 intra-op thread, {_reps(work)} worker processes per run), runs {used[0] if used else '-'}.."
               f"{used[-1] if used else '-'}")
    for alpha, min_size in ((0.01, 3), (0.05, 3), (0.01, 2)):
        out += error_rates(work, alpha, min_size)
    sigma = run_sigma(work)
    out += ["", f"for scale: the runs above moved with a run-to-run sd of {sigma:.2f} (log of each run's median); "
            f"the same detector (alpha 0.01, 5%, min size 3) on synthetic series:"]
    out += synthetic_rates(sigma) + synthetic_rates(0.15) + synthetic_rates(0.05)
    print("\n".join(out))
    return 0


def _reps(work: Path) -> int:
    from reports.schema import read_run_file

    first = sorted((work / "runs").glob("run-*/results.jsonl"))
    return len({c["repetition"] for c in read_run_file(first[0]).cells}) if first else 0


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
