"""`infer-bench profile MODEL` and `infer-bench profile-diff BEFORE AFTER`: where the time goes.

The model loads and is profiled in a worker process (bench.runner.client → bench.runner.procs, the format's
environment set before TensorFlow starts); this process only builds the task, writes the files
asked for (trace, Markdown, HTML, JSON) and prints the tables. `--coldstart` times a second,
fresh worker from spawn to first answer. MODEL is a model file or directory, an exported zoo
directory (with --format), or a zoo model's name (exported once into the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.cli.model_args import inter_op_threads, positive_int
from bench.errors import BenchError
from bench.files import write_text

DEFAULT_TIMEOUT_S = 900.0


# ----------------------------------------------------------------------------- arguments

def _model_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    p.add_argument("--device", default="cpu", help="cpu, gpu or gpu:N (default cpu)")
    p.add_argument("--runs", type=positive_int, default=5, help="traced runs; op time = their median (default 5)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="intra-op threads (0 = TensorFlow's default)")
    p.add_argument("--inter-op-threads", type=inter_op_threads, default=0, metavar="N",
                   help="inter-op threads: ops run side by side (0 = TensorFlow's default; -1 = a session runs each"
                        " call in the calling thread)")
    p.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME",
                   help="input tensor name (repeat for several; default: discovered, as in check)")
    p.add_argument("--output", dest="outputs", action="append", default=[], metavar="NAME",
                   help="output tensor name (repeat for several; default: discovered, as in check)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DxD",
                   help="value of an input's dynamic dimensions, e.g. tokens=1x128 (repeatable)")
    p.add_argument("--top", type=positive_int, default=10, help="rows in the op tables (default 10)")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the result as Markdown")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write the result as an HTML page")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the raw result as JSON")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="kill a worker that takes longer (default %(default)s)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "profile", help="per-op profile, timeline trace, FLOPs vs the measured peak, cold-start anatomy",
        description="Profile one model: top ops and time by op type (traced runs, median), framework "
        "overhead, FLOPs and achieved GFLOP/s against the machine's measured peak; optionally a Chrome/"
        "Perfetto trace and the cold-start anatomy of a fresh process.")
    p.add_argument("model", help="model file/directory, exported zoo directory, or zoo model name")
    p.add_argument("--format", dest="variant", metavar="VARIANT", help="format/variant (default: detected)")
    _model_args(p)
    p.add_argument("--trace", type=Path, metavar="FILE", help="write a Chrome/Perfetto trace JSON of a traced step")
    p.add_argument("--coldstart", action="store_true", help="also time a fresh process's cold start, phase by phase")
    p.add_argument("--no-peak", action="store_true", help="skip the peak FLOP/s probe")
    p.set_defaults(func=main)
    d = subparsers.add_parser(
        "profile-diff", help="two profiles side by side: per op type and per op, ratio, ops on one side only",
        description="Profile BEFORE and AFTER (two formats of a model, or two models) in fresh workers and "
        "show time per op type and per op, after/before ratios, and the ops present on one side only.")
    d.add_argument("before", help="model file/directory, exported zoo directory, or zoo model name")
    d.add_argument("after", help="the other side: model file/directory, exported zoo directory, or zoo model name")
    d.add_argument("--format-before", metavar="VARIANT", help="BEFORE's format/variant (default: detected; frozen for a zoo model)")
    d.add_argument("--format-after", metavar="VARIANT", help="AFTER's format/variant (default: detected; frozen for a zoo model)")
    d.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="profile each side in N fresh workers, interleaved A B A B; per-op times are the "
                   "median over them (medians move between processes far more than inside one)")
    d.add_argument("--coldstart", action="store_true",
                   help="also time both cold starts, phase by phase (why one starts slower than the other)")
    _model_args(d)
    d.set_defaults(func=main_diff)


# ----------------------------------------------------------------------------- model specs

def _shapes(texts: list[str]) -> dict[str, tuple[int, ...]]:
    from infer_core.inputs import parse_shape

    return dict(parse_shape(t) for t in texts)


def model_spec(model: str, variant: str | None, args: argparse.Namespace) -> Any:
    """A ModelSpec for a path, an exported zoo directory, or a zoo name."""
    from infer_core.model import ModelSpec

    overrides: dict[str, Any] = {"device": args.device, "intra_op_threads": args.threads,
                                 "inter_op_threads": args.inter_op_threads}
    overrides |= {k: tuple(getattr(args, k)) for k in ("inputs", "outputs") if getattr(args, k)}
    shapes = _shapes(args.shape)
    zoo_dir = _zoo_dir(model)
    if zoo_dir is not None:
        from bench.runner.zoo_export import spec_for

        spec = spec_for(zoo_dir, variant or "frozen", **overrides)
        spec = ModelSpec.from_json({**spec.to_json(), "shapes": {**spec.shapes, **shapes}}) if shapes else spec
    else:
        spec = ModelSpec(path=model, variant=variant, shapes=shapes, **overrides)
    from bench.scenario.preflight import check_spec

    check_spec(spec)  # a missing, unknown or surely broken file fails here, before a worker starts
    return spec


def _zoo_dir(model: str) -> Path | None:
    path = Path(model)
    if path.is_dir() and (path / "manifest.json").exists():
        return path
    if path.exists() or os.sep in model:
        return None
    from infer_core.zoo import ZOO

    if model not in ZOO:
        return None
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported(model)


# ----------------------------------------------------------------------------- worker runs

def run_profile(spec: Any, args: argparse.Namespace, trace: bool, peak: bool, flops: bool = True) -> dict[str, Any]:
    from bench.runner.client import run_model_task

    task = {"task": "profile", "batch_size": args.batch, "runs": args.runs, "trace": trace, "peak": peak,
            "flops": flops}
    return _message(run_model_task(task, spec, timeout_s=args.timeout), "profile", spec)


def run_coldstart(spec: Any, args: argparse.Namespace) -> dict[str, Any]:
    from bench.runner.client import run_model_task

    task = {"task": "coldstart", "batch_size": args.batch, "spawned_at": time.time()}
    return dict(_message(run_model_task(task, spec, timeout_s=args.timeout), "coldstart", spec)["coldstart"])


def _message(messages: list[dict[str, Any]], kind: str, spec: Any) -> dict[str, Any]:
    for m in messages:
        if m.get("kind") == kind:
            return m
    raise BenchError(f"{spec.path}: the {kind} worker ended without a result")


# ----------------------------------------------------------------------------- output

def html_page(title: str, body: str) -> str:
    """The profile as a page: the report's document (its CSS and Content-Security-Policy) with a heading."""
    from reports.escape import html_text
    from reports.page import html_document

    return html_document(title, f"<h1>{html_text(title)}</h1>{body}")


def _profile_outputs(result: dict[str, Any], coldstart: dict[str, Any] | None, top: int) -> dict[str, str]:
    from reports import profiles as render

    prof, achieved = result["profile"], result.get("achieved")
    text = render.profile_text(prof, achieved, top)
    md = render.profile_markdown(prof, achieved, top)
    html = render.profile_html(prof, achieved, top)
    if achieved and achieved.get("achieved_flops"):
        point = {"variant": prof["variant"], "batch_size": prof["batch_size"], "achieved_flops": achieved["achieved_flops"]}
        html += render.roofline_html([point], achieved.get("peak_flops"))
    if coldstart is not None:
        text += "\n" + render.coldstart_text([coldstart])
        md += "\n" + render.coldstart_markdown([coldstart])
        html += render.coldstart_html([coldstart])
    return {"text": text, "md": md, "html": html}


def _write_files(args: argparse.Namespace, title: str, out: dict[str, str], raw: dict[str, Any]) -> None:
    if args.markdown:
        write_text(args.markdown, out["md"])
    if args.html:
        write_text(args.html, html_page(title, out["html"]))
    if args.json:
        write_text(args.json, json.dumps(raw, indent=1, allow_nan=False) + "\n")


def main(args: argparse.Namespace) -> int:
    spec = model_spec(args.model, args.variant, args)
    result = run_profile(spec, args, trace=args.trace is not None, peak=not args.no_peak)
    coldstart = run_coldstart(spec, args) if args.coldstart else None
    if args.trace is not None:
        _write_trace(args.trace, result)
    out = _profile_outputs(result, coldstart, args.top)
    raw = {k: v for k, v in result.items() if k != "trace"} | {"coldstart": coldstart}
    _write_files(args, f"infer-bench profile: {spec.path}", out, raw)
    sys.stdout.write(out["text"])
    return 0


def _write_trace(path: Path, result: dict[str, Any]) -> None:
    if not result.get("trace"):
        print(f"no trace written to {path}: {result['profile']['label']}", file=sys.stderr)
        return
    write_text(path, result["trace"])
    print(f"trace written to {path} (open it in ui.perfetto.dev or chrome://tracing)", file=sys.stderr)


def main_diff(args: argparse.Namespace) -> int:
    from infer_core.profiling.diff import diff_profiles
    from reports import profiles as render

    before = model_spec(args.before, args.format_before, args)
    after = model_spec(args.after, args.format_after, args)
    p_before, p_after = profile_sides(before, after, args)
    diff = diff_profiles(p_before, p_after, _label(before, p_before), _label(after, p_after))
    out = {"text": render.diff_text(diff, args.top), "md": render.diff_markdown(diff, args.top),
           "html": render.diff_html(diff, args.top)}
    cold = [run_coldstart(before, args), run_coldstart(after, args)] if args.coldstart else []
    if cold:
        out["text"] += "\n" + render.coldstart_text(cold)
        out["md"] += "\n" + render.coldstart_markdown(cold)
        out["html"] += render.coldstart_html(cold)
    _write_files(args, f"infer-bench profile-diff: {diff['before']} vs {diff['after']}", out,
                 {"diff": diff, "before": p_before, "after": p_after, "coldstart": cold or None})
    sys.stdout.write(out["text"])
    return 0


def profile_sides(before: Any, after: Any, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each side profiled `args.repeat` times in fresh workers, interleaved, merged by medians; the
    first pass also counts FLOPs (both sides) and probes the peak (once), for achieved GFLOP/s."""
    from infer_core.profiling.peak import achieved
    from infer_core.profiling.records import merge_processes

    sides: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    firsts: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        for i, (spec, runs) in enumerate(zip((before, after), sides, strict=True)):
            result = run_profile(spec, args, trace=False, peak=rep == 0 and i == 0, flops=rep == 0)
            runs.append(result["profile"])
            firsts += [result] if rep == 0 else []
    merged = [merge_processes(runs) for runs in sides]
    peak = firsts[0].get("peak")
    for side, first in zip(merged, firsts, strict=True):
        flops = first.get("flops")
        side["achieved"] = achieved(flops["total"] if flops else None, side.get("step_s"), peak, args.batch)
    return merged[0], merged[1]


def _label(spec: Any, profile: dict[str, Any]) -> str:
    return f"{profile.get('variant')} ({Path(spec.path).name})"
