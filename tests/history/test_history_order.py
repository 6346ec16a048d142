"""A series follows the branch's parent links, not the commits' recorded times.

Rebased or amended commits keep their old author times (and CI may record either time), so time order can
put a commit before its own parent. The series walks parents from the newest commit; commits off that chain
fall in by time; the runs of one commit stay together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from histdata import main, sha, write_run

from bench.results import history
from bench.results.history.query import commit_order


def _t(minute: int) -> tuple[str, str]:
    return f"2026-01-01T10:{minute:02d}:00+00:00", f"2026-01-02T10:{minute:02d}:00+00:00"


def test_parent_chain_beats_commit_times() -> None:
    # c0 <- c1 <- c2 <- c3 <- c4 <- c5, times disagreeing with that order
    times = {"c0": _t(0), "c1": _t(5), "c2": _t(1), "c3": _t(3), "c4": _t(10), "c5": _t(2)}
    parents = {f"c{i}": (f"c{i - 1}" if i else None) for i in range(6)}
    last = {c: t[1] for c, t in times.items()}
    assert commit_order(times, last, parents) == ["c0", "c1", "c2", "c3", "c4", "c5"]
    # c2 measured again later: still in its place (a commit with descendants is never the newest head)
    assert commit_order(times, {**last, "c2": "2026-01-09T00:00:00+00:00"}, parents)[2] == "c2"


def test_off_chain_commits_fall_in_by_time() -> None:
    times = {"c0": _t(0), "c1": _t(5), "c2": _t(1), "c3": _t(10), "x": _t(7), "run:r9": _t(30)}
    parents = {"c0": None, "c1": "c0", "c2": "c1", "c3": "c2", "x": "gone"}  # x's parent the database never saw
    last = {c: t[1] for c, t in times.items()}
    last["c3"] = "2026-01-05T00:00:00+00:00"  # the branch's newest commit: the head measured last
    # the chain's times as merge keys: the latest so far (c2 counts as 10:05); x (10:07) after c2, before c3
    assert commit_order(times, last, parents) == ["c0", "c1", "c2", "x", "c3", "run:r9"]


def test_walk_goes_through_commits_the_series_does_not_hold() -> None:
    # b was measured on another branch only (the database knows its parent); a gap in the series is no break
    times = {"a": _t(9), "c": _t(1)}
    assert commit_order(times, {c: t[1] for c, t in times.items()}, {"a": None, "b": "a", "c": "b"}) == ["a", "c"]


def test_no_parents_and_a_cycle_fall_back_to_time() -> None:
    times = {"p": _t(3), "q": _t(1), "r": _t(2)}
    last = {c: t[1] for c, t in times.items()}
    assert commit_order(times, last, {}) == ["q", "r", "p"]
    assert sorted(commit_order(times, last, {"p": "q", "q": "p"})) == ["p", "q", "r"]  # nonsense parents: all kept


def test_history_series_and_check_follow_parents(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """12 commits of a branch with shuffled commit times, 30% slower from commit 6, and a commit whose
    parent is unknown: the series is in parent order, two runs of one commit form one point, and the
    check names the step's commit range."""
    rng = np.random.default_rng(3)
    minutes = rng.permutation(12)
    runs = []
    for i in range(12):
        scale = 1.3 if i >= 6 else 1.0
        procs = {"m": [list(rng.lognormal(np.log(1e6 * scale), 0.02, 30)) for _ in range(2)]}
        reps = 2 if i == 4 else 1
        for r in range(reps):
            runs.append(write_run(tmp_path / f"run{i:02d}{r}", f"run-{i:02d}-{r}", procs, commit=sha(i),
                                  parent=sha(i - 1) if i else None, created=f"2026-01-02T10:{i:02d}:{r:02d}+00:00",
                                  committed=f"2026-01-01T09:{minutes[i]:02d}:00+00:00"))
    db_path = str(tmp_path / "history.sqlite")
    add = main(capsys, "history", "--db", db_path, "add", *map(str, runs))
    assert add.returncode == 0, add.stderr
    with history.connect(db_path) as db:
        (series,) = history.load_series(db, history.Filter(branch="main"))
    assert [p.commit for p in series.points] == [sha(i) for i in range(12)]
    assert series.points[4].runs == 2 and len(series.points[4].values) == 4
    check = main(capsys, "history", "--db", db_path, "check", "--branch", "main")
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"`{sha(5)[:10]}`..`{sha(6)[:10]}`" in check.stdout
