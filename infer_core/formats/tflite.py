"""TFLite flatbuffers through LiteRT (`ai_edge_litert`; `tf.lite.Interpreter` is deprecated).

Call path: `set_tensor` / `invoke` / `get_tensor` on the interpreter, with input tensors resized
(and re-allocated) only when the batch shape changes — outside the timed loop. Measured here on
the seed network: 0.08 ms at batch 1 (TF-NOTES.md). The signature runner adds a Python dict
layer per call; the raw tensor indices come from the same signature, so names match the
SavedModel's. Quantised variants keep float inputs and outputs (quantise/dequantise at the edges).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infer_core import devices
from infer_core.errors import CorruptModel, DeviceUnavailable, ModelNotFound, TensorNotFound
from infer_core.model import Feeds, Model, ModelSpec, Outputs, TensorInfo

if TYPE_CHECKING:
    from infer_core.profiling.hooks import TFLiteTarget

CALL_PATH = "interpreter.set_tensor/invoke/get_tensor"
FLATBUFFER_IDENTIFIER = b"TFL3"


def check_file(path: Path) -> None:
    if not path.is_file():
        raise ModelNotFound(f"{path}: no such TFLite model file")
    head = path.open("rb").read(8)
    if len(head) < 8:
        raise CorruptModel(f"{path}: the file is empty or truncated, not a TFLite flatbuffer")
    if head[4:8] != FLATBUFFER_IDENTIFIER:
        raise CorruptModel(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier); corrupt or another format")


def _threads(spec: ModelSpec) -> int | None:
    if spec.tflite_threads is not None:
        return spec.tflite_threads
    return spec.intra_op_threads or None


def _signature_indices(interpreter: Any) -> tuple[dict[str, int], dict[str, int], str | None]:
    signatures = interpreter._get_full_signature_list() or {}
    if not signatures:
        return {}, {}, None
    key = "serving_default" if "serving_default" in signatures else sorted(signatures)[0]
    sig = signatures[key]
    return dict(sig["inputs"]), dict(sig["outputs"]), key


def _info(name: str, detail: dict[str, Any]) -> TensorInfo:
    signature = detail.get("shape_signature")
    dims = tuple(None if d < 0 else int(d) for d in (signature if signature is not None and len(signature) else detail["shape"]))
    return TensorInfo(name=name, dtype=np.dtype(detail["dtype"]).name, shape=dims, batch_dim=None if dims == () else 0)


class TFLiteModel(Model):
    def __init__(self, variant: str, interpreter: Any, path: Path, spec: ModelSpec, details: dict[str, Any]) -> None:
        self.variant, self.interpreter, self.model_path = variant, interpreter, path
        self.call_path = CALL_PATH
        self.details = details
        in_idx, out_idx, key = _signature_indices(interpreter)
        by_index = {d["index"]: d for d in interpreter.get_input_details() + interpreter.get_output_details()}
        if not in_idx:
            in_idx = {d["name"]: d["index"] for d in interpreter.get_input_details()}
            out_idx = {d["name"]: d["index"] for d in interpreter.get_output_details()}
        self._in = self._select(in_idx, spec.inputs, "input", path)
        self._out = self._select(out_idx, spec.outputs, "output", path)
        self.inputs = tuple(_info(n, by_index[i]) for n, i in self._in)
        self.outputs = tuple(_info(n, by_index[i]) for n, i in self._out)
        self.details["signature"] = key
        self._shapes: dict[int, tuple[int, ...]] = {i: tuple(by_index[i]["shape"]) for _, i in self._in}
        self._keep: list[Any] = []  # interpreters of idiomatic runners, alive as long as the model

    @staticmethod
    def _select(indices: dict[str, int], names: tuple[str, ...], role: str, path: Path) -> list[tuple[str, int]]:
        if not names:
            return sorted(indices.items())
        missing = [n for n in names if n not in indices]
        if missing:
            raise TensorNotFound(f"{path}: no {role} named {missing[0]!r}; the model's {role}s are {sorted(indices)}")
        return [(n, indices[n]) for n in names]

    def _prepare(self, feeds: Feeds) -> list[tuple[int, np.ndarray]]:
        """Resize and re-allocate when shapes change (never inside a timed loop); returns (index, array)."""
        arrays = [(i, np.ascontiguousarray(feeds[n])) for n, i in self._in]
        changed = False
        for index, array in arrays:
            if self._shapes.get(index) != array.shape:
                self.interpreter.resize_tensor_input(index, list(array.shape), strict=False)
                self._shapes[index] = array.shape
                changed = True
        if changed:
            self.interpreter.allocate_tensors()
        return arrays

    def _run(self, arrays: list[tuple[int, np.ndarray]]) -> Outputs:
        interpreter = self.interpreter
        for index, array in arrays:
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        return {n: interpreter.get_tensor(i) for n, i in self._out}

    def predict(self, feeds: Feeds) -> Outputs:
        return self._run(self._prepare(feeds))

    def int_input_bound(self) -> int | None:
        from infer_core.vocab import tflite_bound

        return tflite_bound(self.interpreter)

    def make_runner(self, feeds: Feeds) -> Any:
        arrays = self._prepare(feeds)
        return lambda: self._run(arrays)

    def idiomatic_runner(self, feeds: Feeds) -> tuple[Any, str]:
        """LiteRT's signature runner, `runner(**inputs)` -> dict of arrays (where the model has a signature), on
        an interpreter of its own as user code would have: a signature runner re-allocates its interpreter's
        tensors, which the fastest path's interpreter must not see mid-measurement."""
        from ai_edge_litert.interpreter import Interpreter

        key = self.details.get("signature")
        if not key:
            return self.make_runner(feeds), ""
        own = Interpreter(model_path=str(self.model_path), num_threads=self.details.get("threads"))
        runner = own.get_signature_runner(key)
        arrays = {n: np.ascontiguousarray(feeds[n]) for n, _ in self._in}
        self._keep.append(own)
        return (lambda: runner(**arrays)), "interpreter.get_signature_runner()(**inputs)"

    def profile_target(self) -> TFLiteTarget:
        from infer_core.profiling.hooks import TFLiteTarget

        return TFLiteTarget(self.interpreter)


def load(spec: ModelSpec, variant: str) -> TFLiteModel:
    from ai_edge_litert.interpreter import Interpreter

    path = Path(spec.path)
    if devices.parse_device(spec.device)[0] != "cpu":
        raise DeviceUnavailable(f"{path}: the LiteRT Python interpreter runs on the CPU only; use device cpu for tflite")
    check_file(path)
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=_threads(spec))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise CorruptModel(f"{path}: LiteRT cannot load it ({str(exc).splitlines()[0][:160]})") from None
    phases["interpreter_create"] = time.perf_counter() - t0
    return TFLiteModel(variant, interpreter, path, spec, {"threads": _threads(spec), "load_phases": phases})
