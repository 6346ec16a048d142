"""How often does the regression gate cry wolf, and how often does it catch a real slowdown?

Real, fresh-process, interleaved runs (`infer-bench run`), no synthetic samples:

1. Build a small CNN as a frozen GraphDef ("base") and slower copies of it ("slow05", "slow10",
   "slow20") that run the same network once more on the first k samples of the batch, after the
   network (fed from its output, so it cannot overlap it on another core). k comes from a
   two-point calibration in one process (the extra work's fixed cost and its cost per sample) so
   that it costs 5%, 10% and 20% of the base model at batch 32. The slowdown each really has is
   measured from the runs and printed: it is what the detection rates refer to. (Earlier
   versions added a convolution or a chain of small ops, whose fixed per-call cost made every
   "slow" model 30-70% slower: benchmarks/results/gate_error_rates_v*.txt.)
2. Run one scenario with all four models RUNS times (`--repetitions REPS`, groups interleaved
   and shuffled by the runner; the runs one after another), so every model has RUNS x REPS fresh
   worker processes, measured side by side.
3. A/A: compare base against base. Real pairs: the base processes of run i (baseline) vs those of
   run j (current), i != j, as a CI job comparing two runs at different times would. Resampled
   pairs: two disjoint random sets of whole recorded processes (never samples within a process,
   which cannot contain between-run drift and would pass by construction).
   A/B: base (baseline) vs slowNN relabelled as base (current), from different runs and from the
   same run; then with the repetitions the gate itself recommends for that size, by resampling
   whole processes from the pool.
   Rates are over cells (each pair has one cell per batch size, Holm across them).

    python benchmarks/bench_gate_error_rates.py [--runs 4 --reps 5] [--work DIR]
    python benchmarks/bench_gate_error_rates.py --analyse-only --work DIR   # re-analyse stored runs

The printed results are committed as benchmarks/results/gate_error_rates.txt.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.compare import DEFAULT_ALPHA as ALPHA  # noqa: E402  (the gate's default)

NOMINAL = {"slow05": 0.05, "slow10": 0.10, "slow20": 0.20}
PROBE_UNITS = 12  # extra samples in the larger calibration probe (the smaller has half)
BATCH_SIZES = (32,)  # one cell per comparison; the slowdowns are calibrated at this batch size
THRESHOLD = 0.05
RESAMPLED_PAIRS = 200


# ---- 1. models (in a child process: this one never imports TensorFlow) ------------------------------

BUILD = r'''
import json, sys, time
from pathlib import Path
import numpy as np
import tensorflow as tf

PROBE, BATCH = int(sys.argv[2]), int(sys.argv[5])
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

        def net(inp):
            h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(inp, w1, 1, "SAME")), 2, 2, "VALID")
            h = tf.nn.relu(tf.nn.conv2d(h, w15, 1, "SAME"))
            return tf.matmul(tf.reshape(h, [-1, 14 * 14 * 64]), w2)

        logits = net(x)
        if extra:
            # the same network once more on the first `extra` samples of the batch: the same kind
            # of work, so its cost scales with `extra` as the network's does; fed from the logits,
            # so it runs after the network and cannot overlap it on another core
            again = x[:extra] + 1e-30 * tf.reduce_mean(logits)
            logits = logits + 1e-30 * tf.reduce_sum(net(again))
        tf.nn.softmax(logits, name="y")
    return g

out.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, sys.argv[4])
import infer_core
from infer_core.model import ModelSpec

def timer(name, extra):
    """Time the model the way a worker does: infer_core.load, then make_runner (its call path)."""
    path = out / f"{name}.pb"
    path.write_bytes(graph(extra).as_graph_def().SerializeToString(deterministic=True))
    model = infer_core.load(ModelSpec(path=str(path), variant="frozen", inputs=("x",), outputs=("y",)))
    feed = np.random.default_rng(1).random((BATCH, 28, 28, 1), dtype=np.float32)
    call = model.make_runner({model.inputs[0].name: feed})
    for _ in range(300):
        call()
    def median_s(n=500):
        ts = []
        for _ in range(n):
            t0 = time.perf_counter(); call(); ts.append(time.perf_counter() - t0)
        return float(np.median(ts))
    return median_s

base, small, large = timer("base", 0), timer("probe_small", PROBE // 2), timer("probe_large", PROBE)
b, lo, hi = [], [], []
for _ in range(10):  # alternate, so drift falls on all three
    b.append(base()); lo.append(small()); hi.append(large())
base_s, small_s, large_s = float(np.median(b)), float(np.median(lo)), float(np.median(hi))
# two points separate the extra ops' fixed cost from their cost per extra sample
unit_s = max((large_s - small_s) / (PROBE - PROBE // 2), 1e-9)
fixed_s = max(small_s - base_s - unit_s * (PROBE // 2), 0.0)
units = {name: max(1, round((frac * base_s - fixed_s) / unit_s)) for name, frac in NOMINAL.items()}
for name, extra in units.items():
    (out / f"{name}.pb").write_bytes(graph(extra).as_graph_def().SerializeToString(deterministic=True))
for probe in ("probe_small", "probe_large"):
    (out / f"{probe}.pb").unlink()
(out / "calibration.json").write_text(json.dumps({"base_ms": base_s * 1e3, "unit_us": unit_s * 1e6,
    "fixed_us": fixed_s * 1e6, "batch": BATCH,
    "units": units, "tensorflow": tf.__version__}, indent=2))
'''


def build_models(work: Path) -> dict[str, object]:
    models = work / "models"
    if not (models / "calibration.json").exists():
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        args = [sys.executable, "-c", BUILD, str(models), str(PROBE_UNITS), json.dumps(NOMINAL), str(ROOT),
                str(BATCH_SIZES[0])]
        subprocess.run(args, check=True, env=env, timeout=600)
    return dict(json.loads((models / "calibration.json").read_text()))


# ---- 2. real runs ------------------------------------------------------------------------------------

SCENARIO = """# written by benchmarks/bench_gate_error_rates.py
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
"""
MODEL = """
[[models]]
name = "{name}"
files = {{ frozen = "models/{name}.pb" }}
inputs = ["x"]
outputs = ["y"]
"""


def write_scenario(work: Path, reps: int, seed: int) -> Path:
    text = SCENARIO.format(reps=reps, seed=seed, batch_sizes=list(BATCH_SIZES))
    text += "".join(MODEL.format(name=name) for name in ("base", *NOMINAL))
    path = work / f"scenario-{seed}.toml"
    path.write_text(text)
    return path


def collect(work: Path, runs: int, reps: int) -> list[Path]:
    """RUNS runs of the scenario, one after another (skips runs already complete)."""
    out = []
    for i in range(runs):
        run_dir = work / "runs" / f"run-{i}"
        if not (run_dir / "results.jsonl").exists():
            scenario = write_scenario(work, reps, seed=i + 1)
            cmd = [sys.executable, "-m", "bench.cli", "run", str(scenario), "--out", str(run_dir), "--no-report"]
            started = time.time()
            subprocess.run(cmd, check=False, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=3600)
            print(f"# run {i}: {time.time() - started:.0f} s", file=sys.stderr)
        out.append(run_dir)
    return out


# ---- 3. analysis ---------------------------------------------------------------------------------------


def _subset(runs, mask, model_as: str | None = None):  # -> Runs
    from reports.load import Runs

    idx = [i for i, keep in enumerate(mask) if keep]
    cells = runs.cells.iloc[idx].reset_index(drop=True).copy()
    if model_as is not None:
        cells["model"] = model_as
    return Runs(cells=cells, latencies=[runs.latencies[i] for i in idx], parity=runs.parity.iloc[0:0],
                headers=runs.headers)


def _processes(runs, model: str, run_ids: Sequence[str] | None = None) -> list[tuple[str, int]]:
    """(run_id, repetition) of every ok process of a model (all batch sizes measured by it)."""
    c = runs.cells
    rows = c[(c["model"] == model) & (c["status"] == "ok")]
    if run_ids is not None:
        rows = rows[rows["run_id"].isin(run_ids)]
    return sorted(set(zip(rows["run_id"], rows["repetition"], strict=True)))


def _side(runs, model: str, procs: Sequence[tuple[str, int]]):
    keys = set(procs)
    c = runs.cells
    mask = [(m == model and (r, p) in keys) for m, r, p in zip(c["model"], c["run_id"], c["repetition"], strict=True)]
    return _subset(runs, mask, model_as="base")


def _verdicts(runs, base_procs, cur_model: str, cur_procs, seed: int) -> list[str]:
    from reports.compare import compare

    frame = compare(_side(runs, "base", base_procs), _side(runs, cur_model, cur_procs),
                    threshold=THRESHOLD, alpha=ALPHA, seed=seed)
    return list(frame["verdict"])


def _rate(verdicts: list[str], which: Sequence[str]) -> str:
    n = len(verdicts)
    k = sum(v in which for v in verdicts)
    return f"{k}/{n} = {k / n:.1%}" if n else "–"


def _by_run(runs, model: str) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for run_id, rep in _processes(runs, model):
        out.setdefault(run_id, []).append((run_id, rep))
    return out


def measured_slowdowns(runs) -> list[str]:
    """Each slow model's pooled-median ratio to base, per batch size, over all processes."""
    from reports.compare import compare

    lines = []
    everything = {m: _processes(runs, m) for m in ("base", *NOMINAL)}
    for name in NOMINAL:
        frame = compare(_side(runs, "base", everything["base"]), _side(runs, name, everything[name]),
                        threshold=THRESHOLD, alpha=ALPHA)
        for _, row in frame.iterrows():
            lines.append(f"  {name} (nominal +{NOMINAL[name]:.0%}) b{row['batch_size']}: measured "
                         f"{row['ratio'] - 1:+.1%} [{row['ci_low'] - 1:+.1%}, {row['ci_high'] - 1:+.1%}] "
                         f"over {row['n_baseline']} vs {row['n_current']} processes")
    return lines


def spread_lines(runs) -> list[str]:
    """Per batch size: the between-process spread of base's per-process medians."""
    import numpy as np

    lines = []
    c = runs.cells
    for batch in BATCH_SIZES:
        idx = c.index[(c["model"] == "base") & (c["status"] == "ok") & (c["batch_size"] == batch)]
        meds = np.array([np.median(runs.latencies[i]) for i in idx]) / 1e6
        if len(meds) > 1:
            lines.append(f"  base b{batch}: {len(meds)} processes, per-process median {meds.min():.3f}–{meds.max():.3f} ms "
                         f"(max/min {meds.max() / meds.min():.2f}x), SD of log {np.std(np.log(meds), ddof=1):.3f}")
    return lines


SIZES = (5, 10, 20)


def _summary(label: str, verdicts: list[str]) -> str:
    return (f"{label}: slower {_rate(verdicts, ['slower'])} | faster {_rate(verdicts, ['faster'])} | "
            f"unchanged {_rate(verdicts, ['unchanged'])} | inconclusive {_rate(verdicts, ['inconclusive'])}")


def _alternated(by_run: dict[str, list[tuple[str, int]]]) -> list[tuple[list, list]]:
    """Pseudo CI jobs of runs in their order A B A B: baseline runs i, i+2; current i+1, i+3."""
    order = sorted(by_run, key=lambda r: int(r.rsplit("-", 1)[-1]) if r.rsplit("-", 1)[-1].isdigit() else r)
    jobs = []
    for i in range(len(order) - 3):
        jobs.append((by_run[order[i]] + by_run[order[i + 2]], by_run[order[i + 1]] + by_run[order[i + 3]]))
    return jobs


def aa(runs, rng) -> list[str]:
    by_run = _by_run(runs, "base")
    real: list[str] = []
    for i, (a, b) in enumerate(itertools.combinations(sorted(by_run), 2)):
        real += _verdicts(runs, by_run[a], "base", by_run[b], seed=i)
    jobs: list[str] = []
    for i, (base, cur) in enumerate(_alternated(by_run)):
        jobs += _verdicts(runs, base, "base", cur, seed=100 + i)
    reps = min(len(v) for v in by_run.values())
    lines = [_summary(f"A/A real pairs of runs ({reps} vs {reps} processes, {len(real)} cells)", real),
             _summary(f"A/A alternated runs A B A B ({2 * reps} vs {2 * reps}, {len(jobs)} cells)", jobs)]
    pool = _processes(runs, "base")
    for n in SIZES:
        if 2 * n > len(pool):
            continue
        verdicts: list[str] = []
        for i in range(RESAMPLED_PAIRS):
            order = rng.permutation(len(pool))
            verdicts += _verdicts(runs, [pool[j] for j in order[:n]], "base", [pool[j] for j in order[n:2 * n]],
                                  seed=1000 * n + i)
        lines.append(_summary(f"A/A resampled whole processes, {n} vs {n} ({RESAMPLED_PAIRS} pairs, {len(verdicts)} cells)",
                              verdicts))
    return lines


def ab(runs, rng) -> list[str]:
    lines = []
    base_runs = _by_run(runs, "base")
    for name, size in NOMINAL.items():
        slow_runs = _by_run(runs, name)
        cross: list[str] = []
        for i, (a, b) in enumerate(itertools.product(sorted(base_runs), sorted(slow_runs))):
            if a != b:
                cross += _verdicts(runs, base_runs[a], name, slow_runs[b], seed=i)
        reps = min(len(v) for v in base_runs.values())
        lines.append(f"A/B {name} (nominal +{size:.0%}):")
        lines.append("  " + _summary(f"real pairs of different runs, {reps} vs {reps} ({len(cross)} cells)", cross))
        for n in SIZES:
            lines.append("  " + _resampled_ab(runs, name, n, rng))
        lines.append("  " + _recommended(runs, name, size, rng))
    return lines


def _resampled_ab(runs, name: str, n: int, rng, label: str = "") -> str:
    base_pool, slow_pool = _processes(runs, "base"), _processes(runs, name)
    if n > min(len(base_pool), len(slow_pool)):
        return f"{n} vs {n}: the pool has {min(len(base_pool), len(slow_pool))} processes; not evaluated"
    verdicts: list[str] = []
    for i in range(RESAMPLED_PAIRS):
        b = [base_pool[j] for j in rng.choice(len(base_pool), n, replace=False)]
        s = [slow_pool[j] for j in rng.choice(len(slow_pool), n, replace=False)]
        verdicts += _verdicts(runs, b, name, s, seed=5000 * n + i)
    overlap = " [more than half the pool: draws overlap, optimistic]" if 2 * n > min(len(base_pool), len(slow_pool)) else ""
    return _summary(f"{label}resampled whole processes, {n} vs {n} ({len(verdicts)} cells){overlap}", verdicts)


def _recommended(runs, name: str, size: float, rng) -> str:
    """Detection with the repetitions the gate recommends for this size (from the measured spread)."""
    import numpy as np

    from reports.compare import pooled_log_sd, repetitions_needed

    c = runs.cells
    level = ALPHA / len(BATCH_SIZES)
    needed = []
    for batch in BATCH_SIZES:
        vals = {m: np.array([np.median(runs.latencies[i]) for i in
                             c.index[(c["model"] == m) & (c["batch_size"] == batch) & (c["status"] == "ok")]])
                for m in ("base", name)}
        needed.append(repetitions_needed(pooled_log_sd(vals["base"], vals[name]), size, level) or 10**6)
    n = max(needed)
    return _resampled_ab(runs, name, n, rng, label=f"the gate recommends {n} per side for +{size:.0%}: ")


def analyse(run_dirs: list[Path], calibration: dict[str, object], runs_count: int, reps: int) -> str:
    import numpy as np

    from reports.load import load_runs

    runs = load_runs(run_dirs)
    rng = np.random.default_rng(20240601)
    statuses = runs.cells["status"].value_counts().to_dict()
    lines = [
        "# bench_gate_error_rates — the regression gate on real fresh-process runs",
        f"# host {platform.node()}, {os.cpu_count()} logical CPUs, loadavg now {os.getloadavg()[0]:.2f}; "
        f"python {platform.python_version()}; TensorFlow {calibration.get('tensorflow')}",
        f"# {runs_count} runs x {reps} repetitions x 4 models (base, slow05, slow10, slow20), frozen GraphDef, "
        f"batch sizes {list(BATCH_SIZES)}; threshold {THRESHOLD:.0%}, alpha {ALPHA} (Holm over the batch sizes)",
        f"# calibration (one process, batch {calibration.get('batch')}): base {calibration['base_ms']:.3f} ms, extra "
        f"work {calibration.get('fixed_us', 0):.1f} us fixed + {calibration['unit_us']:.1f} us per extra sample; "
        f"extra samples {calibration['units']}",
        f"# cell records by status: {statuses}",
        "",
        "Between-process spread of the base model:",
        *spread_lines(runs),
        "",
        "Slowdowns really added (all processes pooled):",
        *measured_slowdowns(runs),
        "",
        *aa(runs, rng),
        "",
        *ab(runs, rng),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global RESAMPLED_PAIRS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/infer-bench-gate-bench"))
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--pairs", type=int, default=200, help="resampled pairs per setting")
    args = parser.parse_args(argv)
    RESAMPLED_PAIRS = args.pairs
    args.work.mkdir(parents=True, exist_ok=True)
    calibration = build_models(args.work)
    if args.analyse_only:
        run_dirs = sorted((args.work / "runs").glob("run-*"))
    else:
        run_dirs = collect(args.work, args.runs, args.reps)
    print(analyse(run_dirs, calibration, len(run_dirs), args.reps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
