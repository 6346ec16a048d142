"""Cross-check of the serving-load generator against MLPerf LoadGen, first on a SUT of known cost, then on mnist_cnn.

Both generators count a query's latency from its *scheduled* arrival (LoadGen: loadgen.cc, SampleComplete,
`sched.delta(complete_begin_time)`; its Server scheduler sleeps until the scheduled time, like ours), so they
measure the same thing; what differs is the schedule (each draws its own Poisson arrivals) and the SUT's own
noise during each run. One process serves both: one executor thread fed from a queue; LoadGen issues from its
own C++ thread through pybind (taking the GIL per query) and is told of completions from the executor thread.
Python's cyclic garbage collector is paused during every run of either (bench.worker.load.engine.gc_paused):
with TensorFlow loaded a full collection holds the GIL ~200 ms (load_vs_loadgen_v2.txt: before the pause,
infer-bench's p99 was 183-188 ms in 3 of 27 runs whose model queue alone gave under 1 ms).

1. Ground truth (a SUT of known cost): a C loop that spins until SPIN_US have passed (GIL released through
   ctypes; compiled with `cc` at start, the section is skipped without a compiler). With a constant service
   time D the exact M/D/1 latencies of a given schedule follow from Lindley's recursion, so each generator's
   p99 is compared with the ideal p99 *of its own schedule* (LoadGen's schedule is reproduced exactly from
   its seed: mt19937 + libstdc++'s exponential_distribution, checked against its trace at start), and each
   generator's per-query overhead is its p50 minus the ideal p50. Also the generators' own CPU per query on
   a no-op SUT.
2. mnist_cnn (frozen graph), as the issue asks: at 25/50/75% of the offline rate of one executor thread,
   PASSES interleaved passes (the order alternates) of QUERIES queries. Raw: each generator's p99 and the
   ratio infer-bench/LoadGen per pass, median and min-max. The model's own service times are recorded in
   every run (each call timed in the executor thread), so each run also has the ideal p99 of its own queue:
   Lindley's recursion over its schedule with the service times it actually got. p99 / ideal p99 is what the
   generator adds to the model's own queue; the normalised ratio (infer-bench's p99/ideal over LoadGen's)
   compares the generators without the model's run-to-run noise, which the raw ratio carries.
3. Capacity at p99 <= SLO_MS: the same doubling-then-bisection search for each (infer-bench passes a step by
   the early-stopping bound, valid and stable; LoadGen by "Result is: VALID", i.e. observed p99 and its early
   stopping), SEARCHES times each in alternating order (a single search moves by 20% from run to run here).

    pip install -e ".[loadgen]"
    python benchmarks/bench_load_vs_loadgen.py [--passes 9] [--queries 10000] | tee benchmarks/results/load_vs_loadgen.txt
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import queue
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

from bench.load_settings import LoadSettings  # noqa: E402
from bench.worker.load.cell import load_block  # noqa: E402
from bench.worker.load.engine import gc_paused, latencies, run_point  # noqa: E402
from bench.worker.load.search import Step, find_capacity  # noqa: E402
from bench.worker.load.task import passes  # noqa: E402
from bench.worker.load.validity import nearest_rank  # noqa: E402

UTILISATIONS = (0.25, 0.50, 0.75)
SPIN_UTILISATIONS = (0.25, 0.50, 0.75, 0.90)
SPIN_C = """#include <time.h>
static long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000L + t.tv_nsec; }
void spin_ns(long ns) { long end = now() + ns; while (now() < end) {} }
"""


class Timed:
    """Wraps the SUT call and records each call's (start, end) in ns, in call order (one executor thread: FIFO)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.spans: list[tuple[int, int]] = []

    def __call__(self) -> None:
        t0 = time.perf_counter_ns()
        self.call()
        self.spans.append((t0, time.perf_counter_ns()))

    def service_ns(self, n: int) -> np.ndarray:
        return np.array([b - a for a, b in self.spans[-n:]], dtype=np.int64)


def lindley(arrivals_ns: np.ndarray, service_ns: np.ndarray) -> np.ndarray:
    """Exact latencies of a FIFO single server: query i starts at max(its arrival, the previous completion)."""
    done, free = np.empty_like(arrivals_ns), -(2**62)
    for i, (a, s) in enumerate(zip(arrivals_ns.tolist(), service_ns.tolist())):
        free = max(free, a) + s
        done[i] = free
    out: np.ndarray = done - arrivals_ns
    return out


def p(values: np.ndarray, q: float) -> int:
    return int(nearest_rank(np.sort(values), q) or 0)


def loadgen_offsets(qps: float, n: int, seed: int) -> np.ndarray:
    """LoadGen's Server schedule (ns from the first query): std::mt19937(seed), libstdc++'s
    generate_canonical<double> from two 32-bit draws and exponential_distribution's -log(1 - u) / qps,
    truncated to ns; query 0 at 0 (loadgen.cc GenerateQueries)."""
    g = np.random.RandomState(seed).randint(0, 2**32, size=2 * max(n - 1, 0), dtype=np.uint32).astype(np.float64)
    u = np.minimum((g[0::2] + g[1::2] * 4294967296.0) / 18446744073709551616.0, np.nextafter(1.0, 0.0))
    gaps = np.trunc(-np.log(1.0 - u) / qps * 1e9).astype(np.int64)
    return np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)


# --- the two generators on one SUT ---------------------------------------------------------------------

def ours(call: Callable[[], Any], qps: float, n: int, seed: int, slo_ms: float = 1e6) -> dict[str, Any]:
    s = LoadSettings(scenario="server", qps=qps, min_queries=n, min_duration=0.01, seed=seed, slo_ms=slo_ms,
                     max_duration=600, max_queue=1_000_000)
    result = run_point(lambda t, k: call, s)
    arrival, latency, _ = latencies(result)
    block = load_block(s, result)
    return {"block": block, "arrivals": arrival - arrival[0], "latency": latency,
            "p50": block["latency_ns"]["p50"], "p99": block["latency_ns"]["p99"]}


def loadgen(call: Callable[[], Any], qps: float, n: int, seed: int, slo_ms: float = 1000.0,
            trace: bool = False) -> dict[str, Any]:
    """One LoadGen Server run on `call`; percentiles and validity from its summary (its trace only if asked)."""
    import mlperf_loadgen as lg

    work: queue.Queue[Any] = queue.Queue()

    def serve() -> None:
        while (sample := work.get()) is not None:
            call()
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
        log.log_output.outdir, log.log_output.copy_summary_to_stdout, log.enable_trace = out, False, trace
        with gc_paused():  # as infer-bench's runs: the same SUT-side conditions for both
            lg.StartTestWithLogSettings(sut, qsl, settings, log)
        summary = (Path(out) / "mlperf_log_summary.txt").read_text()
        trace_text = (Path(out) / "mlperf_log_trace.json").read_text() if trace else ""
    work.put(None)
    thread.join()
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)

    def num(pattern: str) -> float | None:
        m = re.search(pattern + r"\s*:\s*([\d.]+)", summary)
        return float(m.group(1)) if m else None

    valid = re.search(r"Result is\s*:\s*(\w+)", summary)
    out_: dict[str, Any] = {"p99": num(r"99\.00 percentile latency \(ns\)"), "p50": num(r"50\.00 percentile latency \(ns\)"),
                            "valid": bool(valid and valid.group(1) == "VALID"), "arrivals": loadgen_offsets(qps, n, seed + 1)}
    if trace:
        events = sorted((json.loads(line.rstrip(",\n")) for line in trace_text.splitlines()
                         if line.startswith('{"name":"Sample"') and '"ph":"b"' in line), key=lambda e: int(e["id"]))
        ts = np.array([round(e["ts"] * 1000) for e in events], dtype=np.int64)
        out_["traced_arrivals"] = ts - ts[0]
    return out_


def spread(values: Sequence[float], digits: int = 3) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- 1. ground truth on a SUT of known cost -------------------------------------------------------------

def spin_call(spin_us: float) -> Callable[[], Any] | None:
    """A call that spins spin_us (GIL released), or None without a C compiler."""
    work = Path(tempfile.mkdtemp(prefix="spin-"))
    (work / "spin.c").write_text(SPIN_C)
    try:
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(work / "libspin.so"), str(work / "spin.c")],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    lib = ctypes.CDLL(str(work / "libspin.so"))
    lib.spin_ns.argtypes = [ctypes.c_long]
    ns = int(spin_us * 1000)
    return lambda: lib.spin_ns(ns)


def ground_truth(spin_us: float, passes_: int, n: int) -> None:
    call = spin_call(spin_us)
    if call is None:
        print("\n## 1. ground truth: skipped (no C compiler `cc` to build the constant-time SUT)")
        return
    d = int(spin_us * 1000)
    rate = 1e9 / d
    check = loadgen(call, 0.25 * rate, 1000, 7, trace=True)
    diff = int(np.abs(check["traced_arrivals"] - check["arrivals"]).max())
    print(f"\n## 1. ground truth: a SUT that spins {spin_us:g} us (capacity {rate:.0f} QPS), M/D/1 ideal of each run's own "
          f"schedule; {passes_} interleaved passes x {n} queries\n# LoadGen's schedule reproduced from its seed: max "
          f"difference from its trace {diff} ns over 1000 queries", flush=True)
    rows: dict[float, dict[str, list[float]]] = {u: {k: [] for k in ("o_r", "l_r", "ratio", "o_x", "l_x")} for u in SPIN_UTILISATIONS}
    for k in range(passes_):
        for u in SPIN_UTILISATIONS:
            got: dict[str, dict[str, Any]] = {}
            for who in (("ours", "loadgen") if k % 2 == 0 else ("loadgen", "ours")):
                got[who] = ours(call, u * rate, n, 100 + k) if who == "ours" else loadgen(call, u * rate, n, 100 + k)
                ideal = lindley(got[who]["arrivals"], np.full(n, d, dtype=np.int64))
                got[who]["ideal_p99"], got[who]["ideal_p50"] = p(ideal, 99), p(ideal, 50)
            o, g = got["ours"], got["loadgen"]
            r = rows[u]
            r["o_r"].append(o["p99"] / o["ideal_p99"])
            r["l_r"].append(g["p99"] / g["ideal_p99"])
            r["ratio"].append(o["p99"] / g["p99"])
            r["o_x"].append((o["p50"] - o["ideal_p50"]) / 1e3)
            r["l_x"].append((g["p50"] - g["ideal_p50"]) / 1e3)
            print(f"  pass {k + 1} {u:.0%}: p99 infer-bench {o['p99'] / 1e3:.0f} us (ideal {o['ideal_p99'] / 1e3:.0f}), "
                  f"LoadGen {g['p99'] / 1e3:.0f} us (ideal {g['ideal_p99'] / 1e3:.0f}); p50 over ideal: "
                  f"{r['o_x'][-1]:.0f} / {r['l_x'][-1]:.0f} us", flush=True)
    print("\nutilisation  p99/ideal infer-bench  p99/ideal LoadGen      p99 ratio ib/LG  p50 over ideal us: infer-bench  LoadGen")
    for u in SPIN_UTILISATIONS:
        r = rows[u]
        print(f"{u:>10.0%}  {spread(r['o_r'], 2):>21}  {spread(r['l_r'], 2):>18}  {spread(r['ratio'], 2):>18}"
              f"  {spread(r['o_x'], 0):>30}  {spread(r['l_x'], 0)}")
    noop_overhead()


def noop_overhead(n: int = 10000, qps: float = 5000.0) -> None:
    """CPU seconds per query of the whole process (generator, executor thread, LoadGen's threads) on a no-op SUT."""
    per: dict[str, list[float]] = {"ours": [], "loadgen": []}
    for k in range(3):
        for who in ("ours", "loadgen") if k % 2 == 0 else ("loadgen", "ours"):
            c0 = cpu_s()
            ours(lambda: None, qps, n, k) if who == "ours" else loadgen(lambda: None, qps, n, k)
            per[who].append((cpu_s() - c0) / n * 1e6)
    print(f"# CPU per query on a no-op SUT at {qps:g} QPS ({n} queries, 3 runs each; generator, executor thread and "
          f"LoadGen's own threads): infer-bench {spread(per['ours'], 1)} us, LoadGen {spread(per['loadgen'], 1)} us", flush=True)


# --- 2. mnist_cnn ---------------------------------------------------------------------------------------

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


def cross_check(runner: Any, capacity: float, passes_: int, n: int) -> None:
    timed = Timed(runner)
    keys = ("o", "l", "raw", "o_n", "l_n", "norm", "o_s", "l_s", "o_x", "l_x")
    rows: dict[float, dict[str, list[float]]] = {u: {k: [] for k in keys} for u in UTILISATIONS}
    for k in range(passes_):
        for u in UTILISATIONS:
            got: dict[str, dict[str, Any]] = {}
            for who in ("ours", "loadgen") if k % 2 == 0 else ("loadgen", "ours"):
                timed.spans.clear()
                got[who] = ours(timed, u * capacity, n, k) if who == "ours" else loadgen(timed, u * capacity, n, k)
                service = timed.service_ns(len(got[who]["arrivals"]))
                got[who]["ideal_p99"] = p(lindley(got[who]["arrivals"], service), 99)
                got[who]["service_us"] = float(service.mean()) / 1e3
            o, g, r = got["ours"], got["loadgen"], rows[u]
            r["o"].append(o["p99"] / 1e6)
            r["l"].append(g["p99"] / 1e6)
            r["raw"].append(o["p99"] / g["p99"])
            r["o_n"].append(o["p99"] / o["ideal_p99"])
            r["l_n"].append(g["p99"] / g["ideal_p99"])
            r["norm"].append(r["o_n"][-1] / r["l_n"][-1])
            r["o_x"].append((o["p99"] - o["ideal_p99"]) / 1e3)
            r["l_x"].append((g["p99"] - g["ideal_p99"]) / 1e3)
            r["o_s"].append(o["service_us"])
            r["l_s"].append(g["service_us"])
            print(f"  pass {k + 1} {u:.0%}: p99 infer-bench {o['p99'] / 1e6:.3f} ms (its queue's ideal {o['ideal_p99'] / 1e6:.3f}, "
                  f"service {o['service_us']:.0f} us), LoadGen {g['p99'] / 1e6:.3f} ms (ideal {g['ideal_p99'] / 1e6:.3f}, "
                  f"service {g['service_us']:.0f} us)", flush=True)
    print("\nutilisation  target QPS  p99 infer-bench ms       p99 LoadGen ms           raw ratio ib/LG       "
          "p99/ideal ib       p99/ideal LG       normalised ratio      p99 - ideal us: ib         LG      mean service us ib / LG")
    for u in UTILISATIONS:
        r = rows[u]
        print(f"{u:>10.0%}  {u * capacity:>10.0f}  {spread(r['o']):>22}  {spread(r['l']):>22}  {spread(r['raw']):>20}  "
              f"{spread(r['o_n'], 2):>17}  {spread(r['l_n'], 2):>17}  {spread(r['norm']):>20}  "
              f"{spread(r['o_x'], 0):>20}  {spread(r['l_x'], 0):>18}  "
              f"{statistics.median(r['o_s']):.0f} / {statistics.median(r['l_s']):.0f}")


# --- 3. capacity ----------------------------------------------------------------------------------------

def capacities(runner: Any, capacity: float, slo_ms: float, n: int, searches: int) -> None:
    def by_ours(qps: float) -> Step:
        return Step(qps, passes(ours(runner, qps, n, 0, slo_ms)["block"], "bound"))

    def by_loadgen(qps: float) -> Step:
        return Step(qps, bool(loadgen(runner, qps, n, 0, slo_ms)["valid"]))

    start = round(capacity * 0.5, 1)
    found: dict[str, list[float]] = {"ours": [], "loadgen": []}
    for k in range(searches):
        for who in ("ours", "loadgen") if k % 2 == 0 else ("loadgen", "ours"):
            result = find_capacity(by_ours if who == "ours" else by_loadgen, start, precision=0.03, max_steps=10,
                                   floor=start / 8)
            found[who].append(result.capacity or 0.0)
            print(f"  search {k + 1} {who}: {result.capacity} QPS (next failed {result.failed_at})", flush=True)
    a, b = statistics.median(found["ours"]), statistics.median(found["loadgen"])
    print(f"\ncapacity at p99 <= {slo_ms:g} ms ({n} queries a step, {searches} searches each from {start:g} QPS, "
          f"alternating): infer-bench {spread(found['ours'], 0)} QPS, LoadGen {spread(found['loadgen'], 0)} QPS; "
          f"median ratio {a / b if b else math.nan:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--passes", type=int, default=9)
    parser.add_argument("--queries", type=int, default=10000)
    parser.add_argument("--spin-us", type=float, default=150.0, help="the ground-truth SUT's service time")
    parser.add_argument("--spin-passes", type=int, default=5)
    parser.add_argument("--spin-queries", type=int, default=5000)
    parser.add_argument("--slo-ms", type=float, default=10.0)
    parser.add_argument("--capacity-queries", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: truth, mnist, capacity")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    t0 = time.time()
    print(f"# {platform.node()} {os.cpu_count()} cpus, loadavg {os.getloadavg()[0]:.1f}; one executor thread", flush=True)
    if "truth" not in skip:
        ground_truth(args.spin_us, args.spin_passes, args.spin_queries)
    if not {"mnist", "capacity"} <= skip:
        runner = load_runner()
        capacity = offline_rate(runner)
        print(f"\n## 2. mnist_cnn frozen: offline capacity {capacity:.0f} QPS; {args.passes} interleaved passes x "
              f"{args.queries} queries", flush=True)
        if "mnist" not in skip:
            cross_check(runner, capacity, args.passes, args.queries)
        if "capacity" not in skip:
            print("\n## 3. capacity", flush=True)
            capacities(runner, capacity, args.slo_ms, args.capacity_queries, args.searches)
    print(f"\n# took {time.time() - t0:.0f} s; loadavg at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
