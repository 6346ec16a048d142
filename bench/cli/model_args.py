"""Command-line options shared by every command that loads a model (one definition, one spelling)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from infer_core.model import VARIANTS, ModelSpec


def add_model_file_options(g: argparse._ArgumentGroup | argparse.ArgumentParser,
                           signature_default: str | None = "serving_default") -> None:
    """How to read a model file: format, builder, signature, tensor names, dynamic shapes (check, run, plan)."""
    g.add_argument("--format", dest="variant", choices=VARIANTS, metavar="FORMAT",
                   help="model format/variant (default: detected from the path): " + ", ".join(VARIANTS))
    g.add_argument("--builder", metavar="FILE.py:FUNC",
                   help="checkpoint only: your graph-building function (returns (inputs, outputs) tensors)")
    g.add_argument("--signature", default=signature_default, help="SavedModel signature (default: serving_default)")
    g.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME",
                   help="input tensor name (repeat for several; default: discovered)")
    g.add_argument("--output", dest="outputs", action="append", default=[], metavar="NAME",
                   help="output tensor name (repeat for several; default: discovered)")
    g.add_argument("--shape", dest="shapes", action="append", default=[], metavar="NAME=DxD",
                   help="value for an input's dynamic dimensions, e.g. tokens=1x128 (batch is set per run)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model options")
    add_model_file_options(g)
    g.add_argument("--device", default="cpu", help="cpu, gpu or gpu:N (default: %(default)s)")
    g.add_argument("--threads", type=int, default=0, metavar="N",
                   help="intra-op threads (TensorFlow) / interpreter threads (TFLite); 0 = default")
    g.add_argument("--unsafe-keras", action="store_true",
                   help="load Keras files with safe_mode off: lets a file run its own code (Lambda layers)."
                        " Only for files you trust")


def spec_from_args(args: argparse.Namespace, path: str, **overrides: Any) -> ModelSpec:
    from infer_core.inputs import parse_shape

    if getattr(args, "unsafe_keras", False):
        print("warning: --unsafe-keras: Keras files may run code they contain", file=sys.stderr)
    fields: dict[str, Any] = dict(
        path=path, variant=args.variant, builder=args.builder, signature=args.signature,
        inputs=tuple(args.inputs), outputs=tuple(args.outputs),
        shapes=dict(parse_shape(s) for s in args.shapes), device=args.device,
        intra_op_threads=args.threads, safe_mode=not args.unsafe_keras)
    fields.update(overrides)
    return ModelSpec(**fields)


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a batch size, a count of runs): 0 would measure or compare nothing."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def inter_op_threads(text: str) -> int:
    """-1 (a session runs each call in the caller's thread), 0 (TensorFlow's default) or a count."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < -1:
        raise argparse.ArgumentTypeError(f"must be -1 (the caller's thread), 0 (the default) or a count, got {value}")
    return value
