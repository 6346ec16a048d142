"""The history database on both backends (SQLite file, real PostgreSQL server) and its faults.

Every fault of the issue: a killed ingest, two concurrent ingests, concurrent migrations, a corrupt file, an
unknown schema version, PostgreSQL unreachable, psycopg missing, a run from another machine, a commit git
does not know. Each ends with nothing lost and one clear line.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from histdata import ROOT, cli, main, sha, step_history, write_run

from bench.results import history
from bench.results.history.ingest import process_stats
from bench.results.history.query import counts
from bench.results.history.schema import SCHEMA_VERSION


def test_process_stats_by_hand() -> None:
    # 1..100 ns: median 50.5, p90 90.1, p99 99.01 (linear interpolation), mean 50.5
    assert process_stats(list(range(1, 101))) == (100, 50.5, pytest.approx(90.1), pytest.approx(99.01), 50.5)
    assert process_stats([]) == (0, None, None, None, None)


def test_ingest_is_idempotent_and_keeps_per_process_statistics(capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", "run-1", {"m": [[10, 20, 30], [40, 50, 60, 70]]}, commit="a" * 40)
    with history.connect(db_url) as db:
        first = history.ingest(db, run)
        again = history.ingest(db, run)
        assert (first.added, first.cells, first.processes) == (True, 1, 2)
        assert not again.added
        assert counts(db) == {"machines": 1, "commits": 1, "runs": 1, "cells": 1, "processes": 2}
        rows = db.rows("SELECT repetition, samples, median_ns, mean_ns FROM processes ORDER BY repetition")
        assert [tuple(r) for r in rows] == [(0, 3, 20.0, 20.0), (1, 4, 55.0, 55.0)]
        (series,) = history.load_series(db)
        assert series.points[0].values == (20.0, 55.0)  # the worker process is the unit


def test_check_finds_a_step_and_fails_on_it(capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path) -> None:
    runs = step_history(tmp_path, commits=14, step_at=9, factor=1.3)
    add = main(capsys, "history", "--db", db_url, "add", *map(str, runs))
    assert add.returncode == 0, add.stderr
    check = main(capsys, "history", "--db", db_url, "check", "--branch", "main")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "**FAIL**" in check.stdout and "new regression" in check.stdout
    assert f"`{sha(8)[:10]}`..`{sha(9)[:10]}`" in check.stdout  # the commit range of the step
    quiet = main(capsys, "history", "--db", db_url, "check", "--branch", "main", "--threshold", "40%")
    assert quiet.returncode == 0 and "No change points" in quiet.stdout


def test_killed_ingest_leaves_no_half_run(db_url: str, tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", "run-k", {f"m{i}": [[1000 + i] * 20] for i in range(50)}, commit="b" * 40)
    killed = cli("history", "--db", db_url, "add", str(run),
                 env_extra={"INFER_BENCH_TEST_HOOKS": "1", "INFER_BENCH_TEST_KILL_INGEST": "1"})
    assert killed.returncode == -9
    with history.connect(db_url) as db:
        assert counts(db) == {"machines": 0, "commits": 0, "runs": 0, "cells": 0, "processes": 0}
    again = cli("history", "--db", db_url, "add", str(run))
    assert again.returncode == 0 and "added run run-k: 50 cells, 50 processes" in again.stdout


def test_two_concurrent_ingests(db_url: str, tmp_path: Path) -> None:
    runs = step_history(tmp_path, commits=6, step_at=None, factor=1.0, models=[f"m{i}" for i in range(20)])
    procs = [subprocess.Popen([sys.executable, "-m", "bench.cli", "history", "--db", db_url, "add", *map(str, order)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for order in (runs, runs[::-1])]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(o.count("added run") for o, _ in outs) == 6  # each run added exactly once, by one of them
    with history.connect(db_url) as db:
        assert counts(db)["runs"] == 6 and counts(db)["processes"] == 6 * 20 * 3


def test_concurrent_migrations(db_url: str) -> None:
    code = "import sys; from bench.results import history; history.connect(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with history.connect(db_url) as db:
        assert db.rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_unknown_schema_version_is_refused(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    with history.connect(db_url) as db, db.transaction():
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    done = main(capsys, "history", "--db", db_url, "list")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert f"schema version {SCHEMA_VERSION + 1}" in line and "upgrade infer-bench" in line


def test_corrupt_sqlite_file_then_rebuild(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    runs = step_history(tmp_path / "runs", commits=3, step_at=None, factor=1.0)
    db.write_bytes(b"this is not a database" * 200)
    done = main(capsys, "history", "--db", str(db), "list")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "corrupt" in line and "history rebuild" in line
    rebuilt = main(capsys, "history", "--db", str(db), "rebuild", str(tmp_path / "runs"))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "3 runs" in rebuilt.stdout
    listed = main(capsys, "history", "--db", str(db), "list")
    assert listed.returncode == 0 and "3 commits" in listed.stdout
    assert len(runs) == 3


def test_postgres_unreachable(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                              require_service: Callable[[bool, str], None]) -> None:
    # without psycopg the same command names the extra instead (test_psycopg_missing_names_the_extra)
    require_service(importlib.util.find_spec("psycopg") is not None, "psycopg not installed (pip install 'infer-bench[postgres]')")
    url = f"postgresql://postgres@/nothing?host={tmp_path}&port=5999"
    done = main(capsys, "history", "--db", url, "list")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "cannot connect to PostgreSQL" in line


def test_psycopg_missing_names_the_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['psycopg'] = None; from bench.cli import main; "
            "sys.exit(main(['history', '--db', 'postgresql://u:secret@db/bench', 'list']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "pip install 'infer-bench[postgres]'" in line and "secret" not in line


def test_run_from_another_machine_starts_its_own_series(capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path) -> None:
    a = step_history(tmp_path / "a", commits=2, step_at=None, factor=1.0, host="hostA")
    b = step_history(tmp_path / "b", commits=1, step_at=None, factor=1.0, host="hostB")
    assert main(capsys, "history", "--db", db_url, "add", *map(str, a)).returncode == 0
    done = main(capsys, "history", "--db", db_url, "add", str(b[0]))
    assert done.returncode == 0
    assert "machine hostB" in done.stderr and "own series" in done.stderr
    with history.connect(db_url) as db:
        series = history.load_series(db)
    assert sorted((s.host, len(s.points)) for s in series) == [("hostA", 2), ("hostB", 1)]


def test_commit_not_in_the_repository(capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", "run-x", {"m": [[5, 6, 7]]}, commit="c" * 40)
    bad = main(capsys, "history", "--db", db_url, "add", str(run), "--commit", "no-such-ref", "--repo", str(ROOT))
    assert bad.returncode == 2
    (line,) = bad.stderr.strip().splitlines()
    assert "commit 'no-such-ref' is not in the git repository" in line
    kept = main(capsys, "history", "--db", db_url, "add", str(run), "--repo", str(ROOT))
    assert kept.returncode == 0 and "not in this git repository" in kept.stderr
    with history.connect(db_url) as db:
        assert db.rows("SELECT sha, known FROM commits") == [("c" * 40, 0)]


def test_commit_override_resolves_with_git(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", "run-o", {"m": [list(np.arange(1, 10))]}, commit="d" * 40)
    db = str(tmp_path / "h.sqlite")
    done = main(capsys, "history", "--db", db, "add", str(run), "--commit", "HEAD", "--branch", "release", "--repo", str(ROOT))
    assert done.returncode == 0, done.stderr
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    with history.connect(db) as database:
        assert database.rows("SELECT commit_sha, branch FROM runs") == [(head, "release")]


def test_commit_times_sort_across_time_zones() -> None:
    from bench.results.history.ingest import utc

    assert utc("2026-01-01T01:30:00+01:00") == "2026-01-01T00:30:00+00:00" < utc("2026-01-01T00:40:00+00:00")  # type: ignore[operator]


def test_database_from_the_environment_else_the_default_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run = write_run(tmp_path / "r", "run-env", {"m": [[1, 2, 3]]}, commit="e" * 40)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFER_BENCH_DB", raising=False)
    assert main(capsys, "history", "add", str(run)).returncode == 0
    default = tmp_path / ".infer-bench" / "history.sqlite"
    assert default.exists()
    with history.connect(str(default)) as db:
        assert db.rows("PRAGMA journal_mode") == [("wal",)]
    monkeypatch.setenv("INFER_BENCH_DB", str(tmp_path / "team.sqlite"))
    done = main(capsys, "history", "add", str(run))
    assert done.returncode == 0 and "team.sqlite" in done.stdout and "added run run-env" in done.stdout
