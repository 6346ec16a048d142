"""Can sessions of different thread settings share one worker process? Measured: no, they disturb each other.

Sessions take their thread counts from their own ConfigProto, and with TF_OVERRIDE_GLOBAL_THREADPOOL=1 each
session even keeps an intra-op pool of its own, so a threads sweep over checkpoint and frozen graph could be
interleaved in one process like the formats are, its ratios paired call by call. This checks whether a
session times the same there as in a process of its own. The zoo's frozen mnist_cnn, four settings (intra/inter:
0/0 TensorFlow's defaults, 0/caller, 1/0, 1/caller), the harness's own loop (`bench.timing`, the default turns),
batch 1 and 32, ROUNDS rounds of fresh processes; each round, in a rotating order:
  alone    one process per setting, holding that one session (what `run` does today);
  shared2  one process, override on, 0/0 and 1/caller interleaved;
  shared4  one process, override on, all four interleaved.
Printed: each process's medians; then, per setting, its median in the shared processes over its median alone
in the same round (the bias), and each setting's speedup over 0/0 as each configuration measures it: median
[min-max] over rounds and the half-width of a 95% Student-t interval on the logs (as the reports compute it).

    python benchmarks/bench_shared_pools.py --rounds 5 | tee benchmarks/results/shared_pools.txt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _runs import spread  # noqa: E402

SETTINGS = ("0/0", "0/-1", "1/0", "1/-1")
CONFIGS = {"alone": [(s,) for s in SETTINGS], "shared2": [("0/0", "1/-1")], "shared4": [SETTINGS]}
BATCHES = (1, 32)
OWN_POOLS = "TF_OVERRIDE_GLOBAL_THREADPOOL"


def worker(model_dir: Path, settings: list[str], seconds: float) -> dict[str, Any]:
    import infer_core
    from bench import timing
    from bench.runner.zoo_export import spec_for
    from infer_core.inputs import synthesize_for

    def load(setting: str) -> Any:
        intra, inter = map(int, setting.split("/"))
        return infer_core.load(spec_for(model_dir, "frozen", intra_op_threads=intra, inter_op_threads=inter))

    models = {s: load(s) for s in settings}
    policy = timing.Policy(warmup_iterations=10, warmup_time=0.1, min_time=seconds, max_time=seconds,
                           min_iterations=30, ci_target=0.001)
    out: dict[str, Any] = {"threads": len(os.listdir("/proc/self/task"))}
    for batch in BATCHES:
        runners = [m.make_runner(synthesize_for(m, batch, seed=batch)) for m in models.values()]
        if len(runners) == 1:
            got = [timing.measure(runners[0], policy)]
        else:
            got = timing.measure_interleaved(runners, policy, seed=batch)
        out[str(batch)] = {s: m.median_ns / 1e6 for s, m in zip(models, got, strict=True)}
    return out


def _spawn(model_dir: Path, settings: tuple[str, ...], seconds: float) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1", TF_USE_LEGACY_KERAS="0")
    env.pop(OWN_POOLS, None)
    if len(settings) > 1:
        env[OWN_POOLS] = "1"
    proc = subprocess.run([sys.executable, __file__, "--worker", "--model-dir", str(model_dir), "--seconds", str(seconds),
                           *settings], capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def one_round(model_dir: Path, seconds: float, rotate: int) -> dict[str, dict[str, dict[str, float]]]:
    """{config: {batch: {setting: median ms}}} from fresh processes, the configurations in a rotating order."""
    names = list(CONFIGS)
    names = names[rotate % len(names):] + names[:rotate % len(names)]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for config in names:
        merged: dict[str, dict[str, float]] = {str(b): {} for b in BATCHES}
        for settings in CONFIGS[config]:
            got = _spawn(model_dir, settings, seconds)
            for b in BATCHES:
                merged[str(b)].update(got[str(b)])
        out[config] = merged
    return out


def summarise(rounds: list[dict[str, Any]]) -> list[str]:
    lines = []
    for b in map(str, BATCHES):
        lines.append(f"batch {b}, per round: median ms of each setting ({' '.join(SETTINGS)}) per configuration")
        for i, r in enumerate(rounds):
            cells = "   ".join(f"{c} " + " ".join(f"{r[c][b][s]:.4f}" for s in SETTINGS if s in r[c][b]) for c in CONFIGS)
            lines.append(f"  round {i}: {cells}")
        lines.append(f"batch {b}, shared median / alone median in the same round: median [min-max] ±95% t half-width")
        for s in SETTINGS:
            row = "   ".join(f"{c} {spread([r[c][b][s] / r['alone'][b][s] for r in rounds])}"
                             for c in ("shared2", "shared4") if s in rounds[0][c][b])
            lines.append(f"  {s:5s} {row}")
        lines.append(f"batch {b}, speedup over 0/0 (0/0 median / setting median; alone: paired by round)")
        for s in SETTINGS[1:]:
            row = "   ".join(f"{c} {spread([r[c][b]['0/0'] / r[c][b][s] for r in rounds])}"
                             for c in CONFIGS if s in rounds[0][c][b])
            lines.append(f"  {s:5s} {row}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("settings", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds of timing per batch size (default 1.0)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of fresh processes (default 5)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model_dir, args.settings, args.seconds)))
        return
    from bench.runner.zoo_export import ensure_exported

    model_dir = ensure_exported("mnist_cnn")
    print(f"# bench_shared_pools.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  mnist_cnn frozen, settings "
          f"{' '.join(SETTINGS)} (intra/inter, -1 = caller's thread); {args.rounds} rounds x 6 fresh processes, "
          f"{args.seconds} s per batch size; host {os.uname().nodename}, {os.cpu_count()} cpus, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    rounds = []
    for i in range(args.rounds):
        rounds.append(one_round(model_dir, args.seconds, i))
        print(f"# round {i + 1}/{args.rounds} done", file=sys.stderr)
    print("\n".join(summarise(rounds)))
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
