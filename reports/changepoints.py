"""Change points in a series of commits, each measured by one or more worker processes.

Method: binary segmentation with a rank scan statistic and a block permutation test.
- Each process's value is ranked among all processes of the segment. For every split between commits
  (at least `min_size` commits each side) the standardised rank sum of the left side (Mann-Whitney) is
  computed; the split with the largest |z| is the candidate.
- Its p-value comes from permuting whole commits (their processes stay together): processes of one run
  move together on a shared machine (TF-NOTES.md, Noise), so the commit, not the process, is the
  exchangeable unit. The same scan over every permutation gives the null distribution of the maximum,
  so the search over splits is accounted for.
- A significant split divides the segment and both halves are searched again (as E-divisive / Apache
  Otava do). A change point is reported when it is significant (p <= alpha) and its size, the ratio of the
  median commit values after/before, is at least
  `min_magnitude`. The size is the ratio of the median commit values after/before (between the
  neighbouring change points; a commit's value is the median of its processes), its interval resamples
  commits on each side (95% percentile bootstrap).

Pure: numbers in, dataclasses out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
FIRST_BATCH = 99  # permutations drawn first
FIRST_EXCEEDANCES = 10  # as many as extreme in the first batch: p >= 0.1, stop there


@dataclass(frozen=True)
class Settings:
    """What counts as a change point: significant at `alpha` and at least `min_magnitude` in size."""

    alpha: float = 0.01
    min_magnitude: float = 0.05
    min_size: int = 3  # commits on each side of a split
    permutations: int = 999
    seed: int = 0
    n_boot: int = 1000

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha {self.alpha!r} out of range: give a level such as 0.01")
        if not 0 <= self.min_magnitude < 10:
            raise ValueError(f"min_magnitude {self.min_magnitude!r} out of range: give a fraction such as 0.05")
        if self.min_size < 1 or self.permutations < 19:
            raise ValueError("min_size must be >= 1 and permutations >= 19")


@dataclass(frozen=True)
class ChangePoint:
    """A step between commit `index - 1` (last before) and commit `index` (first after)."""

    index: int
    p_value: float
    ratio: float  # median commit value after / before
    low: float  # 95% interval of the ratio
    high: float

    @property
    def regression(self) -> bool:
        return self.ratio > 1


def _scan(rank_sums: FloatArray, counts: FloatArray, total: int, lo: int, hi: int) -> FloatArray:
    """|z| of the left rank sum at each split lo..hi (rows: permutations; columns: splits)."""
    left_sum = np.cumsum(rank_sums, axis=-1)[..., lo - 1:hi]
    left_n = np.cumsum(counts, axis=-1)[..., lo - 1:hi]
    expected = left_n * (total + 1) / 2
    var = left_n * (total - left_n) * (total + 1) / 12
    return np.asarray(np.abs(left_sum - expected) / np.sqrt(np.maximum(var, 1e-12)))


def _ranks(values: Sequence[FloatArray]) -> tuple[FloatArray, FloatArray, int]:
    """Per commit: the sum of its processes' mid-ranks among all processes, and its process count."""
    flat = np.concatenate(values)
    order = np.argsort(flat, kind="mergesort")
    ranks = np.empty(len(flat))
    ranks[order] = np.arange(1, len(flat) + 1)
    _, inverse, tie_counts = np.unique(flat, return_inverse=True, return_counts=True)
    if (tie_counts > 1).any():  # mid-ranks for ties
        tied = np.bincount(inverse, weights=ranks)
        ranks = tied[inverse] / tie_counts[inverse]
    bounds = np.cumsum([0, *(len(v) for v in values)])
    sums: FloatArray = np.add.reduceat(ranks, bounds[:-1]).astype(np.float64)
    return sums, np.diff(bounds).astype(np.float64), len(flat)


def best_split(values: Sequence[FloatArray], settings: Settings, rng: np.random.Generator) -> tuple[int, float] | None:
    """The most likely step in these commits and its permutation p-value; None if too short to split.

    Sequential (Besag & Clifford): a first batch of permutations; when already FIRST_EXCEEDANCES of them are as
    extreme as the observed split, its p-value is far above any usable alpha and the rest are not drawn."""
    n, lo = len(values), settings.min_size
    hi = n - settings.min_size
    if hi < lo:
        return None
    sums, counts, total = _ranks(values)
    observed = _scan(sums, counts, total, lo, hi)
    split = int(np.argmax(observed)) + lo
    exceed, drawn = 0, 0
    for batch in (min(FIRST_BATCH, settings.permutations), settings.permutations - min(FIRST_BATCH, settings.permutations)):
        if batch <= 0 or (drawn and exceed >= FIRST_EXCEEDANCES):
            break
        perms = np.argsort(rng.random((batch, n)), axis=1)
        null = _scan(sums[perms], counts[perms], total, lo, hi).max(axis=1)
        exceed += int(np.sum(null >= observed[split - lo] - 1e-9))
        drawn += batch
    return split, (1 + exceed) / (drawn + 1)


def _segments(values: Sequence[FloatArray], settings: Settings, rng: np.random.Generator) -> list[tuple[int, float]]:
    """Significant splits (index, p) over the whole series, by binary segmentation."""
    found: list[tuple[int, float]] = []
    pending = [(0, len(values))]
    while pending:
        start, end = pending.pop()
        best = best_split(values[start:end], settings, rng)
        if best is None or best[1] > settings.alpha:
            continue
        split = start + best[0]
        found.append((split, best[1]))
        pending += [(start, split), (split, end)]
    return sorted(found)


def commit_medians(values: Sequence[FloatArray]) -> FloatArray:
    """Each commit's value: the median of its processes (one vectorised call: commits are many, processes few)."""
    grid = np.full((len(values), max(len(v) for v in values)), np.nan)
    for i, v in enumerate(values):
        grid[i, : len(v)] = v
    return np.asarray(np.nanmedian(grid, axis=1), dtype=np.float64)


def ratio_interval(before: FloatArray, after: FloatArray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """95% interval of median(after)/median(before) of commit values, resampling commits on each side."""
    def draws(side: FloatArray) -> FloatArray:
        return np.asarray(np.median(side[rng.integers(0, len(side), size=(n_boot, len(side)))], axis=1))
    r = draws(after) / draws(before)
    return float(np.quantile(r, 0.025)), float(np.quantile(r, 0.975))


def detect(values: Sequence[Sequence[float]], settings: Settings = Settings()) -> list[ChangePoint]:
    """Change points in a series: `values[i]` holds commit i's per-process values (any unit, > 0)."""
    series = [np.asarray(v, dtype=np.float64) for v in values if len(v)]
    if len(series) != len(values):
        raise ValueError("every commit needs at least one process value")
    rng = np.random.default_rng(settings.seed)
    splits = _segments(series, settings, rng)
    edges = [0, *(s for s, _ in splits), len(series)]
    medians = commit_medians(series)
    out = []
    for k, (split, p_value) in enumerate(splits):
        before, after = medians[edges[k]:split], medians[split:edges[k + 2]]
        ratio = float(np.median(after) / np.median(before))
        if abs(ratio - 1) < settings.min_magnitude:
            continue
        low, high = ratio_interval(before, after, settings.n_boot, rng)
        out.append(ChangePoint(split, p_value, ratio, low, high))
    return out
