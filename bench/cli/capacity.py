"""`infer-bench capacity MODEL --slo-ms 5`: the most queries per second with p99 (or any percentile) within an SLO.

Per format: a FindPeakPerformance search in one worker (Poisson arrivals, doubling then bisection, each
step checked for validity and stability), then the final steps repeated in fresh workers: the capacity comes
with the range (min to max) of the processes' estimates (bench.runner.capacity). Steps and answers go to results/<run-id>/results.jsonl with
report.md and report.html (latency vs achieved QPS with the SLO line, capacity table).
Exit 0: every format has a capacity; 1: some format cannot meet the SLO even at the lowest rate
(or its worker died: finished steps are kept); 2: bad input.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from bench.cli.load_args import add_load_options, add_settings_options


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "capacity", help="max QPS with the p99 (or any percentile) under an SLO, per format, with its range over fresh processes",
        description="Search the highest Poisson arrival rate whose latency percentile (from each query's "
        "scheduled arrival) stays within --slo-ms: LoadGen's doubling-then-bisection with perf_analyzer's "
        "stability check, repeated in fresh worker processes; the capacity comes with the range (min to max) of "
        "their estimates.")
    add_load_options(p)
    add_settings_options(p)
    p.add_argument("--start-qps", type=float, metavar="QPS", help="first rate to try (default: from a quick probe)")
    p.add_argument("--precision", type=float, default=0.05, help="stop bisecting at this relative gap (default 0.05)")
    p.add_argument("--max-steps", type=int, default=14, metavar="N", help="steps per search at most (default 14)")
    p.set_defaults(func=main)


def requests(args: argparse.Namespace) -> list[Any]:
    from bench.cli.load_args import batching_from, model_specs, settings_from
    from bench.errors import BenchError
    from bench.runner.capacity import Request, enforce_threads

    if args.max_steps < 1:
        raise BenchError(f"--max-steps: must be >= 1, got {args.max_steps}")
    if args.start_qps is not None and not args.start_qps > 0:
        raise BenchError(f"--start-qps: must be > 0 QPS, got {args.start_qps:g}")
    s = settings_from(args, executor_threads=args.executor_threads, batching=batching_from(args))
    formats = tuple(args.formats.split(",")) if args.formats else None
    name, specs = model_specs(args, formats)
    return [Request(name, enforce_threads(spec, s), s, rule=args.rule, confirm=args.confirm, precision=args.precision,
                    start=args.start_qps, max_steps=args.max_steps, timeout_s=args.timeout).check() for spec in specs]


def verdict(outcome: Any) -> str:
    r = outcome.request
    s = r.settings
    if outcome.capacity is None:
        best = outcome.best_observed_ns
        seen = f"; best p{s.percentile:g} seen {best / 1e6:.3g} ms" if best is not None else ""
        lowest = min((st["load"]["target_qps"] for st in outcome.steps), default=None)
        at = f" even at {lowest:g} QPS" if lowest is not None else ""
        why = f" ({outcome.error})" if outcome.error else ""
        return f"{r.model} {r.spec.variant}: p{s.percentile:g} <= {s.slo_ms:g} ms cannot be met{at}{seen}{why}"
    extra = f" (worker failed: {outcome.error}; finished steps kept)" if outcome.error else ""
    head = f"{r.model} {r.spec.variant}: capacity {outcome.capacity:.4g} QPS at p{s.percentile:g} <= {s.slo_ms:g} ms"
    return f"{head}; {spread(outcome)}{extra}"


def spread(outcome: Any) -> str:
    """"range 380–420 QPS over 3 processes": min to max of the processes' estimates (a range, not an interval)."""
    found, ran = len(outcome.found), len(outcome.estimates)
    if ran <= 1:
        return "from one process (no range)"
    lo, hi = outcome.estimate_range or (outcome.capacity, outcome.capacity)
    over = f"{ran} processes" if found == ran else f"the {found} of {ran} processes that found a rate within the SLO"
    return f"range {lo:.4g}–{hi:.4g} QPS over {over}"


def main(args: argparse.Namespace) -> int:
    from bench.cli.load_args import open_run, write_reports
    from bench.cli.progress import say
    from bench.runner.capacity import capacity

    reqs = requests(args)  # every input error before anything runs
    store = open_run(args.out, "infer-bench capacity " + " ".join(shlex.quote(a) for a in sys.argv[2:]))
    outcomes = []
    with store:
        for r in reqs:
            outcome = capacity(r, store.append, say)
            store.append(outcome.record())
            outcomes.append(outcome)
            say(verdict(outcome))
    print(write_reports(store.run_dir))
    for o in outcomes:
        print(verdict(o))
    print(f"results: {store.run_dir}/report.html")
    return 0 if all(o.capacity is not None and o.error is None for o in outcomes) else 1
