"""A TensorFlow session in the caller's thread (`inter_op_threads = -1`) against the inter-op pool: speed and noise.

By default a session hands every call to its inter-op thread pool and waits for the answer: a thread switch
each way. With `inter_op_parallelism_threads = -1` it runs the call in the calling thread (TensorFlow's own
setting; it gives up running independent ops side by side, so it suits small graphs). The effect of intra-op
threads is separate, so four worker groups: intra 0 (TensorFlow's default) or 1 x inter 0 (the pool) or -1.

One `infer-bench run` of `scenarios/threads.toml` (mnist_cnn checkpoint/frozen/TFLite at batch 1 and 32, the
zero-config loops) with REPS repetitions; each repetition starts one process per group, so the groups' processes alternate.
Printed:
- the run's terminal report (format ratios inside each group, with their between-process intervals);
- per group and cell: the spread of the per-process medians (SD of their logs) and the format ratios' 95%
  half-widths (`reports.adaptive.ratio_widths`, the interval the adaptive stop rule uses);
- every group against the default (0/0), per format and batch size: the ratio of the two groups' medians in
  the same repetition (processes started next to each other), its median, range and 95% t interval on logs.

    python benchmarks/bench_caller_thread.py --reps 8 | tee benchmarks/results/caller_thread.txt
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENARIO = ROOT / "scenarios" / "threads.toml"  # the shipped scenario; this script sets its repetitions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8, help="worker processes per group (default 8)")
    args = parser.parse_args()
    from bench.runner.zoo_export import ensure_exported
    from reports import stats
    from reports.adaptive import per_process, ratio_widths
    from reports.aggregate import threads_text
    from reports.schema import IDENTITY_FIELDS, read_run_file

    ensure_exported("mnist_cnn")
    root = Path(tempfile.mkdtemp(prefix="infer-bench-caller-"))
    path = root / "s.toml"
    text = re.sub(r"^repetitions = \d+$", f"repetitions = {args.reps}\nhistory = false", SCENARIO.read_text(), flags=re.M)
    path.write_text(text, encoding="utf-8")
    print(f"# bench_caller_thread.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  host "
          f"{os.uname().nodename}, {os.cpu_count()} cpus, load average at start {os.getloadavg()[0]:.2f}")
    print("# scenario:\n" + "".join(f"#   {line}\n" for line in path.read_text().splitlines()), end="", flush=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bench.cli", "run", str(path), "--out", str(root / "run"), "--no-history"],
                          capture_output=True, text=True, cwd=ROOT)
    print(f"# infer-bench run: exit {done.returncode}, {time.monotonic() - started:.0f} s; its terminal report:")
    print(done.stdout.rstrip())
    records = list(read_run_file(root / "run" / "results.jsonl").cells)
    cells = per_process(records)
    ident = {key: dict(zip(IDENTITY_FIELDS, key, strict=True)) for key in cells}
    print("\nper group: the per-process medians' spread (SD of logs) and the format ratios' 95% half-widths")
    for intra in (0, 1):
        for inter in (0, -1):
            mine = [r for r in records if r.get("intra_op_threads") == intra and r.get("inter_op_threads") == inter]
            spreads = []
            for key, procs in sorted(cells.items(), key=lambda kv: (ident[kv[0]]["batch_size"], ident[kv[0]]["variant"])):
                i = ident[key]
                if (i["intra_op_threads"], i["inter_op_threads"]) == (intra, inter) and len(procs) >= 2:
                    logs = [math.log(m) for _, m in procs.values()]
                    spreads.append(f"{i['variant']} b{i['batch_size']} {statistics.median(m for _, m in procs.values()) / 1e6:.4f} ms"
                                   f" (SD {statistics.stdev(logs):.3f})")
            widths = ", ".join(f"{w.label.split(' ', 1)[1]} ±{w.half_width * 100:.1f}%" for w in ratio_widths(mine))
            print(f"  {threads_text(intra, inter)}: medians {'; '.join(spreads)}")
            print(f"      ratio half-widths: {widths}")
    print("\nagainst the default group (0/0), same repetition: median (range) [95% t interval on logs]")
    base = {(i["variant"], i["batch_size"]): cells[k] for k, i in ident.items() if (i["intra_op_threads"], i["inter_op_threads"]) == (0, 0)}
    for intra, inter in ((0, -1), (1, 0), (1, -1)):
        for key, procs in sorted(cells.items(), key=lambda kv: (ident[kv[0]]["variant"], ident[kv[0]]["batch_size"])):
            i = ident[key]
            if (i["intra_op_threads"], i["inter_op_threads"]) != (intra, inter):
                continue
            other = base[(i["variant"], i["batch_size"])]
            ratios = [other[r][1] / procs[r][1] for r in sorted(set(procs) & set(other))]
            ci = stats.log_t_interval(ratios)
            print(f"  {threads_text(intra, inter)} {i['variant']:<10} b{i['batch_size']:<3} speedup "
                  f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) [{ci.low:.2f}-{ci.high:.2f}] "
                  f"n={len(ratios)}")
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
