"""Small, seeded results.jsonl files for the reports tests and benchmark (written with schema.dumps)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from reports.schema import dumps

HOSTILE = "<script>alert(1)</script> a|b `x` *y*"

# Per-sample median (ms) at batch 1 by variant, and how it grows with batch (ms per extra sample).
BASE_MS = {"checkpoint": 0.9, "frozen": 0.45, "saved_model": 0.5, "tflite": 0.1, "tflite+int8": 0.08}
PER_SAMPLE_MS = {"checkpoint": 0.11, "frozen": 0.06, "saved_model": 0.07, "tflite": 0.04, "tflite+int8": 0.03}


def header(run_id: str = "run-a", host: str = "hostA") -> dict[str, Any]:
    return {
        "kind": "header",
        "run_id": run_id,
        "created": "2026-11-25T10:00:00Z",
        "scenario_path": "scenario.toml",
        "scenario_text": "",
        "policy": {"min_time_s": 1.0, "warmup": 50},
        "env": {
            "host": host,
            "os": "Linux-6.1-x86_64",
            "cpu": {"model": "Test CPU @ 2.0GHz", "logical_cores": 2, "usable_cores": 2, "flags": ["avx2", "fma"]},
            "memory_bytes": 8 * 2**30,
            "gpus": [],
            "python": "3.11.2",
            "packages": {"tensorflow": "2.21.0", "numpy": "2.4.6"},
            "tensorflow": "2.21.0",
            "tf_build_info": {"is_cuda_build": False},
            "env_vars": {"TF_ENABLE_ONEDNN_OPTS": "1"},
            "git": {"commit": "abc1234", "dirty": False},
            "loadavg": [0.1, 0.2, 0.3],
        },
    }


def cell(
    variant: str,
    batch_size: int,
    latencies_ns: Iterable[int],
    *,
    model: str = "mnist_cnn",
    repetition: int = 0,
    status: str = "ok",
    error: str | None = None,
    run_id: str = "run-a",
    host: str = "hostA",
    device: str = "cpu",
    **extra: Any,
) -> dict[str, Any]:
    lat = [int(v) for v in latencies_ns]
    record: dict[str, Any] = {
        "kind": "cell",
        "run_id": run_id,
        "cell_id": f"{model}/{variant}/{device}/b{batch_size}",
        "group_id": f"{model}/{variant}/{device}",
        "repetition": repetition,
        "model": model,
        "variant": variant,
        "device": device,
        "batch_size": batch_size,
        "intra_op_threads": 0,
        "inter_op_threads": 0,
        "env_toggles": "",
        "affinity": "",
        "python": "",
        "status": status,
        "error": error,
        "exit_code": None if status == "ok" else 3,
        "signal": None,
        "stderr_tail": None,
        "latencies_ns": lat,
        "iterations": len(lat),
        "stop_reason": "ci_target" if lat else None,
        "load_s": 1.5 if status == "ok" else None,
        "first_call_s": 0.2 if status == "ok" else None,
        "warmup_iterations": 50,
        "warmup_s": 0.1,
        "throughput": None,
        "peak_rss_bytes": 600 * 2**20,
        "gpu_peak_bytes": None,
        "call_path": f"{variant}:fast",
        "retraces": 0,
        "loadavg_start": [0.1, 0.1, 0.1],
        "loadavg_end": [0.2, 0.1, 0.1],
        "started": 1.0,
        "ended": 2.0,
        "host": host,
        "flops_per_sample": 843708,
        "profile": None,
    }
    record.update(extra)
    return record


def parity(model: str, a: str, b: str, ok: bool = True, max_abs: float = 1e-6, run_id: str = "run-a") -> dict[str, Any]:
    return {
        "kind": "parity",
        "run_id": run_id,
        "model": model,
        "tolerance": {"rtol": 1e-5, "atol": 1e-5},
        "pairs": [
            {
                "a": a,
                "b": b,
                "output": "probs",
                "max_abs": max_abs,
                "max_rel": max_abs * 10,
                "top1_agreement": 1.0 if ok else 0.9,
                "fp32": True,
                "ok": ok,
                "matched_by": "name",
            }
        ],
        "error": None,
    }


def lognormal_ns(rng: np.random.Generator, median_ms: float, n: int, sigma: float = 0.05) -> np.ndarray:
    return np.round(rng.lognormal(np.log(median_ms * 1e6), sigma, n)).astype(np.int64)


def sweep_records(
    variants: Iterable[str] = ("checkpoint", "frozen", "tflite"),
    batches: Iterable[int] = (1, 8, 32),
    reps: int = 2,
    n: int = 200,
    seed: int = 0,
    model: str = "mnist_cnn",
    run_id: str = "run-a",
    host: str = "hostA",
    speed: float = 1.0,
) -> list[dict[str, Any]]:
    """Ok cells for a sweep measured interleaved (the default): each repetition is one worker process whose
    median shift (0.9-1.15x, as in real runs) falls on every variant in it, plus a 1% jitter per variant."""
    rng = np.random.default_rng(seed)
    out = []
    for rep in range(reps):
        shift = rng.uniform(0.9, 1.15)
        for variant in variants:
            own = shift * rng.uniform(0.99, 1.01)
            for b in batches:
                median = (BASE_MS.get(variant, 0.5) + PER_SAMPLE_MS.get(variant, 0.05) * (b - 1)) * own * speed
                lat = lognormal_ns(rng, median, n)
                out.append(cell(variant, b, lat, model=model, repetition=rep, run_id=run_id, host=host,
                                mode="interleaved", worker={"pid": 1000 + rep, "runtime_start": runtime_start(rep)}))
    return out


def runtime_start(rep: int) -> dict[str, float]:
    """The runtime start of repetition `rep`'s worker process (the same on each of its cells): 4.0 s, 4.5 s, ..."""
    return {"import tensorflow": 4.0 + 0.5 * rep, "runtime: first session": 0.05}


def write_run(directory: Path, records: list[dict[str, Any]], run_id: str = "run-a", host: str = "hostA") -> Path:
    """A run directory with results.jsonl: header first, then the records."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [dumps(header(run_id, host))] + [dumps(r) for r in records]
    path = directory / "results.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def standard_run(directory: Path, seed: int = 0) -> Path:
    """The report tests' main fixture: a sweep plus failed/skipped/timeout cells, parity, hostile text."""
    records = sweep_records(seed=seed)
    records.append(cell("saved_model", 1, [], status="failed", error=f"ValueError: bad input {HOSTILE}"))
    records.append(cell("tflite+int8", 1, [], status="skipped", error="skipped: no representative dataset"))
    records.append(cell("saved_model", 8, [], status="timeout", error="worker timed out after 60 s"))
    records.append(parity("mnist_cnn", "checkpoint", "frozen", ok=True, max_abs=2e-7))
    records.append(parity("mnist_cnn", "checkpoint", "tflite", ok=False, max_abs=3e-2))
    rng = np.random.default_rng(seed + 99)
    records.append(cell("frozen", 1, lognormal_ns(rng, 0.5, 100), model=f"models/{HOSTILE}.pb"))
    return write_run(directory, records)
