"""`infer-bench bisect --good G --bad B --scenario FILE`: the first commit that made a cell slower.

The work is bench.runner.bisect; this module reads arguments, prints progress and the answer, and returns
the exit code: 0 found, 3 inconclusive (with how many more repetitions would decide), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.cli.history import DB_HELP, _fraction

EXIT_INCONCLUSIVE = 3


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bisect", help="find the first commit where a cell became slower",
        description="Binary search between a good and a bad commit of a git repository: each probed commit is "
        "checked out in a worktree, set up, and measured with `infer-bench run` alternated with the good commit; "
        "the gate's statistics decide. Exit 0 with the commit, 3 when inconclusive.")
    p.add_argument("--good", required=True, help="a commit (sha, tag, branch) known to be fast")
    p.add_argument("--bad", required=True, help="a later commit known to be slow")
    p.add_argument("--scenario", required=True, type=Path, help="scenario file, relative to the repository root")
    p.add_argument("--repo", type=Path, default=Path("."), help="the git repository (default: here)")
    p.add_argument("--setup", help="shell command run once in each commit's checkout (default: a venv per commit "
                   "with --system-site-packages and `pip install --no-deps --no-build-isolation -e .`)")
    p.add_argument("--work", type=Path, default=Path(".infer-bench") / "bisect",
                   help="where worktrees, venvs and runs are kept (default .infer-bench/bisect)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each side per probe, alternated (default 3)")
    p.add_argument("--repetitions", type=int, default=1, help="worker processes per run (default 1)")
    p.add_argument("--max-rounds", type=int, default=6, help="most runs per side before giving up as inconclusive")
    p.add_argument("--threshold", type=_fraction, default=0.05, help="smallest slowdown that counts (default 5%%)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.runner.bisect import BisectError, Options, bisect, subject

    if args.rounds < 1 or args.max_rounds < args.rounds or args.repetitions < 1:
        raise BisectError("--rounds and --repetitions must be >= 1 and --max-rounds >= --rounds")
    opts = Options(args.repo.resolve(), args.good, args.bad, args.scenario, args.work, args.setup,
                   args.rounds, args.repetitions, args.max_rounds, args.threshold, db=args.db)
    outcome = bisect(opts, lambda line: print(line, file=sys.stderr, flush=True))
    if outcome.first_bad is None:
        p = outcome.inconclusive
        needs = f"needs {outcome.needs} more repetitions" if outcome.needs else "needs more repetitions"
        where = f" at commit {p.sha[:12]} ({p.ratio:.2f}x [{p.low:.2f}, {p.high:.2f}])" if p else ""
        more = -(-(outcome.needs or args.repetitions) // args.repetitions)  # rounds that add that many processes
        print(f"inconclusive — {needs} per side{where}; rerun with --max-rounds {args.max_rounds + more}")
        return EXIT_INCONCLUSIVE
    bad = next(p for p in outcome.probes if p.sha == outcome.first_bad) if any(
        p.sha == outcome.first_bad for p in outcome.probes) else outcome.probes[0]
    print(f"first slower commit: {outcome.first_bad} {subject(opts.repo, outcome.first_bad)}")
    print(f"  last good: {outcome.last_good}; {bad.cell} {bad.ratio:.2f}x slower than good "
          f"(95% interval {bad.low:.2f}-{bad.high:.2f}x) at {bad.sha[:12]}")
    return 0
