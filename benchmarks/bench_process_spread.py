"""How much does a cell's median move between fresh worker processes, with and without one intra-op thread
(and with a session in the caller's thread)?

The regression gate's power is set by this between-process spread (README, "How the gate decides"),
so scenarios/ci.toml should use the thread setting that makes it smallest. One real run of
scenarios/ci.toml's cells (zoo mnist_cnn, its formats and batch sizes) with `intra_op_threads = [0, 1]`
(0 = TensorFlow's default, two threads on this machine; for TFLite 0 = LiteRT's default), REPS
fresh processes per group, all groups interleaved and shuffled by the runner, so both settings see
the same moments of the machine. Per cell and setting: per-process medians, their max/min, the
SD of their logs, and the processes per side the gate would ask for to see +5% and +20% (at
alpha 0.01 Holm-split over the scenario's cells, 80% power).

`--threads 0/0,1/0,1/-1 --formats frozen` compares settings given as intra/inter (inter -1: each session
call in the caller's thread; only sessions take it, so SavedModel and TFLite cells are left out of it), with
scenarios/ci.toml's measure mode.

    python benchmarks/bench_process_spread.py [--reps 8] | tee benchmarks/results/process_spread.txt
    python benchmarks/bench_process_spread.py --reps 12 --threads 0/0,1/0,1/-1 --formats frozen
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.compare_settings import DEFAULT_ALPHA  # noqa: E402
from reports.power import repetitions_needed  # noqa: E402


def scenario_text(reps: int, settings: list[tuple[int, int]] | None = None, formats: list[str] | None = None) -> str:
    """ci.toml's cells at each thread setting (default: intra-op 0 and 1, inter-op default, as first measured)."""
    ci = tomllib.loads((ROOT / "scenarios" / "ci.toml").read_text())
    sweep = ci["sweep"]
    settings = settings or [(0, 0), (1, 0)]
    intras, inters = sorted({i for i, _ in settings}), sorted({j for _, j in settings})
    excludes = [f"[[exclude]]\nintra_op_threads = {i}\ninter_op_threads = {j}\n"
                for i in intras for j in inters if (i, j) not in settings]
    excludes += [f'[[exclude]]\nformat = "{f}"\ninter_op_threads = -1\n' for f in ("saved_model", "tflite") if -1 in inters]
    mode = f'mode = "{ci["measure"]["mode"]}"\n' if settings != [(0, 0), (1, 0)] else ""
    return f"""# written by benchmarks/bench_process_spread.py from scenarios/ci.toml
[run]
repetitions = {reps}
shuffle_seed = 11
timeout = 300

[measure]
{mode}warmup_time = {ci["measure"]["warmup_time"]}
min_time = {ci["measure"]["min_time"]}
max_time = {ci["measure"]["max_time"]}

[sweep]
formats = {formats or sweep["formats"]!r}
batch_sizes = {sweep["batch_sizes"]!r}
devices = ["cpu"]
intra_op_threads = {intras!r}
inter_op_threads = {inters!r}

{"".join(excludes)}
[[models]]
zoo = "mnist_cnn"
""".replace("'", '"')


def _settings(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        intra, _, inter = part.partition("/")
        out.append((int(intra), int(inter or 0)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--threads", type=_settings, help="intra/inter settings, e.g. 0/0,1/0,1/-1 (default 0/0,1/0 "
                        "in interleaved mode, as first measured)")
    parser.add_argument("--formats", help="comma-separated formats (default: ci.toml's)")
    args = parser.parse_args()
    import numpy as np

    from reports.schema import read_run_file

    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "spread.toml"
        scenario.write_text(scenario_text(args.reps, args.threads, args.formats.split(",") if args.formats else None))
        load0, start = os.getloadavg()[0], time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bench.cli", "run", str(scenario), "--out", f"{tmp}/run",
                               "--no-report"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cells = read_run_file(Path(tmp) / "run" / "results.jsonl").cells
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} python benchmarks/bench_process_spread.py "
          + " ".join(sys.argv[1:]))
    print(f"# host {platform.node()}, {os.cpu_count()} logical CPUs, python {platform.python_version()}; one run, "
          f"exit {proc.returncode}, wall {wall:.0f} s, load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after")
    by_key: dict[tuple[str, int, str], list[float]] = {}
    failed = 0
    for c in cells:
        if c["status"] != "ok":
            failed += 1
            continue
        by_key.setdefault((c["variant"], c["batch_size"], _label(c["intra_op_threads"], c["inter_op_threads"])), []).append(
            float(np.median(c["latencies_ns"])) / 1e6)
    family = len({(v, b) for v, b, _ in by_key})
    level = DEFAULT_ALPHA / max(family, 1)
    print(f"# {failed} failed cells; gate level per cell {level:.4f} (alpha {DEFAULT_ALPHA} over {family} cells)")
    print(f"{'cell':<22} {'threads':>8} {'n':>3} {'median ms':>10} {'max/min':>8} {'SD log':>7} "
          f"{'reps for +5%':>12} {'reps for +20%':>13}")
    for (variant, batch, threads), meds in sorted(by_key.items()):
        arr = np.array(meds)
        sd = float(np.std(np.log(arr), ddof=1))
        need = [repetitions_needed(sd, t, level) for t in (0.05, 0.20)]
        print(f"{variant + ' b' + str(batch):<22} {threads:>8} {len(arr):>3} {np.median(arr):>10.4f} "
              f"{arr.max() / arr.min():>8.2f} {sd:>7.3f} {need[0] or '>500':>12} {need[1] or '>500':>13}")


def _label(intra: int, inter: int) -> str:
    """'default' (0/0), '1' (intra-op 1, as the first passes printed it), '1/caller'."""
    if not inter:
        return str(intra) if intra else "default"
    return f"{intra}/{'caller' if inter < 0 else inter}"


if __name__ == "__main__":
    main()
