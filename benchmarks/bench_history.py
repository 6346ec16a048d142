"""The history database's own numbers: ingest time, dashboard time, and change-point error rates on real runs.

1. Ingest: a synthetic 1,000-cell results file (one process per cell, 2,000 samples each) into a fresh SQLite
   database, timed end to end through `history.ingest` (parse, per-process statistics, one transaction).
   Interleaved with a second ingest of the same file (idempotent: nothing added) to show what is parsing.
2. Dashboard: a database holding 500 commits x 200 series (3 processes per commit), then
   `infer-bench history html` built from it: read, change points per series, page rendered.
3. Change-point error rates on real history. One scenario is run RUNS times with real `infer-bench run`
   (fresh worker processes, REPS per model per run, interleaved and shuffled by the runner, 1 intra-op
   thread): a small CNN as a frozen GraphDef ("base") and slowed copies calibrated to +10%, +25%, +50%
   at batch 64 (they run the network on k extra samples dropped from the output: benchmarks/_runs.py, as
   bench_gate_error_rates.py). Each run is one commit of an unchanged build: every model's series over the
   runs is an A/A series (false change points). A slowdown injected at commit k is base's processes for
   commits < k and the slowed copy's processes of the same runs from k on. The slowdown each copy really has
   (per run, against base in the same run) and the run-to-run spread are printed. Detection rate within 2
   commits and the reported commit's offset from k, per size, over several k, at the detector's default
   settings and two alternatives; then the same detector on synthetic series at the measured spread.

    python benchmarks/bench_history.py [--runs 32 --reps 2] [--work DIR]
    python benchmarks/bench_history.py --collect-only --work DIR    # just the real runs (slow)
    python benchmarks/bench_history.py --analyse-only --work DIR    # re-analyse stored runs

The printed results are committed as benchmarks/results/history.txt.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _runs  # noqa: E402  (benchmarks/_runs.py: models, scenario and runs shared with bench_gate_error_rates.py)

NOMINAL = {"slow10": 0.10, "slow25": 0.25, "slow50": 0.50}  # slowed copies of base, calibrated (benchmarks/_runs.py)
MODELS = ("base", *NOMINAL)
BATCH = 64  # the calibration's batch size, as bench_gate_error_rates.py
THREADS = 1
MIN_SPLIT = 5  # the first and last commit at which a slowdown is injected (0-based: the first slow commit) ...
SPLIT_STEP = 4  # ... and the step between injections


# ---- real runs ---------------------------------------------------------------------------------------


def build_models(work: Path) -> dict[str, Any]:
    return _runs.build_models(work, NOMINAL, BATCH, THREADS)


def write_scenario(work: Path, reps: int, seed: int) -> Path:
    models = [(name, name) for name in MODELS]
    return _runs.write_scenario(work, "bench_history.py", reps, seed, (BATCH,), THREADS, models)


def collect(work: Path, runs: int, reps: int) -> list[Path]:
    """RUNS real runs, one after another (runs already complete are kept)."""
    return _runs.collect(work, runs, lambda i: write_scenario(work, reps, i + 1), lambda i: f"run-{i:03d}", flush=True)


# ---- 1 and 2: ingest and dashboard timings ------------------------------------------------------------


def synthetic_run(path: Path, run_id: str, commit: str, cells: int, processes: int, samples: int,
                  rng: Any, steps: dict[int, float] | None = None, index: int = 0, step_at: int = 0) -> Path:
    """A results.jsonl as `infer-bench run` writes it: `cells` cells x `processes` processes."""
    from reports.schema import CellRecord, dumps

    path.mkdir(parents=True, exist_ok=True)
    env = {"host": "bench-host", "cpu": {"model": "bench CPU", "logical_cores": 2}, "memory_bytes": 1 << 33,
           "gpus": [], "git": {"commit": commit, "branch": "main", "dirty": False, "parent": None,
                              "committed": None}}
    lines = [dumps({"kind": "header", "run_id": run_id, "created": f"2026-01-01T{index:06d}", "scenario_path": None,
                    "scenario_text": "", "policy": {}, "env": env})]
    for c in range(cells):
        scale = (steps or {}).get(c, 1.0) if index >= step_at else 1.0
        for rep in range(processes):
            lat = (rng.lognormal(np.log(1e6 * scale * rng.lognormal(0, 0.1)), 0.05, samples)).astype(np.int64).tolist()
            record = CellRecord(cell_id=f"m{c}/frozen/cpu/b1", group_id=f"m{c}", repetition=rep, model=f"m{c}",
                                variant="frozen", latencies_ns=lat, iterations=samples)
            lines.append(dumps({**record.to_json(), "run_id": run_id}))
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def time_ingest(work: Path, trials: int = 5) -> list[str]:
    from bench.results import history

    rng = np.random.default_rng(0)
    run = synthetic_run(work / "ingest-run", "ingest-run", "f" * 40, cells=1000, processes=1, samples=2000, rng=rng)
    size = (run / "results.jsonl").stat().st_size
    fresh, again = [], []
    for t in range(trials):  # interleaved: a fresh database, then the same run once more (idempotent)
        db = work / f"ingest-{t}.sqlite"
        db.unlink(missing_ok=True)
        with history.connect(str(db)) as database:
            started = time.perf_counter()
            added = history.ingest(database, run)
            fresh.append(time.perf_counter() - started)
            started = time.perf_counter()
            second = history.ingest(database, run)
            again.append(time.perf_counter() - started)
        assert added.added and added.processes == 1000 and not second.added
    return [f"ingest of a 1,000-cell run (1 process x 2,000 samples per cell, {size / 1e6:.1f} MB) into a fresh "
            f"SQLite file, {trials} trials: median {np.median(fresh):.2f} s (range {min(fresh):.2f}-{max(fresh):.2f} s; "
            f"limit 5 s); the same run again (nothing added, still parsed): median {np.median(again):.2f} s"]


def time_dashboard(work: Path, commits: int = 500, series: int = 200, processes: int = 3) -> list[str]:
    from bench.results import history

    db = work / "dashboard.sqlite"
    rng = np.random.default_rng(1)
    steps = {c: 1.3 for c in range(0, series, 40)}  # 5 series get 30% slower halfway
    if not db.exists():
        building = work / "dashboard.building.sqlite"
        building.unlink(missing_ok=True)
        with history.connect(str(building)) as database:
            for i in range(commits):
                run = synthetic_run(work / "dash-run", f"dash-{i:04d}", f"{i:08x}" + "a" * 32, series, processes,
                                    20, rng, steps, i, commits // 2)
                history.ingest(database, run)
        os.replace(building, db)
    timings, sizes, lines = [], [], []
    for t in range(3):
        out = work / f"site-{t}"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench.cli", "history", "--db", str(db), "html", "--out", str(out)],
                              capture_output=True, text=True, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)})
        timings.append(time.perf_counter() - started)
        sizes.append((out / "index.html").stat().st_size)
        lines = [done.stdout.strip()]
    return [f"dashboard over {commits} commits x {series} series ({processes} processes each; `infer-bench history "
            f"html`, end to end in a fresh process, 3 trials): median {np.median(timings):.1f} s "
            f"(range {min(timings):.1f}-{max(timings):.1f} s; limit 30 s), page {max(sizes) / 1e6:.2f} MB (limit 5 MB)",
            f"  {lines[0]} ({len(steps)} series were made 30% slower at commit {commits // 2})"]


# ---- 3: change-point error rates on the real runs -------------------------------------------------------


def load_values(work: Path) -> tuple[list[str], dict[str, list[list[float]]], list[float]]:
    """Per model, per run (in the order made): the per-process medians (ns); and the 1-min load average at each
    process's start."""
    from bench.results.history.ingest import process_stats
    from reports.schema import read_run_file

    values: dict[str, list[list[float]]] = {m: [] for m in MODELS}
    used, loads = [], []
    for run_dir in sorted((work / "runs").glob("run-*")):
        if not (run_dir / "results.jsonl").exists():
            continue
        run = read_run_file(run_dir / "results.jsonl")
        per: dict[str, list[float]] = {m: [] for m in values}
        for cell in run.cells:
            if cell.get("status") == "ok" and cell.get("latencies_ns") and cell.get("model") in per:
                per[str(cell["model"])].append(float(process_stats(cell["latencies_ns"])[1] or 0))
        if all(per.values()):
            used.append(run_dir.name)
            loads += [float(c["loadavg_start"][0]) for c in run.cells if c.get("loadavg_start")]
            for m in values:
                values[m].append(per[m])
    return used, values, loads


def splits_for(n: int, min_size: int) -> list[int]:
    """The commits at which a slowdown is injected: every SPLIT_STEP from MIN_SPLIT, MIN_SPLIT from either end."""
    return [k for k in range(MIN_SPLIT, n - MIN_SPLIT + 1, SPLIT_STEP) if min_size <= k <= n - min_size]


def run_medians(series: list[list[float]]) -> Any:
    return np.array([float(np.median(v)) for v in series])


def measured_sizes(values: dict[str, list[list[float]]]) -> dict[str, tuple[float, float, float]]:
    """Each slowed copy against base in the same run: median, min and max of the per-run ratios."""
    base = run_medians(values["base"])
    out = {}
    for name in NOMINAL:
        ratios = run_medians(values[name]) / base
        out[name] = float(np.median(ratios)) - 1, float(ratios.min()) - 1, float(ratios.max()) - 1
    return out


def error_rates(values: dict[str, list[list[float]]], settings: Any, label: str) -> list[str]:
    from reports.changepoints import detect

    n = len(values["base"])
    lines = [f"{label}: alpha {settings.alpha}, minimum magnitude {settings.min_magnitude:.0%}, min size "
             f"{settings.min_size} commits, {settings.permutations} permutations"]
    false = {m: detect(values[m], settings) for m in MODELS}
    total = sum(len(f) for f in false.values())
    lines.append(f"  A/A (each model's series over the {n} commits of the unchanged build): series with a false change "
                 f"point {sum(bool(f) for f in false.values())} of {len(false)}; false change points {total} in "
                 f"{len(false) * (n - 1)} commit-steps"
                 + "".join(f"; {m}: {', '.join(f'{c.ratio - 1:+.0%} at {c.index} (p={c.p_value:.3f})' for c in f)}"
                           for m, f in false.items() if f))
    sizes = measured_sizes(values)
    splits = splits_for(n, settings.min_size)
    for name, nominal in NOMINAL.items():
        hits, offsets, extra = 0, [], 0
        for k in splits:
            found = [c for c in detect(values["base"][:k] + values[name][k:], settings) if c.regression]
            near = [c for c in found if abs(c.index - k) <= 2]
            hits += bool(near)
            offsets += [min(near, key=lambda c: abs(c.index - k)).index - k] if near else []
            extra += len(found) - bool(near)
        lines.append(f"  +{nominal:.0%} nominal ({sizes[name][0]:+.1%} measured): detected within 2 commits in {hits} of "
                     f"{len(splits)} injections (at commits {', '.join(map(str, splits))}); commit offsets "
                     f"{offsets or '-'}; other change points {extra}")
    return lines


def spread_lines(values: dict[str, list[list[float]]]) -> list[str]:
    """Run-to-run spread (each run's median) and within-run spread (each process around its run) per model."""
    lines = []
    for m in MODELS:
        meds = run_medians(values[m])
        within = float(np.sqrt(np.mean([np.var(np.log(v), ddof=1) for v in values[m] if len(v) > 1])))
        lines.append(f"  {m:6s}: run medians {meds.min() / 1e6:.3f}-{meds.max() / 1e6:.3f} ms (max/min "
                     f"{meds.max() / meds.min():.2f}x), run-to-run sd of log {np.std(np.log(meds), ddof=1):.3f}; "
                     f"processes within a run: pooled sd of log {within:.3f}")
    base = run_medians(values["base"])
    for name in NOMINAL:
        ratio = np.log(run_medians(values[name]) / base)
        lines.append(f"  {name} / base in the same run: sd of log {np.std(ratio, ddof=1):.3f} (the part of the "
                     f"spread a paired comparison would leave)")
    return lines


def synthetic_rates(sigma_run: float, commits: int = 30, step_at: int = 15, series: int = 100,
                    processes: int = 2) -> list[str]:
    """The same detector on synthetic series whose whole runs shift by a lognormal factor (sd `sigma_run` of the
    log) and whose processes scatter around their run (sd 0.05): what it can do on a quieter machine, labelled so."""
    from reports.changepoints import Settings, detect

    rng = np.random.default_rng(7)
    settings = Settings()

    def one(size: float) -> list[list[float]]:
        return [list(np.exp(rng.normal(np.log(1 + size) * (i >= step_at) + rng.normal(0, sigma_run), 0.05, processes)))
                for i in range(commits)]
    false = sum(bool(detect(one(0.0), settings)) for _ in range(series))
    parts = [f"synthetic, run-to-run sd {sigma_run:.2f} (log), {commits} commits x {processes} processes, step at "
             f"{step_at}, {series} series each: A/A series with a false change point {false}/{series}"]
    for size in (0.10, 0.25, 0.50):
        found = [[c.index - step_at for c in detect(one(size), settings) if c.regression] for _ in range(series)]
        near = [min(f, key=abs) for f in found if f and min(abs(x) for x in f) <= 2]
        parts.append(f"+{size:.0%} detected (within 2 commits) {len(near)}/{series}, exact commit {near.count(0)}")
    return ["  " + "; ".join(parts)]


def report(work: Path, calibration: dict[str, Any]) -> int:
    from reports.changepoints import Settings

    used, values, loads = load_values(work)
    out = [f"# benchmarks/bench_history.py on {platform.node()} ({os.cpu_count()} cores), "
           f"{time.strftime('%Y-%m-%d %H:%M')}", ""]
    out += time_ingest(work) + [""] + time_dashboard(work) + [""]
    sizes = measured_sizes(values)
    out += [f"change points on real history: {len(used)} real `infer-bench run`s of one unchanged build, runs "
            f"{used[0] if used else '-'}..{used[-1] if used else '-'}, 1-min load average at the processes' starts "
            f"{min(loads, default=float('nan')):.2f}-{max(loads, default=float('nan')):.2f}; each run {_reps(work)} "
            f"worker processes of each of {', '.join(MODELS)} (frozen CNN, batch {BATCH}, {THREADS} intra-op thread), "
            "interleaved and shuffled",
            f"calibration (benchmarks/_runs.py, one process): base {calibration['base_ms']:.3f} ms, "
            f"{calibration['unit_us']:.1f} us per extra sample, fixed {calibration.get('fixed_us', 0):.1f} us; extra "
            f"samples {calibration['units']}",
            "slowdowns measured (each slowed copy / base in the same run; median, range over runs): "
            + "; ".join(f"{name} {m:+.1%} ({lo:+.1%} to {hi:+.1%})" for name, (m, lo, hi) in sizes.items()),
            "a slowdown injected at commit k: base's processes for commits < k, the slowed copy's processes of the "
            "same runs from k on",
            "", "spread of the unchanged build:", *spread_lines(values), ""]
    for label, settings in (("default settings", Settings()), ("alternative", Settings(alpha=0.05)),
                            ("alternative", Settings(min_size=2))):
        out += error_rates(values, settings, label)
    sigma = float(np.std(np.log(run_medians(values["base"])), ddof=1))
    out += ["", f"for scale: base's run medians moved with a run-to-run sd of {sigma:.2f} (log); "
            f"the same detector (default settings) on synthetic series:"]
    out += synthetic_rates(sigma) + synthetic_rates(0.15) + synthetic_rates(0.05)
    print("\n".join(out))
    return 0


def _reps(work: Path) -> int:
    from reports.schema import read_run_file

    first = sorted((work / "runs").glob("run-*/results.jsonl"))
    return len({c["repetition"] for c in read_run_file(first[0]).cells}) if first else 0


# ---- main --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=32, help="real runs of the unchanged build (default 32)")
    parser.add_argument("--reps", type=int, default=2, help="worker processes per run (default 2)")
    parser.add_argument("--work", type=Path, help="where models and runs are kept (default: a temporary directory)")
    parser.add_argument("--collect-only", action="store_true", help="only make the real runs")
    parser.add_argument("--analyse-only", action="store_true", help="only analyse the runs stored in --work")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    calibration = build_models(work)
    if not args.analyse_only:
        collect(work, args.runs, args.reps)
    if args.collect_only:
        return 0
    return report(work, calibration)


if __name__ == "__main__":
    sys.exit(main())
