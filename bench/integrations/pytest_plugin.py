"""pytest plugin (entry point `pytest11: infer_bench`): scenario cells as pytest-benchmark tests.

    pytest --infer-bench-scenario scenarios/ci.toml --benchmark-only --benchmark-json out.json
    pytest --infer-bench-scenario scenarios/ci.toml --infer-bench-compare main

Each cell of the scenario becomes one parametrised test (`bench/pytest_cells.py`). pytest-benchmark
times code inside the pytest process, so the models load *in-process* (once per group of cells, as
a worker would) and are timed with `benchmark.pedantic` after the harness's own first call and
warmup (bench.timing), through the model's fast call path (`make_runner`).

What the missing process isolation costs (say so to users):
- TensorFlow starts once, with one set of start-up settings: cells whose environment toggles,
  Keras flavour (TF_USE_LEGACY_KERAS for checkpoint vs Keras 3 files), thread counts, CPU affinity
  or interpreter differ from the first cell loaded are *skipped* with the reason, not measured
  wrongly;
- a crash or out-of-memory in one model ends the whole pytest session;
- the session is one process: one value per cell, so compare's rank test has nothing to work with
  and a comparison of one session against another calls only changes beyond 2x (the
  fewer-than-3-processes rule). Run pytest several times and `infer-bench import pytest-benchmark`
  the files, or use `infer-bench run`, to sample the between-process variation.

`--infer-bench-compare BASELINE` (a saved baseline name, or a run directory) runs the harness's
gate on this session's results at the end and makes the session fail (exit 1) on a regression;
pytest-benchmark's own `--benchmark-compare-fail` is a bare threshold without a significance test.
`--infer-bench-out DIR` keeps this session's results as an infer-bench run.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bench.errors import BenchError, user_errors
from bench.scenario.sweep import parse_affinity

if TYPE_CHECKING:
    from bench.timing import Policy
    from infer_core.model import Model

CELLS_MODULE = Path(__file__).with_name("pytest_cells.py")
STATE_KEY = pytest.StashKey["PluginState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infer-bench", "infer-bench scenario cells as benchmarks")
    group.addoption("--infer-bench-scenario", metavar="FILE", default=None,
                    help="turn the cells of this infer-bench scenario into pytest-benchmark tests")
    group.addoption("--infer-bench-compare", metavar="BASELINE", default=None,
                    help="at the end, run infer-bench's gate against BASELINE (saved name or run dir); "
                    "a regression fails the session")
    group.addoption("--infer-bench-threshold", metavar="PCT", default="5%",
                    help="threshold for --infer-bench-compare (default 5%%)")
    group.addoption("--infer-bench-out", metavar="DIR", default=None,
                    help="write this session's results as an infer-bench run directory")
    group.addoption("--infer-bench-baselines-dir", metavar="DIR", default=None,
                    help="where saved baselines are (default .infer-bench/baselines)")


# ---- state ----------------------------------------------------------------------------------------


@dataclass
class Loaded:
    model: Model
    load_s: float
    entry: Any  # bench.scenario.ModelEntry


@dataclass
class PluginState:
    scenario: Any  # bench.scenario.Scenario
    cells: tuple[Any, ...]  # bench.scenario.sweep.Cell
    process_key: tuple[Any, ...] | None = None  # start-up settings of the first loaded group
    models: dict[Any, Loaded] = field(default_factory=dict)
    report: str = ""


def _state(config: pytest.Config) -> PluginState | None:
    return config.stash.get(STATE_KEY, None)


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("infer_bench_scenario")
    if not path:
        return
    from bench.scenario import load
    from bench.scenario.sweep import expand

    try:
        scenario = load(Path(path))
        cells = expand(scenario).cells
    except BenchError as exc:
        raise pytest.UsageError(f"--infer-bench-scenario: {exc}") from None
    config.stash[STATE_KEY] = PluginState(scenario, tuple(cells))
    _check_baseline(config)
    _collect_cells_module(config)


def baseline_paths(config: pytest.Config) -> list[Path]:
    """The results files of --infer-bench-compare: a run directory/file, else a saved baseline."""
    from bench.results.baselines import baselines_root, load

    name = config.getoption("infer_bench_compare")
    if Path(name).exists():
        return [Path(name)]
    return load(name, baselines_root(config.getoption("infer_bench_baselines_dir"))).files


def _check_baseline(config: pytest.Config) -> None:
    """Fail at start-up, not after the benchmarks, when the baseline to compare with is unusable."""
    from reports.compare_settings import parse_threshold

    if not config.getoption("infer_bench_compare"):
        return
    from reports.load import load_runs

    try:
        parse_threshold(config.getoption("infer_bench_threshold"))
        load_runs(baseline_paths(config))
    except user_errors() as exc:
        raise pytest.UsageError(f"--infer-bench-compare: {exc}") from None


def _collect_cells_module(config: pytest.Config) -> None:
    """Add the cells' test module to what pytest collects; alone when no test paths were given."""
    module = str(CELLS_MODULE)
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.append(module)
    else:
        config.args[:] = [module]


def cell_id(cell: Any) -> str:
    """The pytest id of a cell: its sweep cell id (bench.scenario.sweep.Cell), dash-separated."""
    return str(cell.cell_id).replace("/", "-")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "infer_bench_cell" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    cells = state.cells if state else ()
    metafunc.parametrize("infer_bench_cell", cells, ids=[cell_id(c) for c in cells])


# ---- loading in-process -----------------------------------------------------------------------------


def _entry(scenario: Any, name: str) -> Any:
    return next(m for m in scenario.models if m.name == name)


def spec_for_cell(entry: Any, key: Any) -> Any:
    """The ModelSpec a worker for this group would load (bench.runner.model_spec)."""
    from bench.runner.jobs import model_spec

    zoo_dir = None
    if entry.zoo is not None:
        from bench.runner.zoo_export import ensure_exported

        zoo_dir = ensure_exported(entry.zoo)
    return model_spec(entry, key, zoo_dir)


def process_key(key: Any, builder: str | None = None) -> tuple[Any, ...]:
    """What a process fixes at start-up; None entries match anything. Inter-op -1 is not one of them: it runs that
    session's own calls in the caller's thread (LiteRT ignores it), so such a cell shares a process with
    TensorFlow's default inter-op pool (scenarios/ci.toml has frozen at -1 beside SavedModel and TFLite at 0)."""
    from infer_core.detect import required_keras
    from infer_core.model import CALLER_THREAD

    inter = 0 if key.inter_op_threads == CALLER_THREAD else key.inter_op_threads
    return (key.env_toggles, required_keras(key.variant, builder), key.intra_op_threads, inter, key.affinity, key.python)


def _conflict(fixed: tuple[Any, ...], wanted: tuple[Any, ...]) -> str | None:
    names = ("environment toggles", "Keras flavour (TF_USE_LEGACY_KERAS)", "intra-op threads",
             "inter-op threads", "CPU affinity", "interpreter")
    for name, have, want in zip(names, fixed, wanted, strict=True):
        if have is not None and want is not None and have != want:
            return f"needs its own process ({name} {want!r}, this pytest process has {have!r}); use infer-bench run"
    return None


def _start_process(key: tuple[Any, ...]) -> None:
    """Apply a group's start-up settings to this process, before TensorFlow is imported."""
    from bench.scenario.sweep import parse_env

    env_toggles, flavour, _, _, affinity, _ = key
    os.environ.update(parse_env(env_toggles))
    if flavour is not None:
        os.environ["TF_USE_LEGACY_KERAS"] = flavour
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if affinity:
        os.sched_setaffinity(0, set(parse_affinity(affinity)))


def load_for(state: PluginState, cell: Any) -> Loaded:
    """The loaded model of the cell's group (loaded once), or pytest.skip when it needs another process."""
    if cell.key in state.models:
        return state.models[cell.key]
    wanted = process_key(cell.key, _entry(state.scenario, cell.key.model).builder)
    if cell.key.python:
        pytest.skip("runs under another interpreter: needs its own process; use infer-bench run")
    if state.process_key is None:
        _start_process(wanted)
        state.process_key = wanted
    else:
        reason = _conflict(state.process_key, wanted)
        if reason:
            pytest.skip(reason)
        state.process_key = tuple(w if h is None else h for h, w in zip(state.process_key, wanted, strict=True))
    return _load(state, cell)


def _load(state: PluginState, cell: Any) -> Loaded:
    import infer_core
    from infer_core.errors import DeviceUnavailable
    from infer_core.runtime import start as start_runtime

    entry = _entry(state.scenario, cell.key.model)
    spec = spec_for_cell(entry, cell.key)
    start_runtime([spec])  # TensorFlow's import and start are the test process's, not the first model's load
    start = time.perf_counter()
    try:
        model = infer_core.load(spec)
    except DeviceUnavailable as exc:
        pytest.skip(str(exc))
    state.models[cell.key] = Loaded(model, time.perf_counter() - start, entry)
    return state.models[cell.key]


def feeds_for(loaded: Loaded, batch_size: int, seed: int) -> dict[str, Any]:
    from infer_core import inputs

    entry = loaded.entry
    if entry.inputs_file:
        arrays = inputs.match_arrays(loaded.model.inputs, inputs.load_arrays(Path(entry.inputs_file)), entry.inputs_file)
        return {k: v[:batch_size] for k, v in arrays.items()}
    return inputs.synthesize_for(loaded.model, batch_size, dict(entry.shapes), seed, entry.vocab_size)


# ---- timing ------------------------------------------------------------------------------------------


def rounds_for(per_call_s: float, policy: Policy) -> int:
    """Timed rounds: enough for the policy's min_time, at least min_iterations, within max_time."""
    per_call = max(per_call_s, 1e-9)
    least = int(policy.min_iterations)
    wanted = max(least, math.ceil(policy.min_time / per_call))
    cap = math.ceil(policy.max_time / per_call)
    if policy.max_iterations is not None:
        cap = min(cap, int(policy.max_iterations))
    return max(1, min(wanted, max(cap, least)))


def run_cell(benchmark: Any, cell: Any, state: PluginState) -> None:
    """First call and warmup as the harness does them, then benchmark.pedantic over make_runner."""
    from bench.timing import time_first_call, warm_up

    loaded = load_for(state, cell)
    runner: Callable[[], object] = loaded.model.make_runner(
        feeds_for(loaded, cell.batch_size, state.scenario.run.seed))
    policy = state.scenario.policy
    first_s = time_first_call(runner, time.perf_counter_ns)
    warm_n, warm_s = warm_up(runner, policy, time.perf_counter_ns)
    benchmark.extra_info["infer_bench"] = {
        **cell.identity(), "call_path": loaded.model.call_path, "load_s": loaded.load_s,
        "first_call_s": first_s, "warmup_iterations": warm_n,
    }
    benchmark.pedantic(runner, rounds=rounds_for(warm_s / max(warm_n, 1), policy), iterations=1, warmup_rounds=0)


@pytest.fixture(scope="session")
def infer_bench_state(request: pytest.FixtureRequest) -> PluginState:
    state = _state(request.config)
    if state is None:
        pytest.skip("no --infer-bench-scenario given")
    return state


# ---- the gate at the end of the session ------------------------------------------------------------------


def _session_benchmarks(config: pytest.Config) -> list[dict[str, Any]]:
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return []
    return [b.as_dict(include_data=True) for b in session.benchmarks if getattr(b, "has_error", False) is False]


def _write_session_run(config: pytest.Config, benchmarks: list[dict[str, Any]]) -> Path:
    from bench.integrations.import_pytest_benchmark import to_records
    from bench.results.store import RunStore, new_run_id

    out = config.getoption("infer_bench_out") or tempfile.mkdtemp(prefix="infer-bench-pytest-")
    session = getattr(config, "_benchmarksession", None)
    machine = session.get_machine_info() if session is not None else {}
    document = {"benchmarks": benchmarks, "machine_info": machine, "commit_info": {},
                "datetime": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": "pytest-session"}
    run_id = new_run_id()
    with RunStore.create(Path(out), run_id) as store:
        for record in to_records([("pytest session", document)], run_id):
            store.append(record)
    return store.path


def _gate_session(config: pytest.Config, results: Path) -> tuple[int, str]:
    from reports.compare import compare, env_differences
    from reports.compare_settings import parse_threshold
    from reports.gate import gate
    from reports.load import load_runs
    from reports.render_compare import render_terminal

    paths = baseline_paths(config)
    baseline, current = load_runs(paths), load_runs([results])
    comparison = compare(baseline, current, threshold=parse_threshold(config.getoption("infer_bench_threshold")))
    result = gate(comparison)
    return result.exit_code, render_terminal(comparison, result, env_differences(baseline, current))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = _state(config)
    if state is None or not (config.getoption("infer_bench_compare") or config.getoption("infer_bench_out")):
        return
    benchmarks = [b for b in _session_benchmarks(config) if (b.get("stats") or {}).get("data")]
    if not benchmarks:
        state.report = "infer-bench: no benchmark results in this session (benchmarks disabled or skipped?)"
        if config.getoption("infer_bench_compare"):  # a gate that was asked for and could not run
            state.report += "; the regression check could not run"
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    try:
        results = _write_session_run(config, benchmarks)
        state.report = f"infer-bench: this session's results: {results}"
        if config.getoption("infer_bench_compare"):
            code, text = _gate_session(config, results)
            state.report += "\n" + text
            if code == 1:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
    except user_errors() as exc:  # a bad baseline must not pass silently: it fails the session
        state.report = f"infer-bench: error: {exc}"
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if state is not None and state.report:
        terminalreporter.write_sep("=", "infer-bench regression check")
        terminalreporter.write_line(state.report)
