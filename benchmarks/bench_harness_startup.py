"""Start-up time of `infer-bench --help` and `infer-bench plan`: both must stay under 0.5 s.

Each command runs as a fresh process (python -m bench.cli ...), alternating A B C A B C for
--passes passes; prints median and range of wall time per command, and which heavy modules
(tensorflow, pandas, rich) each imported (none may be).

    python benchmarks/bench_harness_startup.py [--passes 10] | tee benchmarks/results/harness_startup.txt
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

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": ["--help"],
    "plan ci.toml": ["plan", "scenarios/ci.toml"],
    "plan (built-in)": ["plan"],
}
PROBE = ("import json, sys, runpy\n"
         "sys.argv = ['infer-bench'] + json.loads(sys.argv[1])\n"
         "try:\n    runpy.run_module('bench.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print(json.dumps([m for m in ('tensorflow', 'pandas', 'rich') if m in sys.modules]), file=sys.stderr)\n")


def once(argv: list[str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(out.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=10)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    heavy: dict[str, set[str]] = {name: set() for name in COMMANDS}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; {args.passes} passes, alternating")
    for _ in range(args.passes):
        for name, argv in COMMANDS.items():
            t, mods = once(argv)
            times[name].append(t)
            heavy[name].update(mods)
    for name, ts in times.items():
        print(f"infer-bench {name:<16} median {statistics.median(ts) * 1000:6.0f} ms  range {min(ts) * 1000:.0f}-"
              f"{max(ts) * 1000:.0f} ms  heavy modules imported: {sorted(heavy[name]) or 'none'}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
