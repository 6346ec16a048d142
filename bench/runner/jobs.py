"""Parent side of a sweep: one worker per job, records for everything, whatever the worker does.

The runner never imports TensorFlow. For each job (a group's repetition) it builds the worker's
task, environment and interpreter, runs it through bench.runner.procs, and appends each cell record to
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

from bench.runner.client import run_with_keras_retry
from bench.runner.procs import Message, WorkerOutcome, WorkerSpec
from bench.scenario import ModelEntry, Scenario
from bench.scenario.sweep import Cell, GroupKey, Job, parse_affinity, parse_env
from bench.worker.protocol import CellRef, MeasureTask
from infer_core.detect import required_keras, worker_env
from infer_core.model import ModelSpec
from reports.schema import CellRecord


class Reporter(Protocol):
    """What the CLI shows while a sweep runs (the runner itself prints nothing)."""

    def job_started(self, job: Job, index: int, total: int) -> None: ...
    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None: ...
    def cell_done(self, record: Mapping[str, Any]) -> None: ...
    def expect(self, total: int) -> None: ...  # the number of cells to measure grew (another adaptive round)


class QuietReporter:
    def job_started(self, job: Job, index: int, total: int) -> None:
        pass

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        pass

    def cell_done(self, record: Mapping[str, Any]) -> None:
        pass

    def expect(self, total: int) -> None:
        pass


Append = Callable[[dict[str, Any]], None]


# ------------------------------------------------------------------ building a worker


def model_spec(entry: ModelEntry, key: GroupKey, zoo_dir: Path | None) -> ModelSpec:
    """The infer_core ModelSpec one group loads."""
    threads: dict[str, Any] = {"device": key.device, "intra_op_threads": key.intra_op_threads, "inter_op_threads": key.inter_op_threads}
    if entry.zoo is not None:
        from bench.runner.zoo_export import spec_for

        assert zoo_dir is not None, f"zoo model {entry.zoo} not exported"
        return spec_for(zoo_dir, key.variant, **threads)
    return ModelSpec(
        path=entry.file_for(key.variant), variant=key.variant, builder=entry.builder, signature=entry.signature,
        inputs=entry.inputs, outputs=entry.outputs, shapes=dict(entry.shapes), vocab_size=entry.vocab_size, **threads,
    )


def cell_ref(cell: Cell, job: Job) -> CellRef:
    return CellRef(cell.cell_id, job.group.group_id, job.repetition, cell.identity())


@dataclass
class TaskBuilder:
    """Turns a job into a WorkerSpec: the typed task, environment, interpreter, timeout, affinity."""

    scenario: Scenario
    model_dirs: Mapping[str, Path] = field(default_factory=dict)  # zoo model name -> exported dir
    extra: Callable[[Job], Mapping[str, Any]] | None = None  # tests: MeasureTask fields per job (a fault)

    def entry(self, key: GroupKey) -> ModelEntry:
        return next(m for m in self.scenario.models if m.name == key.model).resolved()

    def specs(self, job: Job) -> dict[str, ModelSpec]:
        """One spec per variant the job measures (the process settings are the group's)."""
        key = job.group.key
        entry = self.entry(key)
        zoo_dir = self.model_dirs.get(entry.zoo or "")
        variants = dict.fromkeys(c.key.variant for c in job.cells)
        return {v: model_spec(entry, dataclasses.replace(key, variant=v), zoo_dir) for v in variants}

    def task(self, job: Job) -> MeasureTask:
        entry = self.entry(job.group.key)
        specs, load = self.specs(job), None
        if any(c.load_point for c in job.cells):  # serving load points: threads enforced (bench.runner.capacity)
            from bench.runner.capacity import enforce_threads, scenario_load

            load = scenario_load(self.scenario)
            specs = {v: enforce_threads(spec, load) for v, spec in specs.items()}
        task = MeasureTask(
            specs=specs,
            cells=tuple(cell_ref(c, job) for c in job.cells), policy=self.scenario.policy,
            seed=self.scenario.run.seed, inputs_file=entry.inputs_file, memory_limit_mb=self.scenario.run.memory_limit_mb,
            load=load.to_json() if load is not None else None,
        )
        return dataclasses.replace(task, **self.extra(job)) if self.extra is not None else task

    def env(self, job: Job, specs: Mapping[str, ModelSpec]) -> dict[str, str]:
        """The first spec's environment (its threads; for serving load points, the enforced inter-op pool), with
        the Keras flavour that every variant of the process accepts."""
        first = next(iter(specs.values()))
        env = worker_env(first)
        needs = {required_keras(s.variant or v, s.builder) for v, s in specs.items()} - {None}
        if needs:
            env["TF_USE_LEGACY_KERAS"] = "1" if "1" in needs else "0"
        return {**env, **parse_env(job.group.key.env_toggles)}

    def worker_spec(self, job: Job) -> WorkerSpec:
        task = self.task(job)
        label = job.group.key.python
        return WorkerSpec(
            task=task.to_json(), env=self.env(job, task.specs),
            python=self.scenario.python_paths.get(label, sys.executable) if label else sys.executable,
            timeout_s=self.scenario.run.timeout, affinity=parse_affinity(job.group.key.affinity),
        )


# ------------------------------------------------------------------ records


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


class JobRecorder:
    """One job's records, whoever runs its worker: every cell ends up with exactly one record, appended
    (and shown) the moment it is known. `stamp` adds fields to each record (the fleet host)."""

    def __init__(self, job: Job, append: Append, reporter: Reporter, stamp: Mapping[str, Any] | None = None) -> None:
        self.job, self.append, self.reporter, self.stamp = job, append, reporter, dict(stamp or {})
        self.todo = {c.cell_id: c for c in job.cells}
        self.records: list[dict[str, Any]] = []

    @property
    def nothing_kept(self) -> bool:
        return len(self.todo) == len(self.job.cells)

    def keep(self, record: CellRecord) -> None:
        as_json = {**record.to_json(), **self.stamp}
        self.append(as_json)
        self.records.append(as_json)
        self.reporter.cell_done(as_json)

    def on_message(self, message: Message) -> None:
        kind = message.get("kind")
        if kind == "progress":
            self.reporter.progress(str(message["cell_id"]), int(message["iterations"]), float(message["median_ns"]))
        elif kind == "cell" and message.get("cell_id") in self.todo:
            self.todo.pop(message["cell_id"])
            self.keep(CellRecord.from_json(message))

    def finish(self, outcome: WorkerOutcome, fields: Mapping[str, Any]) -> JobResult:
        """Records for the cells the worker did not finish, with `fields` (status, error, ...)."""
        for cell in list(self.todo.values()):
            self.keep(cell_ref(cell, self.job).record(**fields))
        self.todo.clear()
        return JobResult(self.job, outcome, self.records)


NO_OUTCOME = WorkerOutcome(messages=[], exit_code=None, signal=None, timed_out=False, stderr_tail="")


def start_failure(spec: WorkerSpec, exc: OSError) -> dict[str, Any]:
    return {"status": "failed", "error": f"cannot start the worker ({spec.python}): {exc.strerror or exc}"}


def run_job(job: Job, builder: TaskBuilder, append: Append, reporter: Reporter) -> JobResult:
    """Run one worker here; every cell of the job ends up with exactly one record, appended as it comes."""
    recorder = JobRecorder(job, append, reporter)
    spec = builder.worker_spec(job)
    try:
        outcome = run_with_keras_retry(spec, recorder.on_message, retry_ok=lambda: recorder.nothing_kept)
    except OSError as exc:  # the interpreter or taskset is missing: the cells fail, the sweep goes on
        return recorder.finish(NO_OUTCOME, start_failure(spec, exc))
    return recorder.finish(outcome, failure_fields(outcome, spec.timeout_s))


class Executor(Protocol):
    """Where jobs run: here, one after another (`bench.runner.executors.local`), or on the machines of a
    cluster (`bench.runner.executors.ray_executor`). Either way every cell gets its record through `append`."""

    def run(self, jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter) -> list[JobResult]: ...


def run_here(jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter) -> list[JobResult]:
    """Each job's worker on this machine, in schedule order (the local executor's work)."""
    results = []
    for index, job in enumerate(jobs):
        reporter.job_started(job, index, len(jobs))
        results.append(run_job(job, builder, append, reporter))
    return results


def run_jobs(jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter | None = None,
             executor: Executor | None = None) -> list[JobResult]:
    """Run the schedule (default: here, in order); KeyboardInterrupt propagates after running workers are killed."""
    if executor is None:
        return run_here(jobs, builder, append, reporter or QuietReporter())
    return executor.run(jobs, builder, append, reporter or QuietReporter())
