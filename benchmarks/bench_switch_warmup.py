"""Does interleaving bias what it measures? Strict A B A B alternation vs a lead-in call per turn vs alone.

Interleaving the variants of a model in one process pairs their samples (a ratio sees the same interference),
but the call timed right after another model's finds its own weights evicted from the caches. This measures
that cost with the harness's own loop (`bench.timing`) on the zoo's mnist_cnn (checkpoint, frozen, TFLite,
loaded together as an interleaved worker loads them), at batch 1 and 32, in PROCS fresh processes. In each
process, PASSES passes, each timing, in a rotating order:
  alone  every variant by itself (`bench.timing.measure`, one after another): a user's steady state;
  sw0    the three interleaved, strict alternation (`switch_warmup = 0`, the loop before this benchmark);
  sw1    the three interleaved, one untimed call per turn before the timed one (`switch_warmup = 1`);
  sw1x3  the same with three timed calls per turn (`turn_calls = 3`).
Each configuration times every variant for SECONDS (fixed: min_time = max_time). Printed per process: each
variant's median (median over passes) per configuration; then over processes: each interleaved variant's median
relative to the same process's `alone` (the bias), and each ratio's spread between processes (min-max and the
half-width of a 95% Student-t interval on the per-process log ratios, as the reports compute it).

    python benchmarks/bench_switch_warmup.py --procs 8 | tee benchmarks/results/switch_warmup.txt
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _runs import spread  # noqa: E402

VARIANTS = ("checkpoint", "frozen", "tflite")
BATCHES = (1, 32)
CONFIGS = ("alone", "sw0", "sw1", "sw1x3")
TURNS = {"sw0": (0, 1), "sw1": (1, 1), "sw1x3": (1, 3)}  # (untimed lead-in calls, timed calls) per turn
RATIOS = (("checkpoint", "frozen"), ("checkpoint", "tflite"))  # speedups: checkpoint median / variant median


def _policy(seconds: float, turn: tuple[int, int]) -> Any:
    from bench.timing import Policy

    return Policy(warmup_iterations=10, warmup_time=0.05, min_time=seconds, min_iterations=30, ci_target=0.001,
                  max_time=seconds, switch_warmup=turn[0], turn_calls=turn[1])


def _time_config(config: str, runners: dict[str, Any], seconds: float) -> dict[str, float]:
    """Median ms of every variant under one configuration."""
    from bench import timing

    if config == "alone":
        return {v: timing.measure(r, _policy(seconds, (0, 1))).median_ns / 1e6 for v, r in runners.items()}
    got = timing.measure_interleaved(list(runners.values()), _policy(seconds, TURNS[config]), seed=int(time.time()))
    return {v: m.median_ns / 1e6 for v, m in zip(runners, got, strict=True)}


def worker(model_dir: Path, passes: int, seconds: float) -> dict[str, Any]:
    import infer_core
    from bench.runner.zoo_export import spec_for
    from infer_core.inputs import synthesize_for

    models = {v: infer_core.load(spec_for(model_dir, v)) for v in VARIANTS}
    out: dict[str, Any] = {}
    for batch in BATCHES:
        runners = {v: m.make_runner(synthesize_for(m, batch, seed=batch)) for v, m in models.items()}
        per_pass: dict[str, list[dict[str, float]]] = {c: [] for c in CONFIGS}
        for p in range(passes):
            for config in CONFIGS[p % len(CONFIGS):] + CONFIGS[:p % len(CONFIGS)]:  # the order rotates pass by pass
                per_pass[config].append(_time_config(config, runners, seconds))
        out[str(batch)] = {c: {v: statistics.median(d[v] for d in per_pass[c]) for v in VARIANTS} for c in CONFIGS}
    return out


def _spawn(model_dir: Path, passes: int, seconds: float) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1", TF_USE_LEGACY_KERAS="0")
    proc = subprocess.run([sys.executable, __file__, "--worker", "--model-dir", str(model_dir), "--passes", str(passes),
                           "--seconds", str(seconds)], capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def summarise(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for batch in map(str, BATCHES):
        lines.append(f"batch {batch}, per process: median ms ({' | '.join(CONFIGS)})")
        for i, r in enumerate(results):
            cells = "  ".join(f"{v} " + " | ".join(f"{r[batch][c][v]:.4f}" for c in CONFIGS) for v in VARIANTS)
            lines.append(f"  proc {i}: {cells}")
        lines.append(f"batch {batch}, interleaved median / alone median in the same process, median [min-max] over processes:")
        for v in VARIANTS:
            bias = {c: spread([r[batch][c][v] / r[batch]["alone"][v] for r in results]) for c in TURNS}
            lines.append(f"  {v:11s} " + "   ".join(f"{c} {b}" for c, b in bias.items()))
        lines.append(f"batch {batch}, speedups between processes: median [min-max], 95% t-interval half-width:")
        for a, b in RATIOS:
            row = "   ".join(f"{c} {spread([r[batch][c][a] / r[batch][c][b] for r in results])}" for c in CONFIGS)
            lines.append(f"  {b}/{a}: {row}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--passes", type=int, default=3, help="passes per process (default 3)")
    parser.add_argument("--seconds", type=float, default=0.3, help="seconds per variant and configuration (default 0.3)")
    parser.add_argument("--procs", type=int, default=8, help="fresh processes (default 8)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model_dir, args.passes, args.seconds)))
        return
    from bench.runner.zoo_export import ensure_exported

    model_dir = ensure_exported("mnist_cnn")
    print(f"# bench_switch_warmup.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  mnist_cnn "
          f"{'/'.join(VARIANTS)}; {args.procs} fresh processes x {args.passes} passes x {args.seconds} s per variant and "
          f"configuration; host {os.uname().nodename}, {os.cpu_count()} cpus, load average at start {os.getloadavg()[0]:.2f}")
    results = []
    for i in range(args.procs):
        results.append(_spawn(model_dir, args.passes, args.seconds))
        print(f"# process {i + 1}/{args.procs} done", file=sys.stderr)
    print("\n".join(summarise(results)))
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
