"""Where the time goes, and what profiling costs: per-op profiles of the zoo models in fresh workers.

For each (model, format, batch) — run in fresh worker processes, interleaved A B C A B C for
--reps passes, so drift hits every configuration alike — prints the median and range over
processes of: the untraced step (the model's own call path), the ops' share of it, the
framework overhead, the traced step / untraced step (what FULL_TRACE costs), achieved GFLOP/s
and its share of the measured matmul peak (peak probed in each worker).

    python benchmarks/bench_profile.py [--reps 3] | tee benchmarks/results/profile.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))  # this checkout, not whichever infer-bench is installed

from bench.runner.client import run_model_task  # noqa: E402
from bench.runner.zoo_export import ensure_exported, spec_for  # noqa: E402

CONFIGS = [  # (model, variant, batch)
    ("mnist_cnn", "frozen", 1), ("mnist_cnn", "frozen", 32),
    ("mnist_cnn", "checkpoint", 1), ("mnist_cnn", "checkpoint", 32),
    ("mnist_cnn", "saved_model", 1), ("mnist_cnn", "saved_model", 32),
    ("mobilenet_v2", "frozen", 1), ("mobilenet_v2", "frozen", 32),
]


def profile_once(model: str, variant: str, batch: int, runs: int) -> dict[str, Any]:
    spec = spec_for(ensure_exported(model), variant)
    task = {"task": "profile", "batch_size": batch, "runs": runs, "trace": False, "peak": True}
    return next(m for m in run_model_task(task, spec, timeout_s=600) if m.get("kind") == "profile")


def summary(values: Sequence[float | None], scale: float = 1.0, fmt: str = "{:.3g}") -> str:
    vals = [v * scale for v in values if v is not None]
    if not vals:
        return "–"
    return f"{fmt.format(statistics.median(vals))} ({fmt.format(min(vals))}–{fmt.format(max(vals))})"


def row(results: list[dict[str, Any]]) -> list[str]:
    profs = [r["profile"] for r in results]
    ach = [r["achieved"] for r in results]
    return [summary([p["step_s"] for p in profs], 1e3),
            summary([p["ops_fraction"] for p in profs], 100, "{:.0f}%"),
            summary([p["overhead_s"] for p in profs], 1e3),
            summary([p["traced_step_s"] / p["step_s"] for p in profs], 1, "{:.2f}×"),
            summary([a["achieved_flops"] for a in ach], 1e-9, "{:.1f}"),
            summary([a["fraction_of_peak"] for a in ach], 100, "{:.1f}%"),
            summary([a["peak_flops"] for a in ach], 1e-9, "{:.0f}")]


def _git() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5, help="traced runs per profile")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} python benchmarks/bench_profile.py "
          f"--reps {args.reps} (git {_git()}; machine shared with other sessions)")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; one fresh worker per cell "
          f"and pass, passes interleaved; median (min–max) over {args.reps} processes")
    results: dict[tuple[str, str, int], list[dict[str, Any]]] = {c: [] for c in CONFIGS}
    for _ in range(args.reps):
        for config in CONFIGS:
            results[config].append(profile_once(*config, runs=args.runs))
    head = ["model", "format", "batch", "step ms", "ops share", "overhead ms", "traced/untraced", "GFLOP/s",
            "% of peak", "peak GFLOP/s"]
    print(" | ".join(head))
    for (model, variant, batch), rs in results.items():
        print(" | ".join([model, variant, str(batch), *row(rs)]))
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
