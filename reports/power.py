"""The gate's statistics on per-process values: the rank test, Holm's correction across cells, the
smallest slowdown a comparison could detect, and how many processes would detect the threshold.

Pure functions of numbers (numpy/scipy only), checked against hand-worked values in tests/compare.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

FEW_PROCESSES = 3
POWER = 0.8  # for the mde: the smallest slowdown a comparison could have detected
RECOMMEND_POWER = 0.95  # for reps_needed: the repetitions that catch the threshold 19 times in 20
ARE = 3.0 / math.pi  # asymptotic relative efficiency of Mann-Whitney U vs the t-test (normal data)
MAX_REPS = 500


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count in the family)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def rank_tests(baseline: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """One-sided Mann-Whitney U p-values on per-process values: (current slower, current faster)."""
    slower = sps.mannwhitneyu(current, baseline, alternative="greater").pvalue
    faster = sps.mannwhitneyu(current, baseline, alternative="less").pvalue
    return float(slower), float(faster)


def pooled_log_sd(baseline: np.ndarray, current: np.ndarray) -> float:
    """Between-process spread: pooled standard deviation of log per-process values."""
    df = len(baseline) + len(current) - 2
    if df < 1:
        return math.nan
    ss = sum(float(((np.log(v) - np.log(v).mean()) ** 2).sum()) for v in (baseline, current))
    return math.sqrt(ss / df)


def smallest_p(n_b: int, n_c: int) -> float:
    """The smallest one-sided p-value the exact rank test can give with these sizes (no ties)."""
    return 1.0 / math.comb(n_b + n_c, n_b)


def can_reject(n_b: int, n_c: int, level: float) -> bool:
    """Whether the gate's unpaired test can call a cell of n_b baseline and n_c current processes slower (or
    faster) at one-sided `level` at all: both sides have FEW_PROCESSES or more (with fewer the cell is not tested)
    and the exact rank test's smallest p reaches the level. Where it cannot, "not slower" is certain before any
    measurement: 3 against 3 at 0.01 gives p >= 1/20 whatever the numbers."""
    return min(n_b, n_c) >= FEW_PROCESSES and smallest_p(n_b, n_c) <= level


def fewest_processes(level: float) -> int:
    """Fewest processes per side (equal sides) with which `can_reject` holds: 5 at 0.01, 6 at 0.01/4."""
    n = FEW_PROCESSES
    while not can_reject(n, n, level) and n < MAX_REPS:
        n += 1
    return n


def min_detectable_slowdown(log_sd: float, n_b: int, n_c: int, level: float, power: float = POWER) -> float:
    """Smallest slowdown (fraction) detected with `power` at one-sided `level`: inf if unreachable."""
    if not math.isfinite(log_sd) or smallest_p(n_b, n_c) > level:
        return math.inf
    df = max((n_b + n_c) * ARE - 2.0, 1.0)
    quantiles = sps.t.ppf(1.0 - level, df) + sps.t.ppf(power, df)
    delta = float(quantiles) * log_sd * math.sqrt((1.0 / n_b + 1.0 / n_c) / ARE)
    return math.expm1(delta)


def repetitions_needed(log_sd: float, threshold: float, level: float, power: float = RECOMMEND_POWER) -> int | None:
    """Processes per side (equal sides) that detect the threshold with `power`; None if > MAX_REPS.

    Never fewer than `stray_proof_repetitions(level)`: the power formula assumes normal noise, but on
    a shared machine one disturbed process now and then lands beyond every process of the other
    side, and with few processes that one process alone makes the rank test miss its level (with
    6 a side at alpha 0.01, a +21% slowdown was caught 88% of the time, not the 95% the formula
    promised; benchmarks/results/gate_error_rates.txt).
    """
    if not math.isfinite(log_sd):
        return None
    for n in range(stray_proof_repetitions(level), MAX_REPS + 1):
        if min_detectable_slowdown(log_sd, n, n, level, power) <= threshold:
            return n
    return None


@functools.lru_cache(maxsize=64)
def stray_proof_repetitions(level: float) -> int:
    """Fewest processes per side for which the exact one-sided rank test still reaches `level`
    when one process lies beyond all of the other side's (U = n): 8 at 0.01, 10 at 0.01/6."""
    for n in range(FEW_PROCESSES, MAX_REPS + 1):
        u = sps.mannwhitneyu(np.arange(n) + n + 0.5, np.r_[np.arange(n - 1), 3.0 * n], alternative="greater",
                             method="exact" if n <= 40 else "asymptotic")
        if u.pvalue <= level:
            return n
    return MAX_REPS


# ---- paired mode: baseline and current processes matched round by round ---------------------------


def signed_rank_tests(log_ratios: np.ndarray) -> tuple[float, float]:
    """One-sided Wilcoxon signed-rank p-values on per-pair log ratios (current/baseline): (slower, faster).

    Exact for up to 50 pairs without ties (scipy's default); pairs with a zero difference are dropped.
    """
    d = np.asarray(log_ratios, dtype=np.float64)
    d = d[d != 0.0]
    if len(d) == 0:
        return 1.0, 1.0
    slower = sps.wilcoxon(d, alternative="greater").pvalue
    faster = sps.wilcoxon(d, alternative="less").pvalue
    return float(slower), float(faster)


def smallest_p_paired(n: int) -> float:
    """The smallest one-sided p-value the exact signed-rank test can give with n pairs: 1/2^n."""
    return 0.5**n


def can_reject_paired(n: int, level: float) -> bool:
    """Whether the paired gate can call a cell of n pairs slower (or faster) at one-sided `level` at all: n >=
    FEW_PROCESSES and the exact signed-rank test's smallest p, 1/2^n, reaches the level (7 pairs at 0.01)."""
    return n >= FEW_PROCESSES and smallest_p_paired(n) <= level


def min_detectable_slowdown_paired(log_sd: float, n: int, level: float, power: float = POWER) -> float:
    """Smallest slowdown detected with `power` at one-sided `level` by the signed-rank test on n pairs whose
    log ratios spread with `log_sd`: a one-sample t computation with n scaled by the test's efficiency 3/pi."""
    if not math.isfinite(log_sd) or n < 2 or smallest_p_paired(n) > level:
        return math.inf
    df = max(n * ARE - 1.0, 1.0)
    quantiles = sps.t.ppf(1.0 - level, df) + sps.t.ppf(power, df)
    return math.expm1(float(quantiles) * log_sd / math.sqrt(n * ARE))


def pairs_needed(log_sd: float, threshold: float, level: float, power: float = RECOMMEND_POWER) -> int | None:
    """Pairs (rounds x processes) that detect the threshold with `power`; None if > MAX_REPS. Never fewer
    than `stray_proof_pairs(level)`, for the same reason as `repetitions_needed`."""
    if not math.isfinite(log_sd):
        return None
    for n in range(stray_proof_pairs(level), MAX_REPS + 1):
        if min_detectable_slowdown_paired(log_sd, n, level, power) <= threshold:
            return n
    return None


@functools.lru_cache(maxsize=64)
def stray_proof_pairs(level: float) -> int:
    """Fewest pairs for which the exact signed-rank test still reaches `level` when the pair with the
    largest difference points the other way (one disturbed process): 14 at 0.01, 17 at 0.01/6."""
    for n in range(FEW_PROCESSES, MAX_REPS + 1):
        d = np.r_[np.arange(1.0, n), -float(n)]
        if sps.wilcoxon(d, alternative="greater", method="exact" if n <= 50 else "approx").pvalue <= level:
            return n
    return MAX_REPS
