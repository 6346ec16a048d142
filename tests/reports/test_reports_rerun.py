"""reports.rerun against hand-worked numbers: one run's ratio from per-process medians, and the rerun interval from
the history of past runs (or this run's own, labelled)."""

from __future__ import annotations

import math

import pytest

from reports.rerun import MAX_RUNS, WITHIN_SCOPE, PastRuns, identity_of, rerun_interval, run_ratio


def test_run_ratio_pairs_by_repetition_else_divides_geometric_means() -> None:
    # paired: ratios 2/1 = 2 and 8/2 = 4 -> geometric mean sqrt(8)
    assert run_ratio({0: 2.0, 1: 8.0}, {0: 1.0, 1: 2.0}) == pytest.approx(math.sqrt(8))
    # a process only one cell has is left out of the pairs
    assert run_ratio({0: 2.0, 1: 8.0, 2: 100.0}, {0: 1.0, 1: 2.0}) == pytest.approx(math.sqrt(8))
    # no repetition in common: geomean(2, 8) = 4 over geomean(1, 4) = 2
    assert run_ratio({0: 2.0, 1: 8.0}, {2: 1.0, 3: 4.0}) == pytest.approx(2.0)
    assert math.isnan(run_ratio({}, {0: 1.0})) and math.isnan(run_ratio({0: 0.0}, {0: 1.0}))


def test_rerun_interval_from_history_is_the_log_prediction_interval_of_past_and_this_run() -> None:
    # logs -1, 0, 1, -1, 0 (past) and 1 (this run): mean 0, sd sqrt(4/5) = 0.894427; t(0.975, 5) = 2.570582;
    # half-width 2.570582 * 0.894427 * sqrt(1 + 1/6) = 2.483418 -> exp(±2.483418) = 0.083457 .. 11.98215
    past = [math.exp(x) for x in (-1, 0, 1, -1, 0)]
    got = rerun_interval(math.e, past, (0.9, 1.1), "history database h.sqlite")
    assert got.low == pytest.approx(0.083457, rel=1e-4) and got.high == pytest.approx(11.98215, rel=1e-4)
    assert got.runs == 6 and got.from_history
    assert got.scope == "rerun interval from 6 runs on this machine, history database h.sqlite"


def test_fewer_than_five_past_runs_keep_this_runs_interval_and_say_so() -> None:
    got = rerun_interval(1.0, [1.0, 1.1, 0.9, 1.05], (0.9, 1.1), "history database h.sqlite")
    assert (got.low, got.high, got.runs) == (0.9, 1.1, 0)
    assert got.scope == WITHIN_SCOPE + " (4 earlier runs of both cells here; 5 give one)"
    assert rerun_interval(1.0, [], (0.9, 1.1)).scope == WITHIN_SCOPE


def test_past_runs_give_ratios_of_runs_that_measured_both_cells_oldest_first_newest_kept() -> None:
    a = identity_of({"model": "m", "variant": "checkpoint", "batch_size": 1})
    b = identity_of({"model": "m", "variant": "frozen", "batch_size": 1})
    assert a == ("m", "checkpoint", "cpu", "1", "0", "0", "", "", "", "fastest", "", "")  # defaults filled in
    runs = {f"r{i:02d}": {0: 2.0 + i} for i in range(MAX_RUNS + 3)}
    past = PastRuns("db", {"now": {a: {**runs, "only-a": {0: 9.0}}, b: {r: {0: 1.0} for r in runs}}})
    got = past.ratios("now", a, b)
    assert got == pytest.approx([2.0 + i for i in range(3, MAX_RUNS + 3)])  # the newest MAX_RUNS, oldest first
    assert past.ratios("another run", a, b) == []


def test_the_history_interval_is_never_narrower_than_this_runs_own() -> None:
    # five past runs at exactly 1.0 and this run at 1.0: the history's interval is [1, 1]; this run's own reaches
    # 0.9..1.1, and a next run is expected at least as far out as this run's noise allows
    got = rerun_interval(1.0, [1.0] * 5, (0.9, 1.1), "history database h.sqlite")
    assert (got.low, got.high, got.runs) == (pytest.approx(0.9), pytest.approx(1.1), 6)
    nan_within = rerun_interval(1.0, [1.0] * 5, (math.nan, math.nan))
    assert (nan_within.low, nan_within.high) == (pytest.approx(1.0), pytest.approx(1.0))
