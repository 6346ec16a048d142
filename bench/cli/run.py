"""`infer-bench run [FILE]`: validate, export zoo models, check parity, measure, report.

With no FILE: the built-in sweep (mnist_cnn in the five base formats, batch sizes 1, 8, 32, 128,
every device present). The work itself is `bench.runner.session`; this module parses flags, shows
progress, writes the reports and picks the exit code. Heavy imports happen inside `main`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.scenario import Overrides, Scenario
    from bench.scenario.from_paths import ModelOptions

QUICK_HELP = ("smoke-run preset: one process per group, batch sizes 1 and 8, warmup 0.1 s, min_time 0.2 s, "
              "max_time 1 s. Not free: every group still starts its own worker process, plus a parity worker, each "
              "importing TensorFlow (~5 s); the default scenario (one interleaved worker + one parity worker) took "
              "30 s on this 2-core machine")


def add_sweep_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by `run` and `plan`: they override the scenario file."""
    from bench.cli.model_args import add_model_file_options

    p.add_argument("paths", nargs="*", type=Path, metavar="FILE|MODEL",
                   help="a scenario TOML, or one or more model files/directories (format detected; an exported "
                   "model directory gives all its formats) measured with the default sweep "
                   "(default: the built-in mnist_cnn sweep)")
    p.add_argument("--quick", action="store_true", help=QUICK_HELP)
    p.add_argument("--formats", metavar="LIST", help="comma-separated formats/variants, e.g. frozen,tflite+int8")
    p.add_argument("--batch-sizes", metavar="LIST", help="comma-separated batch sizes, e.g. 1,8,32")
    p.add_argument("--devices", metavar="LIST", help="comma-separated devices: cpu, gpu, gpu:1")
    p.add_argument("--repetitions", metavar="N|auto", help="fresh worker processes per group, run in rounds; auto: "
                   "rounds until every ratio's between-process interval is within ±3%% (at least 5 processes; "
                   "[run] target, max_processes, time_budget)")
    p.add_argument("--time-budget", metavar="SECONDS", help="with --repetitions auto (implied): start no new round of "
                   "processes after this many seconds of measuring (the default run: 90); lifts the cap of 12 "
                   "processes per group to 200, so the target or the budget ends the run. The report says what the "
                   "target would have taken")
    p.add_argument("--cluster", metavar="HEAD:PORT", help="run the jobs on the machines of this Ray cluster that "
                   "[sweep] hosts names (pip install 'infer-bench[ray]'; README: Many machines)")
    g = p.add_argument_group("model paths (as in `check`; not with a scenario file, whose models have these keys)")
    add_model_file_options(g, signature_default=None)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run", help="measure a scenario (default: built-in mnist_cnn sweep) in isolated workers",
        description="Measure every cell of a scenario, one fresh worker process per group, and write "
        "results/<run-id>/results.jsonl (results/latest points at it), report.md and report.html. "
        "Every finished run is recorded in the history database (.infer-bench/history.sqlite unless --db or "
        "$INFER_BENCH_DB; --no-history skips it): with 5 or more earlier runs of the same cells on this machine, the "
        "speedups' rerun intervals come from the run-to-run history instead of this run's noise alone. "
        f"--quick: {QUICK_HELP}.",
    )
    add_sweep_flags(p)
    p.add_argument("--out", type=Path, metavar="DIR", help="run directory (default: <scenario out>/<run-id>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="finish an interrupted run: only unfinished cells")
    p.add_argument("--no-report", action="store_true", help="skip report.md / report.html and the summary table")
    p.add_argument("--db", metavar="PATH|URL", help="history database the finished run is recorded in, and whose earlier "
                   "runs of the same cells on this machine give the ratios' rerun intervals once it holds 5 of them "
                   "(default: $INFER_BENCH_DB, else .infer-bench/history.sqlite, created on first use)")
    p.add_argument("--no-history", action="store_true", help="do not record this run in the history database "
                   "(also [run] history = false); without recorded runs a rerun interval covers this run's noise only")
    p.set_defaults(func=main)


def overrides_from(args: argparse.Namespace) -> Overrides:
    from bench.errors import ScenarioError
    from bench.scenario import Overrides, parse_batch_sizes_flag, parse_devices_flag, parse_formats_flag

    reps, auto = args.repetitions, args.repetitions == "auto"
    if reps is not None and not auto:
        if not str(reps).isdigit() or int(reps) < 1:
            raise ScenarioError(f"--repetitions: must be at least 1 (a number of processes) or auto, got {reps!r}")
    budget = _seconds(args.time_budget) if args.time_budget is not None else None
    if budget is not None and reps is not None and not auto:
        raise ScenarioError(f"--time-budget: applies to --repetitions auto, not a fixed --repetitions {reps}")
    return Overrides(
        quick=args.quick,
        formats=parse_formats_flag(args.formats) if args.formats else (),
        batch_sizes=parse_batch_sizes_flag(args.batch_sizes) if args.batch_sizes else (),
        devices=parse_devices_flag(args.devices) if args.devices else (),
        repetitions=int(reps) if reps is not None and not auto else None,
        auto=auto or budget is not None,
        time_budget=budget,
    )


def _seconds(text: str) -> float:
    from bench.errors import ScenarioError

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ScenarioError(f"--time-budget: give a number of seconds > 0, got {text!r}")
    return value


def model_options(args: argparse.Namespace) -> ModelOptions:
    from bench.scenario.from_paths import ModelOptions
    from infer_core.inputs import parse_shape

    return ModelOptions(variant=args.variant, builder=args.builder, signature=args.signature, inputs=tuple(args.inputs),
                        outputs=tuple(args.outputs), shapes=dict(parse_shape(s) for s in args.shapes))


def scenario_from_args(args: argparse.Namespace) -> Path | Scenario | None:
    """The scenario file, a scenario built from model paths, or None (the built-in default)."""
    from bench.errors import ScenarioError
    from bench.runner.session import present_devices
    from bench.scenario.from_paths import from_model_paths, is_scenario

    options, paths = model_options(args), list(args.paths)
    scenarios = [p for p in paths if is_scenario(p, options)]
    if (scenarios or not paths) and options.given():
        raise ScenarioError(f"{', '.join(options.given())}: only with model paths (infer-bench run MODEL...); "
                            "in a scenario, give the model's keys (builder, signature, inputs, outputs, shapes)")
    if scenarios and len(paths) > 1:
        raise ScenarioError(f"{scenarios[0]}: a scenario file goes alone; give one scenario, or model paths "
                            f"(got {len(paths)} paths)")
    if not paths or scenarios:
        return paths[0] if paths else None
    return from_model_paths(paths, options, present_devices())


def write_reports(run_dir: Path, db: str | None = None) -> str | None:
    """report.md, report.html and the terminal summary; None when the reports cannot be made."""
    from bench.cli.progress import say
    from bench.files import write_text

    try:
        from reports.api import render_reports
        from reports.errors import ReportsError
    except ImportError as exc:
        say(f"report not written: reports are not available ({exc})")
        return None
    try:
        from bench.results.history.known import known_noise, rerun_history

        known = known_noise([run_dir], db)  # the zero-config summary too: past runs of these cells on this machine
        history = rerun_history([run_dir], db)
        out = render_reports([run_dir], ["md", "html", "term"], color=sys.stdout.isatty(), known=known, history=history)
        write_text(run_dir / "report.md", str(out["md"]))
        write_text(run_dir / "report.html", str(out["html"]))
        return str(out["term"])
    except (ReportsError, ImportError) as exc:
        say(f"report not written: {exc}")
        return None


def record_history(run_dir: Path, db: str | None) -> str | None:
    """Put the finished run into the history database; a warning line when it cannot (the run stands regardless)."""
    try:
        from bench.results.history import connect, ingest
        from bench.results.history.db import redacted, target
    except ImportError as exc:  # pragma: no cover - a broken install
        return f"warning: run not recorded in the history database ({exc})"
    try:
        with connect(db) as database:
            ingest(database, run_dir)
    except Exception as exc:  # whatever the database does, the run it measured stands
        where, message = redacted(target(db)), (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        text = message if where in message else f"{where}: {message}"
        return f"warning: run not recorded in the history database {text} (--no-history skips it)"
    return None


def outcome_code(records: list[dict[str, Any]], parity: list[dict[str, Any]]) -> int:
    from reports.schema import FAILED_STATUSES

    bad_cells = any(r.get("status") in FAILED_STATUSES for r in records)
    bad_parity = any(p.get("error") or not all(pair.get("ok", True) for pair in p.get("pairs", []) if pair.get("fp32")) for p in parity)
    return 1 if bad_cells or bad_parity else 0


def problem_lines(records: list[dict[str, Any]]) -> list[str]:
    """Every cell that is not ok, with its reason (the summary's last word before the totals)."""
    from bench.cli.progress import cell_line

    return [cell_line(r) for r in records if r.get("status") != "ok"]


def tally(records: list[dict[str, Any]]) -> str:
    from collections import Counter

    counts = Counter(str(r.get("status")) for r in records)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing measured"


def main(args: argparse.Namespace) -> int:
    import contextlib

    from bench.cli.progress import make_reporter, say
    from bench.runner import session
    from reports.schema import read_run_file

    if args.resume is not None:
        if len(args.paths) > 1:
            from bench.errors import ScenarioError

            raise ScenarioError("--resume: give at most one scenario file (the run's own is used by default)")
        run = session.resume(args.resume, args.paths[0] if args.paths else None, say, args.cluster)
    else:
        run = session.start(scenario_from_args(args), overrides_from(args), args.out, args.cluster)
    store = run.store
    if run.fleet is not None:
        say(f"cluster {run.fleet.address}: " + "; ".join(f"{t} on {', '.join(m)}" for t, m in run.fleet.targets.items()))
    with store, contextlib.closing(run):
        reps = run.scenario.run
        times = f"auto ({reps.repetitions}-{reps.max_processes})" if reps.adaptive else str(reps.repetitions)
        say(f"run {store.run_id}: {len(run.expansion.cells)} cells in {len(run.expansion.groups)} worker groups x "
            f"{times} repetition(s) -> {store.run_dir}")
        try:
            session.measure(run, make_reporter, say)
        except KeyboardInterrupt:
            say(f"finished cells are in {store.path}; finish the run with: infer-bench run --resume {store.run_dir}")
            raise
    results = read_run_file(store.path)
    summary = None if args.no_report else write_reports(store.run_dir, args.db)
    if run.scenario.run.history and not args.no_history:
        warning = record_history(store.run_dir, args.db)  # after the report: its history is the runs before this one
        if warning:
            say(warning)
    for line in closing_lines(summary, results.cells, store.path):
        print(line)
    return outcome_code(results.cells, results.parity)


def closing_lines(summary: str | None, records: list[dict[str, Any]], results: Path) -> list[str]:
    """What a run prints last: the terminal report, whose failure table names every failed cell (so
    they are not listed again), or without one each failed cell's line; then the totals."""
    lines = [summary] if summary else problem_lines(records)
    report = results.parent / "report.html"
    where = f"report: {report} (open it in a browser); results: {results}" if summary else f"results: {results}"
    return [*lines, f"{tally(records)}; {where}"]
