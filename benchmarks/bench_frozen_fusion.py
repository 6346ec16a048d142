"""How much does a frozen graph lose when its biases are all zero (as an untrained model's are)?

Until manifest version 2 the zoo's weights were untrained, every bias exactly 0. In a frozen graph the biases are
Consts, grappler's constant folding rewrites `BiasAdd(x, zeros)` to `x`, and the remapper then finds
no Conv2D+BiasAdd+Relu / MatMul+BiasAdd to fuse: the frozen graph runs `_MklNativeConv2D` + `Relu`
and `_MklMatMul` where the checkpoint (biases are variables, unknown to grappler) runs
`_MklNativeFusedConv2D` and `_MklNativeFusedMatMul`. This times, in fresh processes, alternating
A B C A B C ... per pair of (batch, intra-op threads):

    A  the zoo's frozen.pb with every bias set to 0 (the export before manifest version 2: unfused)
    B  frozen.pb as exported now (seeded non-zero biases, as a trained model has: fused kernels)
    C  the checkpoint it came from (fused kernels)

Each process loads through infer_core (the harness's own call path) and reports the median latency
over SECONDS of calls. Printed: per setting, each variant's median of process medians and range,
and the ratios B/A and C/A of latency (below 1 = faster than the exported frozen graph), as the
median and range over the rounds.

    python benchmarks/bench_frozen_fusion.py [--rounds 5] | tee benchmarks/results/frozen_fusion.txt
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {"A": "frozen, zero biases", "B": "frozen as exported", "C": "checkpoint"}

WORKER = r"""
import json, statistics, sys, time
from dataclasses import replace
import infer_core
from bench.runner.zoo_export import ensure_exported, spec_for
from infer_core.inputs import synthesize_for

which, batch, threads, seconds, zeroed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
d = ensure_exported("mnist_cnn")
spec = spec_for(d, "checkpoint" if which == "C" else "frozen", intra_op_threads=threads)
if which == "A":
    spec = replace(spec, path=zeroed)
model = infer_core.load(spec)
import tensorflow as tf
run = model.make_runner(synthesize_for(model, batch, seed=batch))
end = time.perf_counter() + 0.5
while time.perf_counter() < end:
    run()
samples = []
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    t0 = time.perf_counter_ns(); run(); samples.append(time.perf_counter_ns() - t0)
md = tf.compat.v1.RunMetadata()
feeds = synthesize_for(model, 2, seed=0)
model.session.run(model.fetch_tensors, {t: feeds[i.name] for t, i in zip(model.feed_tensors, model.inputs)},
                  options=tf.compat.v1.RunOptions(output_partition_graphs=True), run_metadata=md)
ops = sorted({n.op for g in md.partition_graphs for n in g.node if "Conv" in n.op or "MatMul" in n.op})
print(json.dumps({"median_ms": statistics.median(samples) / 1e6, "n": len(samples), "kernels": ops}))
"""


def write_zeroed(frozen: Path, out: Path) -> None:
    """frozen.pb with every `*/bias` Const set to 0 (same graph otherwise)."""
    code = f"""
import numpy as np, tensorflow as tf
gd = tf.compat.v1.GraphDef(); gd.ParseFromString(open({str(frozen)!r}, "rb").read())
for n in gd.node:
    if n.op == "Const" and n.name.endswith("/bias"):
        v = tf.make_ndarray(n.attr["value"].tensor)
        n.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.zeros_like(v)))
open({str(out)!r}, "wb").write(gd.SerializeToString(deterministic=True))
"""
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), capture_output=True)


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e.update({"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1",
              "PYTHONPATH": os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")])})
    return e


def one(which: str, batch: int, threads: int, seconds: float, zeroed: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", WORKER, which, str(batch), str(threads), str(seconds), str(zeroed)],
                          capture_output=True, text=True, env=_env(), timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"worker {which} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _range(xs: list[float]) -> str:
    return f"[{min(xs):.3f}-{max(xs):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="A B C rounds (fresh processes) per setting")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per process")
    parser.add_argument("--batches", default="128,1")
    parser.add_argument("--threads", default="1,0", help="intra-op threads settings (0 = TF default)")
    args = parser.parse_args()

    from bench.runner.zoo_export import ensure_exported

    frozen = ensure_exported("mnist_cnn") / "frozen.pb"
    settings = [(int(b), int(t)) for b in args.batches.split(",") for t in args.threads.split(",")]
    print(f"# bench_frozen_fusion: zoo mnist_cnn, rounds {args.rounds} (A B C in fresh processes, interleaved "
          f"over settings), {args.seconds} s timed per process")
    print(f"# host {platform.node()}, {os.cpu_count()} cpus, loadavg at start {os.getloadavg()}")
    for k, v in VARIANTS.items():
        print(f"#   {k}: {v}")
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        zeroed = Path(tmp) / "frozen_zero_bias.pb"
        write_zeroed(frozen, zeroed)
        res: dict[tuple[int, int], dict[str, list[dict]]] = {s: {k: [] for k in VARIANTS} for s in settings}
        for _ in range(args.rounds):
            for s in settings:
                for k in VARIANTS:
                    res[s][k].append(one(k, s[0], s[1], args.seconds, zeroed))
    print()
    print(f"{'batch':>5} {'thr':>3}  {'variant':22} {'kernels':58} {'median ms':>9}  process range")
    for (batch, threads), by in res.items():
        for k, name in VARIANTS.items():
            meds = [r["median_ms"] for r in by[k]]
            kernels = ",".join(sorted({op for r in by[k] for op in r["kernels"]}))
            print(f"{batch:>5} {threads:>3}  {k} {name:20} {kernels:58} {statistics.median(meds):9.4f}  {_range(meds)}")
        for k in ("B", "C"):
            ratios = [b["median_ms"] / a["median_ms"] for a, b in zip(by["A"], by[k])]
            print(f"{'':>10}{k}/A latency ratio per round: median {statistics.median(ratios):.3f} {_range(ratios)}  "
                  f"({' '.join(f'{r:.2f}' for r in ratios)})")
        print()
    print(f"# took {time.time() - t_start:.0f} s, loadavg at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
