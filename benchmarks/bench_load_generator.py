"""How accurate is the serving-load generator (bench.worker.load)? On a stand-in of known cost.

The stand-in burns CPU with the GIL released and never sleeps (numpy matmuls, calibrated to SERVICE_MS per
call), served by one executor thread, so its capacity is 1 / SERVICE_MS. At 25%, 50% and 90% of that, PASSES
interleaved passes of N queries each (Poisson, a new seed per pass) report:
  - issued rate / the schedule's own realised rate (an exact generator gives 1.000; goal within 1%),
  - the schedule's realised rate / the target rate, against its 1/sqrt(N) Poisson bound (3 sigma),
  - issue delay (actual minus scheduled issue) p50 and p99;
medians over passes with their min-max spread. Then the highest QPS the generator itself sustains: a no-op
model, rising rates, the highest one at which it still issued >= 99% of the schedule's rate with a median
issue delay under 1 ms (an issued rate above the schedule's means the first queries went out late and the
generator caught up: also not keeping up).

    python benchmarks/bench_load_generator.py [--passes 5] [--queries 2000] | tee benchmarks/results/load_generator.txt
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread: a known cost (a pool of spinning threads on
os.environ.setdefault("OMP_NUM_THREADS", "1")  # a busy 2-core machine makes a 96x96 matmul take 0.02-20 ms)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_settings import LoadSettings  # noqa: E402
from bench.worker.load.cell import issue_rates  # noqa: E402
from bench.worker.load.engine import latencies, run_point  # noqa: E402
from bench.worker.load.schedule import realised_rate  # noqa: E402
from bench.worker.load.validity import lagging, nearest_rank  # noqa: E402

UTILISATIONS = (0.25, 0.50, 0.90)


def burner(target_ms: float) -> tuple[object, float]:
    """A call that multiplies matrices (GIL released) for about target_ms; (the call, its measured ms)."""
    a = np.random.default_rng(0).standard_normal((96, 96)).astype(np.float32)

    def once(k: int) -> None:
        x = a
        for _ in range(k):
            x = a @ x
            x *= 0.01

    once(10)  # the BLAS thread pool starts on the first call: keep that out of the calibration

    def median_ms(k: int, runs: int) -> float:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            once(k)
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    k = max(1, int(100 * target_ms / median_ms(100, 21)))  # medians: a busy machine stalls single runs
    samples = []
    for _ in range(50):
        t0 = time.perf_counter()
        once(k)
        samples.append((time.perf_counter() - t0) * 1e3)
    return (lambda: once(k)), statistics.median(samples)


def one_pass(call: object, qps: float, queries: int, seed: int) -> dict[str, float]:
    s = LoadSettings(scenario="server", qps=qps, min_queries=queries, min_duration=0.01, seed=seed, max_duration=600)
    result = run_point(lambda t, n: call, s)  # type: ignore[arg-type, return-value]
    arrival, latency, delay = latencies(result)
    issued, scheduled = issue_rates(result)
    return {"issued_vs_schedule": issued / scheduled, "schedule_vs_target": realised_rate(arrival) / qps,
            "delay_p50_ms": nearest_rank(np.sort(delay), 50) / 1e6, "delay_p99_ms": nearest_rank(np.sort(delay), 99) / 1e6,
            "latency_p99_ms": nearest_rank(np.sort(latency), 99) / 1e6}


def spread(values: list[float], digits: int = 4) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def max_generator_rate(queries: int) -> list[tuple[float, bool, float, float]]:
    """(rate, kept up, issued/scheduled, median delay ms) for rising rates on a no-op model."""
    rows = []
    for qps in (1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000):
        s = LoadSettings(scenario="server", qps=qps, min_queries=max(queries, qps), min_duration=1.0, max_duration=600)
        result = run_point(lambda t, n: (lambda: None), s)
        _, latency, delay = latencies(result)
        issued, scheduled = issue_rates(result)
        ok = (lagging(delay, nearest_rank(np.sort(latency), 50), issued, scheduled) is None
              and abs(issued / scheduled - 1) <= 0.01)  # within 1% of the schedule's own rate, both ways
        rows.append((qps, ok, issued / scheduled, nearest_rank(np.sort(delay), 50) / 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--service-ms", type=float, default=2.0)
    args = parser.parse_args()
    call, service_ms = burner(args.service_ms)
    capacity = 1000.0 / service_ms
    print(f"# {platform.node()} {os.cpu_count()} cpus, loadavg {os.getloadavg()[0]:.1f}; stand-in {service_ms:.3f} ms/call "
          f"(capacity {capacity:.0f} QPS, 1 executor thread); {args.passes} interleaved passes x {args.queries} queries")
    results: dict[float, list[dict[str, float]]] = {u: [] for u in UTILISATIONS}
    for p in range(args.passes):
        for u in UTILISATIONS:
            results[u].append(one_pass(call, u * capacity, args.queries, seed=p))
    bound = 3 / math.sqrt(args.queries)
    print(f"utilisation  target QPS  issued/schedule (goal 1 +- 0.01)  schedule/target (3-sigma bound +-{bound:.3f})"
          "  delay p50 ms  delay p99 ms  latency p99 ms")
    for u, rs in results.items():
        col = {k: [r[k] for r in rs] for k in rs[0]}
        print(f"{u:>10.0%}  {u * capacity:>10.0f}  {spread(col['issued_vs_schedule']):>32}  "
              f"{spread(col['schedule_vs_target']):>44}  {spread(col['delay_p50_ms'], 3):>12}  "
              f"{spread(col['delay_p99_ms'], 3):>12}  {spread(col['latency_p99_ms'], 2):>14}")
    print("\n# the generator alone (no-op model): rate, kept up, issued/schedule, median issue delay ms")
    rows = max_generator_rate(args.queries)
    for qps, ok, ratio, delay in rows:
        print(f"{qps:>8}  {'yes' if ok else 'no ':>3}  {ratio:.4f}  {delay:.3f}")
    best = max((r[0] for r in rows if r[1]), default=None)
    print(f"highest rate sustained: {best} QPS" if best else "highest rate sustained: below 1000 QPS")


if __name__ == "__main__":
    main()
