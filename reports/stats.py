"""Statistics over raw latency samples: percentiles, intervals, spread, outliers.

Everything here takes raw samples (or per-process groups of raw samples, or per-process values) and computes from
them; nothing averages percentiles: every percentile is recomputed from the raw samples.

Which interval where:
- A cell measured in several worker processes (repetitions), and a ratio of two such cells: the worker process is
  the unit of evidence, because a median moves far more between fresh processes than inside one. `log_t_interval`
  is a Student-t interval on the logs of one value per process (its median or p99; for a ratio, the per-process
  paired ratios), small-sample correct where a bootstrap over three values is not. A report shows a cell's interval
  with its width placed around the pooled percentile (reports.aggregate); a ratio's is `ratio_interval`, placed
  around the ratio shown, and the same `RatioInterval` says whether the ratio differs from 1, so an interval shown
  and the word "significant" cannot disagree.
- A cell measured in one worker process: the exact distribution-free order-statistic interval (`order_stat_ci`),
  one sort and no resampling. A ratio of two one-process cells: the percentile interval of the ratio of bootstrap
  draws of each median (`order_stat_bootstrap_draws`, exact and cheap; `ratio_from_draws`), as a
  `within_process_ratio`. Both cover only the noise inside that one process, so such a ratio is never significant.
- The gate's unpaired comparison (reports.compare): `quantile_draws` / `two_level_quantile_draws`, a bootstrap of
  the pooled quantile that resamples processes first and then samples within the chosen processes, for the interval
  of the ratio of two pooled quantiles (its verdict comes from the rank test on per-process values, reports.power).
- Any statistic of one sample: `bootstrap_draws`, a vectorised, seeded resampling bootstrap: the naive reference
  the cheaper methods are checked against.

Percentiles use linear interpolation between order statistics (numpy's default, "type 7").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _sps

from reports.compare_settings import DEFAULT_SEED

FloatArray = NDArray[np.float64]

DEFAULT_BOOT = 1000
DEFAULT_BINS = 128


def quantiles_sorted(sorted_x: NDArray[np.floating] | NDArray[np.integer], qs: ArrayLike) -> FloatArray:
    """Quantiles (0..1) of an already sorted 1-D array, linear interpolation (numpy "linear").

    Sorting once and interpolating here is what makes many percentiles per cell cheap.
    """
    n = len(sorted_x)
    q = np.asarray(qs, dtype=np.float64)
    if n == 0:
        return np.full(q.shape, np.nan)
    pos = q * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    xs = np.asarray(sorted_x, dtype=np.float64)
    return xs[lo] + (xs[hi] - xs[lo]) * frac


def percentiles(x: ArrayLike, ps: Sequence[float]) -> FloatArray:
    """Percentiles (0..100) of raw samples."""
    return quantiles_sorted(np.sort(np.asarray(x, dtype=np.float64)), np.asarray(ps) / 100.0)


def _quartiles(x: ArrayLike, presorted: bool) -> tuple[float, float]:
    """(p25, p75); `presorted` skips the sort when the caller already holds the sorted sample."""
    a = np.asarray(x, dtype=np.float64)
    q1, q3 = quantiles_sorted(a if presorted else np.sort(a), (0.25, 0.75))
    return float(q1), float(q3)


def iqr(x: ArrayLike, presorted: bool = False) -> float:
    """Interquartile range, p75 - p25."""
    q1, q3 = _quartiles(x, presorted)
    return q3 - q1


def cv(x: ArrayLike) -> float:
    """Coefficient of variation: sample standard deviation (ddof=1) over the mean."""
    a = np.asarray(x, dtype=np.float64)
    if len(a) < 2 or a.mean() == 0:
        return float("nan")
    return float(a.std(ddof=1) / a.mean())


def tukey_fences(x: ArrayLike, k: float = 1.5, presorted: bool = False) -> tuple[float, float]:
    """Tukey's fences: [Q1 - k*IQR, Q3 + k*IQR]."""
    q1, q3 = _quartiles(x, presorted)
    spread = q3 - q1
    return q1 - k * spread, q3 + k * spread


def tukey_outliers(x: ArrayLike, k: float = 1.5, presorted: bool = False) -> int:
    """How many samples lie outside Tukey's fences (two binary searches when `presorted`)."""
    a = np.asarray(x, dtype=np.float64)
    lo, hi = tukey_fences(a, k, presorted)
    if presorted:
        return int(np.searchsorted(a, lo, side="left") + len(a) - np.searchsorted(a, hi, side="right"))
    return int(np.count_nonzero((a < lo) | (a > hi)))


@dataclass(frozen=True)
class OrderStatInterval:
    """An exact distribution-free interval for a quantile: [x(lower_rank), x(upper_rank)].

    Ranks are 1-based. `coverage` is the exact probability that the interval holds the true
    quantile, at least the confidence asked for unless `clamped` (the sample is too small to reach
    it, so the interval was widened to the sample's range and covers less).
    """

    low: float
    high: float
    lower_rank: int
    upper_rank: int
    coverage: float
    clamped: bool


def order_stat_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int, float, bool]:
    """1-based ranks (l, u) with P(x(l) <= true q-quantile < x(u)) >= confidence.

    The number of samples below the true quantile is Binomial(n, q), so the coverage of
    [x(l), x(u)] is F(u-1) - F(l-1) with F the binomial CDF; l and u are its alpha/2 and
    1-alpha/2 quantiles (plus one for u), which makes the interval exact and conservative.
    """
    if n < 1:
        raise ValueError("order-statistic interval of an empty sample")
    alpha = 1.0 - confidence
    lower = int(_sps.binom.ppf(alpha / 2, n, q))
    upper = int(_sps.binom.ppf(1 - alpha / 2, n, q)) + 1
    clamped = lower < 1 or upper > n
    lower, upper = max(lower, 1), min(upper, n)
    coverage = float(_sps.binom.cdf(upper - 1, n, q) - _sps.binom.cdf(lower - 1, n, q))
    return lower, upper, coverage, clamped


def order_stat_ci(sorted_x: NDArray[np.floating] | NDArray[np.integer], q: float, confidence: float = 0.95) -> OrderStatInterval:
    """Exact order-statistic interval for the q-quantile of an already sorted sample."""
    lower, upper, coverage, clamped = order_stat_ranks(len(sorted_x), q, confidence)
    return OrderStatInterval(
        low=float(sorted_x[lower - 1]),
        high=float(sorted_x[upper - 1]),
        lower_rank=lower,
        upper_rank=upper,
        coverage=coverage,
        clamped=clamped,
    )


def bootstrap_draws(
    x: ArrayLike,
    statistic: Callable[[FloatArray], FloatArray],
    n_boot: int = DEFAULT_BOOT,
    seed: int = DEFAULT_SEED,
    chunk_values: int = 4_000_000,
) -> FloatArray:
    """The bootstrap distribution of `statistic`: n_boot values, one per resample."""
    a = np.asarray(x, dtype=np.float64)
    n = len(a)
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    rng = np.random.default_rng(seed)
    rows = max(1, chunk_values // n)
    out = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(a[idx])
    return out


def _bin_edges(pooled_sorted: FloatArray, n_bins: int) -> FloatArray:
    """Bin edges at pooled-sample quantiles: half of them evenly spaced in rank, a quarter over the
    top 10% and a quarter over the top 1%, so that p99 is resolved as finely as the median."""
    levels = np.concatenate(
        (
            np.linspace(0.0, 1.0, n_bins // 2 + 1),
            np.linspace(0.9, 1.0, n_bins // 4 + 1),
            np.linspace(0.99, 1.0, n_bins // 4 + 1),
        )
    )
    return np.unique(quantiles_sorted(pooled_sorted, np.unique(levels)))


def _binned_counts(groups: Sequence[FloatArray], edges: FloatArray) -> FloatArray:
    """(processes, 2 * len(edges) - 1) counts over alternating bins: even bin 2i holds the samples
    equal to edges[i] (a point mass: ties, coarse timers), odd bin 2i+1 those strictly between
    edges[i] and edges[i+1]."""
    n_bins = 2 * len(edges) - 1
    counts = np.empty((len(groups), n_bins))
    for row, g in enumerate(groups):
        idx = np.searchsorted(edges, g, side="left")  # edges[idx-1] < g <= edges[idx]
        on_edge = edges[np.minimum(idx, len(edges) - 1)] == g
        counts[row] = np.bincount(np.where(on_edge, 2 * idx, 2 * idx - 1), minlength=n_bins)
    return counts


def _bin_bounds(edges: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Low and high value of each alternating bin (see `_binned_counts`)."""
    low = np.repeat(edges, 2)[:-1]
    high = np.repeat(edges, 2)[1:]
    return low, high


def _quantiles_from_counts(counts: FloatArray, low: FloatArray, high: FloatArray, qs: Sequence[float]) -> FloatArray:
    """Quantiles of binned samples; linear inside an open bin, exact at a point bin (low == high).
    counts: (draws, bins) -> (draws, len(qs))."""
    cum = np.cumsum(counts, axis=1)
    total = cum[:, -1]
    rows = np.arange(counts.shape[0])
    out = np.empty((counts.shape[0], len(qs)))
    for j, q in enumerate(qs):
        target = q * total
        b = np.minimum((cum < target[:, None]).sum(axis=1), counts.shape[1] - 1)
        before = np.where(b > 0, cum[rows, np.maximum(b - 1, 0)], 0.0)
        inside = counts[rows, b]
        frac = np.divide(target - before, inside, out=np.full(len(b), 0.5), where=inside > 0)
        out[:, j] = low[b] + (high[b] - low[b]) * np.clip(frac, 0.0, 1.0)
    return out


def two_level_quantile_draws(
    groups: Sequence[ArrayLike],
    qs: Sequence[float],
    n_boot: int = DEFAULT_BOOT,
    seed: int = DEFAULT_SEED,
    n_bins: int = DEFAULT_BINS,
) -> FloatArray:
    """Bootstrap draws (n_boot, len(qs)) of pooled quantiles, resampling processes then samples.

    Level 1 picks as many processes as there are, with replacement. Level 2 resamples the samples
    of each picked process; it is done as a Poisson bootstrap on a fine histogram whose edges are
    quantiles of the pooled samples (each bin count is redrawn as Poisson(count); tied values keep
    their own zero-width bins, so they are not smeared), so a sum over picked processes is
    one Poisson draw per bin and the whole bootstrap is one (n_boot, bins) array, far cheaper than
    resampling every raw sample per process per draw (benchmarks/results/reports_bench.txt), at a
    resolution of about 2/n_bins of the pooled sample's ranks in the body and 0.04/n_bins in the
    top 1%. With one group this is an ordinary within-process bootstrap (but see
    `order_stat_bootstrap_draws`, exact and cheaper still).
    """
    arrays = [a for a in (np.asarray(g, dtype=np.float64) for g in groups) if len(a)]
    if not arrays:
        raise ValueError("two-level bootstrap of no samples")
    pooled = np.sort(np.concatenate(arrays))
    edges = _bin_edges(pooled, n_bins)
    counts = _binned_counts(arrays, edges)
    low, high = _bin_bounds(edges)
    used = counts.sum(axis=0) > 0  # bins empty in every process stay empty: skip them
    counts, low, high = counts[:, used], low[used], high[used]
    rng = np.random.default_rng(seed)
    n_groups = len(arrays)
    picks = rng.integers(0, n_groups, size=(n_boot, n_groups))
    weights = np.zeros((n_boot, n_groups))
    np.add.at(weights, (np.repeat(np.arange(n_boot), n_groups), picks.ravel()), 1.0)
    lam = weights @ counts
    resampled = rng.poisson(lam).astype(np.float64)
    return _quantiles_from_counts(resampled, low, high, qs)


def percentile_interval(draws: FloatArray, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Percentile-method interval along axis 0 of bootstrap draws."""
    alpha = 1.0 - confidence
    lo, hi = np.quantile(draws, (alpha / 2, 1 - alpha / 2), axis=0)
    return np.asarray(lo), np.asarray(hi)


def order_stat_bootstrap_draws(
    sorted_x: NDArray[np.floating] | NDArray[np.integer],
    q: float,
    n_boot: int = DEFAULT_BOOT,
    seed: int = DEFAULT_SEED,
) -> FloatArray:
    """Bootstrap draws of one sample's q-quantile, drawn from their exact distribution.

    The quantile of a resample is (to within interpolation) its k-th smallest value,
    k = floor(q (n - 1)) + 1. That value is <= x(j) exactly when at least k of the n resampled
    values are <= x(j), which happens with probability P(Binomial(n, j/n) >= k). Inverting that
    CDF gives the same distribution as resampling n values n_boot times, at the cost of one pass
    over n instead of n_boot x n.
    """
    n = len(sorted_x)
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    k = int(np.floor(q * (n - 1))) + 1
    cdf = _sps.binom.sf(k - 1, n, np.arange(1, n + 1) / n)
    u = np.random.default_rng(seed).random(n_boot)
    idx = np.minimum(np.searchsorted(cdf, u, side="left"), n - 1)
    return np.asarray(sorted_x, dtype=np.float64)[idx]


def quantile_draws(groups: Sequence[ArrayLike], q: float, n_boot: int = DEFAULT_BOOT, seed: int = DEFAULT_SEED) -> FloatArray:
    """Bootstrap draws of the pooled q-quantile of one or more processes' samples.

    Several processes: `two_level_quantile_draws`. One process: `order_stat_bootstrap_draws`.
    """
    arrays = [a for a in (np.asarray(g, dtype=np.float64) for g in groups) if len(a)]
    if len(arrays) == 1:
        return order_stat_bootstrap_draws(np.sort(arrays[0]), q, n_boot, seed)
    return two_level_quantile_draws(arrays, (q,), n_boot, seed)[:, 0]


def ratio_from_draws(
    point: float, numerator_draws: FloatArray, denominator_draws: FloatArray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(point, low, high): percentile interval of numerator/denominator over paired draws."""
    lo, hi = percentile_interval(numerator_draws / denominator_draws, confidence)
    return point, float(lo), float(hi)


# ---- between-process intervals: the process is the unit of evidence -------------------------------


@dataclass(frozen=True)
class LogInterval:
    """An interval computed on the log scale from per-process values (medians, or paired ratios).

    `center` is exp(mean log); [low, high] is exp(mean ± t(n-1)·s/√n): a Student-t interval for the
    typical process's value, small-sample correct (no bootstrap over three values). `rerun_low/high`
    is the prediction interval for the estimate of a new run of `n` processes: exp(mean ± t·s·√(2/n)),
    about √2 wider, what a rerun is expected to land in (its own noise adds to ours). `sd` is the
    standard deviation of the logs (ddof=1)."""

    center: float
    low: float
    high: float
    rerun_low: float
    rerun_high: float
    n: int
    sd: float

    @property
    def half_width(self) -> float:
        """The larger half of [low, high] as a fraction of the center (0.03 = ±3%)."""
        return max(self.high / self.center - 1.0, 1.0 - self.low / self.center)


def _log_t(values: ArrayLike, confidence: float) -> tuple[float, float, int, float, float]:
    """(mean, sd, n, half, rerun half) on the log scale: the t interval's and the rerun interval's half-widths."""
    logs = np.log(np.asarray(values, dtype=np.float64))
    n = len(logs)
    if n < 2:
        raise ValueError("a between-process interval needs two or more processes")
    mean, sd = float(logs.mean()), float(logs.std(ddof=1))
    t = float(_sps.t.ppf(0.5 + confidence / 2, n - 1))
    return mean, sd, n, t * sd / float(np.sqrt(n)), t * sd * float(np.sqrt(2.0 / n))


def log_t_interval(values: ArrayLike, confidence: float = 0.95) -> LogInterval:
    """Student-t interval on the logs of `values` (each > 0); needs two or more."""
    mean, sd, n, half, rerun = _log_t(values, confidence)
    return LogInterval(float(np.exp(mean)), float(np.exp(mean - half)), float(np.exp(mean + half)),
                       float(np.exp(mean - rerun)), float(np.exp(mean + rerun)), n, sd)


def excludes_one(low: float, high: float) -> bool:
    """Whether [low, high] lies wholly above or wholly below 1: the one rule for "this ratio differs from 1"."""
    return bool(low > 1.0 or high < 1.0)


@dataclass(frozen=True)
class RatioInterval:
    """A ratio as a report shows it: the point, its interval, the rerun interval and whether it is significant.

    Every field comes from the same numbers: `low <= point <= high` always, and `significant` is read off
    [low, high] itself (it lies wholly above or below 1) where the interval is between processes (`n >= 2`). A
    within-process interval (`n < 2`) says nothing about the next run, so it is never significant, whatever it
    excludes; the reports label it as such."""

    point: float
    low: float
    high: float
    rerun_low: float
    rerun_high: float
    n: int
    sd: float

    @property
    def between_processes(self) -> bool:
        return self.n >= 2

    @property
    def significant(self) -> bool:
        return self.between_processes and excludes_one(self.low, self.high)


def t_interval_around(point: float, values: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(low, high, rerun low, rerun high): the Student-t interval on the logs of per-process `values` (two or more)
    and its rerun interval, as wide as `log_t_interval` makes them, placed around `point`: point·exp(∓h).

    `point` is what a report shows (a pooled percentile, a ratio of pooled medians); the values say how much it
    moves between processes. Computed as point·exp(-h) with h >= 0, low <= point <= high holds exactly, not just to
    within rounding."""
    _, _, _, half, rerun = _log_t(values, confidence)
    p = float(point)
    return p * float(np.exp(-half)), p * float(np.exp(half)), p * float(np.exp(-rerun)), p * float(np.exp(rerun))


def ratio_interval(point: float, ratios: ArrayLike, confidence: float = 0.95) -> RatioInterval:
    """The interval of a ratio shown as `point` (e.g. the ratio of two pooled medians): the Student-t interval of
    its per-process paired `ratios` (two or more) placed around the point (`t_interval_around`).

    The point is what every table shows; the paired ratios say how much such a ratio moves between processes. Their
    own t interval is centred on their geometric mean, which is not the point: shown around their mean it could
    exclude 1 while the point sat outside it, or the reverse. Placed around the point and tested as placed, the one
    interval a reader sees is the one that decides."""
    low, high, rerun_low, rerun_high = t_interval_around(point, ratios, confidence)
    _, sd, n, _, _ = _log_t(ratios, confidence)
    return RatioInterval(float(point), low, high, rerun_low, rerun_high, n, sd)


def within_process_ratio(point: float, low: float, high: float, pairs: int = 1) -> RatioInterval:
    """A ratio whose interval covers only the noise inside one worker process (`ratio_from_draws`): never
    significant. The interval is widened to hold the point where the bootstrap's percentiles miss it (a median
    interpolated between two order statistics can lie outside every draw). `pairs`: 0 or 1 paired processes."""
    if pairs >= 2:
        raise ValueError("two or more paired processes give a between-process interval: use ratio_interval")
    p = float(point)
    known = bool(np.isfinite(low) and np.isfinite(high))
    lo, hi = (min(float(low), p), max(float(high), p)) if known else (float("nan"), float("nan"))
    return RatioInterval(p, lo, hi, float("nan"), float("nan"), pairs, float("nan"))


def processes_needed(sd: float, target: float, confidence: float = 0.95, cap: int = 200) -> int | None:
    """Fewest processes n (>= 2) whose t interval half-width, at this spread, is within ±target; None if > cap."""
    if not np.isfinite(sd):
        return None
    goal = np.log1p(target)
    for n in range(2, cap + 1):
        if float(_sps.t.ppf(0.5 + confidence / 2, n - 1)) * sd / np.sqrt(n) <= goal:
            return n
    return None


def log_prediction_interval(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """Where one more value (a next run's estimate) is expected on the log scale: exp(mean ± t·s·√(1 + 1/n))."""
    logs = np.log(np.asarray(values, dtype=np.float64))
    n = len(logs)
    if n < 2:
        raise ValueError("a prediction interval needs two or more values")
    half = float(_sps.t.ppf(0.5 + confidence / 2, n - 1)) * float(logs.std(ddof=1)) * np.sqrt(1 + 1 / n)
    return float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half))
