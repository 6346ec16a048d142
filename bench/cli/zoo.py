"""`infer-bench zoo list|export`: the built-in models, exported in every format."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("zoo", help="built-in models: list them, export them in every format",
                       description="Built-in models, built here and seeded (nothing is downloaded).")
    zsub = p.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    zsub.add_parser("list", help="list the zoo's models").set_defaults(func=list_models)
    e = zsub.add_parser("export", help="export a zoo model into DIR in the chosen formats",
                        description="Writes DIR/manifest.json, DIR/checkpoint/, DIR/frozen.pb, DIR/saved_model/, "
                                    "DIR/model.keras and DIR/model*.tflite (fp32, fp16, int8dyn, int8).")
    e.add_argument("name", help="zoo model name (see `infer-bench zoo list`)")
    e.add_argument("--out", required=True, type=Path, help="output directory (must not exist or be empty)")
    e.add_argument("--formats", default="all",
                   help="comma-separated: checkpoint,frozen,saved_model,keras,tflite,tflite+fp16,"
                        "tflite+int8dyn,tflite+int8, or 'all' (default)")
    e.set_defaults(func=export)


def list_models(args: argparse.Namespace) -> int:
    from infer_core.zoo import ZOO

    for name, entry in sorted(ZOO.items()):
        print(f"{name:14s} {entry.description}")
    return 0


def export(args: argparse.Namespace) -> int:
    from bench.runner.zoo_export import export_from_cache as run_export
    from bench.runner.zoo_export import parse_formats
    from infer_core.zoo import entry

    entry(args.name)
    formats = parse_formats(args.formats)
    out = run_export(args.name, args.out, formats)
    print(f"exported {args.name} ({', '.join(formats)}) to {out}")
    return 0
