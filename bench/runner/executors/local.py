"""The local executor: every job here, one after another, as `infer-bench run` always did."""

from __future__ import annotations

from bench.runner.jobs import Append, JobResult, Reporter, TaskBuilder, run_here
from bench.scenario.sweep import Job


class LocalExecutor:
    """Runs each job's worker on this machine in schedule order; Ctrl-C kills the running worker and propagates.

    The default of `run_jobs` (which calls `run_here` directly, so jobs.py needs no executor import)."""

    def run(self, jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter) -> list[JobResult]:
        return run_here(jobs, builder, append, reporter)
