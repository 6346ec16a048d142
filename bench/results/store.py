"""The results store: one run directory, an append-only, fsync'd results.jsonl, a `latest` link.

Each record is one line written with `reports.schema.dumps`, flushed and fsync'd before `append`
returns, so a parent killed at any moment loses no record it already wrote; at worst the last line
is torn. Reopening a run (resume) cuts such a torn tail off before appending, so the next record
never glues onto half a line.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.errors import BenchError
from reports.errors import ResultsFileError
from reports.schema import RunFile, dumps, read_run_file

RESULTS_NAME = "results.jsonl"
LATEST = "latest"


class StoreError(BenchError):
    """A run directory cannot be created, written or resumed."""


def new_run_id(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass
class ResumeInfo:
    run: RunFile
    done: frozenset[tuple[str, int]]  # (cell_id, repetition) already recorded
    torn_line: int | None
    has_parity: frozenset[str]  # models whose parity record is stored


class RunStore:
    """Appends records to <run_dir>/results.jsonl. Use as a context manager."""

    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.run_dir = run_dir
        self.run_id = run_id
        self.path = run_dir / RESULTS_NAME
        self._file: IO[bytes] | None = None

    @classmethod
    def create(cls, run_dir: Path, run_id: str) -> RunStore:
        """A new run directory; refuses one that already holds results."""
        if (run_dir / RESULTS_NAME).exists():
            raise StoreError(f"{run_dir} already holds a run; pass --resume {run_dir} to finish it, or another --out")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{run_dir}: cannot create the run directory ({exc.strerror})") from None
        store = cls(run_dir, run_id)
        store._open()
        return store

    @classmethod
    def resume(cls, run_dir: Path) -> tuple[RunStore, ResumeInfo]:
        """Reopen a run for appending; says which cells are already recorded."""
        path = run_dir / RESULTS_NAME
        if not path.exists():
            raise StoreError(f"{run_dir}: no {RESULTS_NAME} here; --resume needs a run directory that infer-bench run wrote")
        run = read_run_file(path)
        if run.header is None:
            raise StoreError(f"{path}: no run header; this file cannot be resumed, start a new run")
        info = ResumeInfo(run, finished_cells(run), run.torn_line, frozenset(p.get("model", "") for p in run.parity))
        cut_torn_tail(path)
        store = cls(run_dir, str(run.header["run_id"]))
        store._open()
        return store, info

    def _open(self) -> None:
        try:
            self._file = open(self.path, "ab")
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open for writing ({exc.strerror})") from None

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (flush + fsync) before returning."""
        assert self._file is not None, "store is closed"
        line = dumps({**record, "run_id": self.run_id}).encode("utf-8") + b"\n"
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def finished_cells(run: RunFile) -> frozenset[tuple[str, int]]:
    return frozenset((str(c["cell_id"]), int(c.get("repetition", 0))) for c in run.cells)


def cut_torn_tail(path: Path) -> int:
    """Truncate an incomplete last line (no trailing newline); returns the bytes removed."""
    with open(path, "r+b") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
        return len(data) - keep


def update_latest(run_dir: Path) -> Path:
    """Point <run_dir's parent>/latest at the run (atomically: a new link, then rename)."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, link)
    except OSError as exc:
        raise StoreError(f"{link}: cannot update the 'latest' link ({exc.strerror})") from None
    return link


__all__ = ["RunStore", "ResumeInfo", "StoreError", "ResultsFileError", "new_run_id", "update_latest", "cut_torn_tail"]
