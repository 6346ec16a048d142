"""How often does the regression gate cry wolf, and how often does it catch a real slowdown?

Real, fresh-process, interleaved runs (`infer-bench run`), no synthetic samples:

1. Build a small CNN as a frozen GraphDef ("base") and slower copies of it ("slow05", "slow10",
   "slow20") whose network runs on k more samples than the batch (copies, dropped from the
   output): the same kind of work, granular to about 1/batch, with almost no fixed cost. k comes
   from a two-point calibration in one process (two probe sizes, alternated with base) aimed at
   +5%, +10% and +20% at batch 64. The slowdown each really has is measured from the runs and
   printed: it is what the detection rates refer to. (v1-v4 added a second pass or a chain of
   ops, whose fixed cost made the slowdowns coarse: +10% to +19% instead of 5/10/20%.)
2. Run one scenario RUNS times, one run after another; each run has REPS fresh worker processes
   of each of five models: base, "twin" (base.pb again, under another name) and the three slow
   ones, interleaved and shuffled by the runner, with one intra-op thread as scenarios/ci.toml.
3. A/A (no change): base vs twin of the same run (independent pairs, interleaved), base vs base
   of runs alternated A B A B as the README's CI job does, base of run i vs base of a later run j
   (a baseline made at another time), and disjoint draws of whole recorded processes (never of
   samples within a process, which cannot contain between-run drift and would pass by construction).
   A/B: base (baseline) vs slowNN (current) the same ways, then with the repetitions the gate
   itself recommends for that size (from the measured spread), by drawing whole processes.
   Rates are over cells; each comparison has one cell.

    python benchmarks/bench_gate_error_rates.py [--runs 20 --reps 5] [--work DIR]
    python benchmarks/bench_gate_error_rates.py --analyse-only --work DIR   # re-analyse stored runs

The printed results are committed as benchmarks/results/gate_error_rates.txt (earlier versions as
gate_error_rates_v*.txt).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _runs  # noqa: E402  (benchmarks/_runs.py: models, scenario and runs shared with bench_history.py)

from reports.compare_settings import DEFAULT_ALPHA as ALPHA  # noqa: E402  (the gate's default)

NOMINAL = {"slow05": 0.05, "slow10": 0.10, "slow20": 0.20}
PROBE_UNITS = _runs.PROBE_UNITS  # extra samples in the larger calibration probe (the smaller has half)
BATCH_SIZES = (64,)  # one cell per comparison; the slowdowns are calibrated at this batch size
TWIN = "twin"  # the base model once more, under another name, for A/A pairs inside one run
THREADS = 1  # as scenarios/ci.toml: one intra-op thread (the measured between-process spread is 3-5x smaller)
INTER = 0  # --inter-op-threads: 0 TensorFlow's default, -1 each session call in the caller's thread
THRESHOLD = 0.05
RESAMPLED_PAIRS = 200
SIZES = (5, 10, 20)  # processes per side for the resampled comparisons


# ---- 1. models and 2. real runs (benchmarks/_runs.py, shared with bench_history.py) ------------------


def build_models(work: Path) -> dict[str, Any]:
    return _runs.build_models(work, NOMINAL, BATCH_SIZES[0], THREADS, PROBE_UNITS, INTER)


def write_scenario(work: Path, reps: int, seed: int, names: Sequence[str] = ("base", *NOMINAL),
                   twin: bool = True) -> Path:
    models = [(name, name) for name in names]
    if twin:  # base.pb under another name: an A/A pair interleaved in the same run
        models.append((TWIN, "base"))
    return _runs.write_scenario(work, "bench_gate_error_rates.py", reps, seed, BATCH_SIZES, THREADS, models, INTER)


def collect(work: Path, runs: int, reps: int) -> list[Path]:
    """RUNS runs of the scenario, one after another (skips runs already complete)."""
    return _runs.collect(work, runs, lambda i: write_scenario(work, reps, seed=i + 1), lambda i: f"run-{i}")


# ---- 3. analysis ---------------------------------------------------------------------------------------

def _subset(runs, mask, model_as: str | None = None):  # -> Runs
    from reports.load import Runs

    idx = [i for i, keep in enumerate(mask) if keep]
    cells = runs.cells.iloc[idx].reset_index(drop=True).copy()
    if model_as is not None:
        cells["model"] = model_as
    return Runs(cells=cells, latencies=[runs.latencies[i] for i in idx], parity=runs.parity.iloc[0:0],
                headers=runs.headers)


def _side(runs, procs: Sequence[tuple[str, str, int]]):
    """The cells of these (model, run_id, repetition) processes, all relabelled "base"."""
    keys = set(procs)
    c = runs.cells
    mask = [(m, r, p) in keys for m, r, p in zip(c["model"], c["run_id"], c["repetition"], strict=True)]
    return _subset(runs, mask, model_as="base")


class Pool:
    """Every ok process of every model, by run, in the order the runs were made."""

    def __init__(self, runs) -> None:
        self.runs = runs
        c = runs.cells[runs.cells["status"] == "ok"]
        order = {rid: i for i, rid in enumerate(dict.fromkeys(runs.cells["run_id"]))}
        self.run_ids = sorted(order, key=order.__getitem__)
        self.by_run: dict[str, dict[str, list[tuple[str, str, int]]]] = {}
        for m, r, p in sorted(set(zip(c["model"], c["run_id"], c["repetition"], strict=True))):
            self.by_run.setdefault(m, {}).setdefault(r, []).append((m, r, p))

    def of(self, model: str, run_ids: Sequence[str] | None = None) -> list[tuple[str, str, int]]:
        runs = self.by_run.get(model, {})
        return [p for r in (run_ids if run_ids is not None else self.run_ids) for p in runs.get(r, [])]

    def verdicts(self, base: Sequence, current: Sequence, seed: int, paired: bool = False) -> list[str]:
        """One verdict per cell; "+sig" marks a cell whose slowdown is significant (Holm) although
        its verdict is not `slower` (its estimate fell short of the threshold)."""
        frame = self.frame(base, current, seed, paired)
        return [v + ("+sig" if v != "slower" and p <= ALPHA else "")
                for v, p in zip(frame["verdict"], frame["p_slower_holm"], strict=True)]

    def frame(self, base: Sequence, current: Sequence, seed: int = 0, paired: bool = False):
        from reports.compare import compare

        return compare(_side(self.runs, base), _side(self.runs, current), threshold=THRESHOLD, alpha=ALPHA, seed=seed,
                       paired=paired).frame


def _rate(verdicts: list[str], which: Sequence[str]) -> str:
    n = len(verdicts)
    k = sum(v.partition("+")[0] in which for v in verdicts)
    return f"{k}/{n} = {k / n:.1%}" if n else "–"


def _summary(label: str, verdicts: list[str]) -> str:
    line = (f"{label}: slower {_rate(verdicts, ['slower'])} | faster {_rate(verdicts, ['faster'])} | "
            f"unchanged {_rate(verdicts, ['unchanged'])} | inconclusive {_rate(verdicts, ['inconclusive'])}")
    short = sum(v.endswith("+sig") for v in verdicts)
    return line + (f" (of which {short} significantly slower, but the estimate short of +{THRESHOLD:.0%})" if short else "")


def _medians(pool: Pool, procs) -> Any:
    import numpy as np

    side = _side(pool.runs, procs)
    return np.array([np.median(a) for a in side.latencies]) / 1e6


def spread_lines(pool: Pool) -> list[str]:
    import numpy as np

    lines = []
    for model in ("base", TWIN, *NOMINAL):
        meds = _medians(pool, pool.of(model))
        if len(meds) > 1:
            lines.append(f"  {model:6s}: {len(meds)} processes, per-process median {meds.min():.3f}–{meds.max():.3f} ms "
                         f"(max/min {meds.max() / meds.min():.2f}x), SD of log {np.std(np.log(meds), ddof=1):.3f}")
    return lines


def measured_slowdowns(pool: Pool) -> tuple[list[str], dict[str, float]]:
    """Each slow model's ratio to base (and twin) pooled over all processes, and per run."""
    import numpy as np

    lines, measured = [], {}
    reference = pool.of("base") + pool.of(TWIN)
    for name in NOMINAL:
        row = pool.frame(reference, pool.of(name)).iloc[0]
        per_run = [pool.frame(pool.of("base", [r]) + pool.of(TWIN, [r]), pool.of(name, [r])).iloc[0]["ratio"]
                   for r in pool.run_ids]
        measured[name] = float(row["ratio"] - 1)
        lines.append(f"  {name} (nominal +{NOMINAL[name]:.0%}): measured {row['ratio'] - 1:+.1%} "
                     f"[{row['ci_low'] - 1:+.1%}, {row['ci_high'] - 1:+.1%}] over {row['n_baseline']} vs "
                     f"{row['n_current']} processes; within single runs {np.min(per_run) - 1:+.1%} to "
                     f"{np.max(per_run) - 1:+.1%} (median {np.median(per_run) - 1:+.1%})")
    return lines, measured


def _alternated(pool: Pool, base_model: str, cur_model: str) -> list[tuple[list, list]]:
    """CI jobs as the README's: runs in order A B A B, baseline = runs i, i+2, current = i+1, i+3."""
    ids = pool.run_ids
    return [(pool.of(base_model, [ids[i], ids[i + 2]]), pool.of(cur_model, [ids[i + 1], ids[i + 3]]))
            for i in range(0, len(ids) - 3, 4)]


def _resampled(pool: Pool, base: list, current: list, n: int, rng, seed: int) -> tuple[list[str], str]:
    """Disjoint random draws of n whole processes a side (never samples within a process)."""
    verdicts: list[str] = []
    shared = set(base) & set(current)
    for i in range(RESAMPLED_PAIRS):
        if shared:  # one pool: two disjoint draws from it
            order = rng.permutation(len(base))
            b, c = [base[j] for j in order[:n]], [base[j] for j in order[n:2 * n]]
        else:
            b = [base[j] for j in rng.choice(len(base), n, replace=False)]
            c = [current[j] for j in rng.choice(len(current), n, replace=False)]
        verdicts += pool.verdicts(b, c, seed=seed + i)
    pool_size = len(base) // 2 if shared else min(len(base), len(current))
    caveat = " [more than half the pool: draws overlap, optimistic]" if 2 * n > pool_size else ""
    return verdicts, caveat


def aa(pool: Pool, rng) -> list[str]:
    ids = pool.run_ids
    reps = len(pool.of("base", ids[:1]))
    inrun = [v for i, r in enumerate(ids) for v in pool.verdicts(pool.of("base", [r]), pool.of(TWIN, [r]), seed=i)]
    jobs = [v for i, (b, c) in enumerate(_alternated(pool, "base", TWIN)) for v in pool.verdicts(b, c, seed=100 + i)]
    cross = [v for i, (a, b) in enumerate(itertools.combinations(ids, 2))
             for v in pool.verdicts(pool.of("base", [a]), pool.of("base", [b]), seed=200 + i)]
    lines = [
        "A/A (no change; a `slower` here is a false alarm, a `faster` a false claim of improvement):",
        "  " + _summary(f"interleaved in one run, base vs twin ({reps} vs {reps}; {len(inrun)} runs = independent pairs)",
                        inrun),
        "  " + _summary(f"alternated runs A B A B as the README's CI job ({2 * reps} vs {2 * reps}; "
                        f"{len(jobs)} disjoint jobs)", jobs),
        "  " + _summary(f"different runs, base of run i vs base of run j > i ({reps} vs {reps}; {len(cross)} pairs of "
                        f"runs, not independent)", cross),
    ]
    both = pool.of("base") + pool.of(TWIN)
    for n in SIZES:
        if 2 * n <= len(both):
            verdicts, caveat = _resampled(pool, both, both, n, rng, seed=1000 * n)
            lines.append("  " + _summary(f"resampled whole processes of base and twin, {n} vs {n} "
                                         f"({len(verdicts)} cells){caveat}", verdicts))
    return lines


def _gate_says(pool: Pool, name: str, size: float) -> tuple[int | None, str]:
    """What the gate recommends for this size from the measured spread, and its mde at 5 vs 5."""
    from reports.power import min_detectable_slowdown, pooled_log_sd, repetitions_needed

    level = ALPHA / len(BATCH_SIZES)
    sd = pooled_log_sd(_medians(pool, pool.of("base") + pool.of(TWIN)), _medians(pool, pool.of(name)))
    n = repetitions_needed(sd, size, level)
    mde = min_detectable_slowdown(sd, 5, 5, level)
    return n, f"pooled between-process SD of log {sd:.3f}: the gate recommends {n} per side for +{size:.0%}, mde at 5 vs 5 {mde:+.1%}"


def ab(pool: Pool, measured: dict[str, float], rng) -> list[str]:
    ids = pool.run_ids
    reps = len(pool.of("base", ids[:1]))
    lines = ["A/B (real slowdowns; `slower` is a detection):"]
    for k, (name, size) in enumerate(NOMINAL.items()):
        inrun = [v for i, r in enumerate(ids) for v in pool.verdicts(pool.of("base", [r]), pool.of(name, [r]), seed=i)]
        jobs = [v for i, (b, c) in enumerate(_alternated(pool, "base", name)) for v in pool.verdicts(b, c, seed=100 + i)]
        cross = [v for i, (a, b) in enumerate(itertools.permutations(ids, 2))
                 for v in pool.verdicts(pool.of("base", [a]), pool.of(name, [b]), seed=200 + i)]
        n, says = _gate_says(pool, name, size)
        lines += [
            f"  {name} (nominal +{size:.0%}, measured {measured[name]:+.1%}); {says}",
            "    " + _summary(f"interleaved in one run ({reps} vs {reps}; {len(inrun)} runs)", inrun),
            "    " + _summary(f"alternated runs A B A B as the README's CI job ({2 * reps} vs {2 * reps}; "
                              f"{len(jobs)} jobs)", jobs),
            "    " + _summary(f"different runs, base of run i vs {name} of run j != i ({reps} vs {reps}; "
                              f"{len(cross)} pairs)", cross),
        ]
        sizes = sorted({*SIZES, *([n] if n else [])})
        for m in sizes:
            base, slow = pool.of("base") + pool.of(TWIN), pool.of(name)
            if m > min(len(base), len(slow)):
                lines.append(f"    {m} vs {m}: the pool has {min(len(base), len(slow))} processes; not evaluated")
                continue
            verdicts, caveat = _resampled(pool, base, slow, m, rng, seed=5000 * m + 100_000 * k)
            mark = " (the gate's recommendation)" if m == n else ""
            lines.append("    " + _summary(f"resampled whole processes, {m} vs {m}{mark} ({len(verdicts)} cells){caveat}",
                                           verdicts))
    return lines



# ---- paired mode (compare --paired): what pairing processes by round buys, on the same runs ---------------


def _overlapping_jobs(pool: Pool, base_model: str, cur_model: str) -> list[tuple[list, list]]:
    """README-style jobs (A B A B) starting at every even run: more jobs than the disjoint ones, not independent."""
    ids = pool.run_ids
    return [(pool.of(base_model, [ids[i], ids[i + 2]]), pool.of(cur_model, [ids[i + 1], ids[i + 3]]))
            for i in range(0, len(ids) - 3, 2)]


def _pair_keys(pool: Pool, base_model: str, cur_model: str) -> list[tuple[str, int]]:
    """(run, repetition) where both models have an ok process: a pair measured in the same round of one run."""
    have = {(r, p) for _, r, p in pool.of(base_model)}
    return sorted(have & {(r, p) for _, r, p in pool.of(cur_model)})


def _paired_draws(pool: Pool, base_model: str, cur_model: str, n: int, rng, seed: int) -> tuple[list[str], list[str]]:
    """n pairs drawn without replacement, judged paired and (the same processes) unpaired."""
    keys = _pair_keys(pool, base_model, cur_model)
    paired, unpaired = [], []
    for i in range(RESAMPLED_PAIRS):
        drawn = [keys[j] for j in rng.choice(len(keys), n, replace=False)]
        b = [(base_model, r, p) for r, p in drawn]
        c = [(cur_model, r, p) for r, p in drawn]
        paired += pool.verdicts(b, c, seed=seed + i, paired=True)
        unpaired += pool.verdicts(b, c, seed=seed + i)
    return paired, unpaired


def _paired_sd(pool: Pool, base_model: str, cur_model: str) -> float:
    import numpy as np

    keys = _pair_keys(pool, base_model, cur_model)
    b = _medians(pool, [(base_model, r, p) for r, p in keys])
    c = _medians(pool, [(cur_model, r, p) for r, p in keys])
    return float(np.std(np.log(c / b), ddof=1))


def paired_lines(pool: Pool, measured: dict[str, float], rng) -> list[str]:
    from reports.power import pairs_needed

    level = ALPHA / len(BATCH_SIZES)
    reps = len(pool.of("base", pool.run_ids[:1]))
    lines = ["Paired mode (compare --paired: processes paired by round and repetition; signed-rank test on per-pair "
             "ratios), on the same runs as above:"]
    for name, size in [(TWIN, 0.0), *NOMINAL.items()]:
        what = "A/A base vs twin (a `slower` is a false alarm)" if name == TWIN else \
            f"{name} (nominal +{size:.0%}, measured {measured[name]:+.1%})"
        sd = _paired_sd(pool, "base", name)
        need = pairs_needed(sd, size, level) if size else None
        lines.append(f"  {what}: SD of log per-pair ratio {sd:.3f}" +
                     (f"; the paired gate recommends {need} pairs for +{size:.0%}" if size else ""))
        for label, jobs in (("disjoint", _alternated(pool, "base", name)), ("overlapping", _overlapping_jobs(pool, "base", name))):
            got = [v for i, (b, c) in enumerate(jobs) for v in pool.verdicts(b, c, seed=100 + i, paired=True)]
            lines.append("    " + _summary(f"alternated runs A B A B, paired ({2 * reps} pairs; {len(jobs)} {label} jobs)", got))
        for n in sorted({10, 14, 20, *([need] if need else [])}):
            if n > len(_pair_keys(pool, "base", name)):
                continue
            paired, unpaired = _paired_draws(pool, "base", name, n, rng, seed=7000 * n)
            mark = " (the paired gate's recommendation)" if n == need else ""
            lines.append("    " + _summary(f"{n} same-round pairs drawn{mark}, paired ({len(paired)} cells)", paired))
            lines.append("    " + _summary(f"the same {n} vs {n} processes, unpaired", unpaired))
    return lines


def _calibration_line(calibration: dict[str, Any]) -> str:
    inter = {0: "", -1: ", the caller's thread"}.get(int(calibration.get("inter_op_threads") or 0),
                                                      f", {calibration.get('inter_op_threads')} inter-op")
    return (f"# calibration (inside one process, batch {calibration.get('batch')}, {calibration.get('threads')} intra-op "
            f"thread{inter}): base {calibration['base_ms']:.3f} ms, {calibration['unit_us']:.1f} us per extra sample, fixed "
            f"{calibration.get('fixed_us', 0):.1f} us; extra samples {calibration['units']}")


def analyse(run_dirs: list[Path], calibration: dict[str, Any], reps: int) -> str:
    import numpy as np

    from reports.load import load_runs

    runs = load_runs(run_dirs)
    pool = Pool(runs)
    rng = np.random.default_rng(20240601)
    statuses = runs.cells["status"].value_counts().to_dict()
    slow_lines, measured = measured_slowdowns(pool)
    loads = [json.loads(line).get("loadavg_start") for d in run_dirs for line in (d / "results.jsonl").open()]
    loads = [v[0] for v in loads if v]
    lines = [
        "# bench_gate_error_rates — the regression gate on real fresh-process runs",
        f"# host {platform.node()}, {os.cpu_count()} logical CPUs; python {platform.python_version()}; "
        f"TensorFlow {calibration.get('tensorflow')}; 1-min load average during the runs "
        f"{min(loads, default=float('nan')):.2f}–{max(loads, default=float('nan')):.2f}",
        f"# {len(run_dirs)} runs one after another, each {reps} repetitions x 5 models (base, twin = base.pb again, "
        f"slow05, slow10, slow20) interleaved and shuffled; frozen GraphDef, batch {list(BATCH_SIZES)}, "
        f"intra_op_threads {THREADS}, inter_op_threads {INTER}; threshold {THRESHOLD:.0%}, alpha {ALPHA}",
        _calibration_line(calibration),
        f"# cell records by status: {statuses}",
        "",
        "Between-process spread:",
        *spread_lines(pool),
        "",
        "Slowdowns really added (all processes pooled; the A/B rates below refer to these):",
        *slow_lines,
        "",
        *aa(pool, rng),
        "",
        *ab(pool, measured, rng),
        "",
        *paired_lines(pool, measured, rng),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global RESAMPLED_PAIRS, INTER
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/infer-bench-gate-bench"))
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--pairs", type=int, default=200, help="resampled pairs per setting")
    parser.add_argument("--inter-op-threads", type=int, default=0, choices=(0, -1),
                        help="-1: every session call in the caller's thread (default 0, as scenarios/ci.toml)")
    args = parser.parse_args(argv)
    RESAMPLED_PAIRS, INTER = args.pairs, args.inter_op_threads
    args.work.mkdir(parents=True, exist_ok=True)
    calibration = build_models(args.work)
    if args.analyse_only:
        run_dirs = sorted((args.work / "runs").glob("run-*"), key=lambda d: int(d.name.split("-")[1]))
    else:
        run_dirs = collect(args.work, args.runs, args.reps)
    print(analyse(run_dirs, calibration, args.reps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
