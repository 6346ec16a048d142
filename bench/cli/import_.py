"""`infer-bench import pytest-benchmark FILE.json [FILE.json ...] --out DIR`: outside results in.

Each pytest-benchmark file is one pytest process, so several files of the same tests become
repetitions that `compare` can test (bench.integrations.import_pytest_benchmark).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="turn other tools' results into an infer-bench run",
                              description="Turn other tools' results into a run that report and compare read.")
    sub = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    pb = sub.add_parser("pytest-benchmark", help="pytest-benchmark JSON saved with --benchmark-save-data",
                        description="Import pytest-benchmark JSON files (one per pytest session = one "
                        "repetition). Raw timings are needed: run pytest with --benchmark-save-data.")
    pb.add_argument("files", nargs="+", type=Path, metavar="FILE.json",
                    help="pytest-benchmark JSON files with raw timings, one per session (each is one repetition)")
    pb.add_argument("--out", type=Path, required=True, help="new run directory to write")
    pb.set_defaults(func=_pytest_benchmark)


def _pytest_benchmark(args: argparse.Namespace) -> int:
    from bench.integrations.import_pytest_benchmark import import_files

    path, cells, repetitions = import_files(args.files, args.out)
    print(f"imported {cells} benchmarks x {repetitions} repetition(s) into {path}")
    if repetitions < 3:
        print("note: fewer than 3 files (pytest sessions) per side: compare cannot sample the "
              "between-process variation and calls only changes beyond 2x")
    return 0
