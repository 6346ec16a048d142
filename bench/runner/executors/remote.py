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


def checksum(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        digest.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        with f.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def model_checksums(builder: TaskBuilder, job: Job) -> dict[str, str]:
    """The driver's checksums of the files this job's worker loads (zoo models: none; exported on the host)."""
    entry = builder.entry(job.group.key)
    if entry.zoo is not None:
        return {}
    path = Path(entry.file_for(job.group.key.variant))
    return {str(path): checksum(path)} if path.exists() else {}


def check_files(checksums: Mapping[str, str]) -> str | None:
    """Why this machine cannot run the job's model files, or None when they hold the driver's bytes."""
    for name, expected in checksums.items():
        path = Path(name)
        if not path.exists():
            return f"model file {name} is not on this machine; give a path every machine shares, or copy it there"
        if checksum(path) != expected:
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
