"""What runs on a cluster machine for one job: the usual worker subprocess, there.

The driver sends the job, the scenario (inside the TaskBuilder) and the checksums of the model files
the job loads. On the machine: zoo models are exported (cached per machine), the model files are
checked against the driver's checksums (a shared path or a copy must hold the same bytes), and the
worker runs through the one worker client with its environment, timeout and process-group
containment, exactly as a local job. The worker's messages go back whole when it ends; the driver
turns them into records (bench.runner.jobs.JobRecorder), so a record is built in one place only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.runner.jobs import NO_OUTCOME, TaskBuilder, failure_fields, start_failure
from bench.runner.procs import Message, WorkerOutcome
from bench.scenario.sweep import Job


@dataclass
class HostOutcome:
    """One job's end on its machine: the worker's outcome, the fields for unfinished cells, where and when."""

    outcome: WorkerOutcome
    fields: dict[str, Any]
    machine: str  # socket.gethostname() of the machine that ran it
    pid: int  # the Ray task's process (the worker's parent)
    started: float
    ended: float


def files_of(path: Path) -> list[Path]:
    """The files a model path stands for: itself, a directory's files, or a checkpoint prefix's files."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return sorted(p for p in path.parent.glob(path.name + ".*") if p.is_file()) if path.parent.is_dir() else []


def checksum(path: Path) -> str | None:
    """sha256 over the path's files (names relative to its folder, then contents); None when there are none."""
    files = files_of(path)
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(path.parent)).encode() + b"\0")
        with f.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _paths(builder: TaskBuilder, job: Job) -> list[str]:
    """Every file the job's worker reads: the model, its graph-building code, its inputs file (zoo: none)."""
    entry = builder.entry(job.group.key)
    if entry.zoo is not None:
        return []
    paths = [entry.file_for(job.group.key.variant)]
    if entry.builder and ".py:" in entry.builder:
        paths.append(entry.builder.rpartition(":")[0])
    return paths + ([entry.inputs_file] if entry.inputs_file else [])


def model_checksums(builder: TaskBuilder, job: Job) -> dict[str, str]:
    """The driver's checksums of the files this job's worker reads (zoo models are exported on each machine)."""
    sums = {p: checksum(Path(p)) for p in _paths(builder, job)}
    return {p: s for p, s in sums.items() if s is not None}


def check_files(checksums: Mapping[str, str]) -> str | None:
    """Why this machine cannot run the job's files, or None when they hold the driver's bytes."""
    for name, expected in checksums.items():
        found = checksum(Path(name))
        if found is None:
            return f"model file {name} is not on this machine; give a path every machine shares, or copy it there"
        if found != expected:
            return f"model file {name} differs from the driver's (sha256 {expected[:12]}...); copy the same file here"
    return None


def _host_builder(builder: TaskBuilder, job: Job) -> TaskBuilder:
    """The builder with this machine's export of the job's zoo model."""
    entry = builder.entry(job.group.key)
    if entry.zoo is None:
        return builder
    from bench.runner.zoo_export import ensure_exported

    return dataclasses.replace(builder, model_dirs={**builder.model_dirs, entry.zoo: ensure_exported(entry.zoo)})


def _run(job: Job, builder: TaskBuilder, checksums: Mapping[str, str]) -> tuple[WorkerOutcome, dict[str, Any]]:
    from bench.errors import BenchError
    from bench.runner.client import run_with_keras_retry
    from infer_core.errors import InferCoreError

    problem = check_files(checksums)
    if problem is not None:
        return NO_OUTCOME, {"status": "failed", "error": problem}
    try:
        spec = _host_builder(builder, job).worker_spec(job)
    except (BenchError, InferCoreError) as exc:
        return NO_OUTCOME, {"status": "failed", "error": f"cannot prepare the model on this machine: {exc}"}
    cells_seen: list[Message] = []
    try:
        outcome = run_with_keras_retry(spec, lambda m: cells_seen.append(m) if m.get("kind") == "cell" else None,
                                       retry_ok=lambda: not cells_seen)
    except OSError as exc:
        return NO_OUTCOME, start_failure(spec, exc)
    return outcome, failure_fields(outcome, spec.timeout_s)


def run_on_host(job: Job, builder: TaskBuilder, checksums: Mapping[str, str]) -> HostOutcome:
    """The body of a Ray task: one job's worker on this machine (see the module docstring)."""
    started = time.time()
    outcome, fields = _run(job, builder, checksums)
    return HostOutcome(outcome, fields, socket.gethostname(), os.getpid(), started, time.time())


def host_fingerprint() -> dict[str, Any]:
    """The body of a Ray task: this machine's environment fingerprint, for the run header."""
    from bench.results import fingerprint

    return fingerprint.collect()
