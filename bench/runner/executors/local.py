"""The local executor: every job here, one after another, as `infer-bench run` always did."""

from __future__ import annotations

from bench.runner.jobs import Append, JobResult, Reporter, TaskBuilder, run_job
from bench.scenario.sweep import Job


class LocalExecutor:
    """Runs each job's worker on this machine in schedule order; Ctrl-C kills the running worker and propagates."""

    def run(self, jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter) -> list[JobResult]:
        results = []
        for index, job in enumerate(jobs):
            reporter.job_started(job, index, len(jobs))
            results.append(run_job(job, builder, append, reporter))
        return results
