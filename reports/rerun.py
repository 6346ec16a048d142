"""Where a next run's ratio is expected: the rerun interval of a speedup or a call overhead, and what it covers.

One run's intervals cannot see what moves whole runs: measured here, even the ratio of two formats drifted between
runs (frozen/checkpoint 1.03-1.17 over 20 runs) while each run's own interval was ±3%
(benchmarks/results/calibration_2.txt). So where the history database holds MIN_RUNS or more earlier runs of the
same two cells on the same machine, the rerun interval is the log prediction interval of those runs' ratios and
this run's (`stats.log_prediction_interval`), widened to this run's within-run rerun interval where that reaches
further: each run's ratio computed by `run_ratio` from its per-process medians, the database's for past runs and
the aggregate's for this one. Without such a history it is this run's within-run
rerun interval (`stats.log_t_interval`, about √2 wider than the 95% interval), labelled as covering this run's
noise only.

Pure: the history database (bench.results.history.known.rerun_history) reads the past runs and hands them in as a
`PastRuns`; nothing here reads a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reports import stats
from reports.schema import IDENTITY_DEFAULTS, IDENTITY_FIELDS

MIN_RUNS = 5  # past runs of both cells before the history gives the interval (the calibration's `--from` held 113/120)
MAX_RUNS = 20  # the newest past runs used: older ones may predate a change of the machine or the model

Medians = Mapping[int, float]  # repetition -> that worker process's median (any unit: only ratios are taken)
Identity = tuple[str, ...]

HISTORY_SCOPE = "rerun interval from {runs} runs on this machine"  # + ", history database PATH"
WITHIN_SCOPE = ("this run's noise only; runs here also drift between runs — 5 recorded runs of these cells (infer-bench "
                "run records each) give the run-to-run interval")


def identity_of(values: Mapping[str, Any]) -> Identity:
    """A cell's identity as text, the same from a results record (a dict) and from a row of the aggregate frame: what
    keys the past runs of a cell in `PastRuns`."""
    out = []
    for name in IDENTITY_FIELDS:
        value = values.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = IDENTITY_DEFAULTS.get(name, "")
        out.append(str(int(value)) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else str(value))
    return tuple(out)


def run_ratio(numerator: Medians, denominator: Medians) -> float:
    """One run's ratio numerator/denominator from the per-process medians of its two cells, keyed by repetition.

    Paired where the cells share repetitions (the same worker process when measured interleaved, the same round
    otherwise): the geometric mean of the per-repetition ratios over the repetitions both have. With none in common,
    the ratio of the two cells' geometric means. NaN when a cell has no positive median. With the same repetitions
    on both sides the two are the same number."""
    num = {r: float(v) for r, v in numerator.items() if v is not None and v > 0}
    den = {r: float(v) for r, v in denominator.items() if v is not None and v > 0}
    if not num or not den:
        return math.nan
    common = sorted(set(num) & set(den))
    if common:
        return math.exp(sum(math.log(num[r] / den[r]) for r in common) / len(common))
    return math.exp(sum(map(math.log, num.values())) / len(num) - sum(map(math.log, den.values())) / len(den))


@dataclass(frozen=True)
class PastRuns:
    """What a history database holds about earlier runs of a report's cells, each run on its own machine.

    `cells[run_id][identity]` is, for a cell of the report's run `run_id`, the per-process medians of each earlier
    run of that cell on the same machine: {past run id: {repetition: median}}, oldest run first. `source` names the
    database ("history database .infer-bench/history.sqlite")."""

    source: str
    cells: Mapping[str, Mapping[Identity, Mapping[str, Medians]]] = field(default_factory=dict)

    def ratios(self, run_id: str, numerator: Identity, denominator: Identity) -> list[float]:
        """The ratio of each earlier run that measured both cells (`run_ratio`), oldest first, the newest MAX_RUNS."""
        cells = self.cells.get(run_id, {})
        num, den = cells.get(numerator, {}), cells.get(denominator, {})
        got = [run_ratio(num[r], den[r]) for r in num if r in den]
        return [x for x in got if math.isfinite(x) and x > 0][-MAX_RUNS:]


@dataclass(frozen=True)
class Rerun:
    """A rerun interval and what it covers: `runs` is how many runs it was computed from (0: this run's processes
    only); `scope` the words every renderer shows beside it."""

    low: float
    high: float
    scope: str
    runs: int = 0

    @property
    def from_history(self) -> bool:
        return self.runs > 0


def rerun_interval(this_run: float, past: Sequence[float], within: tuple[float, float], source: str = "",
                   confidence: float = 0.95) -> Rerun:
    """Where a next run's ratio is expected: from `past` runs' ratios and this run's when there are MIN_RUNS or more
    past ones — widened to this run's within-run rerun interval `within` where that reaches further (a run noisier
    than the history's: the calibration's third pass held 68/76 pairs without the widening, 75/76 with it) — else
    `within` itself (NaN when it has none)."""
    if len(past) >= MIN_RUNS and math.isfinite(this_run) and this_run > 0:
        values = [*past, this_run]
        low, high = stats.log_prediction_interval(values, confidence)
        low, high = min(low, _or(within[0], low)), max(high, _or(within[1], high))  # never narrower than this run's
        where = f", {source}" if source else ""
        return Rerun(low, high, HISTORY_SCOPE.format(runs=len(values)) + where, len(values))
    scope = WITHIN_SCOPE
    if past:
        scope += f" ({len(past)} earlier run{'s' if len(past) != 1 else ''} of both cells here; {MIN_RUNS} give one)"
    return Rerun(within[0], within[1], scope)


def _or(value: float, fallback: float) -> float:
    return value if value is not None and math.isfinite(value) else fallback


def for_pair(history: PastRuns | None, run_id: str, numerator: Mapping[str, Any], denominator: Mapping[str, Any],
             within: tuple[float, float], confidence: float = 0.95) -> Rerun:
    """The rerun interval of numerator/denominator, two rows of the aggregate frame of run `run_id` (their `_procs`
    give this run's per-process medians)."""
    this_run = run_ratio(_medians(numerator), _medians(denominator))
    if history is None:
        return rerun_interval(this_run, [], within, confidence=confidence)
    past = history.ratios(run_id, identity_of(numerator), identity_of(denominator))
    return rerun_interval(this_run, past, within, history.source, confidence)


def _medians(row: Mapping[str, Any]) -> dict[int, float]:
    procs = row.get("_procs") or {}
    return {int(rep): float(value[2]) for rep, value in procs.items()}


def scope_from_history(scope: str) -> bool:
    """Whether a `rerun_scope` says the interval came from the history database."""
    return scope.startswith(HISTORY_SCOPE.split("{")[0])


def short_scope(rerun_runs: Any) -> str:
    """The scope in a few words, for a table cell: "12 runs (history)" or "this run only"."""
    n = int(rerun_runs) if rerun_runs is not None and not (isinstance(rerun_runs, float) and math.isnan(rerun_runs)) else 0
    return f"{n} runs here (history)" if n > 0 else "this run only"
