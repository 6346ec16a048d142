"""Do the intervals infer-bench reports predict a rerun? Calibration over consecutive real runs.

RUNS consecutive runs of one small scenario (the zoo's mnist_cnn = the seed CNN, checkpoint vs frozen vs
tflite, batch 1 and 32, the zero-config measurement policy, interleaved, PROCS fresh worker processes per
run). Each run is aggregated exactly as `infer-bench report` does (reports.aggregate + reports.views), with the
history database `infer-bench run` would have recorded the earlier runs in (a fresh SQLite file beside the runs:
each run goes in after its report, as `run` does), and for every ratio (frozen/checkpoint and tflite/checkpoint
speedups at each batch size) and every absolute median it records the estimate, the 95% interval ("this run's"),
the within-run rerun interval and the rerun interval the report shows (reports.rerun: from the history once it
holds 5 earlier runs of both cells, else the within-run one).

Printed:
  (a) rerun coverage of the within-run rerun interval: in how many consecutive pairs (i, i+1) run i's interval
      holds run i+1's estimate (the issue asks for >= 17 of 19 on ratios);
  (a2) the same for the rerun interval the report shows, per ratio and overall, split by kind (from history /
      within-run), with median half-widths; beside it, the within-run interval over the same pairs;
  (b) how often each run's 95% interval holds the median of all runs' estimates (an honest 95% interval for
      the typical value covers it about 86-91% of the time at 3-8 processes, not 95%: the median of the
      runs is itself an estimate, and runs drift together);
  median half-width of the intervals, for ratios and for absolute medians.

    python benchmarks/bench_calibration.py --runs 25 --procs 5 | tee benchmarks/results/calibration_3.txt
    python benchmarks/bench_calibration.py --runs 25 --procs 5 --threads 1/-1 | tee benchmarks/results/calibration_caller.txt
(25 runs: runs 5..23 have a history of >= 5 runs and a next run, so 19 predicted pairs per ratio.)
The test suite runs `--runs 2 --procs 2 --quick` to keep the script working.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENARIO = """# written by benchmarks/bench_calibration.py
[run]
repetitions = {procs}
shuffle_seed = {seed}
timeout = 300

[measure]
warmup_time = {warmup}
min_time = {min_time}
max_time = {max_time}
ci_target = 0.02

[sweep]
formats = ["checkpoint", "frozen", "tflite"]
batch_sizes = [1, 32]
devices = ["cpu"]
{threads}
[[models]]
zoo = "mnist_cnn"
"""


@dataclass(frozen=True)
class Estimate:
    """One quantity from one run: its estimate, 95% interval, within-run rerun interval and (ratios) the rerun
    interval the report shows, with the number of runs it came from (0: within-run)."""

    name: str
    value: float
    lo: float
    hi: float
    rerun_lo: float  # within-run
    rerun_hi: float
    shown_lo: float = math.nan  # the report's rerun interval (ratios)
    shown_hi: float = math.nan
    shown_runs: int = 0
    run_ratio: float = math.nan  # reports.rerun.run_ratio: the per-process estimate a history is made of

    @property
    def half_width(self) -> float:
        return max(self.hi / self.value - 1, 1 - self.lo / self.value)

    def width_of(self, lo: float, hi: float) -> float:
        return max(hi / self.value - 1, 1 - lo / self.value)


def threads_lines(threads: str | None) -> str:
    """--threads INTRA/INTER ("1/-1": one intra-op thread, the session in the caller's thread) as [sweep] lines."""
    if not threads:
        return ""
    intra, inter = (int(x) for x in threads.split("/"))
    return f"intra_op_threads = [{intra}]\ninter_op_threads = [{inter}]\n"


def measure_run(out: Path, procs: int, seed: int, quick: bool, threads: str | None = None) -> Path:
    """One real run: fresh worker processes, interleaved formats, no report (the aggregation is below)."""
    from bench import scenario
    from bench.results.store import RunStore
    from bench.runner.jobs import TaskBuilder, run_jobs
    from bench.runner.zoo_export import ensure_exported
    from bench.scenario import sweep

    zero_config = scenario.default().policy  # the zero-config loops, read where they are set
    timing = ((0.05, 0.1, 0.2) if quick else (zero_config.warmup_time, zero_config.min_time, zero_config.max_time))
    text = SCENARIO.format(procs=procs, seed=seed, warmup=timing[0], min_time=timing[1], max_time=timing[2],
                           threads=threads_lines(threads))
    s = scenario.parse(text, "calibration.toml", out.parent)
    e = sweep.expand(s)
    builder = TaskBuilder(s, {"mnist_cnn": ensure_exported("mnist_cnn")})
    with RunStore.create(out, f"calib-{int(time.time())}-{out.name}") as store:
        store.append({"kind": "header", "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                      "env": machine_env()})  # what the history database needs: the machine, the time
        run_jobs(sweep.schedule(e.groups, procs, seed), builder, store.append)
    return out


def machine_env() -> dict[str, object]:
    """The run header's machine facts (bench.results.fingerprint), without the interpreter probe."""
    from bench.results import fingerprint

    return {"host": platform.node(), "cpu": fingerprint.cpu_info(), "memory_bytes": fingerprint.memory_bytes(),
            "gpus": fingerprint.gpus(), "loadavg": fingerprint.loadavg()}


def estimates(run_dir: Path, db: Path) -> list[Estimate]:
    """What the report shows for this run: speedups vs checkpoint and absolute medians, with intervals; the ratios'
    rerun interval as `infer-bench report --db DB` computes it (bench.results.history.known.rerun_history)."""
    from bench.results.history.known import rerun_history
    from reports.aggregate import aggregate
    from reports.load import load_runs
    from reports.rerun import run_ratio
    from reports.views import speedups

    runs = load_runs([run_dir])
    agg = aggregate(runs)
    within = speedups(agg, runs.parity, "checkpoint")
    shown = speedups(agg, runs.parity, "checkpoint", history=rerun_history([run_dir], str(db)))
    procs = {(r["variant"], r["batch_size"]): {rep: v[2] for rep, v in (r["_procs"] or {}).items()}
             for _, r in agg.iterrows() if r["status"] == "ok"}

    def estimator(variant: str, batch: int) -> float:
        return run_ratio(procs.get(("checkpoint", batch), {}), procs.get((variant, batch), {}))

    out = [Estimate(f"{r.variant}/checkpoint b{r.batch_size}", r.speedup, r.ci_lo, r.ci_hi, r.rerun_lo, r.rerun_hi,
                    h.rerun_lo, h.rerun_hi, int(h.rerun_runs), estimator(r.variant, r.batch_size))
           for r, h in zip(within.itertuples(), shown.itertuples(), strict=True)]
    out += [Estimate(f"median {r.variant} b{r.batch_size}", r.p50_ms, r.p50_ci_lo_ms, r.p50_ci_hi_ms, r.p50_rerun_lo_ms,
                     r.p50_rerun_hi_ms) for r in agg.itertuples() if r.status == "ok"]
    return out


def summarize(per_run: list[list[Estimate]], kind: str) -> list[str]:
    names = sorted({e.name for run in per_run for e in run if e.name.startswith("median") == (kind == "median")})
    lines = []
    totals = [0, 0, 0, 0]
    widths: list[float] = []
    for name in names:
        series = [next((e for e in run if e.name == name), None) for run in per_run]
        got = [e for e in series if e is not None and all(map(math.isfinite, (e.lo, e.hi, e.rerun_lo, e.rerun_hi)))]
        center = statistics.median(e.value for e in got) if got else math.nan
        pairs = [(a, b) for a, b in zip(series, series[1:]) if a is not None and b is not None and a in got]
        rerun_hits = sum(a.rerun_lo <= b.value <= a.rerun_hi for a, b in pairs)
        ci_hits = sum(e.lo <= center <= e.hi for e in got)
        widths += [e.half_width for e in got]
        totals = [totals[0] + rerun_hits, totals[1] + len(pairs), totals[2] + ci_hits, totals[3] + len(got)]
        values = [e.value for e in got]
        spread = max(values) / min(values) if values else math.nan
        lines.append(f"  {name:<28} rerun holds next run {rerun_hits:>2}/{len(pairs):<2}  95% CI holds median of runs "
                     f"{ci_hits:>2}/{len(got):<2}  estimates {min(values, default=math.nan):.4g}-"
                     f"{max(values, default=math.nan):.4g} ({spread:.2f}x)  median CI ±{statistics.median([e.half_width for e in got] or [math.nan]):.1%}")
    lines.append(f"  ALL {kind}: rerun intervals held the next run's estimate in {totals[0]}/{totals[1]} pairs; "
                 f"95% intervals held the median of all runs in {totals[2]}/{totals[3]}; median half-width "
                 f"±{statistics.median(widths or [math.nan]):.1%}")
    return lines


def shown_coverage(per_run: list[list[Estimate]]) -> list[str]:
    """(a2) The rerun interval the report shows: how often run i's held run i+1's ratio, per ratio, split by where
    the interval came from; beside it, the within-run rerun interval over the same pairs."""
    names = sorted({e.name for run in per_run for e in run if "/" in e.name})
    lines, total = [], {"history": [0, 0, 0, 0], "within": [0, 0]}
    hist_w: list[float] = []
    within_w: list[float] = []
    for name in names:
        series = [next((e for e in run if e.name == name), None) for run in per_run]
        pairs = [(a, b) for a, b in zip(series, series[1:]) if a is not None and b is not None]
        hist = [(a, b) for a, b in pairs if a.shown_runs > 0]
        held = sum(a.shown_lo <= b.value <= a.shown_hi for a, b in hist)
        held_est = sum(a.shown_lo <= b.run_ratio <= a.shown_hi for a, b in hist)
        same = sum(a.rerun_lo <= b.value <= a.rerun_hi for a, b in hist)
        rest = [(a, b) for a, b in pairs if a.shown_runs == 0 and math.isfinite(a.shown_lo)]
        rest_held = sum(a.shown_lo <= b.value <= a.shown_hi for a, b in rest)
        hw = [a.width_of(a.shown_lo, a.shown_hi) for a, _ in hist]
        ww = [a.width_of(a.rerun_lo, a.rerun_hi) for a, _ in hist]
        hist_w, within_w = hist_w + hw, within_w + ww
        total["history"] = [total["history"][0] + held, total["history"][1] + len(hist), total["history"][2] + same,
                            total["history"][3] + held_est]
        total["within"] = [total["within"][0] + rest_held, total["within"][1] + len(rest)]
        runs = sorted({a.shown_runs for a, _ in hist})
        lines.append(f"  {name:<28} from history ({runs[0] if runs else 0}-{runs[-1] if runs else 0} runs) held the next "
                     f"run {held:>2}/{len(hist):<2} (its per-process estimate {held_est:>2}) median "
                     f"±{statistics.median(hw or [math.nan]):.1%}  | within-run, "
                     f"same pairs {same:>2}/{len(hist):<2} median ±{statistics.median(ww or [math.nan]):.1%}  | "
                     f"within-run before history {rest_held}/{len(rest)}")
    h, w = total["history"], total["within"]
    lines.append(f"  ALL: the report's rerun interval from history held the next run's ratio in {h[0]}/{h[1]} pairs "
                 f"(its per-process estimate, reports.rerun.run_ratio: {h[3]}/{h[1]}) (median ±{statistics.median(hist_w or [math.nan]):.1%}); the within-run one over the same pairs "
                 f"{h[2]}/{h[1]} (median ±{statistics.median(within_w or [math.nan]):.1%}); before 5 earlier runs "
                 f"existed the report showed the within-run one: {w[0]}/{w[1]}")
    return lines


def history_prediction(series: dict[str, list[float]], first: int = 5) -> list[str]:
    """What the run-to-run history predicts: for each run i >= `first`, the prediction interval from runs 0..i-1's
    estimates (`reports.stats.log_prediction_interval`, what `report A B C` and the history database give) — how
    often it held run i's estimate, per ratio."""
    from reports.stats import log_prediction_interval

    lines, hits, total = [], 0, 0
    for name, values in sorted(series.items()):
        held = [lo <= values[i] <= hi for i in range(first, len(values)) for lo, hi in [log_prediction_interval(values[:i])]]
        hits, total = hits + sum(held), total + len(held)
        lines.append(f"  {name:<28} history of the previous runs held the next run {sum(held)}/{len(held)}")
    lines.append(f"  ALL: a prediction from >= {first} previous runs held the next run's ratio in {hits}/{total}")
    return lines


def combined_prediction(path: Path, first: int = 5) -> list[str]:
    """From an earlier output's `run NN:` lines (estimate and 95% interval): for each run i >= `first` with a next
    run, the history's prediction interval, the within-run rerun interval (√2 the 95% half-width on the log scale,
    as stats.log_t_interval) and the report's rule (the history's, widened to the within-run one where it reaches
    further, reports.rerun) — how often each held run i+1's estimate. Reconstructed from printed values (3 decimals),
    and the history here is of the report's pooled-median speedups, not reports.rerun.run_ratio: approximate."""
    series: dict[str, list[tuple[float, float, float]]] = {}
    for line in path.read_text().splitlines():
        if line.startswith("run "):
            for m in re.finditer(r"(\w+/checkpoint b\d+) ([\d.]+) \[([\d.]+)-([\d.]+)\]", line):
                value, lo, hi = (float(x) for x in m.group(2, 3, 4))
                series.setdefault(m.group(1), []).append((value, lo, hi))
    from reports.stats import log_prediction_interval

    lines, totals = [], [0, 0, 0, 0]
    for name, vals in sorted(series.items()):
        held = [0, 0, 0]
        for i in range(first, len(vals) - 1):
            value, lo, hi = vals[i]
            half = math.sqrt(2) * max(math.log(hi / value), math.log(value / lo))
            wlo, whi = value * math.exp(-half), value * math.exp(half)
            plo, phi = log_prediction_interval([v[0] for v in vals[: i + 1]])
            nxt = vals[i + 1][0]
            held = [held[0] + (plo <= nxt <= phi), held[1] + (wlo <= nxt <= whi),
                    held[2] + (min(plo, wlo) <= nxt <= max(phi, whi))]
        n = max(len(vals) - 1 - first, 0)
        totals = [totals[0] + held[0], totals[1] + held[1], totals[2] + held[2], totals[3] + n]
        lines.append(f"  {name:<28} history {held[0]}/{n}  within-run {held[1]}/{n}  history widened to within-run "
                     f"(the report's rule) {held[2]}/{n}")
    lines.append(f"  ALL (next run held, runs {first}.. with a next run): history {totals[0]}/{totals[3]}, within-run "
                 f"{totals[1]}/{totals[3]}, the report's rule {totals[2]}/{totals[3]}")
    return lines


def from_file(path: Path) -> dict[str, list[float]]:
    """The ratio estimates printed by an earlier run of this script (its `run NN:` lines)."""
    series: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        if line.startswith("run "):
            for m in re.finditer(r"(\w+/checkpoint b\d+) ([\d.]+) \[", line):
                series.setdefault(m.group(1), []).append(float(m.group(2)))
    return series


def reevaluate(root: Path) -> None:
    """The kept runs of an earlier pass, in order, each with the database's runs made before it (what the report
    would show for it today): the same summaries as a pass."""
    runs = sorted(p for p in root.glob("run*") if (p / "results.jsonl").exists())
    print(f"# bench_calibration.py --reevaluate {root}: {len(runs)} kept runs, rerun intervals as this version's "
          f"report computes them (commit {_commit()})")
    per_run = [estimates(run, root / "history.sqlite") for run in runs]
    print("ratios: the rerun interval the report shows (from the history database once it holds >= 5 earlier runs):")
    print("\n".join(shown_coverage(per_run)))


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def header(args: argparse.Namespace) -> list[str]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return [f"# bench_calibration.py  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  commit {commit}  host {platform.node()}",
            f"# {args.runs} consecutive runs x {args.procs} fresh worker processes; mnist_cnn checkpoint/frozen/tflite, "
            f"batch 1 and 32; interleaved; threads {args.threads or 'TensorFlow default'}; load average at start "
            f"{os.getloadavg()[0]:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="consecutive runs (default 20)")
    parser.add_argument("--procs", type=int, default=5, help="worker processes per run (default 5)")
    parser.add_argument("--quick", action="store_true", help="shorter timed loops (for the test suite)")
    parser.add_argument("--keep", type=Path, help="keep the runs' directories here")
    parser.add_argument("--threads", metavar="INTRA/INTER", help="thread settings of every worker, e.g. 1/-1 (one intra-op "
                        "thread, each session call in the caller's thread); default: TensorFlow's")
    parser.add_argument("--from", dest="source", type=Path, metavar="FILE",
                        help="no runs: read an earlier output of this script and print what the history predicts")
    parser.add_argument("--reevaluate", type=Path, metavar="DIR",
                        help="no runs: evaluate the runs kept in DIR (--keep) with their history database, with the "
                        "rerun intervals this version of the report shows")
    args = parser.parse_args()
    if args.reevaluate is not None:
        reevaluate(args.reevaluate)
        return
    if args.source is not None:
        print(f"# bench_calibration.py --from {args.source.name}: the ratios of its runs, each predicted from the runs "
              f"before it")
        print("\n".join(history_prediction(from_file(args.source))))
        print("\n".join(combined_prediction(args.source)))
        return
    print("\n".join(header(args)), flush=True)
    from bench.results.history import connect, ingest

    root = args.keep or Path(tempfile.mkdtemp(prefix="infer-bench-calibration-"))
    root.mkdir(parents=True, exist_ok=True)
    db = root / "history.sqlite"  # what `run` records into; fresh for this calibration
    for stale in root.glob("history.sqlite*"):
        stale.unlink()
    per_run = []
    for i in range(args.runs):
        started = time.monotonic()
        run = measure_run(root / f"run{i:02d}", args.procs, seed=i, quick=args.quick, threads=args.threads)
        per_run.append(estimates(run, db))
        with connect(str(db)) as database:  # after its report, as `infer-bench run` records it
            ingest(database, run)
        print(f"run {i:02d}: {time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}; "
              + ", ".join(f"{e.name} {e.value:.3f} [{e.lo:.3f}-{e.hi:.3f}] rerun [{e.shown_lo:.3f}-{e.shown_hi:.3f}]"
                          f"{f' (history {e.shown_runs})' if e.shown_runs else ''}" for e in per_run[-1] if "/" in e.name),
              flush=True)
    print("ratios (speedup vs checkpoint), within-run rerun interval:")
    print("\n".join(summarize(per_run, "ratio")))
    print("ratios: the rerun interval the report shows (from the history database once it holds >= 5 earlier runs):")
    print("\n".join(shown_coverage(per_run)))
    print("absolute medians (ms):")
    print("\n".join(summarize(per_run, "median")))
    ratios = {e.name: [next(x.value for x in run if x.name == e.name) for run in per_run] for e in per_run[0] if "/" in e.name}
    print("the run-to-run history as a predictor (ratios):")
    print("\n".join(history_prediction(ratios)))
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
