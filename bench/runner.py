"""Parent side of a sweep: one worker per job, records for everything, whatever the worker does.

The runner never imports TensorFlow. For each job (a group's repetition) it builds the worker's
task, environment and interpreter, runs it through bench.procs, and appends each cell record to
the store the moment the worker reports it. When the worker crashes, hangs or raises, the cells it
did not finish get a record of their own (status crashed / timeout / failed, exit code or signal,
stderr tail) and the sweep goes on. Ctrl-C kills the worker and propagates: finished cells stay.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.procs import Message, WorkerOutcome, WorkerSpec, run_worker
from bench.scenario import ModelEntry, Scenario
from bench.sweep import Cell, GroupKey, Job, parse_env


class Reporter(Protocol):
    """What the CLI shows while a sweep runs (the runner itself prints nothing)."""

    def job_started(self, job: Job, index: int, total: int) -> None: ...
    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None: ...
    def cell_done(self, record: Mapping[str, Any]) -> None: ...


class QuietReporter:
    def job_started(self, job: Job, index: int, total: int) -> None:
        pass

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        pass

    def cell_done(self, record: Mapping[str, Any]) -> None:
        pass


Append = Callable[[dict[str, Any]], None]


# ------------------------------------------------------------------ building a worker


def model_spec(entry: ModelEntry, key: GroupKey, zoo_dir: Path | None) -> Any:
    """The infer_core ModelSpec (JSON-able) one group loads."""
    threads: dict[str, Any] = {"device": key.device, "intra_op_threads": key.intra_op_threads, "inter_op_threads": key.inter_op_threads}
    if entry.zoo is not None:
        from bench.zoo_export import spec_for

        assert zoo_dir is not None, f"zoo model {entry.zoo} not exported"
        return spec_for(zoo_dir, key.variant, **threads)
    from infer_core.model import ModelSpec

    return ModelSpec(
        path=entry.file_for(key.variant), variant=key.variant, builder=entry.builder, signature=entry.signature,
        inputs=entry.inputs, outputs=entry.outputs, shapes=dict(entry.shapes), vocab_size=entry.vocab_size, **threads,
    )


def parse_affinity(text: str) -> tuple[int, ...]:
    """"0-2,5" -> (0, 1, 2, 5)."""
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return tuple(cpus)


def thread_env(key: GroupKey) -> dict[str, str]:
    return {"OMP_NUM_THREADS": str(key.intra_op_threads)} if key.intra_op_threads > 0 else {}


@dataclass
class TaskBuilder:
    """Turns a job into a WorkerSpec: task JSON, environment, interpreter, timeout, affinity."""

    scenario: Scenario
    model_dirs: Mapping[str, Path] = field(default_factory=dict)  # zoo model name -> exported dir
    extra: Callable[[Job], Mapping[str, Any]] | None = None  # tests: test hooks per job

    def entry(self, key: GroupKey) -> ModelEntry:
        return next(m for m in self.scenario.models if m.name == key.model).resolved()

    def task(self, job: Job) -> dict[str, Any]:
        key, entry = job.group.key, self.entry(job.group.key)
        spec = model_spec(entry, key, self.model_dirs.get(entry.zoo or ""))
        task: dict[str, Any] = {
            "task": "measure", "spec": spec.to_json(),
            "cells": [{"cell_id": c.cell_id, "batch_size": c.batch_size} for c in job.cells],
            "policy": self.scenario.policy.to_json(), "seed": self.scenario.run.seed,
            "inputs_file": entry.inputs_file, "memory_limit_mb": self.scenario.run.memory_limit_mb,
        }
        if self.extra is not None:
            task.update(self.extra(job))
        return task

    def env(self, job: Job, spec_json: Mapping[str, Any]) -> dict[str, str]:
        from infer_core.detect import worker_env
        from infer_core.model import ModelSpec

        env = worker_env(ModelSpec.from_json(spec_json))
        env.update(thread_env(job.group.key))
        env.update(parse_env(job.group.key.env_toggles))
        return env

    def worker_spec(self, job: Job) -> WorkerSpec:
        task = self.task(job)
        label = job.group.key.python
        return WorkerSpec(
            task=task, env=self.env(job, task["spec"]),
            python=self.scenario.python_paths.get(label, sys.executable) if label else sys.executable,
            timeout_s=self.scenario.run.timeout, affinity=parse_affinity(job.group.key.affinity),
        )


# ------------------------------------------------------------------ records

EMPTY_CELL: dict[str, Any] = {
    "status": "ok", "error": None, "exit_code": None, "signal": None, "stderr_tail": None,
    "latencies_ns": [], "iterations": 0, "stop_reason": None, "load_s": None, "first_call_s": None,
    "warmup_iterations": 0, "warmup_s": None, "throughput": None, "peak_rss_bytes": None,
    "gpu_peak_bytes": None, "call_path": "", "retraces": None, "loadavg_start": None, "loadavg_end": None,
    "started": None, "ended": None, "host": None, "flops_per_sample": None, "profile": None,
}


def cell_record(cell: Cell, job: Job, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A complete cell record: identity from the plan, measurement fields from the worker."""
    record: dict[str, Any] = {"kind": "cell", "cell_id": cell.cell_id, "group_id": job.group.group_id,
                              "repetition": job.repetition, **cell.identity(), **EMPTY_CELL}
    record.update({k: v for k, v in fields.items() if k not in ("kind", "cell_id", "batch_size")})
    return record


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def failure_fields(outcome: WorkerOutcome, timeout_s: float) -> dict[str, Any]:
    """How a worker's end turns into the status and error of the cells it did not finish."""
    fields: dict[str, Any] = {"exit_code": outcome.exit_code, "signal": outcome.signal,
                              "stderr_tail": outcome.stderr_tail or None}
    error = next((m for m in outcome.messages if m.get("kind") == "error"), None)
    if outcome.timed_out:
        status, text = "timeout", f"worker timed out after {timeout_s:g} s; its process group was killed"
    elif error is not None:
        status, text = "failed", f"{error.get('error_class', 'error')}: {error.get('message', '')}"
    elif outcome.exit_code == 1 and outcome.signal is None:
        status, text = "failed", f"worker raised: {_last_line(outcome.stderr_tail) or 'no traceback'}"
    elif outcome.exit_code == 0:
        status, text = "crashed", "worker exited without measuring this cell"
    else:
        status, text = "crashed", f"worker {outcome.describe()}"
    fields.update(status=status, error=text)
    return fields


# ------------------------------------------------------------------ running


@dataclass
class JobResult:
    job: Job
    outcome: WorkerOutcome
    records: list[dict[str, Any]]


def _needs_legacy_keras(outcome: WorkerOutcome) -> bool:
    return any(m.get("kind") == "error" and m.get("error_class") == "LegacyKerasRequired" for m in outcome.messages)


def run_job(job: Job, builder: TaskBuilder, append: Append, reporter: Reporter) -> JobResult:
    """Run one worker; every cell of the job ends up with exactly one record, appended as it comes."""
    by_id = {c.cell_id: c for c in job.cells}
    records: list[dict[str, Any]] = []

    def on_message(message: Message) -> None:
        kind = message.get("kind")
        if kind == "progress":
            reporter.progress(str(message["cell_id"]), int(message["iterations"]), float(message["median_ns"]))
        elif kind == "cell" and message.get("cell_id") in by_id:
            record = cell_record(by_id.pop(message["cell_id"]), job, message)
            append(record)
            records.append(record)
            reporter.cell_done(record)

    spec = builder.worker_spec(job)
    try:
        outcome = run_worker(spec, on_message)
        if _needs_legacy_keras(outcome) and len(by_id) == len(job.cells):
            spec = dataclasses.replace(spec, env={**spec.env, "TF_USE_LEGACY_KERAS": "1"})
            outcome = run_worker(spec, on_message)  # a legacy .h5: load it with tf-keras
    except OSError as exc:  # the interpreter or taskset is missing: the cells fail, the sweep goes on
        outcome = WorkerOutcome(messages=[], exit_code=None, signal=None, timed_out=False, stderr_tail="")
        fields: dict[str, Any] = {"status": "failed", "error": f"cannot start the worker ({spec.python}): {exc.strerror or exc}"}
    else:
        fields = failure_fields(outcome, spec.timeout_s)
    if by_id:
        for cell in list(by_id.values()):
            record = cell_record(cell, job, fields)
            append(record)
            records.append(record)
            reporter.cell_done(record)
    return JobResult(job, outcome, records)


def run_jobs(jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter | None = None) -> list[JobResult]:
    """Run the schedule in order; KeyboardInterrupt propagates after the current worker is killed."""
    reporter = reporter or QuietReporter()
    results = []
    for index, job in enumerate(jobs):
        reporter.job_started(job, index, len(jobs))
        results.append(run_job(job, builder, append, reporter))
    return results
