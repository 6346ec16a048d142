"""Capacity under an SLO: the highest Poisson rate whose percentile latency stays within the bound.

Per format: one worker runs LoadGen's FindPeakPerformance search (double until a step fails, then
bisect; bench.worker.load.search) with perf_analyzer's stability check at each step; then the final
steps are repeated in `confirm` fresh worker processes (a narrow search around the first answer), since a
process's speed moves more between processes than within one. Each process gives one estimate (None: no rate
passed in it), and the capacity comes with the *range* of the estimates, min to max: with the default 1 + 2
processes that is what they showed, not a statistical interval with a confidence (it would need many more fresh
processes). A step fails when its point is invalid, which includes any query left unfinished. Steps are cell
records (load point server:QPS, phase search or confirm) appended as they come, so a worker killed mid-search
keeps its finished steps.

Executor threads need inter-op threads >= their number (or all sessions of the process share one pool
and run one after another): `enforce_threads` raises both the session setting and TF_NUM_INTEROP_THREADS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError
from bench.load_settings import LoadSettings
from bench.runner.client import error_from_message, first_error
from bench.runner.procs import Message, WorkerSpec
from infer_core.model import CALLER_THREAD, ModelSpec

Append = Callable[[dict[str, Any]], None]
Say = Callable[[str], None]


class CapacityError(BenchError):
    """A capacity search that cannot run as asked (no SLO, bad settings)."""


def scenario_load(scenario: Any) -> LoadSettings:
    """The scenario's [load] settings, or the defaults when it has a load axis but no section."""
    return scenario.load if scenario.load is not None else LoadSettings(scenario="single_stream")


def enforce_threads(spec: ModelSpec, s: LoadSettings) -> ModelSpec:
    """N executor threads need inter-op >= N (sessions share one inter-op pool); LiteRT has one interpreter per thread;
    a session that runs in its caller's thread (CALLER_THREAD) runs in each executor thread and needs no pool."""
    n = s.threads_needed()
    if n <= 1 or spec.variant and spec.variant.startswith("tflite") or spec.inter_op_threads == CALLER_THREAD:
        return spec
    return dataclasses.replace(spec, inter_op_threads=max(spec.inter_op_threads, n))


@dataclass(frozen=True)
class Request:
    """One capacity question for one format."""

    model: str  # label in the records
    spec: ModelSpec
    settings: LoadSettings  # slo_ms, percentile, durations, executor threads, batching
    rule: str = "observed"
    confirm: int = 2  # fresh processes that repeat the final steps
    precision: float = 0.05
    start: float | None = None
    max_steps: int = 14
    timeout_s: float = 1800.0
    inputs_file: str | None = None
    first_rep: int = 0  # repetition number of the search; confirmations follow it
    fault: Mapping[str, Any] | None = None  # tests: {"at_step": N, "kind": "sigkill"} (INFER_BENCH_TEST_HOOKS=1)

    def check(self) -> Request:
        if self.settings.slo_ms is None:
            raise CapacityError("a capacity search needs an SLO: give --slo-ms (e.g. --slo-ms 5)")
        problems = self.settings.problems()
        if problems:
            key, message = problems[0]
            raise CapacityError(f"--{key.replace('_', '-')}: {message}")
        return self


@dataclass
class Outcome:
    """A format's capacity: the search's answer, each process's estimate (search first; None where no rate passed
    in that process), the steps."""

    request: Request
    capacity: float | None
    estimates: list[float | None] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def found(self) -> list[float]:
        """The estimates of the processes that found a rate within the SLO."""
        return [e for e in self.estimates if e is not None]

    @property
    def estimate_range(self) -> tuple[float, float] | None:
        """Min and max of the processes' estimates: a range, not an interval with a confidence."""
        return (min(self.found), max(self.found)) if self.found else None

    @property
    def best_observed_ns(self) -> int | None:
        seen = [s["load"]["observed_ns"] for s in self.steps if s.get("load") and s["load"].get("observed_ns") is not None]
        return min(seen) if seen else None

    def record(self) -> dict[str, Any]:
        r, s = self.request, self.request.settings
        return {"kind": "capacity", "model": r.model, "variant": r.spec.variant, "slo_ms": s.slo_ms,
                "percentile": s.percentile, "rule": r.rule, "capacity_qps": self.capacity,
                "range": list(self.estimate_range) if self.estimate_range else None, "estimates": self.estimates,
                "best_observed_ns": self.best_observed_ns, "settings": s.to_json(),
                "inter_op_threads": r.spec.inter_op_threads, "error": self.error}


def cell_template(r: Request, repetition: int) -> dict[str, Any]:
    spec = r.spec
    group = f"{r.model}/{spec.variant}/{spec.device}" + (f"/t{spec.intra_op_threads}x{spec.inter_op_threads}"
                                                      if spec.intra_op_threads or spec.inter_op_threads else "")
    return {"cell_id": f"{group}/b{r.settings.samples_per_query}", "group_id": group, "repetition": repetition,
            "model": r.model, "variant": spec.variant or "", "device": spec.device,
            "batch_size": r.settings.samples_per_query, "intra_op_threads": spec.intra_op_threads,
            "inter_op_threads": spec.inter_op_threads, "env_toggles": "", "affinity": "", "python": "", "load_point": ""}


def _search_task(r: Request, repetition: int, phase: str, start: float | None, factor: float,
                 point: str | None = None) -> dict[str, Any]:
    return {"task": "load_search", "spec": r.spec.to_json(), "load": r.settings.to_json(), "seed": 0,
            "inputs_file": r.inputs_file, "cell": cell_template(r, repetition), "fault": dict(r.fault) if r.fault else None,
            "search": {"point": point, "start": start, "factor": factor, "precision": r.precision, "rule": r.rule, "phase": phase,
                       "max_steps": r.max_steps if phase == "search" else max(4, r.max_steps // 2),
                       "floor": None if phase == "search" else (start or 1.0) / 4}}


def run_search(r: Request, repetition: int, phase: str, start: float | None, factor: float,
               append: Append, point: str | None = None) -> tuple[Message | None, list[dict[str, Any]], str | None]:
    """One worker's search: (its final message or None, the step records kept, an error in words or None)."""
    from bench.runner.client import crash_message, run_with_keras_retry
    from infer_core.detect import worker_env

    steps: list[dict[str, Any]] = []
    final: list[Message] = []

    def on_message(m: Message) -> None:
        if m.get("kind") == "cell":
            from reports.schema import CellRecord

            record = CellRecord.from_json(m).to_json()
            append(record)
            steps.append(record)
        elif m.get("kind") == "search":
            final.append(m)

    env = worker_env(r.spec)
    outcome = run_with_keras_retry(WorkerSpec(task=_search_task(r, repetition, phase, start, factor, point), env=env,
                                              timeout_s=r.timeout_s), on_message, retry_ok=lambda: not steps)
    error = first_error(outcome)
    if error is not None:
        raise error_from_message(error)
    if not outcome.clean:
        return None, steps, crash_message(f"capacity search of {r.model} {r.spec.variant}", outcome)
    return (final[0] if final else None), steps, None


def run_point(r: Request, point: str, repetition: int, append: Append) -> dict[str, Any] | None:
    """One load point in a fresh worker: its cell record, or None when the worker died (said in the record's stead)."""
    _, steps, _ = run_search(r, repetition, "point", None, 2.0, append, point)
    return steps[0] if steps else None


def _passed(steps: list[dict[str, Any]]) -> float | None:
    ok = [s["load"]["target_qps"] for s in steps if s["load"].get("passed")]
    return max(ok) if ok else None


def capacity(r: Request, append: Append, say: Say = lambda _: None) -> Outcome:
    """Search, then confirm in fresh processes; a crashed worker keeps its steps and is said in `error`."""
    r = r.check()
    say(f"capacity of {r.model} {r.spec.variant}: searching (p{r.settings.percentile:g} <= {r.settings.slo_ms:g} ms)")
    final, steps, error = run_search(r, r.first_rep, "search", r.start, 2.0, append)
    first = final["capacity"] if final else _passed(steps)
    out = Outcome(r, first, [first], steps, error)
    if first is None or error is not None:
        return out
    for rep in range(1, r.confirm + 1):
        say(f"capacity of {r.model} {r.spec.variant}: confirming in fresh process {rep} of {r.confirm} (around {first:g} QPS)")
        final, more, error = run_search(r, r.first_rep + rep, "confirm", first, 1.25, append)
        out.steps += more
        out.estimates.append(final["capacity"] if final else _passed(more))
        out.error = out.error or error
    return out
