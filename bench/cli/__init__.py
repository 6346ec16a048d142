"""`infer-bench`: the only place that prints errors and chooses exit codes.

Each subcommand lives in its own module under `bench.cli` with `register(subparsers)` that
adds its parser and sets `func` to a `main(args) -> int`. Command modules import heavy things
(pandas, rich, TensorFlow-free harness code) inside `main`, so `--help` stays fast.

Exit codes (DESIGN.md): 0 ok; 1 the check found a problem; 2 usage or input error;
3 inconclusive under --strict; 130 after Ctrl-C, with finished work kept.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bench.errors import user_errors

COMMANDS = (
    "run",
    "plan",
    "report",
    "compare",
    "baseline",
    "import_",
    "check",
    "convert",
    "zoo",
    "profile",
    "history",
    "bisect",
    "capacity",
    "tune",
    "host",
)

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EPILOG = """\
exit codes: 0 ok · 1 the check found a problem (regression, failed/missing cell, fp32 formats
disagree) · 2 usage or input error · 3 inconclusive under --strict · 130 interrupted (work kept)

start here:  infer-bench run          (built-in mnist_cnn sweep, report in results/latest)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infer-bench",
        description="Benchmark and profile TensorFlow inference: every model format, isolated "
        "worker processes, honest statistics, regression gates for CI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bench.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `infer-bench ... | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except user_errors() as exc:
        for line in str(exc).splitlines() or [""]:  # several mistakes at once: one line each
            print(f"infer-bench: error: {line}", file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_USAGE))


if __name__ == "__main__":
    sys.exit(main())
