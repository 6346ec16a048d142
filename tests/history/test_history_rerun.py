"""Ratios' rerun intervals from the history (issue 11): with five or more earlier runs of the same two cells on the
same machine in the database, the report's speedups say where a next run's ratio is expected from those runs' ratios
and this run's, and name the database; without them, this run's noise only, and say so."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from histdata import env, main

from reports.rerun import WITHIN_SCOPE
from reports.schema import CellRecord, dumps

# per run: checkpoint's and frozen's per-process medians (ns), two processes each; interleaved in one worker
# process per repetition. The frozen/checkpoint speedup of run i is the geometric mean of its two
# per-process ratios checkpoint/frozen.
RUNS = [
    ((2000, 2000), (1000, 1000)),  # 2.0 and 2.0 -> 2.0
    ((2200, 1800), (1000, 1000)),  # 2.2, 1.8 -> sqrt(3.96) = 1.98997
    ((2100, 2100), (1000, 1000)),  # 2.1
    ((1900, 1900), (1000, 1000)),  # 1.9
    ((2000, 2000), (800, 1250)),  # 2.5, 1.6 -> 2.0
    ((2000, 2000), (1000, 1000)),  # this run: 2.0
]
RATIOS = [2.0, math.sqrt(2.2 * 1.8), 2.1, 1.9, 2.0, 2.0]


def write_pair_run(run_dir: Path, i: int, ckpt: Sequence[int], frozen: Sequence[int]) -> Path:
    """A results.jsonl with checkpoint and frozen at batch 1, one cell record per process, every sample at the
    given median (so the per-process median is exactly it)."""
    run_dir.mkdir(parents=True)
    run_id = f"run-{i:02d}"
    lines = [dumps({"kind": "header", "run_id": run_id, "created": f"2026-01-01T00:{i:02d}:00+00:00",
                    "scenario_path": None, "scenario_text": "", "policy": {}, "env": env()})]
    for variant, medians in (("checkpoint", ckpt), ("frozen", frozen)):
        for rep, median in enumerate(medians):
            record = CellRecord(cell_id=f"m/{variant}/cpu/b1", group_id="m/cpu", repetition=rep, model="m",
                                variant=variant, latencies_ns=[median] * 20, iterations=20, mode="interleaved",
                                worker={"pid": 1000 + rep})
            lines.append(dumps({**record.to_json(), "run_id": run_id}))
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


def speedup_of(capsys: pytest.CaptureFixture[str], run: Path, db: str) -> dict[str, object]:
    done = main(capsys, "report", str(run), "--format", "json", "--db", db)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["speedups"]
    return dict(row)


def test_speedups_rerun_interval_comes_from_five_earlier_runs_on_this_machine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "h.sqlite")
    runs = [write_pair_run(tmp_path / f"r{i}", i, *medians) for i, medians in enumerate(RUNS)]
    assert main(capsys, "history", "--db", db, "add", *map(str, runs[:4])).returncode == 0
    four = speedup_of(capsys, runs[-1], db)  # 4 earlier runs: this run's own interval, said so
    assert str(four["rerun_scope"]).startswith(WITHIN_SCOPE) and "4 earlier runs of both cells here" in str(four["rerun_scope"])
    assert four["rerun_runs"] == 0
    assert main(capsys, "history", "--db", db, "add", str(runs[4]), str(runs[-1])).returncode == 0
    row = speedup_of(capsys, runs[-1], db)  # 5 earlier runs (the run itself in the database does not count)
    assert row["rerun_scope"] == f"rerun interval from 6 runs on this machine, history database {db}"
    assert row["rerun_runs"] == 6
    # by hand: logs of the six ratios, mean m, sd s (ddof 1); t(0.975, 5) = 2.5706; half = t s sqrt(1 + 1/6)
    logs = [math.log(r) for r in RATIOS]
    m = sum(logs) / 6
    s = math.sqrt(sum((x - m) ** 2 for x in logs) / 5)
    half = 2.570582 * s * math.sqrt(7 / 6)
    assert row["rerun_lo"] == pytest.approx(math.exp(m - half), rel=1e-5)
    assert row["rerun_hi"] == pytest.approx(math.exp(m + half), rel=1e-5)
    md = main(capsys, "report", str(runs[-1]), "--format", "md", "--db", db).stdout
    assert "rerun interval from 6 runs on this machine" in md and "| 6 runs here (history) |" in md
    csv = main(capsys, "report", str(runs[-1]), "--format", "csv", "--db", db).stdout
    frozen = next(line for line in csv.splitlines() if ",frozen," in line)
    assert "rerun interval from 6 runs on this machine" in frozen and "speedup_rerun_lo" in csv.splitlines()[0]


def test_another_machines_runs_are_not_this_ones_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "h.sqlite")
    runs = [write_pair_run(tmp_path / f"r{i}", i, *medians) for i, medians in enumerate(RUNS)]
    text = (runs[-1] / "results.jsonl").read_text().replace('"host":"hostA"', '"host":"hostB"')
    assert '"host":"hostB"' in text
    (runs[-1] / "results.jsonl").write_text(text)
    assert main(capsys, "history", "--db", db, "add", *map(str, runs[:5])).returncode == 0
    assert str(speedup_of(capsys, runs[-1], db)["rerun_scope"]) == WITHIN_SCOPE
