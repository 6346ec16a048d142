"""reports.stats against numbers worked out by hand (see each comment) and against the naive method."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports import stats


def test_percentiles_interpolate_linearly_between_order_statistics() -> None:
    x = np.arange(1, 11)  # 1..10
    # p50: position 0.5*9 = 4.5 -> between 5 and 6 -> 5.5; p90: 8.1 -> 9 + 0.1*(10-9) = 9.1;
    # p25: 2.25 -> 3.25; p0 and p100 are the extremes.
    assert stats.percentiles(x, (0, 25, 50, 90, 100)) == pytest.approx([1, 3.25, 5.5, 9.1, 10])
    assert stats.percentiles(x[::-1], (50,)) == pytest.approx([5.5])  # order of input does not matter


def test_iqr_cv_and_tukey_outliers_by_hand() -> None:
    x = np.arange(1, 11)
    assert stats.iqr(x) == pytest.approx(7.75 - 3.25)  # p75 at position 6.75
    # mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7; sd 2.1381
    assert stats.cv([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(np.sqrt(32 / 7) / 5)
    # [1..10, 100]: q1 at position 2.5 = 3.5, q3 at 7.5 = 8.5, IQR 5, fences -4 and 16: one outlier
    with_outlier = [*range(1, 11), 100]
    assert stats.tukey_fences(with_outlier) == pytest.approx((-4.0, 16.0))
    assert stats.tukey_outliers(with_outlier) == 1
    assert stats.tukey_outliers(range(1, 11)) == 0
    assert np.isnan(stats.cv([3.0]))


def test_order_statistic_interval_of_the_median_of_ten() -> None:
    # Binomial(10, 1/2): F(1) = 11/1024 < 0.025 <= F(2) = 56/1024, so l = 2;
    # F(7) = 968/1024 < 0.975 <= F(8) = 1013/1024, so u = 8 + 1 = 9.
    # Coverage F(8) - F(1) = (1013 - 11)/1024 = 0.978515625: the textbook (x(2), x(9)).
    lower, upper, coverage, clamped = stats.order_stat_ranks(10, 0.5)
    assert (lower, upper, clamped) == (2, 9, False)
    assert coverage == pytest.approx(1002 / 1024)
    ci = stats.order_stat_ci(np.arange(10, 110, 10), 0.5)  # 10, 20, ..., 100
    assert (ci.low, ci.high) == (20.0, 90.0)


def test_order_statistic_interval_is_clamped_and_says_so_for_tiny_samples() -> None:
    # n = 5: F(0) = 1/32 >= 0.025 gives l = 0 (< 1); F(4) = 31/32 < 0.975 gives u = 6 (> 5).
    # Clamped to (x(1), x(5)), which covers only F(4) - F(0) = 30/32.
    lower, upper, coverage, clamped = stats.order_stat_ranks(5, 0.5)
    assert (lower, upper, clamped) == (1, 5, True)
    assert coverage == pytest.approx(30 / 32)


def test_order_statistic_interval_covers_at_the_stated_rate() -> None:
    rng = np.random.default_rng(7)
    true_p99 = np.exp(0.3 * 2.3263478740408408)  # lognormal(0, 0.3) 99th percentile
    covered = 0
    for _ in range(400):
        ci = stats.order_stat_ci(np.sort(rng.lognormal(0, 0.3, 500)), 0.99)
        covered += ci.low <= true_p99 <= ci.high
    assert 0.93 <= covered / 400 <= 0.995


def test_order_statistic_bootstrap_matches_enumeration_of_a_tiny_sample() -> None:
    # Resampling 3 values from [1, 2, 3]: 27 equally likely tuples; the median is 1 when at least
    # two draws are 1: 3*2 + 1 = 7 tuples -> 7/27; likewise 3 -> 7/27; 2 -> 13/27.
    draws = stats.order_stat_bootstrap_draws(np.array([1.0, 2.0, 3.0]), 0.5, n_boot=200_000, seed=1)
    freq = [np.mean(draws == v) for v in (1.0, 2.0, 3.0)]
    assert freq == pytest.approx([7 / 27, 13 / 27, 7 / 27], abs=0.005)


def test_order_statistic_bootstrap_agrees_with_naive_resampling() -> None:
    x = np.sort(np.random.default_rng(3).lognormal(0, 0.3, 1001))
    fast = stats.order_stat_bootstrap_draws(x, 0.5, n_boot=4000, seed=5)
    naive = stats.bootstrap_draws(x, lambda a: np.median(a, axis=-1), n_boot=4000, seed=6)
    assert np.quantile(fast, [0.025, 0.5, 0.975]) == pytest.approx(np.quantile(naive, [0.025, 0.5, 0.975]), rel=0.004)


def test_two_level_bootstrap_resamples_processes_first() -> None:
    # Three processes that never vary inside: all 1 ms, all 2 ms, all 3 ms (100 calls each).
    # Picking 3 processes with replacement, the pooled median is the middle pick's value:
    # 1 when at least two picks are 1 (3*2 + 1 = 7 of 27 equally likely picks), 3 likewise,
    # 2 otherwise (13/27). Resampling calls inside a process cannot move a constant.
    groups = [np.full(100, 1.0), np.full(100, 2.0), np.full(100, 3.0)]
    draws = stats.two_level_quantile_draws(groups, (0.5,), n_boot=6000, seed=2)[:, 0]
    freq = [np.mean(draws == v) for v in (1.0, 2.0, 3.0)]
    assert freq == pytest.approx([7 / 27, 13 / 27, 7 / 27], abs=0.02)
    lo, hi = stats.percentile_interval(draws[:, None])
    assert (lo[0], hi[0]) == (1.0, 3.0)  # a within-process interval would be one point
    single = stats.two_level_quantile_draws(groups[:1], (0.5,), n_boot=100, seed=2)[:, 0]
    assert set(single) == {1.0}


def test_two_level_bootstrap_keeps_tied_values_exact() -> None:
    # A coarse timer: every latency is 1 or 2 ms, 70% of them 1 ms. Every resample's median is 1.
    groups = [np.array([1.0] * 70 + [2.0] * 30), np.array([1.0] * 70 + [2.0] * 30)]
    draws = stats.two_level_quantile_draws(groups, (0.5, 0.99), n_boot=500, seed=4)
    assert set(draws[:, 0]) == {1.0}
    assert set(draws[:, 1]) == {2.0}


def test_two_level_bootstrap_agrees_with_naive_two_level_resampling() -> None:
    rng = np.random.default_rng(1)
    groups = [rng.lognormal(np.log(m), 0.1, 2000) for m in (1.0, 1.2, 0.9)]
    fast = stats.two_level_quantile_draws(groups, (0.5, 0.99), n_boot=1000, seed=3)
    naive = []
    r = np.random.default_rng(4)
    for _ in range(400):
        pool = np.concatenate([groups[i][r.integers(0, 2000, 2000)] for i in r.integers(0, 3, 3)])
        naive.append(np.quantile(pool, (0.5, 0.99)))
    lo_f, hi_f = stats.percentile_interval(fast)
    lo_n, hi_n = stats.percentile_interval(np.array(naive))
    assert lo_f == pytest.approx(lo_n, rel=0.03)
    assert hi_f == pytest.approx(hi_n, rel=0.03)


def test_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        stats.order_stat_ranks(0, 0.5)
    with pytest.raises(ValueError):
        stats.bootstrap_draws([], np.median)
    with pytest.raises(ValueError):
        stats.two_level_quantile_draws([[], []], (0.5,))


def test_log_t_interval_against_hand_worked_numbers() -> None:
    # per-process medians 1, 2, 4 ms: logs 0, ln2, 2 ln2 -> mean ln2 (center 2), sd ln2; t(2, 0.975) = 4.302653
    got = stats.log_t_interval([1.0, 2.0, 4.0])
    half = 4.302653 * math.log(2) / math.sqrt(3)
    assert got.center == pytest.approx(2.0)
    assert (got.low, got.high) == pytest.approx((2 * math.exp(-half), 2 * math.exp(half)), rel=1e-6)
    rerun = 4.302653 * math.log(2) * math.sqrt(2 / 3)
    assert (got.rerun_low, got.rerun_high) == pytest.approx((2 * math.exp(-rerun), 2 * math.exp(rerun)), rel=1e-6)
    assert got.n == 3 and got.sd == pytest.approx(math.log(2))
    assert got.half_width == pytest.approx(math.exp(half) - 1)


def test_log_t_interval_of_equal_values_is_a_point_and_needs_two() -> None:
    got = stats.log_t_interval([1.5, 1.5, 1.5, 1.5])
    assert (got.low, got.center, got.high) == pytest.approx((1.5, 1.5, 1.5))
    with pytest.raises(ValueError):
        stats.log_t_interval([1.0])


def test_processes_needed_for_a_target() -> None:
    # sd of logs 0.02, ±3%: n=2 gives 12.706*0.02/1.414 = 0.18 (too wide); n=3: 4.303*0.02/1.732 = 0.0497;
    # n=4: 3.182*0.02/2 = 0.0318; n=5: 2.776*0.02/2.236 = 0.0248 <= ln(1.03) = 0.0296
    assert stats.processes_needed(0.02, 0.03) == 5
    assert stats.processes_needed(0.0, 0.03) == 2
    assert stats.processes_needed(5.0, 0.03) is None


def test_log_prediction_interval_against_hand_worked_numbers() -> None:
    # runs 1, 2, 4: mean ln2, sd ln2, t(2) = 4.302653, sqrt(1 + 1/3)
    lo, hi = stats.log_prediction_interval([1.0, 2.0, 4.0])
    half = 4.302653 * math.log(2) * math.sqrt(4 / 3)
    assert (lo, hi) == pytest.approx((2 * math.exp(-half), 2 * math.exp(half)), rel=1e-6)

def test_presorted_path_gives_the_hand_worked_numbers() -> None:
    """aggregate passes the already-sorted pooled sample (`presorted=True`): same numbers as above."""
    with_outlier = np.array([*range(1, 11), 100], dtype=np.float64)
    assert stats.iqr(with_outlier, presorted=True) == pytest.approx(5.0)
    assert stats.tukey_fences(with_outlier, presorted=True) == pytest.approx((-4.0, 16.0))
    assert stats.tukey_outliers(with_outlier, presorted=True) == 1
    # [1, 2, 3, 4, 5, 8.5]: q1 at position 1.25 = 2.25, q3 at 3.75 = 4.75, IQR 2.5, upper fence
    # 4.75 + 3.75 = 8.5: a value on the fence is not outside; 9 would be.
    assert stats.tukey_outliers(np.array([1, 2, 3, 4, 5, 8.5]), presorted=True) == 0
    assert stats.tukey_outliers(np.array([1, 2, 3, 4, 5, 9.0]), presorted=True) == 1
