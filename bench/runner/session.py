"""A whole run as a library call: start (or resume) a run directory, export zoo models, check output
parity, measure every cell in worker processes. The CLI (`infer-bench run`) is a thin layer over this.

```python
from bench.runner import session
run_dir = session.run(Path("scenarios/ci.toml"), out=Path("results/pr"))
```
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results.store import RunStore
from bench.runner.jobs import QuietReporter, Reporter, TaskBuilder, model_spec, run_jobs
from bench.scenario import ModelEntry, Overrides, Scenario
from bench.scenario.sweep import Expansion

Say = Callable[[str], None]
ReporterFactory = Callable[[int], AbstractContextManager[Reporter]]


def _quiet(message: str) -> None:
    pass


@dataclass
class Session:
    """An open run: its store, its scenario and cells, and what a resumed run already holds."""

    store: RunStore
    scenario: Scenario
    expansion: Expansion
    overrides: Overrides
    done: frozenset[tuple[str, int]] = frozenset()
    has_parity: frozenset[str] = frozenset()


def present_devices() -> tuple[str, ...]:
    from infer_core.devices import gpu_hint

    return ("cpu", "gpu:0") if gpu_hint() else ("cpu",)


def load_scenario(path: Path | Scenario | None, overrides: Overrides, devices_if_default: bool = True) -> Scenario:
    """A scenario file, one built in memory (`run MODEL...`), or None: the built-in default; flags applied."""
    from bench import scenario

    if isinstance(path, Scenario):
        base = path
    elif path is not None:
        base = scenario.load(path)
    else:
        base = scenario.default(present_devices() if devices_if_default and not overrides.devices else ("cpu",))
    return scenario.apply_overrides(base, overrides)


def expand_checked(s: Scenario) -> Expansion:
    from bench.errors import ScenarioError
    from bench.scenario.preflight import check_model_files
    from bench.scenario.sweep import expand

    check_model_files(s)  # before anything starts: every path, every mistake at once (exit 2)
    e = expand(s)
    if not e.cells:
        raise ScenarioError(f"{s.path or 'the built-in scenario'}: nothing to run: every cell is excluded or has no model file")
    return e


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def open_new(s: Scenario, overrides: Overrides, e: Expansion, out: Path | None = None) -> RunStore:
    """A new run directory (default: <scenario out>/<run-id>) with its header; `latest` points at it."""
    from bench.results import fingerprint
    from bench.results.store import new_run_id, update_latest

    run_id = new_run_id()
    run_dir = out if out is not None else Path(s.run.out) / run_id
    store = RunStore.create(run_dir, run_id)
    update_latest(run_dir)
    pythons = [s.python_paths.get(label, sys.executable) if label else sys.executable for label in s.sweep.python]
    store.append({
        "kind": "header", "created": _now(), "scenario_path": s.path, "scenario_text": s.text,
        "policy": s.policy.to_json(), "env": fingerprint.collect(pythons), "overrides": overrides.to_json(),
        "plan": {"cells": len(e.cells), "groups": len(e.groups), "repetitions": s.run.repetitions},
    })
    return store


def start(scenario: Path | Scenario | None, overrides: Overrides, out: Path | None = None) -> Session:
    """A new run of a scenario (a file, a Scenario, None: the built-in default) with `overrides` applied."""
    s = load_scenario(scenario, overrides)
    e = expand_checked(s)
    return Session(open_new(s, overrides, e, out), s, e, overrides)


def resume(run_dir: Path, scenario: Path | None = None, say: Say = _quiet) -> Session:
    """Reopen a run; its scenario comes from the header (or `scenario`) with its stored overrides."""
    from bench import scenario as scenarios

    store, info = RunStore.resume(run_dir)
    if info.torn_line:
        say(f"{store.path}:{info.torn_line}: incomplete last line (a run killed mid-write) dropped")
    header = info.run.header or {}
    overrides = scenarios.Overrides.from_json(header.get("overrides") or {})
    if scenario is not None:
        base = scenarios.load(scenario)
    else:
        path = str(header.get("scenario_path") or "")
        base = scenarios.parse(str(header.get("scenario_text", "")), path, Path(path).parent if path else Path.cwd())
    s = scenarios.apply_overrides(base, overrides)
    return Session(store, s, expand_checked(s), overrides, info.done, info.has_parity)


# ------------------------------------------------------------------ zoo exports and parity


def export_zoo(s: Scenario, e: Expansion, say: Say = _quiet) -> dict[str, Path]:
    from bench.runner.zoo_export import ensure_exported

    used = {c.key.model for c in e.cells}
    dirs: dict[str, Path] = {}
    for m in s.models:
        if m.zoo is not None and m.name in used:
            say(f"preparing zoo model {m.zoo} (exported once, then cached)")
            dirs[m.zoo] = ensure_exported(m.zoo)
    return dirs


def model_parity(m: ModelEntry, variants: list[str], model_dirs: dict[str, Path]) -> dict[str, Any]:
    """The same inputs through each variant (on the CPU, in workers), outputs compared pairwise."""
    from bench.runner.parity import Entry, parity_record, predict_all
    from bench.scenario.sweep import GroupKey

    zoo_dir = model_dirs.get(m.zoo or "")
    entries = [Entry(v, model_spec(m.resolved(), GroupKey(m.name, v, "cpu"), zoo_dir)) for v in variants]
    inputs = Path(m.inputs_file) if m.inputs_file else None
    return parity_record(m.name, predict_all(entries, seed=0, inputs_file=inputs))


def parity_records(s: Scenario, e: Expansion, model_dirs: dict[str, Path], skip: frozenset[str],
                   say: Say = _quiet) -> list[dict[str, Any]]:
    """One parity record per model with two or more fp32 formats in the sweep."""
    from bench.errors import BenchError
    from infer_core.errors import InferCoreError
    from infer_core.variants import FP32_VARIANTS

    records = []
    for m in s.models:
        variants = sorted({c.key.variant for c in e.cells if c.key.model == m.name} & set(FP32_VARIANTS), key=FP32_VARIANTS.index)
        if m.name in skip or len(variants) < 2:
            continue
        say(f"checking output parity of {m.name}: {', '.join(variants)}")
        try:
            body = model_parity(m, variants, model_dirs)
        except (BenchError, InferCoreError) as exc:
            body = {"tolerance": None, "pairs": [], "error": str(exc)}
        records.append({**body, "kind": "parity", "model": m.name})
    return records


# ------------------------------------------------------------------ measuring


def _quiet_reporter(total: int) -> AbstractContextManager[Reporter]:
    return nullcontext(QuietReporter())


def measure(session: Session, reporter_for: ReporterFactory = _quiet_reporter, say: Say = _quiet) -> None:
    """Zoo exports, parity (once per model), then every unfinished cell; records appended as they come.

    `reporter_for(number of cells to measure)` gives the progress display, entered for the sweep."""
    from bench.scenario.sweep import schedule

    s, e, store = session.scenario, session.expansion, session.store
    model_dirs = export_zoo(s, e, say)
    for record in parity_records(s, e, model_dirs, session.has_parity, say):
        store.append(record)
    jobs = schedule(e.groups, s.run.repetitions, s.run.shuffle_seed, session.done)
    if not jobs:
        say("every cell is already measured")
    with reporter_for(sum(len(j.cells) for j in jobs)) as reporter:
        run_jobs(jobs, TaskBuilder(s, model_dirs), store.append, reporter)


def run(scenario: Path | None = None, overrides: Overrides | None = None, out: Path | None = None,
        reporter_for: ReporterFactory = _quiet_reporter, say: Say = _quiet) -> Path:
    """Measure a scenario (None: the built-in default) start to end; returns the run directory."""
    session = start(scenario, overrides or Overrides(), out)
    with session.store:
        measure(session, reporter_for, say)
    return session.store.run_dir
