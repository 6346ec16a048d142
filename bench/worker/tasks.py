"""Worker-side tasks of the core module: predict, convert, zoo_build.

Each runs inside `python -m bench.worker` (environment already set) and talks through `emit`.
Arrays travel through .npz files whose paths the parent chose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.worker.main import Emit
from infer_core.model import Model, ModelSpec


def _spec(task: dict[str, Any]) -> ModelSpec:
    return ModelSpec.from_json(task["spec"])


def _feeds(model: Model, spec: ModelSpec, task: dict[str, Any]) -> tuple[dict[str, np.ndarray], str]:
    from infer_core import inputs

    if task.get("inputs_file"):
        path = Path(task["inputs_file"])
        return inputs.align_arrays(model.inputs, inputs.load_arrays(path), str(path))
    feeds = inputs.synthesize_for(model, int(task.get("batch_size", 1)), spec.shapes,
                                  seed=int(task.get("seed", 0)), vocab_size=spec.vocab_size)
    return feeds, "synthesised"


def _save(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Written whole or not at all: another worker may be waiting for this file to appear."""
    import os

    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _await_inputs(task: dict[str, Any]) -> None:
    """Parity workers start side by side: the first writes the shared inputs once its model answers, the
    others load their models meanwhile and wait here for the file (or for the parent's word that it
    will not come: then they synthesise their own, and the parent runs them again in turn)."""
    import time

    marker = task.get("await_inputs")
    if not marker:
        return
    inputs = Path(str(task["inputs_file"]))
    while not inputs.exists() and not Path(marker).exists():
        time.sleep(0.02)


def _predict_one(item: dict[str, Any], task: dict[str, Any], emit: Emit, index: int) -> None:
    import infer_core

    spec = ModelSpec.from_json(item["spec"])
    model = infer_core.load(spec)
    try:
        _await_inputs(task)
        inputs_file = task.get("inputs_file") if Path(str(task.get("inputs_file"))).exists() else None
        feeds, matched = _feeds(model, spec, {**task, "inputs_file": inputs_file})
        outputs = model.predict(feeds)
        if not inputs_file and task.get("save_inputs"):
            _save(task["save_inputs"], {t.name.split(":")[0]: feeds[t.name] for t in model.inputs})
        _save(item["outputs_file"], {f"o{i}": outputs[t.name] for i, t in enumerate(model.outputs)})
        emit({"kind": "predicted", "index": index, "inputs_matched_by": matched, **model.describe()})
    finally:
        model.close()


def predict(task: dict[str, Any], emit: Emit) -> None:
    """Run one inference per item on the same inputs; outputs (and the inputs used) go to .npz files.

    The first item synthesises the inputs (unless an inputs file is given) and saves them; the
    others load them, so every format sees the same arrays. A user error in one item is reported
    for that item and the others still run.
    """
    from infer_core.errors import InferCoreError

    for index, item in enumerate(task["items"]):
        try:
            _predict_one(item, task, emit, index)
        except InferCoreError as exc:
            emit({"kind": "item_error", "index": index, "error_class": type(exc).__name__, "message": str(exc)})


def convert(task: dict[str, Any], emit: Emit) -> None:
    from infer_core.convert import convert as run_convert

    out = run_convert(_spec(task), task["source"], task["target"], Path(task["out"]))
    emit({"kind": "converted", "path": str(out)})


def _versions() -> dict[str, str]:
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__}
    for name in ("keras", "tf_keras", "ai_edge_litert"):
        try:
            module = __import__(name)
            versions[name] = str(getattr(module, "__version__", "?"))
        except ImportError:
            pass
    return versions


def _zoo_keras(name: str, out: Path, emit: Emit) -> None:
    """Keras 3 worker: .keras, SavedModel, every TFLite variant, and the weights for the TF1 side."""
    from infer_core import convert, zoo

    entry = zoo.entry(name)
    model = zoo.build_keras(name)
    model.save(out / "model.keras")
    convert.keras_to_saved_model(model, out / "saved_model")
    _save(str(out / "weights.npz"), {f"arr_{i}": w for i, w in enumerate(model.get_weights())})  # the TF1 side waits for it
    sm = ModelSpec(path=str(out / "saved_model"), shapes=entry.default_shapes, vocab_size=entry.vocab_size)
    for option, filename in (("", "model.tflite"), ("fp16", "model_fp16.tflite"),
                             ("int8dyn", "model_int8dyn.tflite"), ("int8", "model_int8.tflite")):
        convert.saved_model_to_tflite(sm, out / filename, option)
        emit({"kind": "progress", "wrote": filename})
    emit({"kind": "zoo_keras_done", "versions": _versions(),
          "inputs": [_keras_tensor(t) for t in model.inputs],
          "outputs": [_keras_tensor(t, n) for t, n in zip(model.outputs, model.output_names)]})


KERAS_FAILED = ".keras-phase-failed"  # the parent's word that weights.npz will not come


def _await_file(path: Path, give_up: Path) -> None:
    import time

    from infer_core.errors import ConversionError

    while not path.exists():
        if give_up.exists():
            raise ConversionError(f"{path}: the Keras side of the export failed; nothing to rebuild as TF1")
        time.sleep(0.05)


def _keras_tensor(t: Any, name: str | None = None) -> dict[str, Any]:
    return {"name": name or t.name, "dtype": str(t.dtype), "shape": list(t.shape), "batch_dim": 0}


def _zoo_tf1(name: str, out: Path, emit: Emit) -> None:
    """Legacy worker: the same network as a TF1 graph with the same weights, a Saver checkpoint, frozen."""
    from infer_core import convert, zoo

    _await_file(out / "weights.npz", out / KERAS_FAILED)  # written by the Keras worker, started alongside
    with np.load(out / "weights.npz") as data:
        weights = [data[f"arr_{i}"] for i in range(len(data.files))]
    (out / "checkpoint").mkdir(exist_ok=True)
    prefix = out / "checkpoint" / "model.ckpt"
    names = zoo.save_tf1_checkpoint(name, weights, str(prefix))
    convert.checkpoint_to_frozen(ModelSpec(path=str(prefix), outputs=("output:0",)), out / "frozen.pb")
    (out / "weights.npz").unlink()
    emit({"kind": "zoo_tf1_done", "tensors": names})


def zoo_build(task: dict[str, Any], emit: Emit) -> None:
    out = Path(task["out"])
    out.mkdir(parents=True, exist_ok=True)
    (_zoo_keras if task["phase"] == "keras" else _zoo_tf1)(task["model"], out, emit)
