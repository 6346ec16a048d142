"""Wall time of the zero-config `infer-bench run` (zoo export cached), and how tight its numbers are.

Runs `infer-bench run [--repetitions N] --out DIR` as a user would (reports included), then reads
the results: wall time, status and stop reason of every cell, each ok cell's within-process 95% CI
of the median (target: within +-2%), and with N > 1 the between-process spread of each cell's
median (max/min over repetitions).

    python benchmarks/bench_harness_zero_config.py [--repetitions 3] | tee benchmarks/results/harness_zero_config.txt
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))  # this checkout, not whichever infer-bench is installed

from bench.timing import ci_halfwidth, median  # noqa: E402
from reports.schema import read_run_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="export the zoo model into an empty cache first (timed)")
    args = parser.parse_args()
    if args.cold:
        os.environ["INFER_BENCH_CACHE"] = tempfile.mkdtemp(prefix="infer-bench-cold-")
    from bench.runner.zoo_export import ensure_exported

    if not args.cold:
        t = time.perf_counter()
        ensure_exported("mnist_cnn")
        print(f"zoo export ready in {time.perf_counter() - t:.1f} s (cached)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "bench.cli", "run", "--out", str(out)]
        if args.repetitions > 1:
            cmd += ["--repetitions", str(args.repetitions)]
        load0 = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        print(f"infer-bench run{' --repetitions ' + str(args.repetitions) if args.repetitions > 1 else ''}"
              f"{' from a cold zoo cache (export included)' if args.cold else ''}: "
              f"exit {proc.returncode}, wall {wall:.1f} s (load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after)")
        report(read_run_file(out / "results.jsonl").cells)
        if proc.returncode != 0:
            print(proc.stderr[-2000:])


def report(cells: list[dict]) -> None:  # type: ignore[type-arg]
    by_cell: dict[str, list[dict]] = defaultdict(list)  # type: ignore[type-arg]
    for c in cells:
        by_cell[c["cell_id"]].append(c)
    widest = 0.0
    for cell_id, recs in by_cell.items():
        parts = []
        meds = []
        for r in sorted(recs, key=lambda r: r["repetition"]):
            if r["status"] != "ok":
                parts.append(f"r{r['repetition']} {r['status']}: {r['error']}")
                continue
            hw = ci_halfwidth(r["latencies_ns"])
            widest = max(widest, hw)
            meds.append(median(r["latencies_ns"]) / 1e6)
            parts.append(f"r{r['repetition']} {meds[-1]:.4f} ms +-{hw:.1%} ({r['iterations']} it, {r['stop_reason']})")
        spread = f"  between processes {max(meds) / min(meds):.2f}x" if len(meds) > 1 else ""
        print(f"  {cell_id:<32} " + "; ".join(parts) + spread)
    print(f"widest within-process CI of an ok cell: +-{widest:.1%}")


if __name__ == "__main__":
    main()
