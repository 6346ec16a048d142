"""Output parity: the same inputs through every format of a model, outputs compared pairwise.

Tolerance for fp32 formats: |a - b| <= ATOL + RTOL * max|a| per output. fp32 formats of one model
compute the same arithmetic with different kernels (oneDNN, XNNPACK, XLA fusions) and so different
summation orders; float32 rounding then differs by a few ulps per accumulation, growing with the
reduction length and network depth — around 1e-6 relative on the seed network, still far below
1e-4. A weight mix-up or a wrong layer gives differences of order 1e-1, so RTOL = 1e-4 (of the
output's largest magnitude) separates the two by orders of magnitude. Quantised formats (fp16,
int8) are shown with the same numbers and top-1 agreement but never fail the check.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import WorkerError
from bench.runner.client import crash_message, error_from_message, run_with_keras_retry
from bench.runner.procs import WorkerSpec
from infer_core.detect import required_keras, resolve_variant, worker_env
from infer_core.model import FP32_VARIANTS, ModelSpec

ATOL = 1e-5
RTOL = 1e-4
PARITY_BATCH = 4


@dataclass(frozen=True)
class Entry:
    """One model file under test: its label (variant) and spec."""

    label: str
    spec: ModelSpec


@dataclass
class Prediction:
    label: str
    outputs: list[np.ndarray] | None
    names: list[str]
    error: str | None = None
    error_class: str | None = None
    matched_by: str = "name"
    described: dict[str, Any] | None = None  # the loaded model's describe(): call path, tensors, notes


def _needs(entry: Entry) -> str | None:
    return required_keras(resolve_variant(entry.spec), entry.spec.builder)


def _group(entries: Sequence[Entry]) -> list[list[int]]:
    """Indices grouped by the worker they can share, keeping the first entry's group first: what loads under
    either Keras joins a worker that needs one (as the sweep's interleaved workers do), so the zoo's five
    formats take one worker, not two."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, e in enumerate(entries):
        rest = tuple(sorted((k, v) for k, v in worker_env(e.spec).items() if k != "TF_USE_LEGACY_KERAS"))
        groups.setdefault((rest, _needs(e)), []).append(i)
    joined: dict[tuple[Any, ...], list[int]] = {}
    for (rest, need), indices in groups.items():
        target = next(((rest, f) for f in ("0", "1") if need is None and (rest, f) in groups), (rest, need))
        joined.setdefault(target, []).extend(indices)
    return [sorted(indices) for indices in joined.values()]


def _env(entries: Sequence[Entry], indices: list[int]) -> dict[str, str]:
    env = worker_env(entries[indices[0]].spec)
    needs = sorted(n for n in {_needs(entries[i]) for i in indices} if n is not None)
    if needs:
        env["TF_USE_LEGACY_KERAS"] = needs[0]
    return env


def _run_group(entries: Sequence[Entry], indices: list[int], tmp: Path, batch: int, seed: int,
               inputs_file: Path, timeout_s: float, await_inputs: Path | None = None) -> dict[int, Prediction]:
    items = [{"spec": entries[i].spec.to_json(), "outputs_file": str(tmp / f"out{i}.npz")} for i in indices]
    task: dict[str, Any] = {"task": "predict", "items": items, "inputs_file": str(inputs_file), "batch_size": batch,
                            "seed": seed}
    task |= {"await_inputs": str(await_inputs)} if await_inputs else {"save_inputs": str(inputs_file)}
    outcome = run_with_keras_retry(WorkerSpec(task=task, env=_env(entries, indices), timeout_s=timeout_s))
    results: dict[int, Prediction] = {}
    for m in outcome.messages:
        if m.get("kind") == "error":
            raise error_from_message(m)
        i = indices[m["index"]] if "index" in m else None
        if i is None:
            continue
        if m["kind"] == "predicted":
            with np.load(tmp / f"out{i}.npz") as data:
                outs = [data[f"o{k}"] for k in range(len(data.files))]
            results[i] = Prediction(entries[i].label, outs, [o["name"] for o in m["outputs"]],
                                    matched_by=m.get("inputs_matched_by", "name"), described=m)
        elif m["kind"] == "item_error":
            results[i] = Prediction(entries[i].label, None, [], m["message"], m["error_class"])
    for i in indices:
        if i not in results:
            results[i] = Prediction(entries[i].label, None, [], crash_message(entries[i].label, outcome), "WorkerError")
    return results


def predict_all(entries: Sequence[Entry], batch: int = PARITY_BATCH, seed: int = 0,
                inputs_file: Path | None = None, timeout_s: float = 900.0) -> list[Prediction]:
    """Every entry's outputs on the same inputs, one worker per group, two at a time.

    The first group writes the inputs its model was fed; the other workers start alongside it, load
    their models (the slow part) and wait for that file. Should the first group end without writing it
    (its models failed), the others are told, and run again one after another: the next one writes them.
    """
    with tempfile.TemporaryDirectory(prefix="infer-bench-parity-") as tmpdir:
        tmp = Path(tmpdir)
        shared_inputs = inputs_file or tmp / "inputs.npz"
        abandoned = None if inputs_file else tmp / "inputs.abandoned"
        groups = _group(entries)

        def run(g: list[int], wait: Path | None = None) -> dict[int, Prediction]:
            return _run_group(entries, g, tmp, batch, seed, shared_inputs, timeout_s, wait)

        def first() -> dict[int, Prediction]:
            try:
                return run(groups[0])
            finally:
                if abandoned is not None and not shared_inputs.exists():
                    abandoned.touch()

        with ThreadPoolExecutor(max_workers=2) as pool:
            head = pool.submit(first)  # submitted first, so it starts first
            rest = [pool.submit(run, g, abandoned) for g in groups[1:]]
            results = head.result()
            parts = [f.result() for f in rest]
        if abandoned is not None and abandoned.exists():  # no shared inputs yet: the old way, in turn
            parts = []
            for g in groups[1:]:
                results.update(run(g))
        for part in parts:
            results.update(part)
    return [results[i] for i in range(len(entries))]


def _align(a: Prediction, b: Prediction) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    assert a.outputs is not None and b.outputs is not None
    def short(name: str) -> str:
        return name.split(":")[0]

    bmap = {short(n): o for n, o in zip(b.names, b.outputs)}
    if all(short(n) in bmap for n in a.names):
        return [(short(n), o, bmap[short(n)]) for n, o in zip(a.names, a.outputs)], "name"
    if len(a.outputs) != len(b.outputs):
        raise WorkerError(f"{a.label} has {len(a.outputs)} outputs, {b.label} has {len(b.outputs)}: cannot compare")
    return [(f"{short(n)}~{short(m)}", x, y) for n, m, x, y in zip(a.names, b.names, a.outputs, b.outputs)], "position"


def _top1(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.ndim != 2 or x.shape[-1] < 2 or x.shape != y.shape:
        return None
    return float(np.mean(np.argmax(x, axis=-1) == np.argmax(y, axis=-1)))


def compare_pair(a: Prediction, b: Prediction) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pairs, matched = _align(a, b)
    fp32 = all(p.label.split("#")[0] in FP32_VARIANTS for p in (a, b))  # "frozen#2": a second frozen file
    for name, x, y in pairs:
        x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x64.shape != y64.shape:
            rows.append({"a": a.label, "b": b.label, "output": name, "max_abs": None, "max_rel": None,
                         "top1_agreement": None, "fp32": fp32, "ok": not fp32, "matched_by": matched,
                         "note": f"shapes differ: {x.shape} vs {y.shape}"})
            continue
        diff = np.abs(x64 - y64)
        scale = float(np.max(np.abs(x64))) if x64.size else 0.0
        max_abs = float(diff.max()) if diff.size else 0.0
        rows.append({"a": a.label, "b": b.label, "output": name, "max_abs": max_abs,
                     "max_rel": max_abs / scale if scale > 0 else 0.0, "top1_agreement": _top1(x64, y64),
                     "fp32": fp32, "ok": (max_abs <= ATOL + RTOL * scale) or not fp32, "matched_by": matched})
    return rows


def parity_table(predictions: Sequence[Prediction]) -> list[dict[str, Any]]:
    ok = [p for p in predictions if p.outputs is not None]
    return [row for a, b in itertools.combinations(ok, 2) for row in compare_pair(a, b)]


def parity_record(model: str, predictions: Sequence[Prediction]) -> dict[str, Any]:
    """A parity record body (reports/schema.py)."""
    errors = [f"{p.label}: {p.error}" for p in predictions if p.error]
    formats = [{"label": p.label, "call_path": p.described.get("call_path"), "notes": p.described.get("notes"),
                "details": p.described.get("details")} for p in predictions if p.described]
    return {"model": model, "tolerance": {"rtol": RTOL, "atol": ATOL}, "pairs": parity_table(predictions),
            "formats": formats, "errors": errors, "error": "; ".join(errors) or None}


def entries_for_dir(model_dir: Path, variants: Sequence[str] | None = None, **overrides: Any) -> list[Entry]:
    from bench.runner.zoo_export import available_variants, spec_for

    chosen = list(variants) if variants else available_variants(model_dir)
    return [Entry(v, spec_for(model_dir, v, **overrides)) for v in chosen]


def check_dir(model_dir: Path, variants: Sequence[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Parity across the formats of an exported model directory -> a parity record body."""
    from bench.runner.zoo_export import read_manifest

    entries = entries_for_dir(model_dir, variants, **overrides)
    return parity_record(read_manifest(model_dir)["model"], predict_all(entries))
