"""`infer-bench compare BASELINE CURRENT` / `compare --baseline NAME CURRENT`: the regression gate.

Compare, gate, exit (STYLE.md): reports.compare makes the diff frame, reports.gate the verdict,
reports.render_compare the text; this module only reads files, writes text and returns the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.compare_settings import (
    DEFAULT_ALPHA,
    DEFAULT_SEED,
    DEFAULT_THRESHOLD,
    METRICS,
    parse_alpha,
    parse_threshold,
)

FORMATS = ("term", "md", "json")
FORMAT_ALIASES = {"terminal": "term"}


def format_arg(text: str) -> str:
    """`term` (also `terminal`, as before), `md` or `json`: one spelling with `report`."""
    value = FORMAT_ALIASES.get(text, text)
    if value not in FORMATS:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(FORMATS)})")
    return value


def _argument(parse: Callable[[str], float]) -> Callable[[str], float]:
    """A reports parser as an argparse type: its message becomes argparse's usage error."""
    def convert(text: str) -> float:
        from reports.errors import CompareError

        try:
            return parse(text)
        except CompareError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare a run against a baseline and gate on regressions",
        description="Compare CURRENT against BASELINE cell by cell (the worker process is the unit of "
        "evidence) and exit 0 (no regression), 1 (a cell got slower, failed or is missing), 2 (bad "
        "input) or 3 (--strict and something is inconclusive).",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="RUN",
                   help="BASELINE then CURRENT run directories (or results.jsonl); several CURRENT runs are "
                   "pooled; with --baseline or --baseline-run, every RUN is CURRENT")
    p.add_argument("--baseline", metavar="NAME", help="a saved baseline (infer-bench baseline save)")
    p.add_argument("--baseline-run", metavar="RUN", type=Path, action="append", default=[],
                   help="a baseline run directory; repeat it to pool runs (e.g. runs alternated with "
                   "the current ones); then every RUN is CURRENT")
    p.add_argument("--baselines-dir", type=Path, help="where baselines are kept (default "
                   ".infer-bench/baselines, or $INFER_BENCH_BASELINES)")
    p.add_argument("--metric", default="p50", choices=METRICS,
                   help="the statistic compared per cell: p50 (default), p90, p99, mean, or throughput "
                   "(compared as time per sample)")
    p.add_argument("--threshold", type=_argument(parse_threshold), default=DEFAULT_THRESHOLD,
                   help=f"smallest change that matters, as 5%% or 0.05 (default {DEFAULT_THRESHOLD * 100:g}%%)")
    p.add_argument("--alpha", type=_argument(parse_alpha), default=DEFAULT_ALPHA,
                   help=f"significance level, Holm-corrected across cells: the most a job fails on noise (default {DEFAULT_ALPHA:g})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default {DEFAULT_SEED})")
    p.add_argument("--format", type=format_arg, default="term", metavar="{term,md,json}",
                   help="output format (default term; 'terminal' is accepted too)")
    p.add_argument("--out", dest="output", type=Path, metavar="FILE", help="write the output here instead of stdout")
    # the old spelling still works, unlisted: --output names a tensor in every other command
    p.add_argument("--output", dest="output", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--summary", type=Path, metavar="FILE",
                   help="also append the Markdown summary to FILE (e.g. \"$GITHUB_STEP_SUMMARY\")")
    p.add_argument("--strict", action="store_true", help="exit 3 when the only problems are inconclusive cells")
    p.add_argument("--db", metavar="PATH|URL", help="history database whose past runs say how much the current cells "
                   "vary on this machine, shown beside the verdict (default: $INFER_BENCH_DB or "
                   ".infer-bench/history.sqlite, when it exists)")
    p.add_argument("--paired", action="store_true",
                   help="the runs were alternated round by round (baseline 1, current 1, baseline 2, ...): pair "
                   "the k-th baseline run with the k-th current run and, within a cell, processes of the same "
                   "repetition; the test becomes a signed-rank test on per-pair ratios (give the runs in order). Measured: "
                   "it helps when a pair's processes ran close in time, not when rounds are whole runs apart (README)")
    p.add_argument("--across-hosts", action="store_true",
                   help="match cells of different cluster hosts (by default a host's cells match only that host's)")
    p.set_defaults(func=main)


def _sides(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    from bench.errors import BenchError
    from bench.results import baselines

    if args.baseline and args.baseline_run:
        raise BenchError("give either --baseline NAME or --baseline-run RUN, not both")
    if args.baseline:
        root = baselines.baselines_root(args.baselines_dir)
        return baselines.load(args.baseline, root).files, list(args.paths)
    if args.baseline_run:
        return list(args.baseline_run), list(args.paths)
    if len(args.paths) < 2:
        raise BenchError("give BASELINE and CURRENT runs, or --baseline NAME and CURRENT")
    return [args.paths[0]], list(args.paths[1:])


def main(args: argparse.Namespace) -> int:
    from reports.compare import compare, env_differences
    from reports.errors import CompareError
    from reports.gate import gate
    from reports.load import load_runs
    from reports.render_compare import render_json, render_markdown, render_terminal

    base_paths, cur_paths = _sides(args)
    baseline, current = load_runs(base_paths), load_runs(cur_paths)
    if baseline.cells.empty:
        raise CompareError(f"the baseline ({', '.join(map(str, base_paths))}) has no cell records")
    comparison = compare(baseline, current, args.metric, args.threshold, args.alpha, args.seed, args.across_hosts,
                         paired=args.paired)
    diffs = env_differences(baseline, current)
    result = gate(comparison, strict=args.strict)
    renderers = {"term": lambda: render_terminal(comparison, result, diffs, color=_color(args)),
                 "md": lambda: render_markdown(comparison, result, diffs),
                 "json": lambda: render_json(comparison, result, diffs)}
    _write(renderers[args.format](), args.output)
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as fh:
            fh.write(render_markdown(comparison, result, diffs) + "\n")
    for warning in baseline.warnings + current.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    _known_noise(cur_paths, args.db)
    return result.exit_code


def _known_noise(paths: list[Path], db: str | None) -> None:
    """Beside the verdict (never changing it): how much these cells' runs have varied on this machine."""
    from bench.results.history.known import known_noise

    for line in known_noise(paths, db):
        print(f"note: {line}", file=sys.stderr)


def _color(args: argparse.Namespace) -> bool:
    return args.output is None and sys.stdout.isatty()


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        from bench.files import write_text

        write_text(output, text if text.endswith("\n") else text + "\n")
