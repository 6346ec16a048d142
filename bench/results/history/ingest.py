"""Put one run (a results file) into the history database: idempotent, atomic, safe with two writers.

Idempotent: a run is keyed by its run_id; a run already there adds nothing. Atomic: everything of a run
goes in one transaction, so a killed `history add` leaves no half run. Two writers: SQLite serialises
them on the file's write lock (busy timeout); PostgreSQL on the primary keys (`ON CONFLICT DO NOTHING`
for the shared rows, and a run inserted twice at once makes the second transaction add nothing).

The unit of evidence is the worker process: each cell record of a run is one process (a repetition) of
one cell, summarised by median, p90, p99, mean and sample count of its `latencies_ns`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.results.history.db import Database, HistoryError
from reports.schema import IDENTITY_FIELDS, RunFile, read_run_file, resolve_results_path

# What makes a machine the same machine: a series never mixes machines (a run from elsewhere starts its own).
MACHINE_FIELDS = ("host", "cpu_model", "logical_cores", "memory_bytes", "gpus")


@dataclass
class Revision:
    """The commit a run measured, as stored: from the run header, or from --commit/--branch."""

    sha: str | None
    branch: str | None
    parent: str | None = None
    committed: str | None = None
    dirty: bool | None = None
    known: bool = True  # False: not found in the repository (stored from the header as it is)


@dataclass
class IngestResult:
    run_id: str
    source: Path
    added: bool
    cells: int = 0
    processes: int = 0
    machine_id: str = ""
    revision: Revision | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ per-process statistics


def process_stats(latencies_ns: Sequence[int]) -> tuple[int, float | None, float | None, float | None, float | None]:
    """(samples, median, p90, p99, mean) of one process's latencies; None values when it has none."""
    if not latencies_ns:
        return 0, None, None, None, None
    x = np.asarray(latencies_ns, dtype=np.float64)
    p50, p90, p99 = np.percentile(x, (50, 90, 99))
    return len(x), float(p50), float(p90), float(p99), float(x.mean())


def cell_key(identity: Mapping[str, Any]) -> str:
    """The canonical text of a cell identity: the same cell in every run has the same key."""
    return json.dumps({k: identity.get(k) for k in IDENTITY_FIELDS}, sort_keys=True, separators=(",", ":"))


def processes_of(run: RunFile) -> dict[tuple[str, int], dict[str, Any]]:
    """A run's cell records by (cell, repetition): one per worker process (a resumed run's later record wins)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for record in run.cells:
        out[(str(record["cell_id"]), int(record.get("repetition", 0)))] = record
    return out


# ------------------------------------------------------------------ machine and commit


def machine_of(env: Mapping[str, Any]) -> dict[str, Any]:
    cpu = env.get("cpu") or {}
    gpus = ",".join(sorted(str(g.get("name", "")) for g in env.get("gpus") or []))
    return {"host": env.get("host"), "cpu_model": cpu.get("model"), "logical_cores": cpu.get("logical_cores"),
            "memory_bytes": env.get("memory_bytes"), "gpus": gpus}


def machine_id(machine: Mapping[str, Any]) -> str:
    text = json.dumps([machine.get(k) for k in MACHINE_FIELDS], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def utc(text: str | None) -> str | None:
    """A commit time as UTC ISO 8601, so that times from different time zones sort as text."""
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text).astimezone(_dt.timezone.utc).isoformat(timespec="seconds")
    except ValueError:
        return text


def resolve_commit(repo: Path, name: str) -> Revision:
    """A commit named by the user (sha, tag, branch): its full sha, parent and time, or an error."""
    sha = git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if not sha:
        raise HistoryError(f"commit {name!r} is not in the git repository at {repo.resolve()}; give a commit "
                           "that exists there (or run from the repository the run measured)")
    parent = git(repo, "rev-parse", "--verify", "--quiet", f"{sha}^")
    return Revision(sha, None, parent or None, utc(git(repo, "show", "-s", "--format=%cI", sha)))


def revision_of(header: Mapping[str, Any], repo: Path, commit: str | None, branch: str | None) -> Revision:
    """The run's revision: --commit/--branch override the header; a header commit git does not know is kept."""
    info = (header.get("env") or {}).get("git") or {}
    if commit is not None:
        rev = resolve_commit(repo, commit)
        rev.dirty = False
    else:
        rev = Revision(info.get("commit"), None, info.get("parent"), utc(info.get("committed")), info.get("dirty"))
        if rev.sha and not git(repo, "cat-file", "-e", f"{rev.sha}^{{commit}}"):
            rev.known = False
    rev.branch = branch if branch is not None else info.get("branch")
    return rev


# ------------------------------------------------------------------ ingest


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_run(path: Path) -> RunFile:
    run = read_run_file(resolve_results_path(path))
    if run.header is None:
        raise HistoryError(f"{run.path}: no run header; only files written by `infer-bench run` can go into history")
    return run


def ingest(database: Database, path: Path, commit: str | None = None, branch: str | None = None,
           repo: Path | None = None) -> IngestResult:
    """Add one run to the history; a run already there adds nothing (result.added is False)."""
    run = read_run(path)
    header = run.header or {}
    rev = revision_of(header, repo or Path.cwd(), commit, branch)
    machine = machine_of(header.get("env") or {})
    result = IngestResult(str(header.get("run_id")), run.path, False, machine_id=machine_id(machine), revision=rev)
    rows = _process_rows(run)
    with database.transaction():
        if database.rows("SELECT 1 FROM runs WHERE run_id = ?", (result.run_id,)):
            return result
        result.notes += _machine_notes(database, result.machine_id, machine)
        if not _insert_run(database, run, header, rev, machine, result.machine_id):
            result.notes.clear()  # another writer added this run meanwhile (PostgreSQL: waited for it on the key)
            return result
        _insert_cells(database, result.run_id, run, rows)
        _test_kill_hook()
    result.added, result.cells, result.processes = True, len({r[0] for r in rows}), len(rows)
    if rev.dirty:
        result.notes.append("the run measured a working directory with uncommitted changes: series leave it out "
                            "unless --include-dirty")
    if rev.sha and not rev.known:
        result.notes.append(f"commit {rev.sha[:12]} is not in this git repository: stored with the parent and time "
                            "the run header gives (pass --commit to name another)")
    return result


def _test_kill_hook() -> None:
    """Test hook (INFER_BENCH_TEST_HOOKS=1 and INFER_BENCH_TEST_KILL_INGEST=1): SIGKILL this process with the
    run's rows written but not committed, as a killed `history add` would be."""
    if os.environ.get("INFER_BENCH_TEST_HOOKS") == "1" and os.environ.get("INFER_BENCH_TEST_KILL_INGEST") == "1":
        os.kill(os.getpid(), signal.SIGKILL)


def _machine_notes(database: Database, mid: str, machine: Mapping[str, Any]) -> list[str]:
    if database.rows("SELECT 1 FROM machines WHERE machine_id = ?", (mid,)):
        return []
    others = database.rows("SELECT COUNT(*) FROM runs")
    if not others or not others[0][0]:
        return []
    return [f"machine {machine.get('host')} ({machine.get('cpu_model')}, {machine.get('logical_cores')} cores) is new "
            f"to this history: its runs form their own series (a series never mixes machines)"]


def _insert_run(database: Database, run: RunFile, header: Mapping[str, Any], rev: Revision,
                machine: Mapping[str, Any], mid: str) -> bool:
    """The machine, commit and run rows; False when the run is already there (nothing inserted for it)."""
    env = header.get("env") or {}
    database.execute(
        "INSERT INTO machines (machine_id, host, cpu_model, logical_cores, memory_bytes, gpus, fingerprint) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (mid, *(machine.get(k) for k in MACHINE_FIELDS), json.dumps(machine, sort_keys=True)))
    if rev.sha:
        database.execute("INSERT INTO commits (sha, parent, committed, known) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                         (rev.sha, rev.parent, rev.committed, int(rev.known)))
    inserted = database.execute(
        "INSERT INTO runs (run_id, machine_id, commit_sha, branch, dirty, created, scenario_path, source, header, "
        "ingested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (header.get("run_id"), mid, rev.sha, rev.branch, None if rev.dirty is None else int(bool(rev.dirty)),
         str(header.get("created") or ""), header.get("scenario_path"), str(run.path.resolve()),
         json.dumps({k: v for k, v in header.items() if k != "scenario_text"} | {"env": env}, default=str), _now()))
    return bool(inserted.rowcount)


def _process_rows(run: RunFile) -> list[tuple[Any, ...]]:
    return [(key[0], key[1], record, *process_stats(record.get("latencies_ns") or []))
            for key, record in processes_of(run).items()]


def _insert_cells(database: Database, run_id: str, run: RunFile, rows: list[tuple[Any, ...]]) -> None:
    cells: dict[str, tuple[Any, ...]] = {}
    for cell_id, _rep, record, *_ in rows:
        identity = {k: record.get(k) for k in IDENTITY_FIELDS}
        cells[cell_id] = (run_id, cell_id, cell_key(identity), record.get("model"), record.get("variant"),
                          record.get("device", "cpu"), int(record.get("batch_size") or 1), json.dumps(identity))
    database.executemany("INSERT INTO cells (run_id, cell_id, cell_key, model, variant, device, batch_size, identity) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", cells.values())
    database.executemany(
        "INSERT INTO processes (run_id, cell_id, repetition, status, error, samples, median_ns, p90_ns, p99_ns, mean_ns) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, c, rep, rec.get("status", "ok"), rec.get("error"), *stats) for c, rep, rec, *stats in rows])
    loads = [(run_id, c, rep, json.dumps(rec["load"])) for c, rep, rec, *_ in rows if rec.get("load")]
    if loads:
        database.executemany("INSERT INTO load_results (run_id, cell_id, repetition, body) VALUES (?, ?, ?, ?)", loads)
