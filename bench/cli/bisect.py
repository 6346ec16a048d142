"""`infer-bench bisect --good G --bad B --scenario FILE`: the first commit that made a cell slower.

The work is bench.runner.bisect; this module reads arguments, prints progress and the answer, and returns
the exit code: 0 found, 3 inconclusive (with how many more repetitions would decide, or why that number
cannot be given), 2 bad input.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cli.history import DB_HELP, _fraction

if TYPE_CHECKING:
    from bench.runner.bisect import Needs, Probe

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
        assert outcome.inconclusive is not None and outcome.needs is not None  # bisect's only other ending
        print(inconclusive_line(outcome.inconclusive, outcome.needs, args.repetitions, args.max_rounds))
        return EXIT_INCONCLUSIVE
    bad = next(p for p in outcome.probes if p.sha == outcome.first_bad) if any(
        p.sha == outcome.first_bad for p in outcome.probes) else outcome.probes[0]
    print(f"first slower commit: {outcome.first_bad} {subject(opts.repo, outcome.first_bad)}")
    print(f"  last good: {outcome.last_good}; {bad.cell} {bad.ratio:.2f}x slower than good "
          f"(95% interval {bad.low:.2f}-{bad.high:.2f}x) at {bad.sha[:12]}")
    return 0


def inconclusive_line(probe: Probe, needs: Needs, repetitions: int, max_rounds: int) -> str:
    """The answer when bisect stops inconclusive: how many more repetitions per side, or why no number can
    be given, and the --max-rounds that would add them (rounds of `repetitions` processes each)."""
    where = f"at commit {probe.sha[:12]} ({probe.ratio:.2f}x [{probe.low:.2f}, {probe.high:.2f}])"
    if needs.more is not None:
        rounds = max_rounds + math.ceil(needs.more / repetitions)
        return f"inconclusive — needs {needs.more} more repetitions per side {where}; rerun with --max-rounds {rounds}"
    return (f"inconclusive — needs more repetitions per side {where}, how many cannot be computed: "
            f"{_unknown_why(needs)}; rerun {_unknown_advice(needs, repetitions, max_rounds)}")


def _unknown_why(needs: Needs) -> str:
    threshold = f"{needs.threshold * 100:.3g}%"
    if needs.unknown == "unmeasured":
        return f"with {needs.have} process{'es' if needs.have != 1 else ''} a side the spread between processes is not measured"
    spread = f"the spread seen (log SD {needs.log_sd:.2f} over {needs.have} processes a side)"
    if needs.unknown == "beyond_limit":
        return f"at {spread} a {threshold} change takes more than {needs.limit} a side to see"
    return f"at {spread} these processes should see a {threshold} change, so the change lies near that threshold"


def _unknown_advice(needs: Needs, repetitions: int, max_rounds: int) -> str:
    """Enough rounds to measure the spread (unmeasured); otherwise twice the processes, to narrow the interval
    and measure the spread again (on a quieter machine, where it was too wide to count)."""
    if needs.unknown == "unmeasured":
        return f"with --max-rounds {max_rounds + math.ceil(max(needs.few - needs.have, 1) / repetitions)}"
    quieter = "on a quieter machine or " if needs.unknown == "beyond_limit" else ""
    return f"{quieter}with --max-rounds {2 * max_rounds}"
