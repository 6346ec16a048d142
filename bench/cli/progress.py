"""What a running sweep shows: rich progress bars on a terminal, one plain line per cell elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.scenario.sweep import Job


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _median_ms(record: Mapping[str, Any]) -> str:
    from bench.timing import median

    lat = record.get("latencies_ns") or []
    return f"median {median(lat) / 1e6:.3f} ms ({len(lat)} it, {record.get('stop_reason')})" if lat else ""


def cell_line(record: Mapping[str, Any]) -> str:
    """One finished cell, in words, for logs and the progress display."""
    status = str(record.get("status"))
    detail = _median_ms(record) if status == "ok" else str(record.get("error") or "")
    return f"{status:<8} {record.get('cell_id')} r{record.get('repetition')}  {detail}"


class LineReporter:
    """Plain lines on stderr (CI logs, pipes): one per finished cell."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def job_started(self, job: Job, index: int, total: int) -> None:
        say(f"[worker {index + 1}/{total}] {job.group.group_id} repetition {job.repetition}")

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        pass

    def cell_done(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        say(f"  [{self.done}/{self.total}] {cell_line(record)}")

    def expect(self, total: int) -> None:
        self.total = total

    def __enter__(self) -> LineReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RichReporter:
    """rich progress bars: every cell of the run, and the current cell with its live median."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console)
        self.overall = self.bar.add_task("cells", total=total)
        self.current = self.bar.add_task("starting", total=None)

    def job_started(self, job: Job, index: int, total: int) -> None:
        self.bar.update(self.current, description=f"worker {index + 1}/{total}: {job.group.group_id} r{job.repetition} (loading)")

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        self.bar.update(self.current, description=f"{cell_id}: {iterations} it, median {median_ns / 1e6:.3f} ms")

    def cell_done(self, record: Mapping[str, Any]) -> None:
        from rich.markup import escape

        self.bar.advance(self.overall)
        self.bar.console.print(escape(cell_line(record)), highlight=False)

    def expect(self, total: int) -> None:
        self.bar.update(self.overall, total=total)

    def __enter__(self) -> RichReporter:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def make_reporter(total: int) -> LineReporter | RichReporter:
    return RichReporter(total) if sys.stderr.isatty() else LineReporter(total)
