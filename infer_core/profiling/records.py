"""The op-profile record: pure arithmetic over per-op samples, no TensorFlow.

A profile is a JSON-able dict (it travels from the worker to the parent and into results records):

    {"kind": "op_profile", "version": 1,
     "variant", "call_path", "batch_size",
     "source":  "session_step_stats"       checkpoint / frozen: the model's own Session, fully traced
              | "frozen_concrete_function" saved_model / keras: the concrete function frozen into a
                                           GraphDef and traced in a Session (not the model's call path)
              | "tflite_op_list",          LiteRT: op list and delegate partition, no per-op times
     "label":   one line saying how the op times were obtained,
     "runs":    traced runs (per-op time = median over them), "warmup": untimed calls first,
     "step_s":  median untraced step of the model's own call path (`make_runner`),
     "step_samples": how many untraced calls that median is over (interleaved with the traced runs),
     "traced_step_s": median wall time of a traced run (tracing itself costs time),
     "graph_step_s": median untraced step of the traced graph where it is not the model's own path,
     "ops_total_s": sum of per-op times (None for TFLite),
     "overhead_s":  step_s - ops_total_s: framework overhead (negative when ops overlap in time),
     "ops_fraction": ops_total_s / step_s,
     "ops":     [{"name", "type", "device", "time_s", "calls", "fraction"}], longest first,
     "by_type": [{"type", "time_s", "calls", "ops", "fraction"}], longest first,
     "tflite":  {"ops": [...], "partition": [...], "undelegated": [...]} or None,
     "load_average": 1-minute load average at the start and end of profiling, "cpu_count":
                the machine's cores (a load above the cores means other processes took CPU time),
     "peak":    the device's measured peak-FLOP/s probe (peak.py) when `profile_model` made it, else None,
     "notes":   [str]}

`fraction` is a share of `step_s`, the step a user's timed loop sees.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PROFILE_VERSION = 1


@dataclass(frozen=True)
class OpSample:
    """One op's time in one traced run (ops run several times per step are summed by `aggregate`)."""

    name: str
    type: str
    device: str
    ns: int


def _per_run_totals(run: Iterable[OpSample]) -> dict[tuple[str, str, str], tuple[int, int]]:
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in run:
        entry = totals[(s.name, s.type, s.device)]
        entry[0] += s.ns
        entry[1] += 1
    return {k: (v[0], v[1]) for k, v in totals.items()}


def aggregate(runs: Sequence[Sequence[OpSample]]) -> list[dict[str, Any]]:
    """Per op: the median over runs of its summed time (0 in a run where it did not appear)."""
    per_run = [_per_run_totals(run) for run in runs]
    keys = {k for totals in per_run for k in totals}
    ops: list[dict[str, Any]] = []
    for name, op_type, device in keys:
        times = [totals.get((name, op_type, device), (0, 0))[0] for totals in per_run]
        calls = [totals.get((name, op_type, device), (0, 0))[1] for totals in per_run]
        ops.append({"name": name, "type": op_type, "device": device,
                    "time_s": statistics.median(times) / 1e9, "calls": int(statistics.median(calls))})
    ops.sort(key=lambda op: (-op["time_s"], op["name"]))
    return ops


def _share(seconds: float, step_s: float | None) -> float | None:
    return seconds / step_s if step_s else None


def with_fractions(ops: list[dict[str, Any]], step_s: float | None) -> list[dict[str, Any]]:
    return [{**op, "fraction": _share(op["time_s"], step_s)} for op in ops]


def by_type(ops: Sequence[dict[str, Any]], step_s: float | None) -> list[dict[str, Any]]:
    """Time, calls and op count per op type, longest first."""
    groups: dict[str, dict[str, Any]] = {}
    for op in ops:
        g = groups.setdefault(op["type"], {"type": op["type"], "time_s": 0.0, "calls": 0, "ops": 0})
        g["time_s"] += op["time_s"]
        g["calls"] += op["calls"]
        g["ops"] += 1
    rows = [{**g, "fraction": _share(g["time_s"], step_s)} for g in groups.values()]
    rows.sort(key=lambda r: (-r["time_s"], r["type"]))
    return rows


def summarise(ops: list[dict[str, Any]], step_s: float) -> dict[str, Any]:
    """The totals block: ops' sum, framework overhead, and each op's share of the step."""
    total = sum(op["time_s"] for op in ops)
    return {
        "step_s": step_s,
        "ops_total_s": total,
        "overhead_s": step_s - total,
        "ops_fraction": _share(total, step_s),
        "ops": with_fractions(ops, step_s),
        "by_type": by_type(ops, step_s),
    }


def new_profile(**fields: Any) -> dict[str, Any]:
    """A profile dict with every documented key present (None where not applicable)."""
    base: dict[str, Any] = {
        "kind": "op_profile", "version": PROFILE_VERSION, "variant": None, "call_path": None,
        "batch_size": None, "source": None, "label": "", "runs": 0, "warmup": 0, "step_s": None,
        "step_samples": 0, "traced_step_s": None, "graph_step_s": None, "ops_total_s": None,
        "overhead_s": None, "ops_fraction": None, "ops": [], "by_type": [], "tflite": None, "load_average": None, "cpu_count": None, "peak": None, "notes": [],
    }
    unknown = set(fields) - set(base)
    assert not unknown, f"unknown profile fields {unknown}"
    base.update(fields)
    return base


def merge_processes(profiles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Profiles of the same model from several worker processes as one: per op and for the step, the
    median over processes (an op missing from a process counts 0 there). Medians move between
    processes far more than inside one (TF-NOTES.md), so a diff compares these, not single runs."""
    if len(profiles) == 1:
        return dict(profiles[0])
    keys = {(op["name"], op["type"], op["device"]) for p in profiles for op in p["ops"]}
    ops: list[dict[str, Any]] = []
    for name, op_type, device in keys:
        found = [next((op for op in p["ops"] if (op["name"], op["type"], op["device"]) == (name, op_type, device)),
                      None) for p in profiles]
        ops.append({"name": name, "type": op_type, "device": device,
                    "time_s": statistics.median(op["time_s"] if op else 0.0 for op in found),
                    "calls": int(statistics.median(op["calls"] if op else 0 for op in found))})
    ops.sort(key=lambda op: (-op["time_s"], op["name"]))
    merged = {**profiles[0], "processes": len(profiles)}
    step = statistics.median(p["step_s"] for p in profiles if p.get("step_s") is not None)
    if profiles[0].get("ops_total_s") is None:  # TFLite: no per-op times
        return {**merged, "step_s": step}
    return {**merged, **summarise(ops, step)}


def top_types(profile: dict[str, Any], n: int = 3) -> list[str]:
    """The n op types that take the most time (what a user asks first)."""
    return [row["type"] for row in profile.get("by_type", [])[:n]]
