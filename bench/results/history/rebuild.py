"""`history rebuild`: recreate the index from the results files (the source of truth).

SQLite: a new file is built beside the old one and renamed over it, so a corrupt or outdated file is
replaced whole and a reader never sees a half-built one. PostgreSQL: every row is deleted and the runs
ingested again in one transaction per run. What `history add --commit/--branch` overrode is not in the
results files; a rebuilt run takes the commit and branch its header gives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.results.history.db import Database, HistoryError, connect, target
from bench.results.history.ingest import IngestResult, ingest
from bench.results.store import RESULTS_NAME

TABLES = ("load_results", "processes", "cells", "runs", "commits", "machines")


def results_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every results.jsonl under the given run directories or folders of runs (not following links)."""
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob(RESULTS_NAME) if not any(part == "latest" for part in p.parts))
        else:
            raise HistoryError(f"{path}: no such results file or directory")


def _ingest_all(database: Database, files: Iterable[Path], repo: Path | None) -> list[IngestResult]:
    return [ingest(database, f, repo=repo) for f in files]


def rebuild(db: str | None, paths: Iterable[Path], repo: Path | None = None) -> list[IngestResult]:
    files = list(results_files(paths))
    where = target(db)
    if where.startswith(("postgresql://", "postgres://")):
        with connect(where) as database:
            with database.transaction():
                for table in TABLES:
                    database.execute(f"DELETE FROM {table}")
            return _ingest_all(database, files, repo)
    path = Path(where)
    fresh = path.with_name(f".{path.name}.rebuild-{os.getpid()}")
    try:
        with connect(str(fresh)) as database:
            results = _ingest_all(database, files, repo)
            database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(fresh, path)
    finally:
        for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
            leftover.unlink(missing_ok=True)
    return results
