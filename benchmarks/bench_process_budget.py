"""How many worker processes would each ratio need for a ±3% interval here, and how long would they take?

Reads kept runs (a `run`'s results directory, or the run directories `bench_calibration.py --keep` leaves) and,
for every format against the baseline (checkpoint) at every batch size, on the fastest call: the spread of the
per-process log ratio (its standard deviation inside each run, pooled over the runs, so drift between runs is
left out: this is the most favourable reading), the processes a 95% Student-t interval needs to be within
±TARGET at that spread (`reports.stats.processes_needed`, the figure the report calls procs_needed), and what
they would take at the seconds per process those runs spent (median gap between consecutive processes' first
cells, start-up included), and the rank correlation of the per-process ratio with the load average at its start
(rho(load): near 0, the spread does not follow the machine's load).

    python benchmarks/bench_process_budget.py RUN_DIR [RUN_DIR ...] | tee benchmarks/results/process_budget.txt
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _records(run_dir: Path) -> list[dict[str, Any]]:
    files = [run_dir / "results.jsonl"] if (run_dir / "results.jsonl").exists() else sorted(run_dir.glob("*/results.jsonl"))
    out = []
    for f in files:
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if r.get("cell_id") and r.get("status") == "ok" and (r.get("call") or "fastest") == "fastest":
                out.append(r)
    return out


def per_process(records: list[dict[str, Any]]) -> dict[tuple[int, int], dict[str, float]]:
    """{(repetition, batch): {variant: median ms, "load": 1-min load average at the cell's start}} for the
    default settings' cells."""
    out: dict[tuple[int, int], dict[str, float]] = {}
    for r in records:
        if r.get("env_toggles") or r.get("affinity") or r.get("python"):
            continue
        cell = out.setdefault((int(r["repetition"]), int(r["batch_size"])), {})
        cell[r["variant"]] = statistics.median(r["latencies_ns"]) / 1e6
        cell.setdefault("load", float((r.get("loadavg_start") or [math.nan])[0]))
    return out


def seconds_per_process(records: list[dict[str, Any]]) -> float | None:
    starts = sorted({int(r["repetition"]): min(float(x["started"]) for x in records if x["repetition"] == r["repetition"])
                     for r in records}.values())
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    return statistics.median(gaps) if gaps else None


def main() -> None:
    from scipy.stats import t as t_dist

    from reports import stats

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (each with results.jsonl, or runs of them)")
    parser.add_argument("--baseline", default="checkpoint")
    parser.add_argument("--target", type=float, default=0.03)
    parser.add_argument("--label", default="", help="a line saying what these runs were")
    args = parser.parse_args()
    runs = []
    for d in args.runs:
        subdirs = sorted(p.parent for p in d.glob("*/results.jsonl")) if not (d / "results.jsonl").exists() else [d]
        runs += [_records(s) for s in subdirs]
    runs = [r for r in runs if r]
    threads = {(int(r.get("intra_op_threads") or 0), int(r.get("inter_op_threads") or 0)) for run in runs for r in run}
    secs = [s for s in (seconds_per_process(r) for r in runs) if s]
    per_proc = statistics.median(secs) if secs else math.nan
    procs = [len({r["repetition"] for r in run}) for run in runs]
    print(f"# bench_process_budget.py  {args.label}")
    print(f"# {len(runs)} runs, {min(procs)}-{max(procs)} processes each; threads (intra/inter) {sorted(threads)}; "
          f"{per_proc:.1f} s per process (median)")
    print(f"{'ratio':<30} {'sd/process':>10} {'±95% at n':>10} {'procs for ±' + format(args.target, '.0%'):>15} "
          f"{'time':>9} {'rho(load)':>9}")
    pairs: dict[tuple[str, int], list[list[float]]] = {}
    loads: dict[tuple[str, int], list[tuple[float, float]]] = {}  # (load average, log ratio) per process
    for run in runs:
        by: dict[tuple[str, int], list[float]] = {}
        for (_rep, batch), v in per_process(run).items():
            if args.baseline not in v:
                continue
            for variant, ms in v.items():
                if variant not in (args.baseline, "load"):
                    by.setdefault((variant, batch), []).append(math.log(v[args.baseline] / ms))
                    loads.setdefault((variant, batch), []).append((v["load"], math.log(v[args.baseline] / ms)))
        for k, logs in by.items():
            pairs.setdefault(k, []).append(logs)
    for (variant, batch), per_run in sorted(pairs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        usable = [x for x in per_run if len(x) >= 2]
        dof = sum(len(x) - 1 for x in usable)
        if not dof:
            continue
        sd = math.sqrt(sum(statistics.variance(x) * (len(x) - 1) for x in usable) / dof)
        n_typ = max(2, round(statistics.median(len(x) for x in usable)))
        half = math.expm1(float(t_dist.ppf(0.975, n_typ - 1)) * sd / math.sqrt(n_typ))
        need = stats.processes_needed(sd, args.target, 0.95, cap=1000)
        time_s = need * per_proc if need else math.nan
        rho = _spearman(loads[(variant, batch)])
        print(f"{variant + '/' + args.baseline + ' b' + str(batch):<30} {sd:>10.3f} {f'±{half:.1%} at {n_typ}':>10} "
              f"{need if need else '>1000':>15} {_duration(time_s):>9} {rho:>9.2f}")


def _spearman(points: list[tuple[float, float]]) -> float:
    """Rank correlation of the per-process ratio with the load average at its start (does the spread follow the
    machine's load?): nan where there are fewer than 3 points or no load figures."""
    from scipy.stats import spearmanr

    points = [p for p in points if math.isfinite(p[0])]
    if len(points) < 3:
        return math.nan
    return float(spearmanr([p[0] for p in points], [p[1] for p in points])[0])


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


if __name__ == "__main__":
    main()
