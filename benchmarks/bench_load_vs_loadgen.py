"""Cross-check of the serving-load generator against MLPerf LoadGen on the real mnist_cnn (frozen graph).

One process loads the model once (as a worker does) and serves both generators with the same SUT: one
executor thread calling the model's runner, fed from a queue. LoadGen (`mlcommons-loadgen`, the optional
`[loadgen]` extra) issues Poisson queries from its own thread into that queue and is told of completions
from the executor thread; infer-bench's generator (bench.worker.load.engine) does the same with its pool.
Capacity here is the offline rate of that one thread. At 25/50/75% of it, PASSES interleaved passes (the
order of the two generators alternates) of QUERIES queries each: p99 from both, their ratio per pass, the
median ratio with its min-max spread (goal: within 10%). Then the capacity under an SLO that each finds with
the same doubling-then-bisection search: infer-bench by its early-stopping bound (LoadGen's rule), LoadGen by
its "Result is: VALID".

    pip install -e ".[loadgen]"
    python benchmarks/bench_load_vs_loadgen.py [--passes 5] [--queries 5000] | tee benchmarks/results/load_vs_loadgen.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

from bench.load_settings import LoadSettings  # noqa: E402
from bench.worker.load.cell import load_block  # noqa: E402
from bench.worker.load.engine import run_point  # noqa: E402
from bench.worker.load.search import Step, find_capacity  # noqa: E402
from bench.worker.load.task import passes  # noqa: E402

UTILISATIONS = (0.25, 0.50, 0.75)


def load_runner() -> Any:
    import infer_core
    from bench.runner.zoo_export import ensure_exported, spec_for
    from infer_core import inputs

    spec = spec_for(ensure_exported("mnist_cnn"), "frozen")
    model = infer_core.load(spec)
    runner = model.make_runner(inputs.synthesize_for(model, 1, {}, 0, None))
    for _ in range(200):
        runner()
    return runner


def offline_rate(runner: Any) -> float:
    s = LoadSettings(scenario="offline", min_queries=3000, min_duration=3.0, max_duration=120)
    return float(load_block(s, run_point(lambda t, n: runner, s))["achieved_qps"])


def ours(runner: Any, qps: float, n: int, seed: int, slo_ms: float = 1e6) -> dict[str, Any]:
    s = LoadSettings(scenario="server", qps=qps, min_queries=n, min_duration=0.01, seed=seed, slo_ms=slo_ms,
                     max_duration=600, max_queue=1_000_000)
    return load_block(s, run_point(lambda t, k: runner, s))


def loadgen(runner: Any, qps: float, n: int, seed: int, slo_ms: float = 1000.0) -> dict[str, Any]:
    """One LoadGen server run on the same runner; p99 and validity from its summary."""
    import mlperf_loadgen as lg

    work: queue.Queue[Any] = queue.Queue()

    def serve() -> None:
        while (sample := work.get()) is not None:
            runner()
            lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, 0, 0)])

    def issue(samples: Any) -> None:
        for sample in samples:
            work.put(sample)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings = lg.TestSettings()
    settings.scenario, settings.mode = lg.TestScenario.Server, lg.TestMode.PerformanceOnly
    settings.server_target_qps, settings.server_target_latency_ns = qps, int(slo_ms * 1e6)
    settings.server_target_latency_percentile = 0.99
    settings.min_query_count, settings.max_query_count = n, n
    settings.min_duration_ms, settings.schedule_rng_seed = 10, seed + 1
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda s: None, lambda s: None)
    with tempfile.TemporaryDirectory() as out:
        log = lg.LogSettings()
        log.log_output.outdir, log.log_output.copy_summary_to_stdout = out, False
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
        summary = (Path(out) / "mlperf_log_summary.txt").read_text()
    work.put(None)
    thread.join()
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    p99 = re.search(r"99\.00 percentile latency \(ns\)\s*:\s*(\d+)", summary)
    valid = re.search(r"Result is\s*:\s*(\w+)", summary)
    rate = re.search(r"Completed samples per second\s*:\s*([\d.]+)", summary)
    return {"p99_ns": int(p99.group(1)) if p99 else None, "valid": bool(valid and valid.group(1) == "VALID"),
            "achieved_qps": float(rate.group(1)) if rate else None}


def spread(values: list[float], digits: int = 3) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def cross_check(runner: Any, capacity: float, passes_: int, n: int) -> None:
    ratios: dict[float, list[float]] = {u: [] for u in UTILISATIONS}
    p99s: dict[float, list[tuple[float, float]]] = {u: [] for u in UTILISATIONS}
    for p in range(passes_):
        for u in UTILISATIONS:
            order = ("ours", "loadgen") if p % 2 == 0 else ("loadgen", "ours")
            got = {}
            for who in order:
                got[who] = (ours(runner, u * capacity, n, p)["latency_ns"]["p99"] if who == "ours"
                            else loadgen(runner, u * capacity, n, p)["p99_ns"])
            p99s[u].append((got["ours"] / 1e6, got["loadgen"] / 1e6))
            ratios[u].append(got["ours"] / got["loadgen"])
            print(f"  pass {p + 1} {u:.0%}: p99 infer-bench {got['ours'] / 1e6:.3f} ms, LoadGen {got['loadgen'] / 1e6:.3f} ms",
                  flush=True)
    print("\nutilisation  target QPS  p99 infer-bench ms (median [min, max])  p99 LoadGen ms  ratio infer-bench/LoadGen")
    for u in UTILISATIONS:
        a, b = [x[0] for x in p99s[u]], [x[1] for x in p99s[u]]
        print(f"{u:>10.0%}  {u * capacity:>10.0f}  {spread(a):>38}  {spread(b):>22}  {spread(ratios[u])}")


def capacities(runner: Any, capacity: float, slo_ms: float, n: int) -> None:
    def by_ours(qps: float) -> Step:
        return Step(qps, passes(ours(runner, qps, n, 0, slo_ms), "bound"))

    def by_loadgen(qps: float) -> Step:
        r = loadgen(runner, qps, n, 0, slo_ms)
        return Step(qps, r["valid"])

    start = round(capacity * 0.5, 1)
    a = find_capacity(by_ours, start, precision=0.05, max_steps=10, floor=start / 8)
    b = find_capacity(by_loadgen, start, precision=0.05, max_steps=10, floor=start / 8)
    print(f"\ncapacity at p99 <= {slo_ms:g} ms ({n} queries a step, same search from {start:g} QPS): "
          f"infer-bench {a.capacity} QPS (next failed {a.failed_at}), LoadGen {b.capacity} QPS (next failed {b.failed_at})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--slo-ms", type=float, default=50.0)
    parser.add_argument("--capacity-only", action="store_true", help="skip the p99 passes, only the capacity search")
    parser.add_argument("--capacity-queries", type=int, default=2000)
    args = parser.parse_args()
    runner = load_runner()
    capacity = offline_rate(runner)
    print(f"# {platform.node()} {os.cpu_count()} cpus, loadavg {os.getloadavg()[0]:.1f}; mnist_cnn frozen, 1 executor "
          f"thread; offline capacity {capacity:.0f} QPS; {args.passes} interleaved passes x {args.queries} queries",
          flush=True)
    t0 = time.time()
    if not args.capacity_only:
        cross_check(runner, capacity, args.passes, args.queries)
    capacities(runner, capacity, args.slo_ms, args.capacity_queries)
    print(f"\n# took {time.time() - t0:.0f} s; loadavg at the end {os.getloadavg()[0]:.1f}")
    np.random.default_rng(0)


if __name__ == "__main__":
    main()
