"""Change points (reports.changepoints), the check's verdict and the run-to-run spread, on hand-made series."""

from __future__ import annotations

import numpy as np
import pytest
from histdata import noisy, series_with

from reports import changepoints
from reports.changepoints import Settings, best_split, detect
from reports.history import check, markdown, run_to_run_spread

FAST = Settings(permutations=199, n_boot=200)


def test_a_clear_step_is_found_at_its_commit_with_its_size() -> None:
    (cp,) = detect(noisy(30, 17, 1.25, seed=1), FAST)
    assert cp.index == 17 and cp.regression
    assert cp.low <= 1.25 <= cp.high and 1.15 < cp.ratio < 1.35
    assert cp.p_value <= 1 / 200 + 1e-12  # nothing in 199 permutations as extreme


def test_no_step_no_change_point() -> None:
    alarms = sum(bool(detect(noisy(30, None, 1.0, seed=s), FAST)) for s in range(20))
    assert alarms <= 2  # alpha 0.01 per series, and the 5% minimum magnitude on top


def test_a_significant_step_below_the_minimum_magnitude_is_not_reported() -> None:
    values = noisy(40, 20, 1.03, seed=2, sd=0.005)
    assert detect(values, FAST) == []
    (cp,) = detect(values, Settings(permutations=199, n_boot=200, min_magnitude=0.01))
    assert cp.index == 20


def test_two_steps_and_an_improvement() -> None:
    values = noisy(45, 15, 1.3, seed=3)
    values = values[:30] + [[v / 1.3 / 1.4 for v in p] for p in values[30:]]
    found = detect(values, FAST)
    assert [c.index for c in found] == [15, 30]
    assert found[0].regression and not found[1].regression


def test_block_permutation_keeps_a_commits_processes_together() -> None:
    """Processes of one run move together: 3 commits of 20 identical processes each side are 3 values a side,
    not 60, so the split cannot be more significant than 1/C(6,3)."""
    values = [[1.0] * 20] * 3 + [[2.0] * 20] * 3
    split, p = best_split([np.asarray(v) for v in values], Settings(permutations=999, min_size=1), np.random.default_rng(0))
    assert split == 3
    assert p > 1 / 20 - 0.03  # two of the C(6,3)=20 arrangements are as extreme as the observed (|z|)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="alpha"):
        changepoints.Settings(alpha=2)


def test_check_fails_only_on_a_recent_regression() -> None:
    old = series_with(noisy(40, 10, 1.3, seed=4))
    recent = series_with(noisy(40, 35, 1.3, seed=5))
    improved = series_with(noisy(40, 35, 1 / 1.3, seed=6))
    result = check([old, recent, improved], FAST, last=10)
    assert [f.series for f in result.failing] == [recent]
    assert [f.change.index for f in result.findings if f.series is old] == [10]  # found, but too old to fail
    assert [f.kind for f in result.findings if f.series is improved] == ["improvement"]
    text = markdown(result, FAST)
    assert "**FAIL**: 1 series regressed" in text and "| **new regression** |" in text
    assert text.count("| improvement |") == 1 and text.count("| regression |") == 1


def test_run_to_run_spread_by_hand() -> None:
    values = [1.0, 1.1, 0.9, 1.2, 1.0, 0.8, 1.0, 1.3, 1.0, 1.05]
    spread = run_to_run_spread(values, source="history database, hostA")
    assert spread is not None and spread.runs == 10
    # median 1.0; numpy's linear 5th/95th percentiles: 0.845 and 1.255
    assert spread.low == pytest.approx(0.845) and spread.high == pytest.approx(1.255)
    assert spread.max_over_min == pytest.approx(1.3 / 0.8)
    assert "-15.5% to +25.5%" in spread.text() and "10 runs" in spread.text() and "history database" in spread.text()
    assert run_to_run_spread(values[:4]) is None  # fewer than 5 runs say little
