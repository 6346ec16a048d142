"""A whole run as a library call: start (or resume) a run directory, export zoo models, check output
parity, measure every cell in worker processes. The CLI (`infer-bench run`) is a thin layer over this.

```python
from bench.runner import session
run_dir = session.run(Path("scenarios/ci.toml"), out=Path("results/pr"))
```
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.results.store import RunStore
from bench.runner.duet import run_scheduled
from bench.runner.jobs import Executor, QuietReporter, Reporter, TaskBuilder, model_spec
from bench.scenario import ModelEntry, Overrides, RunOptions, Scenario
from bench.scenario.sweep import Expansion

if TYPE_CHECKING:
    from bench.runner.executors.ray_executor import Fleet

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
    fleet: Fleet | None = None  # `--cluster`: the machines the jobs run on

    def executor(self) -> Executor | None:
        """Where the jobs run: the fleet's machines, or here (None: the local default)."""
        if self.fleet is None:
            return None
        from bench.runner.executors.ray_executor import RayExecutor

        return RayExecutor(self.fleet)

    def close(self) -> None:
        if self.fleet is not None:
            self.fleet.close()


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


def open_new(s: Scenario, overrides: Overrides, e: Expansion, out: Path | None = None,
             fleet: dict[str, Any] | None = None) -> RunStore:
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
        "pythons": {label: s.python_paths.get(label, sys.executable) if label else sys.executable
                    for label in s.sweep.python},  # interpreter label -> path (env.interpreters is keyed by path)
        **({"fleet": fleet} if fleet is not None else {}),
    })
    return store


def on_cluster(s: Scenario, cluster: str | None, fingerprints: bool = True) -> tuple[Scenario, Fleet | None]:
    """The scenario with its `[sweep] hosts` resolved on the cluster (checked before anything runs);
    `fingerprints`: read each machine's for the header of a new run."""
    import dataclasses

    if cluster is None:
        if s.sweep.hosts:
            from bench.runner.executors.hosts import FleetError

            raise FleetError(f"{s.path or 'the scenario'}: [sweep] hosts names cluster machines: pass --cluster HEAD:PORT")
        return s, None
    from bench.runner.executors.ray_executor import open_fleet

    fleet = open_fleet(cluster, s, fingerprints)
    return dataclasses.replace(s, sweep=dataclasses.replace(s.sweep, hosts=tuple(fleet.targets))), fleet


def start(scenario: Path | Scenario | None, overrides: Overrides, out: Path | None = None,
          cluster: str | None = None) -> Session:
    """A new run of a scenario (a file, a Scenario, None: the built-in default) with `overrides` applied; `cluster`:
    the Ray head's address, for a scenario whose `[sweep] hosts` names machines of it."""
    s, fleet = on_cluster(load_scenario(scenario, overrides), cluster)
    try:
        e = expand_checked(s)
        store = open_new(s, overrides, e, out, fleet.header() if fleet else None)
    except BaseException:
        if fleet is not None:
            fleet.close()
        raise
    return Session(store, s, e, overrides, fleet=fleet)


def resume(run_dir: Path, scenario: Path | None = None, say: Say = _quiet, cluster: str | None = None) -> Session:
    """Reopen a run; its scenario comes from the header (or `scenario`) with its stored overrides, and a
    cluster run goes back to the cluster its header names unless `cluster` says another."""
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
    cluster = cluster or (header.get("fleet") or {}).get("address")
    try:
        s, fleet = on_cluster(scenarios.apply_overrides(base, overrides), cluster, fingerprints=False)
    except BaseException:
        store.close()
        raise
    return Session(store, s, expand_checked(s), overrides, info.done, info.has_parity, fleet)


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
    """One parity record per model with two or more formats in the sweep. Quantised variants are
    compared too, as `check` does: shown with their differences and top-1 agreement, never failing
    (bench.runner.parity.compare_pair)."""
    from bench.errors import BenchError
    from infer_core.errors import InferCoreError
    from infer_core.variants import VARIANTS

    records = []
    for m in s.models:
        variants = sorted({c.key.variant for c in e.cells if c.key.model == m.name} & set(VARIANTS), key=VARIANTS.index)
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
    builder = TaskBuilder(s, model_dirs)
    if s.run.adaptive:
        store.append(adaptive_rounds(session, builder, reporter_for, say))
        return
    jobs = schedule(e.groups, s.run.repetitions, s.run.shuffle_seed, session.done)
    if not jobs:
        say("every cell is already measured")
    with reporter_for(sum(len(j.cells) for j in jobs)) as reporter:
        run_scheduled(jobs, builder, store.append, reporter, session.executor())


def adaptive_rounds(session: Session, builder: TaskBuilder, reporter_for: ReporterFactory, say: Say) -> dict[str, Any]:
    """`repetitions = "auto"`: rounds of one fresh worker per group until every ratio's between-process
    interval is within the target (after at least `repetitions` rounds), or `max_processes` rounds, or the
    time budget ran out. Returns the run's "adaptive" record: what stopped it and each ratio's width."""
    from bench.scenario.sweep import schedule
    from reports.adaptive import ratio_widths

    s, e, opts = session.scenario, session.expansion, session.scenario.run
    records = _existing_cells(session)
    start, reason, rounds = time.monotonic(), "max_processes", 0
    with reporter_for(len(e.cells) * min(opts.repetitions, opts.max_processes)) as reporter:
        for rounds in range(1, opts.max_processes + 1):
            if rounds > opts.repetitions:  # a round past the minimum: the display's total grows with it
                reporter.expect(len(e.cells) * rounds)
            jobs = [j for j in schedule(e.groups, rounds, s.run.shuffle_seed, session.done) if j.repetition == rounds - 1]
            records += [r for result in run_scheduled(jobs, builder, session.store.append, reporter, session.executor()) for r in result.records]
            widths = ratio_widths(records, target=opts.target)
            stop = adaptive_stop(opts, rounds, widths, time.monotonic() - start)
            if stop is not None:
                reason = stop
                break
    say(f"adaptive: stopped after {rounds} round(s): {reason}")
    return _adaptive_record(opts, rounds, reason, time.monotonic() - start, widths)


def adaptive_stop(opts: RunOptions, rounds: int, widths: list[Any], elapsed_s: float) -> str | None:
    """Why an adaptive run stops after `rounds` rounds, or None to start another (max_processes is the caller's)."""
    if rounds >= opts.repetitions and all(w.reached(opts.target, opts.repetitions) for w in widths):
        return "target" if widths else "no ratios to measure: the minimum of processes"
    if opts.time_budget is not None and elapsed_s >= opts.time_budget:
        return "time_budget"
    return None


def _existing_cells(session: Session) -> list[dict[str, Any]]:
    """A resumed run's finished cells (their processes count toward the target)."""
    from reports.schema import read_run_file

    return list(read_run_file(session.store.path).cells) if session.done else []


def _adaptive_record(opts: RunOptions, rounds: int, reason: str, elapsed: float, widths: list[Any]) -> dict[str, Any]:
    return {
        "kind": "adaptive", "rounds": rounds, "stopped": reason, "elapsed_s": round(elapsed, 2),
        "target": opts.target, "min_processes": opts.repetitions, "max_processes": opts.max_processes,
        "time_budget": opts.time_budget,
        "ratios": [{"label": w.label, "pairs": w.pairs, "half_width": w.half_width if w.half_width != float("inf") else None,
                    "reached": w.reached(opts.target, opts.repetitions), "procs_needed": w.needed} for w in widths],
    }


def run(scenario: Path | None = None, overrides: Overrides | None = None, out: Path | None = None,
        reporter_for: ReporterFactory = _quiet_reporter, say: Say = _quiet, cluster: str | None = None) -> Path:
    """Measure a scenario (None: the built-in default) start to end; returns the run directory."""
    session = start(scenario, overrides or Overrides(), out, cluster)
    with session.store:
        try:
            measure(session, reporter_for, say)
        finally:
            session.close()
    return session.store.run_dir
