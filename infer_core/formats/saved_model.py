"""SavedModel directory (TF2 export or TF1 builder): a signature, called with keyword arguments.

Call path: the signature's ConcreteFunction called with keyword arguments, inputs converted to
tensors once outside the timed call. Measured here on the seed network at batch 1: the same
signature called positionally took 6.5-11 ms (the positional route goes through slow argument
canonicalisation), with keywords 0.43-0.56 ms, the `serve` endpoint 0.70-0.80 ms (TF-NOTES.md).
`+xla` wraps the signature in `tf.function(jit_compile=True)`; it traces once per input shape,
which the warmup pays; `trace_count` exposes the count so a retrace in a timed loop is caught.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from infer_core import devices
from infer_core.errors import CorruptModel, ModelNotFound, TensorNotFound
from infer_core.model import Feeds, Model, ModelSpec, Outputs, TensorInfo

CALL_PATH = "signature(**kwargs)"
CALL_PATH_XLA = "tf.function(jit_compile=True) over signature(**kwargs)"


def check_dir(path: Path) -> None:
    if not path.exists():
        raise ModelNotFound(f"{path}: no such SavedModel directory")
    pb = path / "saved_model.pb"
    if not pb.exists() and not (path / "saved_model.pbtxt").exists():
        raise CorruptModel(f"{path}: not a SavedModel (no saved_model.pb inside)")
    if pb.exists():
        from google.protobuf import message
        from tensorflow.core.protobuf import saved_model_pb2

        proto = saved_model_pb2.SavedModel()
        try:
            proto.ParseFromString(pb.read_bytes())
        except (message.DecodeError, RuntimeWarning):
            raise CorruptModel(f"{pb}: not a valid SavedModel protobuf (corrupt or truncated)") from None
        if not proto.meta_graphs:
            raise CorruptModel(f"{pb}: the SavedModel holds no meta graph (corrupt or truncated)")


def spec_info(name: str, spec: Any) -> TensorInfo:
    dims = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
    return TensorInfo(name=name, dtype=np.dtype(spec.dtype.as_numpy_dtype).name, shape=dims,
                      batch_dim=None if dims == () else 0)


def _select(infos: tuple[TensorInfo, ...], names: tuple[str, ...], role: str, source: str) -> tuple[TensorInfo, ...]:
    if not names:
        return infos
    by_name = {t.name: t for t in infos}
    missing = [n for n in names if n.split(":")[0] not in by_name]
    if missing:
        raise TensorNotFound(f"{source}: no {role} named {missing[0]!r}; the signature's {role}s are {sorted(by_name)}")
    return tuple(by_name[n.split(":")[0]] for n in names)


class SignatureModel(Model):
    """A ConcreteFunction with keyword inputs and a dict of outputs (SavedModel signature, Keras)."""

    def __init__(self, variant: str, function: Any, spec: ModelSpec, source: str, xla: bool,
                 details: dict[str, Any], call_path: str) -> None:
        import tensorflow as tf

        self.variant = variant
        self.concrete_function = function
        self.device = spec.device
        self._tf_device = devices.tf_device(spec.device)
        _, kwargs = function.structured_input_signature
        self.inputs = _select(tuple(spec_info(k, v) for k, v in sorted(kwargs.items())), spec.inputs, "input", source)
        outs = function.structured_outputs
        self.outputs = _select(tuple(spec_info(k, v) for k, v in sorted(outs.items())), spec.outputs, "output", source)
        self._call = tf.function(function, jit_compile=True) if xla else function
        self._traced = self._call if xla else None
        self.call_path = CALL_PATH_XLA if xla else call_path
        self.details = details
        self.owner: Any = None  # the object whose variables the function reads
        self.idiomatic: Any = None  # a Keras model's own idiomatic call (set by the Keras loader)

    def _tensors(self, feeds: Feeds) -> dict[str, Any]:
        import tensorflow as tf

        with tf.device(self._tf_device):
            return {t.name: tf.constant(feeds[t.name]) for t in self.inputs}

    def _run(self, tensors: dict[str, Any]) -> Outputs:
        result = self._call(**tensors)
        return {t.name: result[t.name].numpy() for t in self.outputs}

    def predict(self, feeds: Feeds) -> Outputs:
        return self._run(self._tensors(feeds))

    def make_runner(self, feeds: Feeds) -> Any:
        tensors = self._tensors(feeds)
        return lambda: self._run(tensors)

    def idiomatic_runner(self, feeds: Feeds) -> tuple[Any, str]:
        """Keras: `model.predict(x, verbose=0)`; a SavedModel: `signatures[name](**numpy inputs)` then
        `.numpy()` on each output (the argument conversion happens on every call, as in user code)."""
        if self.idiomatic is not None:
            made: tuple[Any, str] = self.idiomatic(feeds)
            return made
        arrays = {t.name: feeds[t.name] for t in self.inputs}
        call = self._call
        return (lambda: {k: v.numpy() for k, v in call(**arrays).items()}), "signatures[name](**numpy) + .numpy()"

    def int_input_bound(self) -> int | None:
        from infer_core.vocab import function_bound

        return function_bound(self.concrete_function)

    def trace_count(self) -> int | None:
        return int(self._traced.experimental_get_tracing_count()) if self._traced is not None else None

    def memory_info(self) -> dict[str, int] | None:
        return devices.gpu_memory(self.device)


def load(spec: ModelSpec, variant: str) -> SignatureModel:
    import tensorflow as tf

    path = Path(spec.path)
    devices.require(spec.device)
    check_dir(path)
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    with tf.device(devices.tf_device(spec.device)):
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:  # corrupt variables, unknown ops, ...
            raise CorruptModel(f"{path}: the SavedModel does not load ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    phases["saved_model_load"] = time.perf_counter() - t0
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if spec.signature not in signatures:
        raise TensorNotFound(f"{path}: no signature {spec.signature!r}; it has {sorted(signatures) or 'none'} "
                             f"(choose one with --signature)")
    details = {"signature": spec.signature, "load_phases": phases}
    model = SignatureModel(variant, signatures[spec.signature], spec, str(path), variant.endswith("+xla"),
                           details, CALL_PATH)
    model.owner = loaded  # keeps the loaded object, and so its variables, alive
    return model
