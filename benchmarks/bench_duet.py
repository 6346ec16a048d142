"""Duet vs sequential processes, for two settings that cannot share a process: is the ratio known better?

The comparison: the zoo's mnist_cnn frozen graph with TF_ENABLE_ONEDNN_OPTS=0 against =1 (a start-up
variable: each value needs its own worker process), batch 1 and 32. RUNS runs of each mode, alternated
(duet, separate, duet, ...), each with PROCS processes per setting. `duet` starts the two workers of a
round together, each on its own core, timing each batch size in the same window; `separate` runs them one
after the other (pairs by round). Per mode: the median half-width of the ratio's 95% interval, how often a
run's rerun interval held the next run's ratio (same mode), and the spread of the ratio over the runs.

    python benchmarks/bench_duet.py --runs 6 --procs 5 | tee benchmarks/results/duet.txt
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_calibration import Estimate  # noqa: E402

SCENARIO = """# written by benchmarks/bench_duet.py
[run]
repetitions = {procs}
shuffle_seed = {seed}
timeout = 300
[measure]
mode = "{mode}"
warmup_time = 0.1
min_time = 0.2
max_time = 0.4
ci_target = 0.02
[sweep]
formats = ["frozen"]
batch_sizes = [1, 32]
devices = ["cpu"]
intra_op_threads = [1]
[sweep.env]
TF_ENABLE_ONEDNN_OPTS = ["0", "1"]
[[models]]
zoo = "mnist_cnn"
"""


def measure_run(out: Path, mode: str, procs: int, seed: int) -> list[Estimate]:
    from bench import scenario
    from bench.results.store import RunStore
    from bench.runner.duet import run_scheduled
    from bench.runner.jobs import TaskBuilder
    from bench.runner.zoo_export import ensure_exported
    from bench.scenario import sweep
    from reports.aggregate import aggregate
    from reports.load import load_runs
    from reports.views import paired_speedup

    s = scenario.parse(SCENARIO.format(procs=procs, seed=seed, mode=mode), "duet.toml", out.parent)
    builder = TaskBuilder(s, {"mnist_cnn": ensure_exported("mnist_cnn")})
    with RunStore.create(out, out.name) as store:
        run_scheduled(sweep.schedule(sweep.expand(s).groups, procs, seed), builder, store.append)
    agg = aggregate(load_runs([out])).set_index(["env_toggles", "batch_size"])
    found = []
    for batch in (1, 32):
        off, on = agg.loc[("TF_ENABLE_ONEDNN_OPTS=0", batch)], agg.loc[("TF_ENABLE_ONEDNN_OPTS=1", batch)]
        got = paired_speedup(off, on, 0.95)  # off median / on median: > 1 = oneDNN makes it faster
        found.append(Estimate(f"oneDNN off/on b{batch}", float(off["p50_ms"] / on["p50_ms"]), got["ci_lo"], got["ci_hi"],
                              got["rerun_lo"], got["rerun_hi"]))
    return found


def summary(mode: str, runs: list[list[Estimate]]) -> list[str]:
    lines = []
    for i, name in enumerate(e.name for e in runs[0]):
        series = [run[i] for run in runs]
        ok = [e for e in series if math.isfinite(e.lo)]
        hits = sum(a.rerun_lo <= b.value <= a.rerun_hi for a, b in zip(series, series[1:]))
        values = [e.value for e in series]
        lines.append(f"  {mode:<9} {name:<18} median CI ±{statistics.median(e.half_width for e in ok):.1%}  rerun held next "
                     f"{hits}/{len(series) - 1}  ratios {min(values):.3f}-{max(values):.3f} "
                     f"(spread {max(values) / min(values):.3f}x)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6, help="runs per mode, alternated (default 6)")
    parser.add_argument("--procs", type=int, default=5, help="worker processes per setting and run (default 5)")
    args = parser.parse_args()
    print(f"# bench_duet.py  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {args.runs} runs per mode x {args.procs} processes per "
          f"setting; mnist_cnn frozen, oneDNN off vs on, batch 1 and 32, one intra-op thread; load average at start "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="infer-bench-duet-"))
    results: dict[str, list[list[Estimate]]] = {"duet": [], "separate": []}
    for i in range(args.runs):
        for mode in ("duet", "separate"):
            started = time.monotonic()
            results[mode].append(measure_run(root / f"{mode}{i:02d}", mode, args.procs, seed=i))
            print(f"run {i:02d} {mode:<9} {time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}: "
                  + ", ".join(f"{e.name} {e.value:.3f} [{e.lo:.3f}-{e.hi:.3f}]" for e in results[mode][-1]), flush=True)
    for mode, runs in results.items():
        print("\n".join(summary(mode, runs)))


if __name__ == "__main__":
    main()
