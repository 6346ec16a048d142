"""Cold-start anatomy per format: where the time to the first answer goes, in fresh processes.

For each format of a zoo model, a fresh worker times process start, the runtime's start (`import tensorflow`,
its first session or eager context: infer_core.runtime), the loader's phases, graph optimisation (estimated by
difference), the first call's one-time work and a warm inference. Formats interleave A B C … A B C for --reps
passes; prints per format and phase the median and range over processes, in ms, and the total without process
start and runtime start (the part a format can change).

    python benchmarks/bench_profile_coldstart.py [--model mnist_cnn] [--reps 3] | tee benchmarks/results/profile_coldstart.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))  # this checkout, not whichever infer-bench is installed

from bench.runner.client import run_model_task  # noqa: E402
from bench.runner.zoo_export import ensure_exported, spec_for  # noqa: E402

FORMATS = ("checkpoint", "frozen", "saved_model", "saved_model+xla", "keras", "tflite")


def coldstart_once(model_dir: Any, variant: str) -> dict[str, Any]:
    task = {"task": "coldstart", "batch_size": 1, "spawned_at": time.time()}
    messages = run_model_task(task, spec_for(model_dir, variant), timeout_s=600)
    return next(m for m in messages if m.get("kind") == "coldstart")["coldstart"]  # type: ignore[no-any-return]


def _ms(values: list[float]) -> str:
    vals = [v * 1e3 for v in values]
    return f"{statistics.median(vals):8.1f} ({min(vals):.1f}–{max(vals):.1f})"


def report(variant: str, runs: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in runs:
        names += [p["name"] for p in r["phases"] if p["name"] not in names]
    lines = [f"{variant}"]
    for name in names:
        values = [next((p["seconds"] for p in r["phases"] if p["name"] == name), 0.0) for r in runs]
        lines.append(f"  {name:<45} {_ms(values)}")
    totals = [r["total_s"] for r in runs]
    without = [r["total_s"] - sum(p["seconds"] for p in r["phases"] if p["kind"] in ("process", "import", "runtime"))
               for r in runs]
    lines.append(f"  {'total':<45} {_ms(totals)}")
    lines.append(f"  {'total without process start and runtime start':<45} {_ms(without)}")
    return lines


def _git() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="mnist_cnn")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    model_dir = ensure_exported(args.model)
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} python benchmarks/bench_profile_coldstart.py "
          f"--model {args.model} --reps {args.reps} (git {_git()}; machine shared with other sessions)")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; one fresh worker per format "
          f"and pass, formats interleaved; ms, median (min–max) over {args.reps} processes, batch 1")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in FORMATS}
    for _ in range(args.reps):
        for variant in FORMATS:
            runs[variant].append(coldstart_once(model_dir, variant))
    for variant in FORMATS:
        print("\n".join(report(variant, runs[variant])))
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
