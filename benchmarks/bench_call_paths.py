"""Is `Model.make_runner` as fast as the best hand-written call of each format? (issue 2 benchmark)

For each format of the zoo's mnist_cnn, in one fresh worker process per format and repetition:
the harness's runner and hand-written reference calls of that format are timed alternately
(A B C A B C ...) for PASSES passes at batch 1 and 32; each pass times every method for
PASS_SECONDS. Reported per format and batch: each method's median of pass medians, and the
median (and range) over passes of harness / fastest reference. Goal: <= 1.05.

    python benchmarks/bench_call_paths.py [--repetitions 2] [--passes 7] > benchmarks/results/call_paths.txt
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FORMATS = ("checkpoint", "frozen", "saved_model", "keras", "tflite")
BATCHES = (1, 32)


def _time_for(fn: Callable[[], Any], seconds: float) -> float:
    """Median latency (ms) of fn over `seconds`."""
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1e6


def _references(model: Any, variant: str, feeds: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Hand-written calls of each format, written as a user would, outputs materialised on the host."""
    import numpy as np
    import tensorflow as tf

    refs: dict[str, Callable[[], Any]] = {}
    if variant in ("checkpoint", "frozen"):
        from tensorflow.core.protobuf import config_pb2

        sess, x, y = model.session, model.feed_tensors[0], model.fetch_tensors[0]
        arr = feeds[model.inputs[0].name]
        opts = config_pb2.CallableOptions()
        opts.feed.append(x.name)
        opts.fetch.append(y.name)
        raw = sess._make_callable_from_options(opts)
        refs["callable_from_options"] = lambda: raw(arr)
        fd = {x: arr}
        refs["session.run(feed_dict)"] = lambda: sess.run(y, feed_dict=fd)
    elif variant == "saved_model":
        sig = model.concrete_function
        kw = {k: tf.constant(v) for k, v in feeds.items()}
        refs["signature(**kwargs)"] = lambda: {k: v.numpy() for k, v in sig(**kw).items()}
    elif variant == "keras":
        keras_model = model.owner
        arr = feeds[model.inputs[0].name]
        t = tf.constant(arr)
        fn = tf.function(lambda a: keras_model(a, training=False))
        fn(t)
        refs["predict_on_batch"] = lambda: np.asarray(keras_model.predict_on_batch(arr))
        refs["tf.function(model)"] = lambda: fn(t).numpy()
    elif variant == "tflite":
        interp = model.interpreter
        inp = interp.get_input_details()[0]["index"]
        out = interp.get_output_details()[0]["index"]
        arr = feeds[model.inputs[0].name]

        def tflite_call() -> Any:
            interp.set_tensor(inp, arr)
            interp.invoke()
            return interp.get_tensor(out)

        refs["set_tensor/invoke/get_tensor"] = tflite_call
    return refs


def worker(variant: str, model_dir: Path, passes: int, seconds: float) -> dict[str, Any]:
    import infer_core
    from bench.runner.zoo_export import spec_for
    from infer_core.inputs import synthesize_for

    model = infer_core.load(spec_for(model_dir, variant))
    result: dict[str, Any] = {"variant": variant, "call_path": model.call_path, "batches": {}}
    for batch in BATCHES:
        feeds = synthesize_for(model, batch, seed=batch)
        methods = {"harness": model.make_runner(feeds), **_references(model, variant, feeds)}
        for fn in methods.values():  # warmup every method for this shape
            for _ in range(20):
                fn()
        per_pass: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(passes):
            for name, fn in methods.items():
                per_pass[name].append(_time_for(fn, seconds))
        result["batches"][batch] = per_pass
    return result


def _spawn(variant: str, model_dir: Path, passes: int, seconds: float) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1",
               TF_USE_LEGACY_KERAS="1" if variant in ("checkpoint", "frozen") else "0")
    proc = subprocess.run([sys.executable, __file__, "--worker", variant, "--model-dir", str(model_dir),
                           "--passes", str(passes), "--seconds", str(seconds)],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(results: list[dict[str, Any]]) -> list[str]:
    lines = [f"{'format':12s} {'batch':>5s} {'rep':>3s}  {'method':30s} {'median ms':>10s}   harness/fastest ref (median [min-max] over passes)"]
    for r in results:
        for batch, per_pass in r["batches"].items():
            refs = [k for k in per_pass if k != "harness"]
            ratios = [h / min(per_pass[k][i] for k in refs) for i, h in enumerate(per_pass["harness"])]
            for name, values in per_pass.items():
                ratio = (f"{statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}]"
                         if name == "harness" else "")
                lines.append(f"{r['variant']:12s} {batch:>5} {r['rep']:>3}  {name:30s} {statistics.median(values):10.4f}   {ratio}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.25)
    parser.add_argument("--repetitions", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model_dir, args.passes, args.seconds)))
        return
    from bench.runner.zoo_export import ensure_exported

    model_dir = ensure_exported("mnist_cnn")
    results = []
    for rep in range(args.repetitions):  # formats interleaved within each repetition
        for variant in FORMATS:
            r = _spawn(variant, model_dir, args.passes, args.seconds)
            r["rep"] = rep
            results.append(r)
    print(f"# call paths vs hand-written references; mnist_cnn; {args.passes} interleaved passes x "
          f"{args.seconds}s per method; {args.repetitions} fresh process(es) per format; "
          f"host {os.uname().nodename}, {os.cpu_count()} cpus, loadavg at end {os.getloadavg()}")
    for r in results[: len(FORMATS)]:
        print(f"# {r['variant']}: harness call path = {r['call_path']}")
    print("\n".join(summarise(results)))


if __name__ == "__main__":
    main()
