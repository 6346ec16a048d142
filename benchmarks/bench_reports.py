"""Benchmark (issue 4): aggregate and render the HTML report for 10, 100 and 1,000 cells x 2,000 samples.

    python benchmarks/bench_reports.py [--rounds 3] [--sizes 10,100,1000]

Each size's results.jsonl is written once (seeded), then the sizes are measured round-robin
(10, 100, 1000, 10, 100, 1000, ...) so that machine noise falls on all of them alike; each phase's
median and min-max over rounds is printed. Phases: load (parse JSON Lines into frames), aggregate
(pooled statistics and intervals), views (speedups, best batch), html (plots and document).
Target: 1,000 cells (2M latencies) <= 30 s in total on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.aggregate import aggregate  # noqa: E402
from reports.load import load_runs  # noqa: E402
from reports.render_html import render_html  # noqa: E402
from reports.views import build_report  # noqa: E402

SAMPLES = 2000
VARIANTS = ("checkpoint", "frozen", "saved_model", "tflite", "tflite+int8")
LAYOUT = {  # cells: (models, batch sizes, repetitions); cells = models x 5 formats x batches x reps
    10: (1, (1,), 2),
    100: (2, (1, 4, 16, 64, 256), 2),
    1000: (10, (1, 2, 4, 8, 16, 32, 64, 128, 256, 512), 2),
}


def _synth():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("synth", ROOT / "tests" / "reports" / "synth.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_size(root: Path, cells: int) -> Path:
    synth = _synth()
    models, batches, reps = LAYOUT[cells]
    records = []
    for m in range(models):
        records += synth.sweep_records(VARIANTS, batches, reps=reps, n=SAMPLES, seed=m, model=f"model_{m}")
        records += [synth.parity(f"model_{m}", "checkpoint", v, ok=v != "tflite+int8") for v in VARIANTS[1:]]
    assert sum(r["kind"] == "cell" for r in records) == cells
    return synth.write_run(root / f"cells{cells}", records)


def measure(run: Path) -> dict[str, float]:
    """Wall and CPU seconds per phase (CPU time shows the work when other jobs share the cores)."""
    gc.collect()
    marks = [(time.perf_counter(), time.process_time())]
    runs = load_runs([run])
    marks.append((time.perf_counter(), time.process_time()))
    agg = aggregate(runs)
    marks.append((time.perf_counter(), time.process_time()))
    data = build_report(runs, agg)
    marks.append((time.perf_counter(), time.process_time()))
    html = render_html(data)
    marks.append((time.perf_counter(), time.process_time()))
    times: dict[str, float] = {}
    for i, phase in enumerate(("load", "aggregate", "views", "html")):
        times[phase] = marks[i + 1][0] - marks[i][0]
    times["total"] = marks[-1][0] - marks[0][0]
    times["cpu"] = marks[-1][1] - marks[0][1]
    times["html_mb"] = len(html.encode()) / 1e6
    return times


def bootstrap_comparison(rounds: int) -> list[str]:
    """Interleaved naive vs fast intervals for one cell of 2 processes x 2,000 samples, 1,000 draws."""
    import numpy as np

    from reports import stats

    rng = np.random.default_rng(0)
    groups = [rng.lognormal(np.log(m), 0.1, SAMPLES) for m in (1.0, 1.2)]

    def naive_two_level() -> None:
        r = np.random.default_rng(1)
        for _ in range(stats.DEFAULT_BOOT):
            picks = r.integers(0, len(groups), len(groups))
            pool = np.concatenate([groups[i][r.integers(0, SAMPLES, SAMPLES)] for i in picks])
            np.quantile(pool, (0.5, 0.99))

    def naive_one_level() -> None:
        stats.bootstrap_draws(groups[0], lambda a: np.median(a, axis=-1), stats.DEFAULT_BOOT, seed=1)

    cases = {
        "two-level, naive resampling": naive_two_level,
        "two-level, binned Poisson (reports.stats)": lambda: stats.two_level_quantile_draws(groups, (0.5, 0.99)),
        "one process, naive vectorised resampling": naive_one_level,
        "one process, exact order-statistic draws": lambda: stats.order_stat_bootstrap_draws(np.sort(groups[0]), 0.5),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():  # interleaved A B C D A B C D ...
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    lines = [f"# bootstrap intervals, one cell (2 processes x {SAMPLES} samples, {stats.DEFAULT_BOOT} draws), "
             f"{rounds} interleaved rounds: median ms (min-max)"]  # fmt: skip
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        lines.append(f"{name:>44}  {statistics.median(ms):9.2f} ({min(ms):.2f}-{max(ms):.2f})")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--bootstrap-rounds", type=int, default=5, help="rounds of the bootstrap comparison (0: skip)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        runs = {n: write_size(Path(tmp), n) for n in sizes}
        results: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
        for _ in range(args.rounds):
            for n in sizes:  # interleaved: 10, 100, 1000, 10, 100, 1000, ...
                results[n].append(measure(runs[n]))
    print(f"# bench_reports: {args.rounds} interleaved rounds, {SAMPLES} samples per cell")
    print(f"# {platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cpus · "
          f"Python {platform.python_version()} · load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("# wall-clock seconds per phase: median (min-max) over rounds; cpu = process CPU seconds, whole pipeline")
    phases = ("load", "aggregate", "views", "html", "total", "cpu")
    print(f"{'cells':>6} {'samples':>10}  " + "  ".join(f"{p + ' s':>20}" for p in phases) + "  html MB")
    for n in sizes:
        cols = []
        for phase in phases:
            values = [r[phase] for r in results[n]]
            cols.append(f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})".rjust(20))
        print(f"{n:>6} {n * SAMPLES:>10,}  " + "  ".join(cols) + f"  {results[n][0]['html_mb']:7.2f}")
    if args.bootstrap_rounds:
        print("\n".join(bootstrap_comparison(args.bootstrap_rounds)))
    worst = max(r["total"] for r in results[max(sizes)])
    print(f"# largest size, slowest round: {worst:.1f} s wall (target <= 30 s for 1,000 cells); "
          f"load average now {os.getloadavg()[0]:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
