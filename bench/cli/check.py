"""`infer-bench check`: the same inputs through every format of a model; a parity table.

Exit 0 when every fp32 pair agrees, 1 when fp32 formats disagree, 2 when a model cannot be
loaded (the error names the file and what to do).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.cli.model_args import add_model_options, positive_int, spec_from_args

EXTRA_FORMATS = ("checkpoint", "frozen", "saved_model", "keras", "tflite")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check", help="output parity: same inputs through every format of a model",
        description="Feeds the same inputs to every format of a model and compares outputs pairwise: "
                    "max abs / max relative difference, top-1 agreement. fp32 formats must agree "
                    "(|a-b| <= 1e-5 + 1e-4*max|a|); quantised formats are shown, never fail.",
        epilog="examples:\n  infer-bench check models/mnist\n"
               "  infer-bench check models/mnist/frozen.pb models/mnist/saved_model models/mnist/model.tflite\n"
               "  infer-bench check my_graph.py:build --checkpoint ckpt/model.ckpt --frozen frozen.pb\n\n"
               "One format alone has nothing to compare with: that is exit 2 (after showing that it loads).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="an exported model directory (manifest.json), model files/directories (format detected; "
                        "several are compared with each other), or a graph builder FILE.py:FUNC used with --checkpoint")
    for fmt in EXTRA_FORMATS:
        p.add_argument(f"--{fmt.replace('_', '-')}", dest=f"extra_{fmt}", metavar="PATH",
                       help=f"also check this {fmt} model")
    p.add_argument("--formats", help="with a model directory: comma-separated formats to check (default: all)")
    p.add_argument("--batch", type=positive_int, default=4, help="batch size of the synthesised inputs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthesised inputs (default: %(default)s)")
    p.add_argument("--inputs", dest="inputs_file", type=Path, metavar="FILE", help=".npz (keyed by input name) or .npy inputs instead of synthesised ones")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the parity table as JSON")
    add_model_options(p)
    p.set_defaults(func=main)


def _is_builder(ref: str) -> bool:
    head, sep, tail = ref.rpartition(":")
    return bool(sep and head and tail.isidentifier() and not Path(ref).exists())


def _entries(args: argparse.Namespace) -> tuple[str, list[Any]]:
    from bench.runner.parity import Entry

    entries: list[Entry] = []
    extras = {fmt: getattr(args, f"extra_{fmt}") for fmt in EXTRA_FORMATS}
    models = list(args.models)
    name = Path(models[0]).name
    if _is_builder(models[0]):
        builder = models.pop(0)
        checkpoint = extras.pop("checkpoint")  # the builder's own checkpoint, not an extra model
        if not checkpoint:
            from bench.errors import BenchError

            raise BenchError(f"{builder}: a graph builder needs its checkpoint: add --checkpoint PATH")
        entries.append(Entry("checkpoint", spec_from_args(args, checkpoint, builder=builder, variant="checkpoint")))
        name = builder
    for model in models:
        entries += _positional_entries(args, model)
    if Path(args.models[0], "manifest.json").exists():
        from bench.runner.zoo_export import read_manifest

        name = read_manifest(Path(args.models[0]))["model"]
    entries += [Entry(fmt, spec_from_args(args, path, variant=fmt, builder=None)) for fmt, path in extras.items() if path]
    return name, _unique_labels(entries)


def _positional_entries(args: argparse.Namespace, model: str) -> list[Any]:
    """An exported model directory gives every format in it; a model file or directory, itself."""
    from bench.runner.parity import Entry, entries_for_dir
    from bench.runner.zoo_export import parse_formats
    from infer_core.detect import resolve_variant

    if Path(model, "manifest.json").exists():
        variants = parse_formats(args.formats) if args.formats else None
        return list(entries_for_dir(Path(model), variants, device=args.device, intra_op_threads=args.threads))
    spec = spec_from_args(args, model)
    return [Entry(resolve_variant(spec), spec)]


def _unique_labels(entries: list[Any]) -> list[Any]:
    from bench.runner.parity import Entry

    seen: dict[str, int] = {}
    out = []
    for e in entries:
        seen[e.label] = seen.get(e.label, 0) + 1
        out.append(e if seen[e.label] == 1 else Entry(f"{e.label}#{seen[e.label]}", e.spec))
    return out


def _fmt(x: float | None, spec: str = ".2e") -> str:
    return "-" if x is None else format(x, spec)


def render_table(record: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"output parity: {record['model']} (fp32 tolerance: |a-b| <= "
                        f"{record['tolerance']['atol']:g} + {record['tolerance']['rtol']:g}*max|a|)")
    for col in ("format A", "format B", "output", "max abs", "max rel", "top-1", "verdict"):
        table.add_column(col, justify="right" if col.startswith(("max", "top")) else "left", no_wrap=True)
    for row in record["pairs"]:
        verdict = ("[green]agree[/]" if row["ok"] else "[red]DISAGREE[/]") if row["fp32"] else "[dim]quantised[/]"
        table.add_row(row["a"], row["b"], row["output"], _fmt(row["max_abs"]), _fmt(row["max_rel"]),
                      _fmt(row["top1_agreement"], ".0%"), verdict)
    return table


NOTHING_TO_COMPARE = ("nothing to compare it with: add another format (a second MODEL, or --frozen/--saved-model/"
                      "--keras/--tflite/--checkpoint PATH), or give an exported model directory")


def _print_notes(console: Any, predictions: list[Any]) -> None:
    for p in predictions:
        for note in (p.described or {}).get("notes", []):
            console.print(f"note: {p.label}: {note}", markup=False)
        if p.matched_by == "position":
            console.print(f"note: {p.label}: input names differ from the first format's; matched by position", markup=False)


def _errors_only(predictions: list[Any]) -> int | None:
    """Exit 2 with the errors alone when fewer than two formats are left to compare; None otherwise.

    One format that loads is not a check either (exit 2, like any usage error): a pass on nothing
    would read as "all formats agree" in a CI log."""
    from bench.runner.client import error_from_message

    failed = [p for p in predictions if p.error]
    if len(failed) == len(predictions) == 1:
        raise error_from_message({"error_class": failed[0].error_class, "message": failed[0].error})
    if len(predictions) - len(failed) >= 2:
        return None
    for p in failed:
        print(f"infer-bench: error: {p.label}: {p.error}", file=sys.stderr)
    if not failed:
        print(f"infer-bench: error: {predictions[0].label} loads and predicts; {NOTHING_TO_COMPARE}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bench.errors import BenchError
    from bench.files import write_text
    from bench.runner.parity import parity_record, predict_all
    from bench.scenario.preflight import check_spec
    from reports.schema import jsonable

    if args.variant and len(args.models) > 1:
        raise BenchError("--format applies to one MODEL; with several, each one's format is detected "
                         "(or name them with --frozen/--saved-model/--keras/--tflite/--checkpoint PATH)")
    name, entries = _entries(args)
    for entry in entries:  # a surely broken file: one line and exit 2 before any worker starts
        check_spec(entry.spec)
    predictions = predict_all(entries, batch=args.batch, seed=args.seed, inputs_file=args.inputs_file)
    console = Console(width=None if sys.stdout.isatty() else 120)
    code = _errors_only(predictions)
    if code is not None:
        if not any(p.error for p in predictions):  # the one format that loaded: what it picked, nothing else
            _print_notes(console, predictions)
        return code
    record = parity_record(name, predictions)
    console.print(render_table(record))
    _print_notes(console, predictions)
    if args.json:
        write_text(args.json, json.dumps(jsonable(record), indent=2, allow_nan=False) + "\n")
    failed = [p for p in predictions if p.error]
    for p in failed:
        print(f"infer-bench: error: {p.label}: {p.error}", file=sys.stderr)
    if failed:
        return 2
    bad = [r for r in record["pairs"] if r["fp32"] and not r["ok"]]
    if bad:
        console.print(f"[red]{len(bad)} fp32 pair(s) disagree beyond the tolerance[/]")
        return 1
    console.print(f"[green]all fp32 formats agree[/] ({len(predictions)} formats)")
    return 0
