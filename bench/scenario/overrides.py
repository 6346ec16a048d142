"""What `infer-bench run/plan` flags change in a scenario: parsed flags and a new scenario with them applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bench.errors import ScenarioError
from bench.scenario.model import RunOptions, Scenario
from bench.scenario.parse import AUTO_MIN_PROCESSES, _device, _Where
from infer_core.variants import VARIANTS

# ---------------------------------------------------------------- command-line overrides


@dataclass(frozen=True)
class Overrides:
    """What `infer-bench run/plan` flags change in a scenario (stored in the run header)."""

    quick: bool = False
    formats: tuple[str, ...] = ()
    batch_sizes: tuple[int, ...] = ()
    devices: tuple[str, ...] = ()
    repetitions: int | None = None
    auto: bool = False  # --repetitions auto
    time_budget: float | None = None  # --time-budget (implies auto)

    def to_json(self) -> dict[str, Any]:
        return {"quick": self.quick, "formats": list(self.formats), "batch_sizes": list(self.batch_sizes),
                "devices": list(self.devices), "repetitions": "auto" if self.auto else self.repetitions,
                "time_budget": self.time_budget}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Overrides:
        reps = d.get("repetitions")
        return cls(bool(d.get("quick")), tuple(d.get("formats") or ()), tuple(d.get("batch_sizes") or ()),
                   tuple(d.get("devices") or ()), None if reps == "auto" else reps, reps == "auto", d.get("time_budget"))


QUICK_POLICY = {"warmup_time": 0.1, "min_time": 0.2, "max_time": 1.0}
QUICK_BATCH_SIZES = (1, 8)


def parse_formats_flag(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    for v in values:
        if v not in VARIANTS:
            raise ScenarioError(f"--formats: unknown format {v!r}; known formats: {', '.join(VARIANTS)}")
    if not values:
        raise ScenarioError("--formats: give a comma-separated list such as frozen,tflite")
    return values


def parse_batch_sizes_flag(text: str) -> tuple[int, ...]:
    items = text.split(",")
    if any(not v.strip() for v in items):  # "1,,8" or "8,": a typo, not a request for fewer sizes
        raise ScenarioError(f"--batch-sizes: {text!r} has an empty item; give positive integers such as 1,8,32")
    try:
        values = tuple(int(v) for v in items)
    except ValueError:
        raise ScenarioError(f"--batch-sizes: {text!r} is not a comma-separated list of integers such as 1,8,32") from None
    if not values or min(values) < 1:
        raise ScenarioError(f"--batch-sizes: {text!r}: give positive integers such as 1,8,32")
    return tuple(dict.fromkeys(values))


def parse_devices_flag(text: str) -> tuple[str, ...]:
    where = _Where("--devices", text)
    values = [v.strip() for v in text.split(",") if v.strip()]
    try:
        return tuple(dict.fromkeys(_device(where, v, ()) for v in values)) or ("cpu",)
    except ScenarioError:
        raise ScenarioError(f"--devices: {text!r}: use cpu, gpu or gpu:N, comma-separated") from None


def apply_overrides(s: Scenario, o: Overrides) -> Scenario:
    """A new scenario with the flags applied; the file's own values stay in `s.text`."""
    sweep = s.sweep
    policy = s.policy
    if o.quick:
        sweep = replace(sweep, batch_sizes=QUICK_BATCH_SIZES)
        policy = replace(policy, warmup_time=QUICK_POLICY["warmup_time"], min_time=QUICK_POLICY["min_time"],
                         max_time=QUICK_POLICY["max_time"])
    if o.formats:
        sweep = replace(sweep, formats=o.formats)
        models = tuple(replace(m, formats=tuple(f for f in o.formats if f in m.available())) if m.formats else m for m in s.models)
        s = replace(s, models=models)
    if o.batch_sizes:
        sweep = replace(sweep, batch_sizes=o.batch_sizes)
    if o.devices:
        sweep = replace(sweep, devices=o.devices)
    return replace(s, sweep=sweep, policy=policy, run=_run_options(s.run, o))


BUDGET_MAX_PROCESSES = 200  # --time-budget lifts max_processes to this: the budget, not the cap, ends the run


def _run_options(run: RunOptions, o: Overrides) -> RunOptions:
    """--repetitions N (fixed), --repetitions auto (adaptive), --time-budget (auto, with that budget and the
    process cap lifted), --quick (one process per group unless told)."""
    if o.time_budget is not None:
        run = replace(run, time_budget=o.time_budget, max_processes=max(run.max_processes, BUDGET_MAX_PROCESSES))
    if o.auto:
        return replace(run, adaptive=True, repetitions=max(run.repetitions, AUTO_MIN_PROCESSES) if run.adaptive else AUTO_MIN_PROCESSES)
    if o.repetitions:
        return replace(run, adaptive=False, repetitions=o.repetitions)
    if o.quick:
        return replace(run, adaptive=False, repetitions=1)
    return run

