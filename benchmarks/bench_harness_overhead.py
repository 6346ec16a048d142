"""Harness overhead: the median bench.timing records vs a bare hand-written loop, same call.

mnist_cnn frozen (the zoo export), batch 1 and 32, CPU. Both loops run in this one process,
alternating A B A B for --passes passes (each pass: 0.2 s warmup, then 1 s of timed calls); the
result is the median of the per-pass ratios harness/bare, with their spread.

    python benchmarks/bench_harness_overhead.py [--passes 7] | tee benchmarks/results/harness_overhead.txt

This script is itself the worker: it sets TF_USE_LEGACY_KERAS=1 (what the runner sets for the
frozen format) before TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import sys

ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))  # this checkout, not whichever infer-bench is installed

from bench.timing import Policy, measure, median  # noqa: E402

WARMUP_S = 0.2
TIMED_S = 1.0


def bare_loop(call, seconds: float) -> list[int]:  # type: ignore[no-untyped-def]
    """What one would write by hand: time each call, keep the latencies."""
    clock = time.perf_counter_ns
    end = clock() + int(WARMUP_S * 1e9)
    while clock() < end:
        call()
    samples: list[int] = []
    end = clock() + int(seconds * 1e9)
    while True:
        t0 = clock()
        call()
        t1 = clock()
        samples.append(t1 - t0)
        if t1 >= end:
            return samples


def harness_loop(call) -> list[int]:  # type: ignore[no-untyped-def]
    policy = Policy(warmup_iterations=10, warmup_time=WARMUP_S, min_time=TIMED_S, min_iterations=30,
                    ci_target=0.01, max_time=TIMED_S)
    return measure(call, policy).latencies_ns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=7)
    args = parser.parse_args()
    import infer_core
    from bench.runner.zoo_export import ensure_exported, spec_for
    from infer_core.inputs import synthesize

    spec = spec_for(ensure_exported("mnist_cnn"), "frozen")
    model = infer_core.load(spec)
    print(f"host {platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"model mnist_cnn frozen, call path {model.call_path}; {args.passes} passes, A/B alternating, "
          f"{WARMUP_S} s warmup + {TIMED_S} s timed per loop per pass")
    for batch in (1, 32):
        call = model.make_runner(synthesize(model.inputs, batch, spec.shapes, 0, spec.vocab_size))
        call()
        ratios, h_meds, b_meds = [], [], []
        for p in range(args.passes):
            order = ("harness", "bare") if p % 2 == 0 else ("bare", "harness")
            med = {}
            for name in order:
                med[name] = median(harness_loop(call) if name == "harness" else bare_loop(call, TIMED_S))
            ratios.append(med["harness"] / med["bare"])
            h_meds.append(med["harness"] / 1e6)
            b_meds.append(med["bare"] / 1e6)
            print(f"  batch {batch:>2} pass {p + 1}: harness {h_meds[-1]:.4f} ms, bare {b_meds[-1]:.4f} ms, "
                  f"ratio {ratios[-1]:.3f}")
        print(f"batch {batch}: median of per-pass ratios harness/bare = {statistics.median(ratios):.3f} "
              f"(range {min(ratios):.3f}-{max(ratios):.3f}); pass medians harness {min(h_meds):.4f}-{max(h_meds):.4f} ms, "
              f"bare {min(b_meds):.4f}-{max(b_meds):.4f} ms")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
