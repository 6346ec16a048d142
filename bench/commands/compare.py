"""`infer-bench compare BASELINE CURRENT` / `compare --baseline NAME CURRENT`: the regression gate.

Compare, gate, exit (STYLE.md): reports.compare makes the diff frame, reports.gate the verdict,
reports.render_compare the text; this module only reads files, writes text and returns the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("terminal", "md", "json")


def threshold_arg(text: str) -> float:
    """'5%' -> 0.05, '0.05' -> 0.05; a bare number of 1 or more is refused as ambiguous."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a threshold: write 5% or 0.05") from None
    if not raw.endswith("%") and value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is ambiguous: write {raw}% or {value / 100:g}")
    if not 0 < value < 10:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a positive threshold such as 5%")
    return value


def alpha_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a significance level such as 0.05") from None
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a level such as 0.05")
    return value


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
    p.add_argument("--metric", default="p50", choices=("p50", "p90", "p99", "mean", "throughput"))
    p.add_argument("--threshold", type=threshold_arg, default=0.05, help="smallest change that matters (default 5%%)")
    p.add_argument("--alpha", type=alpha_arg, default=0.01,
                   help="significance level, Holm-corrected across cells: the most a job fails on noise (default 0.01)")
    p.add_argument("--seed", type=int, default=20240601, help="bootstrap seed")
    p.add_argument("--format", choices=FORMATS, default="terminal")
    p.add_argument("--output", type=Path, help="write the output here instead of stdout")
    p.add_argument("--summary", type=Path, metavar="FILE",
                   help="also append the Markdown summary to FILE (e.g. \"$GITHUB_STEP_SUMMARY\")")
    p.add_argument("--strict", action="store_true", help="exit 3 when the only problems are inconclusive cells")
    p.set_defaults(func=main)


def _sides(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    from bench import baselines
    from bench.errors import BenchError

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
    frame = compare(baseline, current, args.metric, args.threshold, args.alpha, args.seed)
    diffs = env_differences(baseline, current)
    result = gate(frame, strict=args.strict)
    renderers = {"terminal": lambda: render_terminal(frame, result, diffs, color=_color(args)),
                 "md": lambda: render_markdown(frame, result, diffs),
                 "json": lambda: render_json(frame, result, diffs)}
    _write(renderers[args.format](), args.output)
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as fh:
            fh.write(render_markdown(frame, result, diffs) + "\n")
    for warning in baseline.warnings + current.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return result.exit_code


def _color(args: argparse.Namespace) -> bool:
    return args.output is None and sys.stdout.isatty()


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
