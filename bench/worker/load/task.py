"""The worker's "load_search" task: a capacity search (or its confirmation) on one loaded model.

Task JSON: {"task": "load_search", "spec", "load" (LoadSettings), "cell" (a CellRef template: model,
variant, threads ...), "search": {"start" (QPS|None: from a quick single-stream probe), "factor",
"precision", "max_steps", "floor", "rule" ("observed"|"bound"), "phase" ("search"|"confirm"),
"repetition"}, "seed", "inputs_file", "fault" (test hook: {"at_step": N, "kind": "sigkill"})}.
Each step is sent as a full cell record (load point server:QPS, its load block with "phase",
"passed" and "rule"), the moment it ends; a worker killed mid-search loses only the step it was on.
The last message is {"kind": "search", "capacity", "failed_at", "steps", "start"}.
"""

from __future__ import annotations

import os
import platform
import signal
import time
from dataclasses import replace
from typing import Any

from bench.load_settings import LoadSettings
from bench.timing import Policy
from bench.worker.load.cell import Runners, run_on
from bench.worker.load.search import Step, find_capacity
from bench.worker.protocol import CellRef, MeasureTask
from infer_core.model import ModelSpec

Emit = Any


def passes(block: dict[str, Any], rule: str) -> bool:
    """A step passes when valid, stable and its percentile is within the SLO by `rule`."""
    met = block["slo_met_observed"] if rule == "observed" else block["slo_met_bound"]
    return bool(block["valid"] and block["stable"] and met)


def probe_start(runner: Any, threads: int) -> float:
    """A first rate to try: half of what `threads` callers at the single-stream latency would serve."""
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        runner()
        times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    return max(1.0, round(0.5 * threads / max(median, 1e-6), 1))


def _fault(raw: dict[str, Any], step: int) -> None:
    fault = raw.get("fault") or {}
    if os.environ.get("INFER_BENCH_TEST_HOOKS") == "1" and fault.get("at_step") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _one_point(point: str, base: LoadSettings, runners: Runners, spec: ModelSpec, cell: CellRef, emit: Emit,
               facts: dict[str, Any], load_s: float, model: Any) -> None:
    s = base.with_point(point).check()
    block, lat = run_on(runners, s, spec.inter_op_threads)
    block.update(phase="point", passed=bool(block["valid"] and block["slo_met_observed"]), rule="observed", step=0)
    record = cell.record(load=block, latencies_ns=lat, iterations=len(lat), throughput=block["achieved_qps"] * s.samples_per_query,
                         load_s=load_s, call_path=getattr(model, "call_path", ""), host=platform.node(), worker=facts,
                         started=time.time() - block["duration_s"], ended=time.time())
    record.cell_id, record.load_point = f"{cell.cell_id}/{s.point()}", s.point()
    emit(record.to_json())
    emit({"kind": "search", "capacity": None, "failed_at": None, "steps": 1, "start": None})


def search(raw: dict[str, Any], emit: Emit) -> None:
    """The "load_search" worker task."""
    import infer_core
    from bench.worker.measure import _feeds, process_facts
    from infer_core import runtime

    spec = ModelSpec.from_json(raw["spec"])
    base = LoadSettings.from_json(raw["load"]).check()
    params, cell = raw["search"], CellRef.from_json(raw["cell"])
    runtime_start = runtime.start([spec])  # the process's own start, apart from the model's load (as a sweep's worker)
    t0 = time.perf_counter()
    model = infer_core.load(spec)
    load_s = time.perf_counter() - t0
    task = MeasureTask(specs={spec.variant or "model": spec}, cells=(), policy=Policy(), seed=int(raw.get("seed") or 0),
                       inputs_file=raw.get("inputs_file"))
    runners = Runners(model, lambda n: _feeds(model, task, n), spec, replace(base, scenario="server", qps=1.0))
    try:
        runners.warm()
        start = params.get("start") or probe_start(next(iter(runners.table.values())), base.threads_needed())
        facts = {**process_facts(), "load_s": load_s, "runtime_start": runtime_start}

        def measure(qps: float) -> Step:
            step_no = len(steps)
            _fault(raw, step_no)
            s = replace(base, scenario="server", qps=round(qps, 2), seed=base.seed + step_no)
            block, lat = run_on(runners, s, spec.inter_op_threads)
            ok = passes(block, params.get("rule", "observed"))
            block.update(phase=params.get("phase", "search"), passed=ok, rule=params.get("rule", "observed"), step=step_no)
            record = cell.record(load=block, latencies_ns=lat, iterations=len(lat),
                                 throughput=block["achieved_qps"] * s.samples_per_query, load_s=load_s,
                                 call_path=getattr(model, "call_path", ""), host=platform.node(), worker=facts,
                                 started=time.time() - block["duration_s"], ended=time.time())
            record.cell_id, record.load_point = f"{cell.cell_id}/{s.point()}", s.point()
            emit(record.to_json())
            steps.append(Step(s.qps or qps, ok, {"observed_ns": block["observed_ns"]}))
            return steps[-1]

        steps: list[Step] = []
        if params.get("point"):  # one load point only (tune's baseline and its p99-at-QPS objective)
            _one_point(params["point"], base, runners, spec, cell, emit, facts, load_s, model)
            return
        result = find_capacity(measure, float(start), factor=float(params.get("factor", 2.0)),
                               precision=float(params.get("precision", 0.05)), max_steps=int(params.get("max_steps", 14)),
                               floor=float(params.get("floor") or max(0.5, start / 16)))
        emit({"kind": "search", "capacity": result.capacity, "failed_at": result.failed_at, "steps": len(steps),
              "start": start})
    finally:
        runners.close()
        model.close()
