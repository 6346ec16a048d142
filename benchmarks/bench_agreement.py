"""Does infer-bench's `idiomatic` call path agree with what others measure for the same call?

In ONE process (this script; TensorFlow loaded once), the zoo's mnist_cnn frozen graph at batch 1 and 32, the
user's own call `session.run(fetches, feed_dict)` is timed by four methods, interleaved in PASSES passes
(the order rotates each pass, so no method always follows another):
  infer-bench   bench.timing.measure over `model.idiomatic_runner(feeds)` (what a `call = "idiomatic"` cell reports)
  hand-written  a bare `perf_counter_ns` loop around `sess.run(y, feed_dict=fd)`, median of samples
  pytest-bench  pytest-benchmark's `benchmark(fn)` (pytest.main in this process), median per call
  loadgen       MLPerf LoadGen SingleStream (mlcommons-loadgen), 50th percentile query latency
pytest-benchmark and LoadGen add their own per-call cost, measured the same way on an empty call and
subtracted (stated in µs). Printed per batch size: each method's median of pass medians, and the median
(and range) over passes of method / hand-written. Goal: infer-bench within 3%; the others within 3% after
their overhead.

    python benchmarks/bench_agreement.py --passes 7 | tee benchmarks/results/agreement.txt
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Call = Callable[[], object]


def bare(call: Call, seconds: float) -> float:
    """Median ns of `call` in a bare loop for `seconds`."""
    samples, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - t0)
    return float(statistics.median(samples))


def harness(call: Call, seconds: float) -> float:
    from bench.timing import Policy, measure

    policy = Policy(warmup_iterations=5, warmup_time=0.05, min_time=seconds, min_iterations=10, ci_target=0.999,
                    max_time=seconds)
    return measure(call, policy).median_ns


def pytest_benchmark(call: Call, seconds: float, work: Path) -> float:
    """pytest-benchmark's median time per call (it calibrates iterations per round itself)."""
    import pytest

    state = importlib.import_module("agreement_state")
    state.CALL = call
    name = f"test_agree_{time.perf_counter_ns()}.py"
    (work / name).write_text("import agreement_state\n\ndef test_call(benchmark):\n    benchmark(agreement_state.CALL)\n")
    out = work / "pb.json"
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        code = pytest.main([str(work / name), "-q", "-p", "no:cacheprovider", "--benchmark-json", str(out),
                            f"--benchmark-max-time={seconds}", "--benchmark-min-rounds=5", "--benchmark-disable-gc"])
    if code != 0:
        raise RuntimeError(f"pytest-benchmark pass failed (exit {code})")
    return float(json.loads(out.read_text())["benchmarks"][0]["stats"]["median"]) * 1e9


def loadgen(call: Call, seconds: float, work: Path) -> float:
    """LoadGen SingleStream: the 50th percentile of query latency (ns), SUT completing each query inline."""
    import mlperf_loadgen as lg

    settings = lg.TestSettings()
    settings.scenario, settings.mode = lg.TestScenario.SingleStream, lg.TestMode.PerformanceOnly
    settings.min_query_count, settings.min_duration_ms = 100, int(seconds * 1000)
    settings.single_stream_expected_latency_ns = 100_000

    def issue(queries: Any) -> None:
        for q in queries:
            call()
            lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0)])

    sut, qsl = lg.ConstructSUT(issue, lambda: None), lg.ConstructQSL(64, 64, lambda s: None, lambda s: None)
    log = lg.LogSettings()
    log.log_output.outdir, log.log_output.copy_summary_to_stdout = str(work), False
    lg.StartTestWithLogSettings(sut, qsl, settings, log)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    line = next(ln for ln in (work / "mlperf_log_summary.txt").read_text().splitlines() if ln.startswith("50.00 percentile"))
    return float(line.split(":")[1])


def session_call(batch: int) -> tuple[Call, Call]:
    """(infer-bench's idiomatic runner, a hand-written sess.run(feed_dict) over the same loaded graph)."""
    import infer_core
    from bench.runner.zoo_export import ensure_exported, spec_for
    from infer_core.inputs import synthesize_for

    model = infer_core.load(spec_for(ensure_exported("mnist_cnn"), "frozen"))
    feeds = synthesize_for(model, batch, {}, seed=0)
    idiomatic, _ = model.idiomatic_runner(feeds)
    sess, x, y = model.session, model.feed_tensors[0], model.fetch_tensors[0]
    fd = {x: feeds[model.inputs[0].name]}
    return idiomatic, lambda: sess.run(y, feed_dict=fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.5, help="time per method and pass")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="infer-bench-agree-"))
    sys.path.insert(0, str(work))
    (work / "agreement_state.py").write_text("CALL = None\n")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"# bench_agreement.py  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {args.passes} passes x {args.seconds} s per "
          f"method; mnist_cnn frozen, session.run(feed_dict); load average {os.getloadavg()[0]:.1f}", flush=True)
    empty = lambda: None  # noqa: E731
    overhead = {"pytest-bench": statistics.median(pytest_benchmark(empty, 0.5, work) for _ in range(3)),
                "loadgen": statistics.median(loadgen(empty, 0.5, work) for _ in range(3))}
    print(f"per-call overhead on an empty call: pytest-benchmark {overhead['pytest-bench'] / 1e3:.2f} µs, "
          f"LoadGen {overhead['loadgen'] / 1e3:.2f} µs", flush=True)
    for batch in (1, 32):
        compare_at(batch, args, overhead, work)


def compare_at(batch: int, args: argparse.Namespace, overhead: dict[str, float], work: Path) -> None:
    ours, hand = session_call(batch)
    methods: dict[str, Callable[[], float]] = {
        "infer-bench": lambda: harness(ours, args.seconds), "hand-written": lambda: bare(hand, args.seconds),
        "pytest-bench": lambda: pytest_benchmark(hand, args.seconds, work) - overhead["pytest-bench"],
        "loadgen": lambda: loadgen(hand, args.seconds, work) - overhead["loadgen"]}
    names = list(methods)
    passes: list[dict[str, float]] = []
    for p in range(args.passes):
        order = names[p % len(names):] + names[:p % len(names)]
        passes.append({name: methods[name]() for name in order})
    print(f"batch {batch}:")
    for name in names:
        ratios = [pp[name] / pp["hand-written"] for pp in passes]
        print(f"  {name:<13} median {statistics.median(pp[name] for pp in passes) / 1e6:.4f} ms;  / hand-written: "
              f"median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})", flush=True)


if __name__ == "__main__":
    main()
