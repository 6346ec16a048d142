"""The gate: a comparison (reports.compare.Comparison) in, a verdict and an exit code out.

Compare, gate, exit are three steps: this module decides, it neither renders nor
exits. Each rule is a small class that looks at the comparison and returns a finding or None; a
finding is a problem (exit 1), an inconclusive result (exit 3, only under --strict) or a
warning (no effect on the exit code, but always shown: a gate that could not have seen a
slowdown of the threshold's size says so instead of passing silently).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from reports.compare import Comparison
from reports.power import MAX_REPS, fewest_processes

EXIT_OK, EXIT_PROBLEM, EXIT_INCONCLUSIVE = 0, 1, 3

Severity = Literal["problem", "inconclusive", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str


@dataclass(frozen=True)
class GateResult:
    verdict: Literal["pass", "fail", "inconclusive"]
    exit_code: int
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def messages(self, severity: Severity) -> list[str]:
        return [f.message for f in self.findings if f.severity == severity]


class Rule(Protocol):
    def check(self, comparison: Comparison) -> Finding | None: ...


def _cells(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class VerdictRule:
    """Any cell with this verdict is a finding of the given severity."""

    verdict: str
    severity: Severity
    text: str  # e.g. "got slower"

    def check(self, comparison: Comparison) -> Finding | None:
        n = int((comparison.frame["verdict"] == self.verdict).sum())
        return Finding(self.severity, f"{_cells(n)} {self.text}") if n else None


class NothingCompared:
    """An empty comparison is never a pass."""

    def check(self, comparison: Comparison) -> Finding | None:
        return Finding("problem", "no cells were compared") if comparison.frame.empty else None


class BlindSpots:
    """Measured cells whose minimum detectable slowdown is above the threshold."""

    def check(self, comparison: Comparison) -> Finding | None:
        threshold, frame = comparison.threshold, comparison.frame
        measured = frame[frame["mde"].notna()]
        blind = measured[measured["mde"] > threshold]
        if blind.empty:
            return None
        return Finding("warning", f"{_cells(len(blind))} of {len(measured)} could not have detected a "
                       f"{threshold:.0%} slowdown; {repetitions_advice(comparison)}")


class FewProcesses:
    """Cells where the between-process variation was not sampled."""

    def check(self, comparison: Comparison) -> Finding | None:
        frame = comparison.frame
        few = int((frame["mde"].notna() & ~frame["tested"].astype(bool)).sum())
        if not few:
            return None
        return Finding("warning", f"{_cells(few)} had fewer than {comparison.few_processes} processes on a side: "
                       "between-process variation was not sampled, only changes beyond "
                       f"{comparison.noise_factor:g}x are called")


def repetitions_advice(comparison: Comparison) -> str:
    """How many repetitions per side would let every measured cell see the threshold."""
    frame = comparison.frame
    needed = frame.loc[frame["mde"].notna(), "reps_needed"]
    if needed.empty:  # nothing measured on both sides: at least as many as let the rank test reject at all
        level = comparison.level_per_cell if math.isfinite(comparison.level_per_cell) else comparison.settings.alpha
        return f"run at least {fewest_processes(level)} repetitions per side"
    if needed.isna().any():
        return (f"more than {MAX_REPS} repetitions per side would be needed: the between-process spread "
                "is too large (or unknown) here")
    t, power = comparison.threshold, comparison.recommend_power
    return f"{int(needed.max())} repetitions per side would catch a {t:.0%} slowdown {power:.0%} of the time"


class NotAlternated:
    """Paired rounds whose two runs were not made one after the other: pairing them cancels no drift."""

    def check(self, comparison: Comparison) -> Finding | None:
        if not comparison.settings.paired or comparison.alternated:
            return None
        return Finding("warning", "paired mode, but by their start times the rounds' runs were not made one after "
                       "the other (A B A B): pairing them cancels no drift between runs")


class PairsRunsApart:
    """Paired mode always pairs processes of two different runs: the pairs of one round share that round's drift,
    and the signed-rank test counts them as independent (measured: benchmarks/results/gate_error_rates.txt)."""

    def check(self, comparison: Comparison) -> Finding | None:
        if not comparison.settings.paired:
            return None
        return Finding("warning", "paired rounds are whole runs apart: a round's pairs share its drift and count as "
                       "independent; measured here on alternated whole runs, paired mode made more wrong calls on "
                       "unchanged builds than unpaired (3 of 45 vs 1 of 45); it pays only when a pair's processes ran "
                       "seconds apart")


DEFAULT_RULES: tuple[Rule, ...] = (
    NothingCompared(),
    VerdictRule("slower", "problem", "got slower"),
    VerdictRule("failed", "problem", "failed"),
    VerdictRule("missing", "problem", "missing from the current run"),
    VerdictRule("inconclusive", "inconclusive", "inconclusive"),
    BlindSpots(),
    FewProcesses(),
    NotAlternated(),
    PairsRunsApart(),
)


def gate(comparison: Comparison, strict: bool = False, rules: Sequence[Rule] = DEFAULT_RULES) -> GateResult:
    """Apply the rules: exit 1 on any problem; under `strict`, 3 when only inconclusive cells remain."""
    findings = tuple(f for f in (rule.check(comparison) for rule in rules) if f is not None)
    severities = {f.severity for f in findings}
    if "problem" in severities:
        return GateResult("fail", EXIT_PROBLEM, findings)
    if "inconclusive" in severities:
        return GateResult("inconclusive", EXIT_INCONCLUSIVE if strict else EXIT_OK, findings)
    return GateResult("pass", EXIT_OK, findings)
