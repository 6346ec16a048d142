"""A ConcreteFunction called with keyword inputs: the common half of the SavedModel and Keras formats.

`+xla` wraps the function in `tf.function(jit_compile=True)`; it traces once per input shape,
which the warmup pays; `trace_count` exposes the count so a retrace in a timed loop is caught.
Profiling: the function's eager run metadata comes back empty (TF-NOTES.md), so the profile and the
FLOP count run on the function frozen into a GraphDef (infer_core.profiling.targets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from infer_core import devices
from infer_core.errors import TensorNotFound, UnsupportedSetting
from infer_core.model import CALLER_THREAD, Feeds, Model, ModelSpec, Outputs, TensorInfo
from infer_core.variants import CALLER_THREAD_SCOPE

if TYPE_CHECKING:
    from infer_core.profiling.hooks import InferenceGraph, SessionTarget

CALL_PATH_XLA = "tf.function(jit_compile=True) over signature(**kwargs)"


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


def require_thread_pool(spec: ModelSpec, what: str) -> None:
    """Eager functions always run on TensorFlow's inter-op pool: the caller's thread is a session setting."""
    if spec.inter_op_threads == CALLER_THREAD:
        raise UnsupportedSetting(
            f"{spec.path}: inter_op_threads = {CALLER_THREAD_SCOPE}; "
            f"{what} functions run on TensorFlow's inter-op pool: give 0 or a count (in a scenario, exclude the combination)")


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

    def profile_target(self) -> SessionTarget:
        from infer_core.profiling.targets import function_target

        return function_target(self)

    def inference_graph(self) -> InferenceGraph:
        from infer_core.profiling.targets import function_inference_graph

        return function_inference_graph(self)
