"""The zero-config scenario under two sets of [measure] settings, whole runs alternated.

`--compare turns` (default): strict alternation vs the default turns. `bench_switch_warmup.py` measures the turn
settings inside one process on three formats; this runs the real thing. `--compare loops`: timed loops of
0.2-0.4 s (the default until loop_length.txt) against 0.1-0.2 s (the default since), with the adaptive number of
processes (`--procs auto`, the 90 s budget): does time moved from loops to processes narrow the ratio intervals?
`--compare warmup`: the interleaved warmup of 0.1 s per variant and batch size (2.8 s of a zero-config worker)
against 0.05 s.

Each run is the built-in default scenario (mnist_cnn, five formats + two idiomatic calls in one interleaved
worker, batch 1/8/32/128) with the setting's [measure] keys, PROCS worker processes (or "auto"), RUNS runs per
setting, alternated (A, B, B, A, ...), through `infer-bench run`. Per run: processes, every ratio's
between-process 95% interval as the adaptive stop rule computes it (`reports.adaptive.ratio_widths`): median
half-width, how many of the 24 are within ±3%, frozen/checkpoint's; and the median over processes of each
format's median at batch 1 and 32.

    python benchmarks/bench_turns.py --runs 3 | tee benchmarks/results/turns_zero_config.txt
    python benchmarks/bench_turns.py --compare loops --procs auto --runs 3 | tee benchmarks/results/loop_length.txt
    python benchmarks/bench_turns.py --compare warmup --procs auto --runs 3 | tee benchmarks/results/warmup_length.txt
"""

from __future__ import annotations

import argparse
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

Setting = dict[str, float]  # [measure] keys set (or replaced) in the default scenario
COMPARISONS: dict[str, dict[str, Setting]] = {
    "turns": {"strict": {"switch_warmup": 0, "turn_calls": 1}, "turns": {"switch_warmup": 1, "turn_calls": 3}},
    "loops": {"loops 0.2-0.4 s": {"min_time": 0.2, "max_time": 0.4}, "loops 0.1-0.2 s": {"min_time": 0.1, "max_time": 0.2}},
    "warmup": {"warmup 0.1 s": {"warmup_time": 0.1}, "warmup 0.05 s": {"warmup_time": 0.05}},
}


def scenario(setting: Setting) -> str:
    """The built-in default scenario with the setting's keys in its [measure] table (replaced where present)."""
    from bench.scenario.parse import DEFAULT_TEXT

    text = DEFAULT_TEXT.replace("{devices}", '["cpu"]')
    for key, value in setting.items():
        line = re.search(rf"^{key} = .*$", text, flags=re.M)
        text = (text[: line.start()] + f"{key} = {value}" + text[line.end():] if line
                else text.replace("[measure]\n", f"[measure]\n{key} = {value}\n"))
    return text


def one_run(root: Path, name: str, setting: Setting, procs: str) -> tuple[list[float], float, dict[str, float], int, float]:
    """(every ratio's half-width, frozen/checkpoint's widest, medians, processes, wall seconds) of one run."""
    from reports.adaptive import per_process, ratio_widths
    from reports.schema import IDENTITY_FIELDS, read_run_file

    path = root / f"{name}.toml"
    path.write_text(scenario(setting), encoding="utf-8")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "bench.cli", "run", str(path), "--repetitions", procs, "--out",
                    str(root / name), "--no-history", "--no-report"], check=True, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    records = list(read_run_file(root / name / "results.jsonl").cells)
    ratios = ratio_widths(records)
    widths = [w.half_width for w in ratios]
    frozen = max((w.half_width for w in ratios if w.label.endswith(": frozen/checkpoint")), default=float("nan"))
    medians, processes = {}, 0
    for key, procs_of in per_process(records).items():
        ident = dict(zip(IDENTITY_FIELDS, key, strict=True))
        call = "" if ident["call"] == "fastest" else f" {ident['call']}"
        medians[f"{ident['variant']}{call} b{ident['batch_size']}"] = statistics.median(m for _, m in procs_of.values()) / 1e6
        processes = max(processes, len(procs_of))
    return widths, frozen, medians, processes, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="turns", help="which two settings (default turns)")
    parser.add_argument("--runs", type=int, default=3, help="runs per setting, alternated (default 3)")
    parser.add_argument("--procs", default="5", help="worker processes per run, or auto (default 5)")
    args = parser.parse_args()
    from bench.runner.zoo_export import ensure_exported

    ensure_exported("mnist_cnn")
    settings = COMPARISONS[args.compare]
    root = Path(tempfile.mkdtemp(prefix="infer-bench-turns-"))
    print(f"# bench_turns.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  the zero-config scenario, "
          f"{args.procs} processes per run, {args.runs} runs per setting alternated; [measure] settings: {settings}; "
          f"host {os.uname().nodename}, {os.cpu_count()} cpus, load average at start {os.getloadavg()[0]:.2f}", flush=True)
    summary: dict[str, list[tuple[float, int, int, float]]] = {name: [] for name in settings}
    for i in range(args.runs):
        for name, setting in (settings.items() if i % 2 == 0 else reversed(settings.items())):
            widths, frozen, medians, processes, wall = one_run(root, f"run{i}-{list(settings).index(name)}", setting,
                                                               args.procs)
            finite = [w for w in widths if w != float("inf")]
            within = sum(w <= 0.03 for w in finite)
            summary[name].append((statistics.median(finite), within, processes, frozen))
            shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(medians.items()) if k.endswith((" b1", " b32")))
            print(f"run {i} {name}: {wall:.0f} s, {processes} processes, load {os.getloadavg()[0]:.1f}; ratio 95% CI "
                  f"median ±{statistics.median(finite) * 100:.1f}%, widest ±{max(finite) * 100:.1f}%, {within} of "
                  f"{len(widths)} within ±3%, frozen/checkpoint widest ±{frozen * 100:.1f}%; medians ms: {shown}",
                  flush=True)
    for name, rows in summary.items():
        print(f"{name}: median ratio half-width per run " + ", ".join(f"±{m * 100:.1f}%" for m, *_ in rows)
              + "; within ±3% per run " + ", ".join(str(n) for _, n, *_ in rows)
              + "; processes " + ", ".join(str(p) for *_, p, _ in rows)
              + "; frozen/checkpoint widest " + ", ".join(f"±{f * 100:.1f}%" for *_, f in rows))
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
