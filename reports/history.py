"""History over commits: series, their change points, the check's verdict, the run-to-run spread.

Pure (STYLE.md, pure core): the history database (bench.results.history) reads rows and builds `Series`;
everything here takes them and returns data or text. The dashboard page is in reports/history_html.py.

A series is one cell (its identity) on one machine for one metric, over the commits of a branch; each
commit holds the per-process values of every run that measured it (the worker process is the unit of
evidence). A series never mixes machines.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from reports import changepoints
from reports.aggregate import threads_text
from reports.changepoints import ChangePoint
from reports.escape import md_text
from reports.tables import md_table

DEFAULT_LAST = 10  # `history check` looks at change points in the newest N commits
MIN_SPREAD_RUNS = 5


@dataclass(frozen=True)
class Point:
    """One commit of a series: the per-process values (ns) of every run of it."""

    commit: str
    values: tuple[float, ...]
    when: str = ""
    runs: int = 1
    dirty: bool = False

    @cached_property
    def median(self) -> float:
        return float(statistics.median(self.values))  # a few values: faster than numpy's


@dataclass(frozen=True)
class Series:
    machine: str  # machine id (a fingerprint hash)
    host: str
    identity: Mapping[str, Any]
    metric: str
    branch: str | None
    points: tuple[Point, ...] = ()

    @property
    def label(self) -> str:
        i = self.identity
        intra, inter = int(i.get("intra_op_threads") or 0), int(i.get("inter_op_threads") or 0)
        threads = f" · {threads_text(intra, inter)}" if intra or inter else ""
        extra = "".join(f" · {i[k]}" for k in ("env_toggles", "affinity", "python") if i.get(k))
        return f"{i.get('model')} · {i.get('variant')} · {i.get('device')} · batch {i.get('batch_size')}{threads}{extra} · {self.metric}"


@dataclass(frozen=True)
class Finding:
    """A change point of one series, with the commits on either side of it."""

    series: Series
    change: ChangePoint
    before: str  # last commit before the step
    after: str  # first commit after it

    @property
    def kind(self) -> str:
        return "regression" if self.change.regression else "improvement"


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    failing: list[Finding] = field(default_factory=list)  # newest change in the last N commits is a regression
    series: int = 0
    last: int = DEFAULT_LAST

    @property
    def ok(self) -> bool:
        return not self.failing


def findings(series: Series, settings: changepoints.Settings) -> list[Finding]:
    """The change points of one series (see reports.changepoints)."""
    points = series.points
    found = changepoints.detect([p.values for p in points], settings)
    return [Finding(series, c, points[c.index - 1].commit, points[c.index].commit) for c in found]


def check(all_series: Sequence[Series], settings: changepoints.Settings, last: int = DEFAULT_LAST) -> CheckResult:
    """Change points of every series; it fails where the newest one within the last `last` commits of its
    series is a regression (its size is already at least the minimum magnitude)."""
    result = CheckResult(series=len(all_series), last=last)
    for s in all_series:
        found = findings(s, settings)
        result.findings += found
        recent = [f for f in found if f.change.index >= len(s.points) - last]
        if recent and recent[-1].change.regression:
            result.failing.append(recent[-1])
    return result


# ------------------------------------------------------------------ text


def _pct(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f}%"


def describe(f: Finding) -> str:
    c = f.change
    return (f"{f.kind} {_pct(c.ratio)} (95% interval {_pct(c.low)} to {_pct(c.high)}, p={c.p_value:.3g}) "
            f"between {f.before[:12]} and {f.after[:12]}")


def markdown(result: CheckResult, settings: changepoints.Settings) -> str:
    """The check's summary, like `compare`'s: a verdict line, then a table of change points."""
    verdict = (f"**FAIL**: {len(result.failing)} series regressed in the last {result.last} commits"
               if result.failing else f"**OK**: no regression in the last {result.last} commits")
    lines = ["## infer-bench history check", "", verdict, "",
             f"{result.series} series; a change point is significant at p <= {settings.alpha:g} (permutation test over "
             f"commits) and at least {settings.min_magnitude:.0%} in size.", ""]
    if not result.findings:
        return "\n".join([*lines, "No change points."]) + "\n"
    failing = {id(f) for f in result.failing}
    rows = []
    for f in sorted(result.findings, key=lambda f: (id(f) not in failing, -f.change.ratio)):
        c = f.change
        flag = "**new regression**" if id(f) in failing else md_text(f.kind)
        rows.append([md_text(f.series.label), md_text(f.series.host), f"`{f.before[:10]}`..`{f.after[:10]}`",
                     _pct(c.ratio), f"{_pct(c.low)} to {_pct(c.high)}", f"{c.p_value:.3g}", flag])
    lines.append(md_table(["series", "machine", "commits", "change", "95% interval", "p", ""], rows, "lllrrrl"))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ run-to-run spread


@dataclass(frozen=True)
class Spread:
    """How much runs of one cell have varied on one machine: the 5th-95th percentile of the runs' values
    relative to their median, and the largest over the smallest."""

    runs: int
    low: float  # e.g. 0.88: the 5th percentile run is 12% below the median run
    high: float
    max_over_min: float
    source: str = ""

    def text(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return (f"runs of this cell on this machine varied {_pct(self.low)} to {_pct(self.high)} around their median "
                f"(5th-95th percentile of {self.runs} runs; slowest/fastest {self.max_over_min:.2f}x){where}")


def run_to_run_spread(run_values: Sequence[float], source: str = "", min_runs: int = MIN_SPREAD_RUNS) -> Spread | None:
    """The run-to-run spread of one cell on one machine from each past run's value (e.g. the median of its
    processes' medians); None with fewer than `min_runs` runs, where a spread would say little."""
    x = np.asarray([v for v in run_values if v is not None and math.isfinite(v) and v > 0], dtype=np.float64)
    if len(x) < min_runs:
        return None
    median = float(np.median(x))
    p5, p95 = np.percentile(x, (5, 95))
    return Spread(len(x), float(p5) / median, float(p95) / median, float(x.max() / x.min()), source)


def run_values(points: Sequence[Point]) -> list[float]:
    """A series' value per commit (median of its processes), for run_to_run_spread."""
    return [p.median for p in points]
