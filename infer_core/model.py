"""What every loaded model looks like, whatever its format: the shared shape of all backends.

No TensorFlow here: these types travel between processes as JSON.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from infer_core.errors import ProfilingError
from infer_core.variants import BASE_FORMATS as BASE_FORMATS
from infer_core.variants import FP32_VARIANTS as FP32_VARIANTS
from infer_core.variants import VARIANTS as VARIANTS
from infer_core.variants import split_variant as split_variant

if TYPE_CHECKING:
    from infer_core.profiling.hooks import InferenceGraph, ProfileTarget


@dataclass(frozen=True)
class TensorInfo:
    """One input or output: `name` is what `predict` keys by; `shape` uses None for unknown dims."""

    name: str
    dtype: str  # numpy dtype name: "float32", "int32", ...
    shape: tuple[int | None, ...] | None  # None = unknown rank
    batch_dim: int | None = 0  # index of the batch dimension, None if the tensor has none

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TensorInfo:
        shape = tuple(d["shape"]) if d.get("shape") is not None else None
        return cls(name=d["name"], dtype=d["dtype"], shape=shape, batch_dim=d.get("batch_dim", 0))


CALLER_THREAD = -1  # inter_op_threads: TensorFlow's own convention (a negative ConfigProto value)


@dataclass(frozen=True)
class ModelSpec:
    """How to load a model: where it is, which format/variant, and the user's overrides.

    Built and validated without I/O; `infer_core.load` resolves it against the file system.
    """

    path: str
    variant: str | None = None  # None = detect from the path
    builder: str | None = None  # checkpoint via user code: "file.py:function" or "pkg.mod:function"
    signature: str = "serving_default"
    inputs: tuple[str, ...] = ()  # override: input tensor names
    outputs: tuple[str, ...] = ()  # override: output tensor names
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # values for dynamic dims
    device: str = "cpu"
    intra_op_threads: int = 0
    inter_op_threads: int = 0  # CALLER_THREAD (-1): a session runs each call in the caller's thread
    tflite_threads: int | None = None  # None = follow intra_op_threads (0 -> LiteRT default)
    safe_mode: bool = True
    vocab_size: int | None = None  # upper bound for synthesised integer inputs, when known

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["shapes"] = {k: list(v) for k, v in self.shapes.items()}
        d["inputs"], d["outputs"] = list(self.inputs), list(self.outputs)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelSpec:
        d = dict(d)
        d["shapes"] = {k: tuple(v) for k, v in (d.get("shapes") or {}).items()}
        d["inputs"] = tuple(d.get("inputs") or ())
        d["outputs"] = tuple(d.get("outputs") or ())
        return cls(**d)


Feeds = Mapping[str, np.ndarray]
Outputs = dict[str, np.ndarray]


class Model(abc.ABC):
    """A loaded model. Subclasses: one per format, same methods, no branching on format here."""

    variant: str
    call_path: str  # which call path `predict` uses, and why it is the fastest correct one
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    notes: tuple[str, ...] = ()  # things the user should know (e.g. which placeholders were picked)
    details: Mapping[str, Any] = {}  # format-specific facts for records (e.g. which Keras loaded it)
    device: str = "cpu"  # the spec's device string ("cpu", "gpu:0")

    @abc.abstractmethod
    def predict(self, feeds: Feeds) -> Outputs:
        """Run one inference; outputs are numpy arrays on the host, device work finished."""

    def make_runner(self, feeds: Feeds) -> Any:
        """A zero-argument callable that runs one inference on `feeds`, for timed loops.

        It does the same work as `predict(feeds)` (outputs materialised on the host) but may
        prepare the feeds once, so the loop measures inference and not argument conversion.
        """
        return lambda: self.predict(feeds)

    def idiomatic_runner(self, feeds: Feeds) -> tuple[Any, str]:
        """(a zero-argument callable, its description): the call typical user code makes, numpy arrays in and
        out. Here: the fastest path itself, for families whose everyday call is the fastest (description "")."""
        return self.make_runner(feeds), ""

    def int_input_bound(self) -> int | None:
        """Exclusive upper bound for integer inputs (the smallest embedding table they index), if found."""
        return None

    def trace_count(self) -> int | None:
        """How many times the model's functions have been traced so far; None where not applicable."""
        return None

    def memory_info(self) -> dict[str, int] | None:
        """Device memory statistics (GPU: current and peak bytes); None on CPU."""
        return None

    def close(self) -> None:
        """Release sessions and interpreters."""

    # Profiling hooks: each format family says what can be traced and counted, so profiling code
    # never asks a model which format it is (infer_core.profiling.targets builds the objects).

    def profile_target(self) -> ProfileTarget:
        """What a per-op profile traces: a Session (graph formats) or an interpreter (TFLite)."""
        raise ProfilingError(f"cannot profile a {type(self).__name__}: it has no Session, concrete function or interpreter")

    def inference_graph(self) -> InferenceGraph | None:
        """The TensorFlow graph FLOPs are counted on; None where there is none (TFLite)."""
        return None

    def session_graph(self) -> InferenceGraph | None:
        """The graph the model's own Session optimises when it loads (for the grappler estimate of a
        cold start); None for eager formats and TFLite, which have no such Session."""
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "call_path": self.call_path,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "notes": list(self.notes),
            "details": dict(self.details),
        }
