"""Wall time of the zero-config `infer-bench run` (zoo export cached), and how tight its numbers are.

Runs `infer-bench run [--repetitions N] --out DIR` as a user would (reports included; by default the
adaptive number of processes), then reads the results: wall time, what stopped the adaptive rounds, every
ratio's between-process interval (the widest, and the ones that missed the ±3% target), status and stop
reason of every cell, and the between-process spread of each cell's median.

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=0, help="fixed processes per group (default: the zero-config auto)")
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
        run = read_run_file(out / "results.jsonl")
        report(run.cells)
        for record in run.adaptive:
            ratios = record["ratios"]
            missed = [r for r in ratios if not r["reached"]]
            widest = max(ratios, key=lambda r: r["half_width"] if r["half_width"] is not None else float("inf"), default=None)
            print(f"adaptive: {record['rounds']} processes, stopped by {record['stopped']} after {record['elapsed_s']:.0f} s "
                  f"of measuring; {len(ratios) - len(missed)} of {len(ratios)} ratios within ±{record['target']:.0%}"
                  + (f"; widest {widest['label']} ±{widest['half_width']:.1%}" if widest and widest["half_width"] else ""))
            for r in missed:
                print(f"  missed: {r['label']} ±{(r['half_width'] or float('inf')):.1%} over {r['pairs']} processes")
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
