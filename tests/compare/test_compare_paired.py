"""Paired mode of the gate (`compare --paired`): runs alternated round by round, processes paired by round and
repetition; statistics checked against hand-worked numbers."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from compare_fixtures import assert_comparison_can_reject, cell, write_run_file
from scipy import stats as sps

from reports.compare import compare, process_value
from reports.errors import CompareError
from reports.gate import gate
from reports.load import load_runs
from reports.power import min_detectable_slowdown_paired, pairs_needed, signed_rank_tests, stray_proof_pairs
from tests.reports.gfm import assert_tables_render

SPREAD = [1.00, 1.04, 0.97, 1.02, 0.99]
DRIFT = (1.0, 1.3)  # the whole machine 30% slower in round 2: more than the change


def _rounds(tmp_path: Path, change: float, created: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """Two rounds of five processes a side; the current side `change` slower than its round's baseline."""
    base, cur = [], []
    for k, drift in enumerate(DRIFT):
        base.append(write_run_file(tmp_path / f"main-{k + 1}", f"main-{k + 1}",
                                   [cell("m", [x * drift for x in SPREAD], seed=10 + k)], created=created[2 * k]))
        cur.append(write_run_file(tmp_path / f"pr-{k + 1}", f"pr-{k + 1}",
                                  [cell("m", [x * drift * change for x in SPREAD], seed=20 + k)], created=created[2 * k + 1]))
    return base, cur


ALTERNATED = ("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z")


def test_pairing_by_round_cancels_drift_the_unpaired_test_cannot(tmp_path: Path) -> None:
    """+10% under a 30% drift between rounds: 10 pairs all slower give the signed-rank p = 1/2^10; the estimate is
    the geometric mean of the per-pair ratios with a Student-t interval on their logs. Unpaired, the drift swamps it."""
    base, cur = _rounds(tmp_path, 1.10, ALTERNATED)
    b, c = load_runs(base), load_runs(cur)
    row = compare(b, c, paired=True).frame.iloc[0]
    vb = [process_value(a, "p50", 1) for a in b.latencies]
    vc = [process_value(a, "p50", 1) for a in c.latencies]
    logs = np.log(np.array(vc) / np.array(vb))  # the same order: round, then repetition
    half = sps.t.ppf(0.975, 9) * logs.std(ddof=1) / math.sqrt(10)
    assert row["pairs"] == 10
    assert row["ratio"] == pytest.approx(math.exp(logs.mean()), rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    assert row["p_slower"] == pytest.approx(1 / 1024)
    assert row["verdict"] == "slower"
    unpaired = compare(b, c).frame.iloc[0]
    assert unpaired["verdict"] == "inconclusive"
    assert math.log(unpaired["ci_high"] / unpaired["ci_low"]) > 10 * math.log(row["ci_high"] / row["ci_low"])


def test_unchanged_when_paired(tmp_path: Path) -> None:
    base, cur = _rounds(tmp_path, 1.0, ALTERNATED)
    comparison = compare(load_runs(base), load_runs(cur), paired=True)
    assert comparison.frame.iloc[0]["verdict"] == "unchanged"
    assert_comparison_can_reject(comparison)  # 10 pairs: the signed-rank test reaches 1/1024
    assert comparison.rounds == (("main-1", "pr-1"), ("main-2", "pr-2"))
    findings = [f.message for f in gate(comparison).findings]
    assert not [m for m in findings if "not made one after the other" in m]
    assert [m for m in findings if "whole runs apart" in m]  # what pairing whole runs costs is always said


def test_rounds_not_alternated_are_flagged(tmp_path: Path) -> None:
    """Both baselines made before both current runs: pairing them cancels nothing, and the summary says so."""
    not_alternated = (ALTERNATED[0], ALTERNATED[2], ALTERNATED[1], ALTERNATED[3])
    base, cur = _rounds(tmp_path, 1.0, not_alternated)
    comparison = compare(load_runs(base), load_runs(cur), paired=True)
    assert not comparison.alternated
    assert any("not made one after the other" in f.message for f in gate(comparison).findings)


def test_unequal_rounds_refused(tmp_path: Path) -> None:
    base, cur = _rounds(tmp_path, 1.0, ALTERNATED)
    with pytest.raises(CompareError, match="one current run per baseline run.*2 baseline and 1 current"):
        compare(load_runs(base), load_runs(cur[:1]), paired=True)


def test_signed_rank_and_power_hand_worked() -> None:
    # one wrong-sign pair holding the largest difference among 10: P(W- <= 10) = 43 subsets of {1..10} / 2^10
    p_slower, _ = signed_rank_tests(np.r_[np.arange(1.0, 10.0), -10.0] / 100)
    assert p_slower == pytest.approx(43 / 1024)
    # so one stray pair needs 14 pairs to stay significant at 0.01 (110/16384), 17 at 0.01/6 (207/131072)
    assert stray_proof_pairs(0.01) == 14 and stray_proof_pairs(0.01 / 6) == 17
    # mde: one-sample t with n scaled by 3/pi: df = 10*3/pi - 1, (t_.99 + t_.80) * sd / sqrt(10*3/pi)
    n_eff = 10 * 3 / math.pi
    expected = math.expm1((sps.t.ppf(0.99, n_eff - 1) + sps.t.ppf(0.8, n_eff - 1)) * 0.05 / math.sqrt(n_eff))
    assert min_detectable_slowdown_paired(0.05, 10, 0.01) == pytest.approx(expected)
    assert math.isinf(min_detectable_slowdown_paired(0.05, 6, 0.01))  # 1/2^6 > 0.01: unreachable
    assert pairs_needed(0.001, 0.05, 0.01) == 14  # tiny spread: the stray floor decides


def test_cli_paired_summary(tmp_path: Path) -> None:
    base, cur = _rounds(tmp_path, 1.10, ALTERNATED)
    cmd = [sys.executable, "-m", "bench.cli", "compare", "--paired", "--baseline-run", str(base[0]),
           "--baseline-run", str(base[1]), str(cur[0]), str(cur[1]), "--format", "md"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "paired by round (2 rounds: main-1 ↔ pr-1, main-2 ↔ pr-2)" in done.stdout
    assert "Wilcoxon signed-rank" in done.stdout
    assert "10 pairs" in done.stdout
    assert_tables_render(done.stdout)


def test_a_failed_baseline_process_is_named_beside_its_unpartnered_partner(tmp_path: Path) -> None:
    """Round 1's baseline repetition 4 crashed: its current partner is left out, and the row says both things."""
    base, cur = _rounds(tmp_path, 1.0, ALTERNATED)
    crashed = cell("m", SPREAD[:4], seed=10) + cell("m", [1.0], status="failed", error="worker crashed")
    crashed[-1]["repetition"] = 4
    write_run_file(tmp_path / "main-1b", "main-1", [crashed], created=ALTERNATED[0])
    row = compare(load_runs([tmp_path / "main-1b", base[1]]), load_runs(cur), paired=True).frame.iloc[0]
    assert row["pairs"] == 9
    assert "1 baseline process(es) not ok, left out" in row["note"]
    assert "1 process(es) without a partner of the same round and repetition, left out" in row["note"]
