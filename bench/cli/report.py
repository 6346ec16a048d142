"""`infer-bench report RUN_DIR... [--format F] [--out PATH] [--baseline-format F] [--slo-ms X]`.

Reads results, renders with `reports.api`, writes one file or stdout. The heavy imports (pandas,
matplotlib, rich) happen inside `main`, so `infer-bench --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

FORMATS = ("term", "md", "html", "csv", "parquet", "json")
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".csv": "csv", ".parquet": "parquet", ".json": "json", ".txt": "term"}


def slo_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds, e.g. 5 or 2.5") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of milliseconds")
    return value


def register(subparsers: Any) -> None:
    from infer_core.variants import VARIANTS

    p = subparsers.add_parser(
        "report",
        help="tables, Markdown or a self-contained HTML report of one or more runs",
        description="Report one or more runs (side by side): fastest format per batch size, speedup vs a "
        "baseline format with confidence intervals and output parity, best batch size, latency "
        "distributions, cold start, failures, environment.",
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories or results.jsonl files")
    p.add_argument("--format", choices=FORMATS, help="output format (default: from --out's suffix, else term)")
    p.add_argument("--out", type=Path, metavar="PATH", help="write here instead of stdout")
    p.add_argument("--baseline-format", choices=VARIANTS, metavar="F",
                   help="format to compute speedups against (default: checkpoint where present)")  # fmt: skip
    p.add_argument("--slo-ms", type=slo_arg, metavar="X", help="also pick the best batch size whose p99 is at most X ms")
    p.add_argument("--db", metavar="PATH|URL", help="history database whose past runs say how much these cells vary on "
                   "this machine and give the ratios' rerun intervals once it holds 5 earlier runs of them "
                   "(default: $INFER_BENCH_DB or .infer-bench/history.sqlite, when it exists)")
    p.set_defaults(func=main)


def choose_format(requested: str | None, out: Path | None) -> str:
    if requested:
        return requested
    if out is not None:
        return SUFFIXES.get(out.suffix.lower(), "term")
    return "term"


def _colour(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def main(args: argparse.Namespace) -> int:
    from bench.files import write_bytes
    from reports.api import render_report
    from reports.errors import ReportsError

    fmt = choose_format(args.format, args.out)
    if fmt == "parquet" and args.out is None:
        raise ReportsError("parquet is binary: give --out FILE.parquet")
    colour = fmt == "term" and args.out is None and _colour(sys.stdout)
    from bench.results.history.known import known_noise, rerun_history

    known = known_noise(list(args.runs), args.db)
    history = rerun_history(list(args.runs), args.db)
    content = render_report(list(args.runs), fmt, args.baseline_format, args.slo_ms, color=colour, known=known,
                            history=history)
    if args.out is None:
        sys.stdout.write(content if isinstance(content, str) else content.decode())
        return 0
    write_bytes(args.out, content.encode("utf-8") if isinstance(content, str) else content)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
