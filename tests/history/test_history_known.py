"""Noise the history knows (issue "History", part 5): with five or more past runs of a cell on the same machine,
`report` and `compare` say how much runs of that cell have varied there, and where the figure came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from histdata import main, step_history


def test_report_and_compare_show_the_run_to_run_spread_from_history(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "history.sqlite")
    runs = step_history(tmp_path / "runs", commits=6, step_at=None, factor=1.0)
    assert main(capsys, "history", "--db", db, "add", *map(str, runs)).returncode == 0
    report = main(capsys, "report", str(runs[-1]), "--format", "md", "--db", db)
    assert report.returncode == 0
    line = next(ln for ln in report.stdout.splitlines() if "runs of this cell on this machine varied" in ln)
    assert "m · frozen · cpu · batch 1" in line and "of 6 runs" in line
    assert f"history database {db}".replace("_", "\\_") in line  # Markdown escapes the path's underscores
    compare = main(capsys, "compare", str(runs[0]), str(runs[-1]), "--db", db)
    assert "note: m · frozen · cpu · batch 1: runs of this cell on this machine varied" in compare.stderr


def test_fewer_than_five_runs_or_no_database_say_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "history.sqlite")
    runs = step_history(tmp_path / "runs", commits=4, step_at=None, factor=1.0)
    assert main(capsys, "report", str(runs[-1]), "--format", "md", "--db", db).returncode == 0  # no file: nothing
    assert not (tmp_path / "history.sqlite").exists()  # and none is created
    assert main(capsys, "history", "--db", db, "add", *map(str, runs)).returncode == 0
    report = main(capsys, "report", str(runs[-1]), "--format", "md", "--db", db)
    assert "varied" not in report.stdout
