"""Does Python's garbage collector run inside a single-stream timed loop? (Serving load runs pause it.)

One process holds the zero-config worker's variants — mnist_cnn checkpoint, frozen graph, SavedModel, Keras and
TFLite, plus the idiomatic calls of the checkpoint and the frozen graph — and calls them in turn for SECONDS per
batch size, as an interleaved worker does, with a `gc.callbacks` hook counting each collection by generation and
timing it. A full (generation 2) collection pauses for ~200 ms with TensorFlow loaded (the load engine's reason for
`engine.gc_paused`); young ones are short.

    python benchmarks/bench_gc_single_stream.py | tee benchmarks/results/gc_single_stream.txt
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILES = ("checkpoint", "frozen.pb", "saved_model", "model.keras", "model.tflite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="calls per batch size for this long (default 10)")
    args = parser.parse_args()
    import infer_core
    from bench.runner.zoo_export import ensure_exported
    from infer_core.inputs import synthesize
    from infer_core.model import ModelSpec

    zoo = ensure_exported("mnist_cnn")
    models = [infer_core.load(ModelSpec(path=str(zoo / name))) for name in FILES]
    print(f"# bench_gc_single_stream.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  host "
          f"{os.uname().nodename}, load average {os.getloadavg()[0]:.2f}; gc thresholds {gc.get_threshold()}")
    events: list[tuple[int, int]] = []
    started: list[int] = [0]

    def hook(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter_ns()
        else:
            events.append((int(info["generation"]), time.perf_counter_ns() - started[0]))

    for batch in (1, 8, 32, 128):
        calls = [m.make_runner(synthesize(m.inputs, batch)) for m in models]
        calls += [m.idiomatic_runner(synthesize(m.inputs, batch))[0] for m in models[:2]]
        events.clear()
        gc.callbacks.append(hook)
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            for call in calls:
                call()
                count += 1
        gc.callbacks.remove(hook)
        by = {g: [ns for gen, ns in events if gen == g] for g in (0, 1, 2)}
        young = by[0] + by[1]
        print(f"batch {batch:>3}: {count} calls in {args.seconds:g} s; collections: generation 0 {len(by[0])}, "
              f"1 {len(by[1])}, 2 (full) {len(by[2])}; longest young {max(young, default=0) / 1e6:.2f} ms, longest "
              f"full {max(by[2], default=0) / 1e6:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
