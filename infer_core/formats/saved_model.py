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

from infer_core import devices
from infer_core.errors import CorruptModel, ModelNotFound, TensorNotFound
from infer_core.formats.signature import SignatureModel, require_thread_pool
from infer_core.model import ModelSpec

CALL_PATH = "signature(**kwargs)"


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


def load(spec: ModelSpec, variant: str) -> SignatureModel:
    import tensorflow as tf

    path = Path(spec.path)
    devices.require(spec.device)
    require_thread_pool(spec, "SavedModel")
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
