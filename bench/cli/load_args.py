"""Options shared by `infer-bench capacity` and `infer-bench tune`: the SLO, the load settings, the model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.model_args import inter_op_threads
from bench.errors import BenchError


def add_load_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file/directory, exported zoo directory, or zoo model name (e.g. mnist_cnn)")
    p.add_argument("--slo-ms", type=float, metavar="MS", help="latency bound of the percentile (required)")
    p.add_argument("--slo-percentile", type=float, default=99.0, metavar="P", help="which percentile (default 99)")
    p.add_argument("--rule", choices=("observed", "bound"), default="observed",
                   help="a step passes on the observed percentile, or on its early-stopping confidence bound "
                        "(LoadGen's rule; both are recorded). Default: observed")
    p.add_argument("--duration", type=float, default=10.0, metavar="S", help="seconds per step at least (default 10)")
    p.add_argument("--min-queries", type=int, default=1000, metavar="N", help="queries per step at least (default 1000)")
    p.add_argument("--samples-per-query", type=int, default=1, metavar="N",
                   help="samples each query carries (its batch size; default 1); QPS counts queries")
    p.add_argument("--max-queue", type=int, default=10000, metavar="N", help="queries waiting at most (default 10000)")
    p.add_argument("--device", default="cpu", help="cpu, gpu or gpu:N (default cpu)")
    p.add_argument("--out", type=Path, metavar="DIR", help="run directory (default results/<run-id>)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="kill a worker after this long")
    p.add_argument("--confirm", type=int, default=2, metavar="N",
                   help="fresh worker processes that repeat the final steps, for the capacity's range (default 2; "
                        "tune also repeats each halving round in one, for the round's noise, unless 0)")


def add_settings_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--formats", default=None, metavar="F,F",
                   help="formats to search (zoo default: frozen,saved_model,tflite; a file: its own)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="intra-op threads (0 = TensorFlow's default)")
    p.add_argument("--inter-op-threads", type=inter_op_threads, default=0, metavar="N",
                   help="TensorFlow inter-op threads (0 = default; -1 = each session call in the calling thread);"
                        " a count is raised to the executor threads where fewer")
    p.add_argument("--executor-threads", type=int, default=1, metavar="N",
                   help="threads calling the model; inter-op threads are raised to match (default 1)")
    g = p.add_argument_group("server-side batching (TF Serving's batching_parameters; on with --max-batch-size)")
    g.add_argument("--max-batch-size", type=int, metavar="N", help="the largest batch the batcher forms (turns batching on)")
    g.add_argument("--batch-timeout-micros", type=int, default=1000, metavar="US",
                   help="how long a batch waits to fill before it runs (default %(default)s µs)")
    g.add_argument("--num-batch-threads", type=int, default=1, metavar="N",
                   help="batches run at once (default %(default)s)")
    g.add_argument("--max-enqueued-batches", type=int, default=100, metavar="N",
                   help="batches that may wait before queries are rejected (default %(default)s)")
    g.add_argument("--allowed-batch-sizes", metavar="N,N", help="pad each batch to the next of these sizes")


def _ints(text: str | None, flag: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise BenchError(f"{flag}: {text!r} is not a comma-separated list of whole numbers") from None


def batching_from(args: argparse.Namespace) -> Any:
    from bench.load_settings import Batching

    if args.max_batch_size is None:
        return None
    return Batching(args.max_batch_size, args.batch_timeout_micros, args.num_batch_threads, args.max_enqueued_batches,
                    _ints(args.allowed_batch_sizes, "--allowed-batch-sizes"))


def settings_from(args: argparse.Namespace, **more: Any) -> Any:
    """The LoadSettings the flags ask for; a bad value is a one-line error naming its flag (exit 2)."""
    from bench.load_settings import LoadSettings

    if args.slo_ms is None:
        raise BenchError("no SLO: give --slo-ms MS (the latency the percentile must stay under)")
    s = LoadSettings(scenario="server", qps=1.0, min_duration=args.duration, min_queries=args.min_queries,
                     samples_per_query=args.samples_per_query, slo_ms=args.slo_ms, percentile=args.slo_percentile,
                     max_queue=args.max_queue, max_duration=max(60.0, 6 * args.duration), **more)
    problems = s.problems()
    if problems:
        key, message = problems[0]
        flag = {"min_duration": "duration", "percentile": "slo-percentile"}.get(key, key)
        raise BenchError(f"--{flag.replace('_', '-').replace('batching.', '')}: {message}")
    if args.confirm < 0:
        raise BenchError(f"--confirm: must be >= 0, got {args.confirm}")
    return s


def model_specs(args: argparse.Namespace, formats: tuple[str, ...] | None) -> tuple[str, list[Any]]:
    """(the model's label, a ModelSpec per format) for a path, an exported zoo directory or a zoo name."""
    from bench.cli.profile import _zoo_dir
    from bench.scenario.preflight import check_spec
    from infer_core.model import VARIANTS, ModelSpec

    for f in formats or ():
        if f not in VARIANTS:
            raise BenchError(f"--formats: unknown format {f!r}; known: {', '.join(VARIANTS)}")
    threads = {"device": args.device, "intra_op_threads": args.threads, "inter_op_threads": args.inter_op_threads}
    zoo_dir = _zoo_dir(args.model)
    if zoo_dir is not None:
        from bench.runner.zoo_export import spec_for
        from infer_core.zoo import ZOO

        name = args.model if args.model in ZOO else zoo_dir.name
        specs = [spec_for(zoo_dir, v, **threads) for v in formats or ("frozen", "saved_model", "tflite")]
        for spec in specs:
            check_spec(spec)
        return name, _sessions_only(specs)
    spec = ModelSpec(path=args.model, variant=formats[0] if formats and len(formats) == 1 else None, **threads)
    variant = check_spec(spec)  # a missing, unknown or surely broken file fails here, before a worker starts
    return Path(args.model).stem or "model", _sessions_only([ModelSpec.from_json({**spec.to_json(), "variant": variant})])


def _sessions_only(specs: list[Any]) -> list[Any]:
    """--inter-op-threads -1 is a session setting: refuse SavedModel/Keras before a worker starts."""
    from infer_core.model import CALLER_THREAD
    from infer_core.variants import CALLER_THREAD_SCOPE, pool_only

    eager = [s.variant for s in specs if s.inter_op_threads == CALLER_THREAD and pool_only(s.variant)]
    if eager:
        raise BenchError(f"--inter-op-threads {CALLER_THREAD_SCOPE}, but {', '.join(eager)} run on TensorFlow's "
                         "inter-op pool: give --formats without them, e.g. --formats frozen,tflite")
    return specs


def open_run(out: Path | None, command: str) -> Any:
    """A new run directory with its header; `results/latest` points at it."""
    import sys

    from bench.results import fingerprint
    from bench.results.store import RunStore, new_run_id, update_latest

    run_id = new_run_id()
    store = RunStore.create(out if out is not None else Path("results") / run_id, run_id)
    update_latest(store.run_dir)
    store.append({"kind": "header", "created": _now(), "scenario_path": "", "scenario_text": "", "command": command,
                  "policy": {}, "env": fingerprint.collect([sys.executable])})
    return store


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def write_reports(run_dir: Path) -> str:
    """report.md and report.html in the run directory; the terminal text back."""
    from bench.files import write_text
    from reports.api import render_reports

    out = render_reports([run_dir], ["md", "html", "term"])
    write_text(run_dir / "report.md", str(out["md"]))
    write_text(run_dir / "report.html", str(out["html"]))
    return str(out["term"])
