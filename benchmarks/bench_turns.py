"""The zero-config scenario with strict alternation vs the default turns, whole runs alternated.

`bench_switch_warmup.py` measures the turn settings inside one process on three formats. This runs the real
thing: the built-in default scenario (mnist_cnn, five formats + two idiomatic calls in one interleaved worker,
batch 1/8/32/128, the zero-config timed loops) with PROCS fixed worker processes per run, RUNS runs per setting,
alternated (strict, turns, strict, ...), through `infer-bench run`. Per run: every ratio's between-process 95%
interval as the adaptive stop rule computes it (`reports.adaptive.ratio_widths`): median half-width and how many
of the 24 are within ±3%; and the median over processes of each format's median at batch 1 and 32.

    python benchmarks/bench_turns.py --runs 3 | tee benchmarks/results/turns_zero_config.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = {"strict": (0, 1), "turns": (1, 3)}  # (switch_warmup, turn_calls)


def scenario(turn: tuple[int, int]) -> str:
    """The built-in default scenario with the turn settings added to its [measure] table."""
    from bench.scenario.parse import DEFAULT_TEXT

    text = DEFAULT_TEXT.replace("{devices}", '["cpu"]')
    return text.replace("[measure]\n", f"[measure]\nswitch_warmup = {turn[0]}\nturn_calls = {turn[1]}\n")


def one_run(root: Path, name: str, turn: tuple[int, int], procs: int) -> tuple[list[float], dict[str, float], float]:
    from reports.adaptive import per_process, ratio_widths
    from reports.schema import IDENTITY_FIELDS, read_run_file

    path = root / f"{name}.toml"
    path.write_text(scenario(turn), encoding="utf-8")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "bench.cli", "run", str(path), "--repetitions", str(procs), "--out",
                    str(root / name), "--no-history", "--no-report"], check=True, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    records = list(read_run_file(root / name / "results.jsonl").cells)
    widths = [w.half_width for w in ratio_widths(records)]
    medians = {}
    for key, procs_of in per_process(records).items():
        ident = dict(zip(IDENTITY_FIELDS, key, strict=True))
        call = "" if ident["call"] == "fastest" else f" {ident['call']}"
        medians[f"{ident['variant']}{call} b{ident['batch_size']}"] = statistics.median(m for _, m in procs_of.values()) / 1e6
    return widths, medians, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per setting, alternated (default 3)")
    parser.add_argument("--procs", type=int, default=5, help="worker processes per run (default 5)")
    args = parser.parse_args()
    from bench.runner.zoo_export import ensure_exported

    ensure_exported("mnist_cnn")
    root = Path(tempfile.mkdtemp(prefix="infer-bench-turns-"))
    print(f"# bench_turns.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  the zero-config scenario, "
          f"{args.procs} processes per run, {args.runs} runs per setting alternated; settings (switch_warmup, "
          f"turn_calls): {SETTINGS}; host {os.uname().nodename}, {os.cpu_count()} cpus, load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    summary: dict[str, list[tuple[float, int]]] = {name: [] for name in SETTINGS}
    for i in range(args.runs):
        for name, turn in (SETTINGS.items() if i % 2 == 0 else reversed(SETTINGS.items())):
            widths, medians, wall = one_run(root, f"{name}{i}", turn, args.procs)
            finite = [w for w in widths if w != float("inf")]
            within = sum(w <= 0.03 for w in finite)
            summary[name].append((statistics.median(finite), within))
            shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(medians.items()) if k.endswith((" b1", " b32")))
            print(f"run {i} {name:6s}: {wall:.0f} s, load {os.getloadavg()[0]:.1f}; ratio 95% CI median ±"
                  f"{statistics.median(finite) * 100:.1f}%, widest ±{max(finite) * 100:.1f}%, {within} of {len(widths)} "
                  f"within ±3%; medians ms: {shown}", flush=True)
    for name, rows in summary.items():
        print(f"{name:6s}: median ratio half-width per run " + ", ".join(f"±{m * 100:.1f}%" for m, _ in rows)
              + "; within ±3% per run " + ", ".join(str(n) for _, n in rows))
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
