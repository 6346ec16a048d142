"""Duet measurement, parent side: the jobs of each round run two at a time, started together, each pinned to
a core of its own, timing each batch size in one shared window (bench.worker.duet), so that the two processes
being compared see the same moments of a shared machine (Bulej et al., "Duet Benchmarking", ICPE 2020).

Pairs are the round's jobs in schedule order: (1st, 2nd), (3rd, 4th), ...; an odd one out runs alone and
its cells say `mode = "separate"`. Each duet gets an id and a meeting folder; the moment a partner's worker
process ends, however it ends, its thread here writes `gone.<name>` there, so that the other worker stops
waiting for it within milliseconds. Records from both workers are appended through one lock.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.runner.jobs import (
    Append,
    Executor,
    JobResult,
    QuietReporter,
    Reporter,
    TaskBuilder,
    run_job,
    run_jobs,
)
from bench.scenario.sweep import Job


def pairs(jobs: list[Job]) -> list[list[Job]]:
    """Consecutive jobs of the same round, two by two (the schedule keeps rounds whole)."""
    out: list[list[Job]] = []
    for job in jobs:
        if out and len(out[-1]) == 1 and out[-1][0].repetition == job.repetition:
            out[-1].append(job)
        else:
            out.append([job])
    return out


def cores(count: int) -> list[tuple[int, ...]]:
    """One core of this process's CPU set per partner (no pinning where there are not enough)."""
    usable = sorted(os.sched_getaffinity(0))
    return [(usable[i],) for i in range(count)] if len(usable) >= count else [() for _ in range(count)]


class _Locked:
    """The store's append and the progress display, shared by the two partner threads."""

    def __init__(self, append: Append, reporter: Reporter) -> None:
        self.lock, self._append, self._reporter = threading.Lock(), append, reporter

    def append(self, record: dict[str, Any]) -> None:
        with self.lock:
            self._append(record)

    def job_started(self, job: Job, index: int, total: int) -> None:
        with self.lock:
            self._reporter.job_started(job, index, total)

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        with self.lock:
            self._reporter.progress(cell_id, iterations, median_ns)

    def cell_done(self, record: Mapping[str, Any]) -> None:
        with self.lock:
            self._reporter.cell_done(record)

    def expect(self, total: int) -> None:
        with self.lock:
            self._reporter.expect(total)


class _Partner(TaskBuilder):
    """The scenario's TaskBuilder, plus the duet meeting place and this partner's core."""

    def __init__(self, base: TaskBuilder, duet: dict[str, Any], core: tuple[int, ...]) -> None:
        super().__init__(base.scenario, base.model_dirs, base.extra)
        self.duet, self.core = duet, core

    def task(self, job: Job) -> Any:
        return dataclasses.replace(super().task(job), duet=self.duet)

    def worker_spec(self, job: Job) -> Any:
        spec = super().worker_spec(job)
        return spec if spec.affinity or not self.core else dataclasses.replace(spec, affinity=self.core)


def _run_partner(job: Job, partner: _Partner, shared: _Locked) -> JobResult:
    """One partner's worker; when its process has ended, say so to the other worker."""
    try:
        return run_job(job, partner, shared.append, shared)
    finally:
        (Path(str(partner.duet["dir"])) / f"gone.{partner.duet['me']}").touch()


def _run_pair(pair: list[Job], builder: TaskBuilder, shared: _Locked, start: int, total: int) -> list[JobResult]:
    if len(pair) == 1:
        shared.job_started(pair[0], start, total)
        return [run_job(pair[0], builder, shared.append, shared)]
    with tempfile.TemporaryDirectory(prefix="infer-bench-duet-") as folder:
        duet_id = uuid.uuid4().hex[:12]
        partners = [_Partner(builder, {"dir": folder, "me": me, "partner": other, "id": duet_id}, core)
                    for me, other, core in zip("ab", "ba", cores(2), strict=True)]
        for offset, job in enumerate(pair):
            shared.job_started(job, start + offset, total)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="duet") as pool:
            futures = [pool.submit(_run_partner, job, partner, shared) for job, partner in zip(pair, partners, strict=True)]
            return [f.result() for f in futures]


def run_duets(jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter) -> list[JobResult]:
    """Every job, in duets; a record for every cell whatever either worker does."""
    shared, results, done = _Locked(append, reporter), [], 0
    for pair in pairs(jobs):
        results += _run_pair(pair, builder, shared, done, len(jobs))
        done += len(pair)
    return results


def run_scheduled(jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter | None = None,
                  executor: Executor | None = None) -> list[JobResult]:
    """The scenario's jobs as its `[measure] mode` asks: in duets on this machine, or one worker at a time
    (here, or on a cluster's machines through `executor`, where each machine runs one job at a time)."""
    if builder.scenario.policy.mode == "duet" and executor is None:
        return run_duets(jobs, builder, append, reporter or QuietReporter())
    return run_jobs(jobs, builder, append, reporter, executor)
