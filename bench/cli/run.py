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
    from bench.scenario import Overrides

QUICK_HELP = "smoke-run preset: batch sizes 1 and 8, warmup 0.1 s, min_time 0.2 s, max_time 1 s"


def add_sweep_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by `run` and `plan`: they override the scenario file."""
    p.add_argument("scenario", nargs="?", type=Path, metavar="FILE",
                   help="scenario TOML (default: the built-in mnist_cnn sweep)")
    p.add_argument("--quick", action="store_true", help=QUICK_HELP)
    p.add_argument("--formats", metavar="LIST", help="comma-separated formats/variants, e.g. frozen,tflite+int8")
    p.add_argument("--batch-sizes", metavar="LIST", help="comma-separated batch sizes, e.g. 1,8,32")
    p.add_argument("--devices", metavar="LIST", help="comma-separated devices: cpu, gpu, gpu:1")
    p.add_argument("--repetitions", metavar="N|auto", help="fresh worker processes per group, run in rounds; auto: "
                   "rounds until every ratio's between-process interval is within ±3%% (at least 5 processes; "
                   "[run] target, max_processes, time_budget)")
    p.add_argument("--cluster", metavar="HEAD:PORT", help="run the jobs on the machines of this Ray cluster that "
                   "[sweep] hosts names (pip install 'infer-bench[ray]'; README: Many machines)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run", help="measure a scenario (default: built-in mnist_cnn sweep) in isolated workers",
        description="Measure every cell of a scenario, one fresh worker process per group, and write "
        "results/<run-id>/results.jsonl (results/latest points at it), report.md and report.html. "
        f"--quick: {QUICK_HELP}.",
    )
    add_sweep_flags(p)
    p.add_argument("--out", type=Path, metavar="DIR", help="run directory (default: <scenario out>/<run-id>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="finish an interrupted run: only unfinished cells")
    p.add_argument("--no-report", action="store_true", help="skip report.md / report.html and the summary table")
    p.set_defaults(func=main)


def overrides_from(args: argparse.Namespace) -> Overrides:
    from bench.errors import ScenarioError
    from bench.scenario import Overrides, parse_batch_sizes_flag, parse_devices_flag, parse_formats_flag

    reps, auto = args.repetitions, args.repetitions == "auto"
    if reps is not None and not auto:
        if not str(reps).isdigit() or int(reps) < 1:
            raise ScenarioError(f"--repetitions: must be at least 1 (a number of processes) or auto, got {reps!r}")
    return Overrides(
        quick=args.quick,
        formats=parse_formats_flag(args.formats) if args.formats else (),
        batch_sizes=parse_batch_sizes_flag(args.batch_sizes) if args.batch_sizes else (),
        devices=parse_devices_flag(args.devices) if args.devices else (),
        repetitions=int(reps) if reps is not None and not auto else None,
        auto=auto,
    )


def write_reports(run_dir: Path) -> str | None:
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
        out = render_reports([run_dir], ["md", "html", "term"], color=sys.stdout.isatty())  # one aggregation
        write_text(run_dir / "report.md", str(out["md"]))
        write_text(run_dir / "report.html", str(out["html"]))
        return str(out["term"])
    except (ReportsError, ImportError) as exc:
        say(f"report not written: {exc}")
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
        run = session.resume(args.resume, args.scenario, say, args.cluster)
    else:
        run = session.start(args.scenario, overrides_from(args), args.out, args.cluster)
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
    summary = None if args.no_report else write_reports(store.run_dir)
    for line in closing_lines(summary, results.cells, store.path):
        print(line)
    return outcome_code(results.cells, results.parity)


def closing_lines(summary: str | None, records: list[dict[str, Any]], results: Path) -> list[str]:
    """What a run prints last: the terminal report, whose failure table names every failed cell (so
    they are not listed again), or without one each failed cell's line; then the totals."""
    lines = [summary] if summary else problem_lines(records)
    return [*lines, f"{tally(records)}; results: {results}"]
