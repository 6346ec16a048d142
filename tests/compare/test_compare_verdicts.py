"""reports.compare on stored fixtures with known verdicts, Holm, the <3-processes rule, power."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from compare_fixtures import (
    ENV,
    WriteRun,
    assert_can_reject,
    assert_comparison_can_reject,
    cell,
    write_run_file,
)
from scipy.stats import mannwhitneyu

from reports.compare import TURNS_KEY, compare, counts, env_differences, like_for_like
from reports.errors import CompareError
from reports.load import load_runs
from reports.power import (
    can_reject,
    can_reject_paired,
    fewest_processes,
    holm,
    min_detectable_slowdown,
    repetitions_needed,
    smallest_p,
    stray_proof_repetitions,
)

STEADY = [1.00, 1.04, 0.97, 1.02, 0.99]
SIX = [*STEADY, 1.01]


def _verdicts(write_run: WriteRun, base_cells, cur_cells, **kwargs) -> dict[str, str]:
    frame = compare(load_runs([write_run("base", base_cells)]), load_runs([write_run("cur", cur_cells)]), **kwargs).frame
    return dict(zip(frame["model"], frame["verdict"], strict=True))


def test_every_verdict_from_stored_fixtures(write_run: WriteRun) -> None:
    """Six processes a side: four tested cells, Holm at the default alpha 0.01 asks for p <= 0.0025,
    and complete separation of 6 vs 6 gives p = 1/924."""
    base = [
        cell("slow", SIX, seed=1),
        cell("fast", SIX, seed=2),
        cell("same", SIX, seed=3),
        # between-process spread of +-30%: a 10% shift cannot be told from noise
        cell("noisy", [0.7, 1.3, 1.0, 0.8, 1.2, 0.9], seed=4),
        cell("gone", SIX, seed=5),
        cell("broke", SIX, seed=6),
    ]
    cur = [
        cell("slow", [x * 1.3 for x in SIX], seed=11),
        cell("fast", [x * 0.7 for x in SIX], seed=12),
        cell("same", [1.01, 0.98, 1.03, 1.00, 0.99, 1.02], seed=13),
        cell("noisy", [0.77, 1.43, 1.1, 0.88, 1.32, 0.99], seed=14),
        cell("added", SIX, seed=15),
        cell("broke", [1.0], status="crashed", error="Segmentation fault", seed=16),
    ]
    comparison = compare(load_runs([write_run("base", base)]), load_runs([write_run("cur", cur)]))
    assert_comparison_can_reject(comparison)  # "same" unchanged and "noisy" inconclusive could each have been slower
    got = dict(zip(comparison.frame["model"], comparison.frame["verdict"], strict=True))
    assert got == {
        "slow": "slower",
        "fast": "faster",
        "same": "unchanged",
        "noisy": "inconclusive",
        "gone": "missing",
        "added": "new",
        "broke": "failed",
    }


def test_slower_row_numbers(write_run: WriteRun) -> None:
    frame = compare(
        load_runs([write_run("b", [cell("m", STEADY, seed=1)])]),
        load_runs([write_run("c", [cell("m", [x * 1.3 for x in STEADY], seed=2)])]),
    ).frame
    row = frame.iloc[0]
    assert row["ratio"] == pytest.approx(1.3, rel=0.02)
    assert row["ci_low"] < row["ratio"] < row["ci_high"]
    assert row["ci_low"] > 1.2
    # complete separation of 5 vs 5 processes: the exact one-sided p-value is 1/C(10,5)
    assert row["p_slower"] == pytest.approx(1 / 252)
    assert (row["n_baseline"], row["n_current"]) == (5, 5)
    assert len(row["baseline_processes"]) == 5


def test_small_significant_change_is_unchanged_and_flagged(write_run: WriteRun) -> None:
    base = [cell("m", [1.00, 1.001, 0.999, 1.002, 0.998, 1.0, 1.001, 0.999], seed=1)]
    cur = [cell("m", [1.02, 1.021, 1.019, 1.022, 1.018, 1.02, 1.021, 1.019], seed=2)]
    frame = compare(load_runs([write_run("b", base)]), load_runs([write_run("c", cur)]), threshold=0.05).frame
    row = frame.iloc[0]
    assert row["verdict"] == "unchanged"
    assert bool(row["small_change"]) is True
    assert "small but significant" in row["note"]


def test_throughput_metric_keeps_slower_meaning_slower(write_run: WriteRun) -> None:
    base = [cell("m", STEADY, batch_size=8, seed=1)]
    cur = [cell("m", [x * 1.3 for x in STEADY], batch_size=8, seed=2)]
    frame = compare(load_runs([write_run("b", base)]), load_runs([write_run("c", cur)]), metric="throughput").frame
    row = frame.iloc[0]
    assert row["verdict"] == "slower"
    assert row["unit"] == "samples/s"
    assert row["current_value"] < row["baseline_value"]
    assert row["baseline_value"] == pytest.approx(8 / 1.0e-3, rel=0.05)


@pytest.mark.parametrize("metric", ["p90", "p99", "mean"])
def test_other_metrics_find_the_slowdown(write_run: WriteRun, metric: str) -> None:
    got = _verdicts(write_run, [cell("m", STEADY, seed=1)], [cell("m", [x * 1.4 for x in STEADY], seed=2)], metric=metric)
    assert got == {"m": "slower"}


def test_same_seed_same_interval(write_run: WriteRun) -> None:
    b = load_runs([write_run("b", [cell("m", STEADY, seed=1)])])
    c = load_runs([write_run("c", [cell("m", [x * 1.1 for x in STEADY], seed=2)])])
    one, two = compare(b, c, seed=7).frame, compare(b, c, seed=7).frame
    assert (one["ci_low"].iloc[0], one["ci_high"].iloc[0]) == (two["ci_low"].iloc[0], two["ci_high"].iloc[0])


def test_bad_settings_are_refused(write_run: WriteRun) -> None:
    runs = load_runs([write_run("b", [cell("m", STEADY)])])
    with pytest.raises(CompareError, match="unknown metric"):
        compare(runs, runs, metric="p42")
    for bad in (0, -0.05, math.inf, math.nan):
        with pytest.raises(CompareError, match="threshold"):
            compare(runs, runs, threshold=bad)


def test_a_threshold_of_several_times_is_a_threshold(write_run: WriteRun) -> None:
    """bisect judges its probes halfway (in logs) to the bad commit: a commit 144x slower asks for 11 (12x)."""
    b = load_runs([write_run("b", [cell("m", STEADY, seed=1)])])
    c = load_runs([write_run("c", [cell("m", [x * 144 for x in STEADY], seed=2)])])
    frame = compare(b, c, threshold=11).frame
    assert frame["ratio"].iloc[0] == pytest.approx(144, rel=0.01) and frame["verdict"].iloc[0] == "slower"


# ---- Holm -----------------------------------------------------------------------------------------


def test_holm_against_hand_worked_numbers() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm([0.01, math.nan])[1])
    assert holm([0.01, math.nan])[0] == pytest.approx(0.01)  # NaN is not part of the family


def test_holm_across_many_cells(write_run: WriteRun) -> None:
    """20 cells all 30% slower: with 5 processes a side the best p is 1/252, and Holm over 20 cells
    asks the first for p <= 0.01/20 (the default alpha over 20 cells), so nothing can be called
    slower; with 8 a side (best p 1/12870) all are."""
    def cells(factor: float, reps: int, offset: int) -> list:
        medians = [1.0 + 0.01 * (i % 5) for i in range(reps)]
        return [cell(f"m{i:02d}", [x * factor for x in medians], seed=offset + i) for i in range(20)]

    five = _verdicts(write_run, cells(1.0, 5, 0), cells(1.3, 5, 100))
    assert set(five.values()) == {"inconclusive"}
    comparison = compare(load_runs([write_run("b8", cells(1.0, 8, 200))]), load_runs([write_run("c8", cells(1.3, 8, 300))]))
    frame = comparison.frame
    assert set(frame["verdict"]) == {"slower"}
    assert comparison.family_size == 20
    assert (frame["p_slower_holm"] >= frame["p_slower"]).all()


def test_holm_one_cell_alone_is_significant(write_run: WriteRun) -> None:
    assert _verdicts(write_run, [cell("m", STEADY, seed=1)], [cell("m", [x * 1.3 for x in STEADY], seed=2)]) == {
        "m": "slower"
    }


# ---- fewer than 3 processes -------------------------------------------------------------------------


def test_few_processes_at_most_inconclusive(write_run: WriteRun) -> None:
    base = [cell("shift", [1.0, 1.01], seed=1), cell("same", [1.0, 1.01], seed=2), cell("huge", [1.0, 1.01], seed=3)]
    cur = [cell("shift", [1.3, 1.31], seed=4), cell("same", [1.0, 1.01], seed=5), cell("huge", [2.5, 2.52], seed=6)]
    comparison = compare(load_runs([write_run("b", base)]), load_runs([write_run("c", cur)]))
    frame = comparison.frame
    got = dict(zip(frame["model"], frame["verdict"], strict=True))
    # 30% slower is within the 1.9x between-process spread seen on this machine: not called;
    # identical runs are not "unchanged" either; only a change beyond 2x is called.
    assert got == {"shift": "inconclusive", "same": "inconclusive", "huge": "slower"}
    assert frame["note"].str.contains("between-process variation not sampled").all()
    assert comparison.family_size == 0


def test_one_process_each_side(write_run: WriteRun) -> None:
    assert _verdicts(write_run, [cell("m", [1.0], seed=1)], [cell("m", [0.4], seed=2)]) == {"m": "faster"}


# ---- missing / new / failed details -----------------------------------------------------------------


def test_failed_when_any_current_process_failed(write_run: WriteRun) -> None:
    cur = [cell("m", STEADY[:4], seed=2) + cell("m", [1.0], status="timeout", error="killed after 600 s", seed=3)[:1]]
    frame = compare(load_runs([write_run("b", [cell("m", STEADY, seed=1)])]), load_runs([write_run("c", cur)])).frame
    assert frame.iloc[0]["verdict"] == "failed"
    assert "timeout" in frame.iloc[0]["note"]


def test_baseline_without_ok_process_makes_new(write_run: WriteRun) -> None:
    base = [cell("m", [1.0, 1.0, 1.0], status="failed", error="OOM")]
    got = _verdicts(write_run, base, [cell("m", STEADY)])
    assert got == {"m": "new"}


def test_skipped_now_is_missing_and_skipped_everywhere_is_dropped(write_run: WriteRun) -> None:
    base = [cell("gpu", STEADY), cell("never", [1.0], status="skipped"), cell("cpu", STEADY, seed=3)]
    cur = [cell("gpu", [1.0], status="skipped"), cell("never", [1.0], status="skipped"), cell("cpu", STEADY, seed=4)]
    comparison = compare(load_runs([write_run("b", base)]), load_runs([write_run("c", cur)]))
    frame = comparison.frame
    assert dict(zip(frame["model"], frame["verdict"], strict=True)) == {"cpu": "unchanged", "gpu": "missing"}
    assert comparison.skipped_cells == 1
    assert counts(frame)["missing"] == 1


# ---- power ----------------------------------------------------------------------------------------------


def test_minimum_detectable_effect_hand_worked() -> None:
    # A.R.E. method: df = 10*3/pi - 2 = 7.549; t(0.95)=1.8765, t(0.8)=0.8937 at that df
    # delta = 2.7702 * 0.1 * sqrt(0.4 / 0.95493) = 0.17929 -> exp - 1 = 19.64%
    assert min_detectable_slowdown(0.1, 5, 5, 0.05) == pytest.approx(0.1964, abs=0.002)
    assert smallest_p(3, 3) == pytest.approx(0.05)
    assert math.isinf(min_detectable_slowdown(0.1, 3, 3, 0.01))  # the rank test cannot reach 0.01
    assert min_detectable_slowdown(0.1, 20, 20, 0.05) < min_detectable_slowdown(0.1, 5, 5, 0.05)


def test_repetitions_needed_reach_the_threshold() -> None:
    n = repetitions_needed(0.1, 0.05, 0.05)  # recommended at 95% power
    assert n is not None
    assert min_detectable_slowdown(0.1, n, n, 0.05, power=0.95) <= 0.05
    assert min_detectable_slowdown(0.1, n - 1, n - 1, 0.05, power=0.95) > 0.05
    n80 = repetitions_needed(0.1, 0.05, 0.05, power=0.8)
    assert n80 is not None and n80 < n and min_detectable_slowdown(0.1, n80, n80, 0.05) <= 0.05
    assert repetitions_needed(5.0, 0.01, 0.001) is None


def test_recommended_repetitions_survive_one_stray_process() -> None:
    """However quiet the machine, the gate never recommends so few processes that one disturbed
    process, beyond all of the other side's, makes a real slowdown insignificant."""
    assert stray_proof_repetitions(0.01) == 8 and stray_proof_repetitions(0.05) == 6
    assert repetitions_needed(0.001, 0.20, 0.01) == 8  # the formula alone would say 3
    fast, slow = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 1.6], [1.2, 1.21, 1.19, 1.22, 1.18, 1.2, 1.21, 1.2]
    assert mannwhitneyu(slow, fast, alternative="greater").pvalue <= 0.01  # 8 a side: still caught
    assert mannwhitneyu(slow[:7], fast[1:], alternative="greater").pvalue > 0.01  # 7 a side: missed


def test_which_process_counts_let_the_gate_reject_at_all() -> None:
    """The exact one-sided rank test's smallest p is 1/C(n+m, n): 1/20 for 3 against 3, 1/70 for 4, 1/252 for 5;
    the signed-rank test's is 1/2^n. Below the level, "not slower" is certain before anything is measured."""
    assert [can_reject(n, n, 0.01) for n in (3, 4, 5)] == [False, False, True]
    assert not can_reject(2, 40, 0.01)  # fewer than 3 on a side: the cell is not tested at all
    assert can_reject(3, 7, 0.01) and not can_reject(3, 6, 0.01)  # 1/C(10,3) = 1/120 and 1/C(9,3) = 1/84
    assert not can_reject(5, 5, 0.01 / 2 / 2)  # Holm's first level over 4 cells asks p <= 0.0025 > 1/252
    assert (fewest_processes(0.01), fewest_processes(0.01 / 4), fewest_processes(0.05)) == (5, 6, 3)
    assert [can_reject_paired(n, 0.01) for n in (6, 7)] == [False, True]  # 1/64 and 1/128
    with pytest.raises(AssertionError, match="3 vs 3 processes: the rank test's smallest p 0.05"):
        assert_can_reject([{"tested": True, "n_baseline": 3, "n_current": 3}], 0.01)
    assert_can_reject([{"tested": True, "n_baseline": 6, "n_current": 6}], 0.01)


def test_cells_state_their_mde(write_run: WriteRun) -> None:
    base = [cell("quiet", STEADY, seed=1), cell("noisy", [0.7, 1.3, 1.0, 0.8, 1.2], seed=2)]
    cur = [cell("quiet", STEADY, seed=3), cell("noisy", [0.7, 1.3, 1.0, 0.8, 1.2], seed=4)]
    frame = compare(load_runs([write_run("b", base)]), load_runs([write_run("c", cur)])).frame.set_index("model")
    assert frame.loc["quiet", "mde"] < frame.loc["noisy", "mde"]
    noisy_reps = frame.loc["noisy", "reps_needed"]  # None: more than MAX_REPS
    assert noisy_reps is None or noisy_reps > frame.loc["quiet", "reps_needed"]


# ---- environment -------------------------------------------------------------------------------------------


def test_environment_mismatch_found(write_run: WriteRun) -> None:
    other = {**ENV, "tensorflow": {"version": "2.20.0"}, "git": {"commit": "abc"}}
    b = load_runs([write_run("b", [cell("m", STEADY)])])
    c = load_runs([write_run("c", [cell("m", STEADY)], env=other)])
    diffs = {d.key: d for d in env_differences(b, c)}
    assert diffs["tensorflow.version"].baseline == ("2.21.0",)
    assert diffs["tensorflow.version"].current == ("2.20.0",)
    assert not diffs["tensorflow.version"].informational
    assert diffs["git.commit"].informational
    assert not like_for_like(list(diffs.values()))


def test_only_commit_differs_is_like_for_like(write_run: WriteRun) -> None:
    b = load_runs([write_run("b", [cell("m", STEADY)], env={**ENV, "git": {"commit": "a"}, "loadavg": [0.1]})])
    c = load_runs([write_run("c", [cell("m", STEADY)], env={**ENV, "git": {"commit": "b"}, "loadavg": [1.5]})])
    diffs = env_differences(b, c)
    assert {d.key for d in diffs} == {"git.commit", "loadavg"}
    assert like_for_like(diffs)


def test_interleaved_runs_that_took_turns_differently_are_not_like_for_like(tmp_path: Path) -> None:
    strict = {"mode": "interleaved", "min_time": 0.2}  # a run from before switch_warmup/turn_calls existed
    turns = {"mode": "interleaved", "min_time": 0.2, "switch_warmup": 1, "turn_calls": 3}
    b = load_runs([write_run_file(tmp_path / "b", "b", [cell("m", STEADY)], policy=strict)])
    c = load_runs([write_run_file(tmp_path / "c", "c", [cell("m", STEADY)], policy=turns)])
    diffs = {d.key: d for d in env_differences(b, c)}
    assert diffs[TURNS_KEY].baseline == ("0 untimed + 1 timed calls per turn",)
    assert diffs[TURNS_KEY].current == ("1 untimed + 3 timed calls per turn",)
    assert not like_for_like(list(diffs.values()))
    separate = {"mode": "separate", "min_time": 0.2}  # one variant per worker: no turns, old or new
    b = load_runs([write_run_file(tmp_path / "bs", "bs", [cell("m", STEADY)], policy=separate)])
    c = load_runs([write_run_file(tmp_path / "cs", "cs", [cell("m", STEADY)], policy={**separate, **turns, "mode": "separate"})])
    assert env_differences(b, c) == []


def test_several_current_runs_pool_processes(write_run: WriteRun, tmp_path: Path) -> None:
    b = load_runs([write_run("b", [cell("m", STEADY, seed=1)])])
    c1 = write_run("c1", [cell("m", [1.3, 1.32], seed=2)])
    c2 = write_run("c2", [cell("m", [1.28, 1.31, 1.29], seed=3)])
    frame = compare(b, load_runs([c1, c2])).frame
    assert frame.iloc[0]["n_current"] == 5
    assert frame.iloc[0]["verdict"] == "slower"
