"""The one worker client: run a task in a worker whose environment suits the model's format.

Every way of driving a worker (the sweep's jobs, parity, check, convert, profile, zoo export) goes
through `run_with_keras_retry`: a legacy `.h5` that Keras 3 cannot read is retried once in a
tf-keras worker (TF_USE_LEGACY_KERAS=1), and the record says which Keras loaded it. A user error
inside the worker comes back as an error message and is raised here as the same error class, so the
CLI prints one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from bench import errors as bench_errors
from bench.runner.procs import Message, WorkerOutcome, WorkerSpec, run_worker
from infer_core import errors as core_errors
from infer_core.detect import worker_env
from infer_core.model import ModelSpec

DEFAULT_TIMEOUT_S = 900.0


def error_from_message(message: Mapping[str, Any]) -> Exception:
    """Rebuild the worker's user error (same class, same one-line message) in the parent."""
    name = str(message.get("error_class", ""))
    cls = getattr(core_errors, name, None) or getattr(bench_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = core_errors.InferCoreError
    return cls(str(message.get("message", "worker reported an error")))


def first_error(outcome: WorkerOutcome) -> Mapping[str, Any] | None:
    return next((m for m in outcome.messages if m.get("kind") == "error"), None)


def crash_message(what: str, outcome: WorkerOutcome) -> str:
    lines = [ln for ln in outcome.stderr_tail.strip().splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else "no output"
    return f"{what}: worker {outcome.describe()} ({last[:200]})"


def needs_legacy_keras(outcome: WorkerOutcome) -> bool:
    error = first_error(outcome)
    return error is not None and error.get("error_class") == "LegacyKerasRequired"


def run_with_keras_retry(spec: WorkerSpec, on_message: Callable[[Message], None] | None = None,
                         retry_ok: Callable[[], bool] = lambda: True) -> WorkerOutcome:
    """Run the worker; once more under tf-keras when it asks for it and `retry_ok()` (nothing kept yet)."""
    outcome = run_worker(spec, on_message)
    if needs_legacy_keras(outcome) and spec.env.get("TF_USE_LEGACY_KERAS") != "1" and retry_ok():
        outcome = run_worker(dataclasses.replace(spec, env={**spec.env, "TF_USE_LEGACY_KERAS": "1"}), on_message)
    return outcome


def run_model_task(task: Mapping[str, Any], spec: ModelSpec, *, legacy: bool | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None,
                   on_message: Callable[[Message], None] | None = None) -> list[Message]:
    """Run `task` (with `spec` attached) in a fresh worker; returns its messages or raises its error."""
    full_env = {**worker_env(spec, legacy), **(env or {})}
    worker = WorkerSpec(task={**task, "spec": spec.to_json()}, env=full_env, timeout_s=timeout_s)
    outcome = run_with_keras_retry(worker, on_message)
    error = first_error(outcome)
    if error is not None:
        raise error_from_message(error)
    if not outcome.clean:
        raise bench_errors.WorkerError(crash_message(f"{task.get('task')} {spec.path}", outcome))
    return outcome.messages


def run_plain_task(task: Mapping[str, Any], env: Mapping[str, str], timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Message]:
    """A task that is not about one model spec (zoo builds): same error handling."""
    outcome = run_with_keras_retry(WorkerSpec(task=dict(task), env=dict(env), timeout_s=timeout_s))
    error = first_error(outcome)
    if error is not None:
        raise error_from_message(error)
    if not outcome.clean:
        raise bench_errors.WorkerError(crash_message(str(task.get("task")), outcome))
    return outcome.messages
