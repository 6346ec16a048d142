"""Compare a current run against a baseline, cell by cell: ratio, interval, test, verdict.

Pure: `Runs` in (reports.load), a diff frame out; the gate (reports.gate) and the renderers
(reports.render_compare) take it from there, and only the CLI prints or exits.

The unit of evidence is the worker process (DESIGN.md, Comparison): the raw samples inside one
process are autocorrelated and a process's median moves by up to 1.9x between fresh processes on
this machine (TF-NOTES.md, Noise), so a test on raw samples finds "significance" in any drift.

Per cell, with the ok processes of each side:
- value: the metric pooled over the side's processes (p50/p90/p99/mean of all samples; throughput
  from the pooled median). `ratio` is always a *time* ratio, current/baseline, so > 1 means slower
  (for throughput it is baseline/current throughput, i.e. the ratio of time per sample).
- ci_low/ci_high: a seeded two-level bootstrap 95% interval of the ratio that resamples processes,
  then samples within the chosen processes (reports.stats.quantile_draws).
- p_slower/p_faster: one-sided Mann-Whitney U tests on the per-process values (one value per worker
  process: that process's metric), Holm-corrected across all tested cells; the two directions are
  two families (regressions, improvements), each corrected at `alpha`.
- mde: the smallest slowdown this comparison could have detected with 80% power, from the measured
  between-process spread (pooled SD of log per-process values), at the level Holm's first step asks
  (alpha / number of tested cells), by G*Power's A.R.E. method (a t-test with the sample sizes
  scaled by the rank test's efficiency 3/pi); infinite when the rank test cannot reach that level
  at all with so few processes (its smallest p-value is 1/C(n_b+n_c, n_b)).
- reps_needed: repetitions per side (equal sides) that would catch a slowdown of the threshold 95% of
  the time (RECOMMEND_POWER): a gate that lets one regression in five through, as 80% power would,
  is too weak to recommend for CI. Measured on real runs: benchmarks/results/gate_error_rates.txt.

Verdicts (t = threshold): `slower` significant and ratio >= 1+t; `faster` significant and
ratio <= 1/(1+t); `unchanged` the interval lies inside [1/(1+t), 1+t]; `inconclusive` anything
else; `missing` ok in the baseline, absent (or only skipped) now; `new` ok now, absent (or never ok)
in the baseline; `failed` any current process failed, crashed or timed out.

Paired mode (`paired=True`, `compare --paired`): when the baseline and current runs were alternated
round by round (A B A B, the README's CI job, `bisect`), the k-th run of each side is round k and
within a cell the processes of the same round and repetition form a pair. Then `ratio` is the
geometric mean of the per-pair ratios with a Student-t interval on their logs (reports.stats), the
test is a one-sided Wilcoxon signed-rank test on the per-pair log ratios (Holm as above), `log_sd`
is the spread of those log ratios, and mde / reps_needed count pairs (reports.power's paired
functions). Whatever moves the machine between rounds falls on both members of a pair.

The fewer-than-3-processes rule: with fewer than FEW_PROCESSES ok processes on either side the
between-process variation was not sampled, the rank test cannot be significant, and no interval
can be trusted. Such a cell is `inconclusive`, unless its ratio is beyond NOISE_FACTOR (2x): larger
than the largest between-process spread measured on this machine (1.9x, TF-NOTES.md), in which case
it is `slower` (or `faster`). It is never `unchanged`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports import stats
from reports.compare_settings import DEFAULT_ALPHA, DEFAULT_SEED, DEFAULT_THRESHOLD, METRICS
from reports.errors import CompareError
from reports.load import Runs
from reports.power import (
    FEW_PROCESSES,
    POWER,
    RECOMMEND_POWER,
    holm,
    min_detectable_slowdown,
    min_detectable_slowdown_paired,
    pairs_needed,
    pooled_log_sd,
    rank_tests,
    repetitions_needed,
    signed_rank_tests,
)
from reports.schema import FAILED_STATUSES, IDENTITY_FIELDS

VERDICTS = ("slower", "faster", "unchanged", "inconclusive", "missing", "new", "failed")
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "throughput": 0.5}

NOISE_FACTOR = 2.0  # beyond the 1.9x between-process spread seen on this machine (TF-NOTES.md)
N_BOOT = 2000
CONFIDENCE = 0.95

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Process:
    """One worker process's measurement of one cell."""

    run_id: str
    repetition: int
    status: str
    error: str | None
    latencies_ns: np.ndarray
    source: str = ""  # the results file it came from (reports.load's label): a run, for paired rounds


@dataclass
class Side:
    """All processes of one cell on one side of the comparison."""

    processes: list[Process] = field(default_factory=list)

    @property
    def ok(self) -> list[Process]:
        return [p for p in self.processes if p.status == "ok" and len(p.latencies_ns)]

    @property
    def failures(self) -> list[Process]:
        return [p for p in self.processes if p.status in FAILED_STATUSES]


@dataclass(frozen=True)
class Settings:
    metric: str = "p50"
    threshold: float = DEFAULT_THRESHOLD
    alpha: float = DEFAULT_ALPHA
    seed: int = DEFAULT_SEED
    n_boot: int = N_BOOT
    paired: bool = False  # processes matched round by round (see `Rounds`)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise CompareError(f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}")
        if not 0 < self.threshold < math.inf:  # users' text is checked by parse_threshold; bisect may ask for 11 (12x)
            raise CompareError(f"threshold {self.threshold!r} out of range: give a fraction such as 0.05 (or 5%)")
        if not 0 < self.alpha < 0.5:
            raise CompareError(f"alpha {self.alpha!r} out of range: give a level such as 0.05")


@dataclass(frozen=True, eq=False)  # a DataFrame has no truth value to compare or hash
class Comparison:
    """What `compare()` returns: the diff frame (one row per cell) and what it was computed with.

    The gate and the renderers read the settings and the family size from here, not from the
    frame, so a frame that pandas copied or sliced cannot lose them.
    """

    frame: pd.DataFrame
    settings: Settings = field(default_factory=Settings)
    family_size: int = 0  # cells tested, i.e. the size of each Holm family
    level_per_cell: float = math.nan  # alpha / family_size: the level Holm's first step asks
    skipped_cells: int = 0  # cells skipped on both sides, left out of the frame
    confidence: float = CONFIDENCE
    power: float = POWER
    recommend_power: float = RECOMMEND_POWER
    few_processes: int = FEW_PROCESSES
    noise_factor: float = NOISE_FACTOR
    rounds: tuple[tuple[str, str], ...] = ()  # paired mode: (baseline run, current run) of each round
    alternated: bool = True  # paired mode: each round's two runs were made one after the other

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    def settings_dict(self) -> dict[str, Any]:
        """The settings and constants by name, as the JSON output lists them."""
        s = self.settings
        return {
            "metric": s.metric, "threshold": s.threshold, "alpha": s.alpha, "seed": s.seed,
            "confidence": self.confidence, "power": self.power, "recommend_power": self.recommend_power,
            "family_size": self.family_size, "level_per_cell": self.level_per_cell,
            "few_processes": self.few_processes, "noise_factor": self.noise_factor,
            "skipped_cells": self.skipped_cells, "paired": s.paired, "rounds": list(self.rounds),
        }


def compare(
    baseline: Runs,
    current: Runs,
    metric: str = "p50",
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    seed: int = DEFAULT_SEED,
    across_hosts: bool = False,
    paired: bool = False,
) -> Comparison:
    """The diff frame, one row per cell identity found on either side (see the module docstring),
    with the settings, the family size and the cells skipped on both sides.

    Cells of different cluster hosts (`fleet_target`) never match unless `across_hosts`: then the
    host is left out of the identity (one machine's run against another's).

    `paired`: the baseline's k-th run and the current side's k-th run are one round (runs alternated
    A B A B, as the README's CI job and `bisect` make them); within a cell, the process of repetition j
    of a round's baseline run is paired with repetition j of its current run (see `Rounds`).
    """
    settings = Settings(metric, threshold, alpha, seed, paired=paired)
    rounds = Rounds.of(baseline, current) if paired else None
    base, cur = sides(baseline, across_hosts), sides(current, across_hosts)
    keys = sorted(set(base) | set(cur), key=lambda k: tuple(str(v) for v in k))
    skipped = [k for k in keys if not _measured(base.get(k)) and not _measured(cur.get(k))]
    keys = [k for k in keys if k not in skipped]
    rows = [_row(key, base.get(key, Side()), cur.get(key, Side()), settings, i, rounds) for i, key in enumerate(keys)]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    family, level = _finish(frame, settings)
    return Comparison(frame, settings, family_size=family, level_per_cell=level, skipped_cells=len(skipped),
                      rounds=rounds.names if rounds else (), alternated=rounds.alternated if rounds else True)


@dataclass(frozen=True)
class Rounds:
    """Paired mode's rounds: the k-th baseline run and the k-th current run (in the order given) form round
    k. A baseline process is paired with the current process of the same round and repetition, so whatever
    moved the machine between rounds (runs here drift 1.3-1.9x together) falls on both members of a pair."""

    baseline: dict[str, int]  # source (one results file = one run) -> round
    current: dict[str, int]
    names: tuple[tuple[str, str], ...]
    alternated: bool  # no other run of the comparison started between a round's two runs

    @classmethod
    def of(cls, baseline: Runs, current: Runs) -> Rounds:
        b_ids, c_ids = _run_order(baseline), _run_order(current)
        if len(b_ids) != len(c_ids):
            raise CompareError(
                f"paired comparison needs one current run per baseline run (a round each): got {len(b_ids)} "
                f"baseline and {len(c_ids)} current runs; give them in the order they were made")
        names = tuple(zip(b_ids, c_ids, strict=True))
        return cls({r: k for k, r in enumerate(b_ids)}, {r: k for k, r in enumerate(c_ids)}, names,
                   _alternated(baseline, current, b_ids, c_ids))

    def baseline_key(self, process: Process) -> tuple[int, int] | None:
        """(round, repetition) of a baseline process, None for a run outside the rounds."""
        return _round_key(self.baseline, process)

    def current_key(self, process: Process) -> tuple[int, int] | None:
        return _round_key(self.current, process)


def _round_key(rounds: dict[str, int], process: Process) -> tuple[int, int] | None:
    found = rounds.get(process.source)
    return None if found is None else (found, process.repetition)


def _run_order(runs: Runs) -> list[str]:
    """The side's runs (results files) in the order they were given."""
    return [str(r) for r in dict.fromkeys(runs.cells["source"])] if len(runs.cells) else []


def _alternated(baseline: Runs, current: Runs, b_ids: list[str], c_ids: list[str]) -> bool:
    """Whether, by the headers' start times, each round's two runs are neighbours among all the runs given
    (unknown times: assumed so)."""
    started = {**{("b", r): _created(baseline, r) for r in b_ids}, **{("c", r): _created(current, r) for r in c_ids}}
    if any(t is None for t in started.values()):
        return True
    order = sorted(started, key=lambda r: str(started[r]))
    position = {r: i for i, r in enumerate(order)}
    return all(abs(position[("b", b)] - position[("c", c)]) == 1 for b, c in zip(b_ids, c_ids, strict=True))


def _created(runs: Runs, source: str) -> str | None:
    value = (runs.headers.get(source) or {}).get("created")
    return None if value is None else str(value)


def _measured(side: Side | None) -> bool:
    """Whether a side ran the cell at all (ok or failed): a cell skipped on both sides is dropped."""
    return side is not None and bool(side.ok or side.failures)


def sides(runs: Runs, across_hosts: bool = False) -> dict[Key, Side]:
    """Group a run's cell records (one per worker process) by cell identity (`across_hosts`: less the host)."""
    out: dict[Key, Side] = {}
    records = runs.cells.to_dict("records")
    for record, latencies in zip(records, runs.latencies, strict=True):
        key = tuple("" if across_hosts and name == "fleet_target" else record[name] for name in IDENTITY_FIELDS)
        error = record.get("error")
        out.setdefault(key, Side()).processes.append(
            Process(
                run_id=str(record["run_id"]),
                repetition=int(record["repetition"]),
                status=str(record["status"]),
                error=None if error is None or (isinstance(error, float) and math.isnan(error)) else str(error),
                latencies_ns=np.asarray(latencies, dtype=np.float64),
                source=str(record.get("source", "")),
            )
        )
    return out


COLUMNS = [
    *IDENTITY_FIELDS,
    "verdict",
    "ratio",
    "ci_low",
    "ci_high",
    "baseline_value",
    "current_value",
    "unit",
    "n_baseline",
    "n_current",
    "p_slower",
    "p_faster",
    "p_slower_holm",
    "p_faster_holm",
    "log_sd",
    "pairs",
    "mde",
    "reps_needed",
    "small_change",
    "tested",
    "baseline_processes",
    "current_processes",
    "note",
]


# ---- per-process values and pooled values ---------------------------------------------------


def process_value(latencies_ns: np.ndarray, metric: str, batch_size: int) -> float:
    """One process's value of the metric, as a time (ns; ns per sample for throughput)."""
    if metric == "mean":
        return float(np.mean(latencies_ns))
    value = float(stats.percentiles(latencies_ns, (QUANTILES[metric] * 100,))[0])
    return value / max(batch_size, 1) if metric == "throughput" else value


def display_value(time_value: float, metric: str) -> float:
    """A time value in the metric's own unit (samples/s for throughput, ns otherwise)."""
    if metric == "throughput":
        return 1e9 / time_value if time_value > 0 else math.nan
    return time_value


def unit_of(metric: str) -> str:
    return "samples/s" if metric == "throughput" else "ns"


def pooled_value(groups: Sequence[np.ndarray], metric: str, batch_size: int) -> float:
    """The side's value of the metric over all its processes' samples pooled."""
    return process_value(np.concatenate(list(groups)), metric, batch_size)


def pooled_draws(groups: Sequence[np.ndarray], metric: str, batch_size: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap draws of the pooled value: resample processes, then samples within them."""
    if metric == "mean":
        return _two_level_mean_draws(groups, n_boot, seed)
    draws = stats.quantile_draws(groups, QUANTILES[metric], n_boot, seed)
    return draws / max(batch_size, 1) if metric == "throughput" else draws


def _two_level_mean_draws(groups: Sequence[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """Pooled-mean draws: pick processes with replacement; each picked process's resampled mean
    is drawn from its sampling distribution N(mean, sd/sqrt(n)) (the samples are thousands)."""
    rng = np.random.default_rng(seed)
    means = np.array([g.mean() for g in groups])
    sems = np.array([g.std(ddof=1) / math.sqrt(len(g)) if len(g) > 1 else 0.0 for g in groups])
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    picks = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    resampled = rng.normal(means[picks], sems[picks])
    weights = sizes[picks]
    return np.asarray((resampled * weights).sum(axis=1) / weights.sum(axis=1))


# ---- one row per cell --------------------------------------------------------------------------


def _identity(key: Key) -> dict[str, Any]:
    return dict(zip(IDENTITY_FIELDS, key, strict=True))


def _empty_row(key: Key, verdict: str, note: str, base: Side, cur: Side) -> dict[str, Any]:
    row: dict[str, Any] = {name: math.nan for name in COLUMNS}
    row.update(_identity(key))
    row.update(verdict=verdict, note=note, n_baseline=len(base.ok), n_current=len(cur.ok), tested=False)
    row.update(small_change=False, baseline_processes=(), current_processes=(), unit="")
    row["reps_needed"] = None
    return row


def _presence_row(key: Key, base: Side, cur: Side) -> dict[str, Any] | None:
    """missing / new / failed, or None when both sides have ok processes and none failed now."""
    if cur.failures:
        first = cur.failures[0]
        detail = f"{len(cur.failures)} of {len(cur.processes)} processes {first.status}"
        error = f": {first.error}" if first.error else ""
        return _empty_row(key, "failed", detail + error, base, cur)
    if not cur.ok:
        why = "only skipped now" if cur.processes else "not in the current run"
        return _empty_row(key, "missing", why, base, cur)
    if not base.ok:
        why = "no successful process in the baseline" if base.processes else "not in the baseline"
        return _empty_row(key, "new", why, base, cur)
    return None


def _row(key: Key, base: Side, cur: Side, settings: Settings, index: int, rounds: Rounds | None = None) -> dict[str, Any]:
    presence = _presence_row(key, base, cur)
    if presence is not None:
        return presence
    batch = int(_identity(key)["batch_size"])
    base_groups = [p.latencies_ns for p in base.ok]
    cur_groups = [p.latencies_ns for p in cur.ok]
    b_vals = np.array([process_value(g, settings.metric, batch) for g in base_groups])
    c_vals = np.array([process_value(g, settings.metric, batch) for g in cur_groups])
    b_pool = pooled_value(base_groups, settings.metric, batch)
    c_pool = pooled_value(cur_groups, settings.metric, batch)
    row = _empty_row(key, "", "", base, cur)
    row.update(
        baseline_value=display_value(b_pool, settings.metric),
        current_value=display_value(c_pool, settings.metric),
        unit=unit_of(settings.metric),
        baseline_processes=tuple(display_value(v, settings.metric) for v in b_vals),
        current_processes=tuple(display_value(v, settings.metric) for v in c_vals),
        note=_process_note(base, cur),
    )
    if rounds is None:
        row.update(_unpaired(base_groups, cur_groups, b_vals, c_vals, c_pool / b_pool, settings, batch, index))
    else:
        paired = _paired(base, cur, rounds, settings, batch)
        paired["note"] = "; ".join(n for n in (row["note"], paired.pop("note", "")) if n)
        row.update(paired)
    return row


def _unpaired(base_groups: list[np.ndarray], cur_groups: list[np.ndarray], b_vals: np.ndarray, c_vals: np.ndarray,
              ratio: float, settings: Settings, batch: int, index: int) -> dict[str, Any]:
    """Pooled ratio, two-level bootstrap interval and rank test of two independent sets of processes."""
    seed = settings.seed + 2 * index
    ratio_draws = pooled_draws(cur_groups, settings.metric, batch, settings.n_boot, seed + 1) / pooled_draws(
        base_groups, settings.metric, batch, settings.n_boot, seed
    )
    low, high = np.quantile(ratio_draws, ((1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2))
    tested = min(len(b_vals), len(c_vals)) >= FEW_PROCESSES
    p_slower, p_faster = rank_tests(b_vals, c_vals) if tested else (math.nan, math.nan)
    return {"ratio": ratio, "ci_low": float(low), "ci_high": float(high), "p_slower": p_slower,
            "p_faster": p_faster, "log_sd": pooled_log_sd(b_vals, c_vals), "tested": tested}


def process_pairs(base: Side, cur: Side, rounds: Rounds, metric: str, batch: int) -> tuple[np.ndarray, int]:
    """Per-pair ratios current/baseline of the metric (processes matched by round and repetition) and how
    many ok processes found no partner."""
    b = {rounds.baseline_key(p): p for p in base.ok}
    c = {rounds.current_key(p): p for p in cur.ok}
    matched = sorted(k for k in set(b) & set(c) if k is not None)
    ratios = [process_value(c[k].latencies_ns, metric, batch) / process_value(b[k].latencies_ns, metric, batch)
              for k in matched]
    return np.array(ratios, dtype=np.float64), len(b) + len(c) - 2 * len(matched)


def _paired(base: Side, cur: Side, rounds: Rounds, settings: Settings, batch: int) -> dict[str, Any]:
    """Geometric mean of per-pair ratios with its Student-t interval on logs, and the signed-rank test."""
    ratios, alone = process_pairs(base, cur, rounds, settings.metric, batch)
    n = len(ratios)
    out: dict[str, Any] = {"pairs": n, "tested": n >= FEW_PROCESSES, "p_slower": math.nan, "p_faster": math.nan}
    if n >= 2:
        got = stats.log_t_interval(ratios)
        out.update(ratio=got.center, ci_low=got.low, ci_high=got.high, log_sd=got.sd)
    else:
        out.update(ratio=float(ratios[0]) if n else math.nan, log_sd=math.nan)
    if out["tested"]:
        out["p_slower"], out["p_faster"] = signed_rank_tests(np.log(ratios))
    if alone:
        out["note"] = f"{alone} process(es) without a partner of the same round and repetition, left out"
    return out


def _process_note(base: Side, cur: Side) -> str:
    dropped = len(base.processes) - len(base.ok)
    return f"{dropped} baseline process(es) not ok, left out" if dropped else ""


# ---- corrections, verdicts, power: over all rows -----------------------------------------------


def _finish(frame: pd.DataFrame, settings: Settings) -> tuple[int, float]:
    """Holm corrections, verdicts and power over all rows, in place; (family size, level per cell)."""
    tested = frame["tested"].astype(bool)
    family = int(tested.sum())
    frame["p_slower_holm"] = holm(frame["p_slower"].where(tested).to_numpy(dtype=float))
    frame["p_faster_holm"] = holm(frame["p_faster"].where(tested).to_numpy(dtype=float))
    level = settings.alpha / max(family, 1)
    frame["reps_needed"] = frame["reps_needed"].astype(object)
    for i in frame.index[frame["verdict"] == ""]:
        for name, value in _judge(frame.loc[i], settings, level).items():
            frame.at[i, name] = value
    return family, level


def _judge(row: pd.Series, settings: Settings, level: float) -> dict[str, Any]:
    """Verdict, small-change flag, mde, repetitions needed and note of one measured cell."""
    t = settings.threshold
    n_b, n_c = int(row["n_baseline"]), int(row["n_current"])
    notes = [row["note"]] if row["note"] else []
    reps = pairs_needed(row["log_sd"], t, level) if settings.paired else repetitions_needed(row["log_sd"], t, level)
    if not row["tested"]:
        counted = f"{int(row['pairs'])} pairs" if settings.paired else f"{n_b} baseline and {n_c} current processes"
        notes.append(
            f"between-process variation not sampled ({counted}, "
            f"fewer than {FEW_PROCESSES}): only a change beyond {NOISE_FACTOR:g}x is called"
        )
        verdict = _few_process_verdict(row["ratio"])
        return _judged(verdict, False, NOISE_FACTOR - 1.0, reps, notes)
    if settings.paired:
        mde = min_detectable_slowdown_paired(row["log_sd"], int(row["pairs"]), level)
    else:
        mde = min_detectable_slowdown(row["log_sd"], n_b, n_c, level)
    verdict, small = _tested_verdict(row, settings)
    if small:
        notes.append(f"small but significant change ({row['ratio'] - 1:+.1%}), within the threshold")
    return _judged(verdict, small, mde, reps, notes)


def _judged(verdict: str, small: bool, mde: float, reps: int | None, notes: list[str]) -> dict[str, Any]:
    return {"verdict": verdict, "small_change": small, "mde": mde, "reps_needed": reps, "note": "; ".join(notes)}


def _few_process_verdict(ratio: float) -> str:
    if ratio >= NOISE_FACTOR:
        return "slower"
    if ratio <= 1.0 / NOISE_FACTOR:
        return "faster"
    return "inconclusive"


def _tested_verdict(row: pd.Series, settings: Settings) -> tuple[str, bool]:
    """(verdict, small significant change) for a cell with enough processes on both sides."""
    t, alpha = settings.threshold, settings.alpha
    slower_sig = row["p_slower_holm"] <= alpha
    faster_sig = row["p_faster_holm"] <= alpha
    if slower_sig and row["ratio"] >= 1 + t:
        return "slower", False
    if faster_sig and row["ratio"] <= 1 / (1 + t):
        return "faster", False
    small = bool(slower_sig or faster_sig)
    if 1 / (1 + t) <= row["ci_low"] and row["ci_high"] <= 1 + t:
        return "unchanged", small
    return "inconclusive", small


def counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many cells got each verdict (every verdict listed, in VERDICTS order)."""
    found = frame["verdict"].value_counts()
    return {v: int(found.get(v, 0)) for v in VERDICTS}


# ---- environment differences -------------------------------------------------------------------

# Keys of the environment fingerprint that are expected to differ between runs (the commit under
# test, clocks, load): shown, but they do not make a comparison "not like-for-like".
INFORMATIONAL = ("git", "commit", "created", "date", "time", "loadavg", "load_avg", "pid", "uptime", "available")


@dataclass(frozen=True)
class EnvDifference:
    key: str  # dotted path into the header's "env"
    baseline: tuple[str, ...]
    current: tuple[str, ...]
    informational: bool  # expected to differ (commit, clocks): not a like-for-like problem


def env_differences(baseline: Runs, current: Runs) -> list[EnvDifference]:
    """Fingerprint entries whose values differ between the sides (every run of a side pooled), and how interleaved
    variants took turns (`_turns`): strict alternation timed medians 1.15-1.31x above the default turns."""
    base, cur = {**_env_values(baseline), **_turns(baseline)}, {**_env_values(current), **_turns(current)}
    out = []
    for key in sorted(set(base) | set(cur)):
        b, c = base.get(key, ("(absent)",)), cur.get(key, ("(absent)",))
        if set(b) != set(c):
            out.append(EnvDifference(key, b, c, any(word in key.lower() for word in INFORMATIONAL)))
    return out


def like_for_like(differences: Sequence[EnvDifference]) -> bool:
    return not any(not d.informational for d in differences)


TURNS_KEY = "measure.interleaved turns"


def _turns(runs: Runs) -> dict[str, tuple[str, ...]]:
    """How the interleaved runs' variants took turns; runs from before `switch_warmup`/`turn_calls` alternated
    strictly (absent = 0 untimed + 1 timed). Runs in another mode (separate, duet), imported or load-only runs
    add nothing."""
    values = set()
    for header in runs.headers.values():
        policy = header.get("policy") or {}
        if "min_time" in policy and policy.get("mode", "interleaved") == "interleaved":  # a timing loop's policy
            values.add(f"{policy.get('switch_warmup', 0)} untimed + {policy.get('turn_calls', 1)} timed calls per turn")
    return {TURNS_KEY: tuple(sorted(values))} if values else {}


def _env_values(runs: Runs) -> dict[str, tuple[str, ...]]:
    values: dict[str, set[str]] = {}
    for header in runs.headers.values():
        for key, value in _flatten(header.get("env") or {}).items():
            values.setdefault(key, set()).add(value)
    return {k: tuple(sorted(v)) for k, v in values.items()}


def _flatten(env: Any, prefix: str = "") -> dict[str, str]:
    if not isinstance(env, dict):
        return {prefix: str(env)}
    out: dict[str, str] = {}
    for key, value in env.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out
