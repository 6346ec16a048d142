"""Does server-side batching pay? mobilenet_v2 capacity at a p99 SLO with and without TF Serving-style batching,
what `infer-bench tune` finds, and all of it against single-stream batch-1 throughput.

Runs the real commands in fresh workers: `infer-bench capacity` without batching, the same with batching
(max_batch_size 8, allowed sizes 1/2/4/8, a timeout), and `infer-bench tune` over executor threads x batching;
reads their results files and prints one table. Durations are shortened for a 2-core machine (--duration,
--min-queries); the range (min-max) of each capacity is over its fresh processes (--confirm + 1).

    python benchmarks/bench_load_batching.py [--slo-ms 150] [--duration 3] | tee benchmarks/results/load_batching.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.schema import read_run_file  # noqa: E402


def run(args: list[str], out: Path) -> list[dict[str, Any]]:
    t0 = time.time()
    done = subprocess.run([sys.executable, "-m", "bench.cli", *args, "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    print(f"# infer-bench {' '.join(args)}  -> exit {done.returncode} in {time.time() - t0:.0f} s", flush=True)
    if done.returncode not in (0, 1):
        print(done.stderr[-2000:])
        return []
    return read_run_file(out / "results.jsonl").serving


def qps(value: Any) -> str:
    return "none" if not value else f"{value:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--format", default="frozen")
    parser.add_argument("--slo-ms", type=float, default=150.0)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--min-queries", type=int, default=200)
    parser.add_argument("--confirm", type=int, default=1)
    args = parser.parse_args()
    common = ["--slo-ms", f"{args.slo_ms:g}", "--duration", f"{args.duration:g}", "--min-queries", str(args.min_queries),
              "--confirm", str(args.confirm)]
    batching = ["--max-batch-size", "8", "--batch-timeout-micros", "5000", "--allowed-batch-sizes", "1,2,4,8"]
    print(f"# {platform.node()} {os.cpu_count()} cpus, loadavg {os.getloadavg()[0]:.1f}; {args.model} {args.format}; "
          f"p99 <= {args.slo_ms:g} ms; steps >= {args.duration:g} s and >= {args.min_queries} queries")
    with tempfile.TemporaryDirectory() as tmp:
        plain = run(["capacity", args.model, "--formats", args.format, *common], Path(tmp) / "plain")
        batched = run(["capacity", args.model, "--formats", args.format, *common, *batching], Path(tmp) / "batched")
        tuned = run(["tune", args.model, "--formats", args.format, "--executor-threads", "1,2",
                     "--batching", "none,8:5000", *common], Path(tmp) / "tune")
    rows = [("no batching", next((r for r in plain if r["kind"] == "capacity"), {})),
            ("batching <= 8, 5 ms", next((r for r in batched if r["kind"] == "capacity"), {}))]
    t = next((r for r in tuned if r["kind"] == "tune"), {})
    base = t.get("baseline_qps")
    print(f"\nsingle-stream batch 1: {qps(base)} QPS (p99 {t.get('baseline_percentile_ms') or 0:.1f} ms)")
    print("configuration               capacity QPS  range over processes          vs single-stream batch 1")
    for label, r in rows:
        found = r.get("range")
        span = f"{found[0]:,.1f}-{found[1]:,.1f}" if found else "-"
        gain = f"{r['capacity_qps'] / base:.2f}x" if base and r.get("capacity_qps") else "-"
        print(f"{label:<26}  {qps(r.get('capacity_qps')):>12}  {span:>27}  {gain:>10}")
    winner = t.get("winner") or {}
    w_int = winner.get("range")
    print(f"tune winner: {winner.get('label', 'none')}: {qps(winner.get('score'))} QPS "
          f"[{w_int[0]:,.1f}-{w_int[1]:,.1f}]" if w_int else f"tune winner: {winner.get('label', 'none')}",
          f"; gain over single-stream batch 1: {t['gain']:.2f}x" if t.get("gain") else "")
    for row in t.get("rows") or []:
        print(f"  {row['label']:<50} {qps(row.get('score')):>10} QPS  rounds {row['rounds']}")


if __name__ == "__main__":
    main()
