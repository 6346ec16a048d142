"""`infer-bench convert`: write a model in another format (in a worker process)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.model_args import add_model_options, spec_from_args

TARGETS = ("frozen", "saved_model", "tflite", "tflite+fp16", "tflite+int8dyn", "tflite+int8")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("convert", help="convert a model to another format",
                       description="checkpoint -> frozen | saved_model; keras -> saved_model | tflite*; "
                                   "saved_model -> frozen | tflite* (tflite, tflite+fp16, tflite+int8dyn, "
                                   "tflite+int8 with representative data synthesised from the signature).")
    p.add_argument("model", help="model path (format detected, or --format)")
    p.add_argument("--to", required=True, choices=TARGETS, help="target format")
    p.add_argument("--out", required=True, type=Path, help="output file or directory")
    add_model_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.runner.client import run_model_task
    from bench.scenario.preflight import check_spec

    spec = spec_from_args(args, args.model)
    source = check_spec(spec)  # a missing, unknown or surely broken file fails here, before a worker starts
    messages = run_model_task({"task": "convert", "source": source, "target": args.to,
                               "out": str(args.out.resolve())}, spec,
                              legacy=source in ("checkpoint", "frozen"))
    done = next(m for m in messages if m.get("kind") == "converted")
    print(f"wrote {args.to} to {done['path']}")
    return 0
