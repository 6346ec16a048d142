"""`infer-bench tune MODEL_OR_ZOO_NAME --slo-ms 20`: the best format x threads x batching under an SLO.

Successive halving over the candidates (bench.runner.tune): short capacity searches for all, longer for
the better half, fresh processes for the two finalists. Prints the ranked table with each candidate's range
(min to max over its processes), the
winner as a TF Serving `batching_parameters` text with its thread flags (also written to
<run>/batching_parameters.txt), and the gain over single-stream batch 1 at the SLO.
Exit 0: a winner; 1: no candidate meets the SLO; 2: bad input.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from bench.cli.load_args import add_load_options
from bench.cli.model_args import inter_op_threads


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tune", help="best format x threads x executor threads x batching under an SLO (successive halving)",
        description="Find the serving configuration with the most QPS at p99 <= --slo-ms (or the lowest p99 at "
        "--qps with --objective p99): short trials for all candidates, longer for the best half, fresh "
        "processes for the finalists.")
    add_load_options(p)
    p.add_argument("--objective", choices=("qps", "p99"), default="qps",
                   help="qps: most QPS within the SLO (default); p99: lowest percentile latency at --qps")
    p.add_argument("--qps", type=float, metavar="QPS", help="the rate of the p99 objective")
    p.add_argument("--formats", metavar="F,F", help="formats to try (zoo default: frozen,saved_model,tflite)")
    p.add_argument("--threads", default="0", metavar="N,N", help="intra-op thread counts to try (default 0 = TF's)")
    p.add_argument("--inter-op-threads", type=inter_op_threads, default=0, metavar="N",
                   help="TensorFlow inter-op threads (0 = default; -1 = each session call in the calling thread, for"
                        " checkpoint and frozen graph only); a count is raised to the executor threads where fewer")
    p.add_argument("--executor-threads", default="1,2", metavar="N,N", help="executor / batch thread counts (default 1,2)")
    p.add_argument("--batching", default="none,8:1000,32:2000", metavar="SPEC,SPEC",
                   help="batching settings to try: none or MAX_BATCH:TIMEOUT_US (default none,8:1000,32:2000); "
                        "batches are padded to powers of two")
    p.set_defaults(func=main)


def _ints(text: str, flag: str, low: int) -> list[int]:
    from bench.errors import BenchError

    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise BenchError(f"{flag}: {text!r} is not a comma-separated list of whole numbers") from None
    if any(v < low for v in values):
        raise BenchError(f"{flag}: every value must be >= {low}, got {text!r}")
    return values


def batchings(text: str) -> list[Any]:
    """"none,8:1000" -> [None, Batching(8, 1000, allowed sizes 1, 2, 4, 8)]."""
    from bench.errors import BenchError
    from bench.load_settings import Batching

    out: list[Any] = []
    for part in text.split(","):
        if part == "none":
            out.append(None)
            continue
        size, _, timeout = part.partition(":")
        if not (size.isdigit() and timeout.isdigit() and int(size) >= 1):
            raise BenchError(f"--batching: {part!r} is not none or MAX_BATCH:TIMEOUT_US (e.g. 8:1000)")
        m = int(size)
        sizes = tuple(sorted({min(2 ** k, m) for k in range(m.bit_length() + 1)}))
        out.append(Batching(max_batch_size=m, batch_timeout_micros=int(timeout), allowed_batch_sizes=sizes))
    return out


def main(args: argparse.Namespace) -> int:
    from bench.cli.load_args import model_specs, open_run, settings_from, write_reports
    from bench.cli.progress import say
    from bench.errors import BenchError
    from bench.files import write_text
    from bench.runner import tune

    base = settings_from(args)
    if args.objective == "p99" and not (args.qps and args.qps > 0):
        raise BenchError("--objective p99 needs --qps QPS > 0 (the rate to minimise the percentile at)")
    formats = tuple(args.formats.split(",")) if args.formats else None
    name, specs = model_specs(argparse.Namespace(**{**vars(args), "threads": 0}), formats)
    candidates = tune.grid([s.variant for s in specs], _ints(args.threads, "--threads", 0),
                           _ints(args.executor_threads, "--executor-threads", 1), batchings(args.batching))
    for c in candidates:
        problems = c.settings(base).problems()
        if problems:
            raise BenchError(f"--batching: {problems[0][1]}")
    store = open_run(args.out, "infer-bench tune " + " ".join(shlex.quote(a) for a in sys.argv[2:]))
    by_variant = {s.variant: s for s in specs}
    with store:
        tuner = tune.Tuner(name, by_variant, base, store.append, say, args.objective, args.qps, args.confirm,
                           min(1, args.confirm), args.timeout, args.rule)
        result = tuner.run(candidates)
        rec = tune.record(result, name, base, by_variant)
        store.append(rec)
    print(write_reports(store.run_dir))
    if rec["batching_parameters"]:
        write_text(store.run_dir / "batching_parameters.txt", rec["batching_parameters"])
        print(rec["batching_parameters"])
    print(f"results: {store.run_dir}/report.html")
    return 0 if result.winner is not None else 1
