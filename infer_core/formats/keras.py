"""Keras model files: `.keras` (Keras 3) and `.h5` (Keras 3 first; legacy files in a tf-keras worker).

Call path: the model's call traced once into a ConcreteFunction (batch dimension left dynamic, so
no retrace per batch size) and called with keyword arguments, inputs converted once outside the
timed call. Measured here on the seed network: `model(x)` eagerly 5.9 ms at batch 1,
`predict_on_batch` 0.90 ms (TF-NOTES.md); a traced function skips Keras's per-call Python work.
Which Keras loaded the file is recorded in `details["keras"]`.

Keras files can carry code (Lambda layers): they load with `safe_mode=True` unless the user
turned it off explicitly (TensorFlow models are programs: DESIGN.md, Security).
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from typing import Any

from infer_core import devices
from infer_core.errors import CorruptModel, LegacyKerasRequired, ModelNotFound, UnknownFormat, UnsafeModel
from infer_core.formats.signature import SignatureModel, require_thread_pool
from infer_core.model import ModelSpec

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
CALL_PATH = "tf.function(model.call).concrete_function(**kwargs)"


def legacy_process() -> bool:
    return os.environ.get("TF_USE_LEGACY_KERAS", "0") == "1"


def check_file(path: Path) -> None:
    if not path.is_file():
        raise ModelNotFound(f"{path}: no such Keras model file")
    if path.suffix.lower() not in KERAS_SUFFIXES:  # Keras reads nothing else; say what the file is named
        kind = f"a {path.suffix} file" if path.suffix else "a file without an extension"
        raise UnknownFormat(f"{path}: {kind}, not a Keras model (Keras reads .keras and .h5/.hdf5 files); "
                            f"check the path or --format")
    if path.stat().st_size == 0:
        raise CorruptModel(f"{path}: the file is empty, not a Keras model")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise CorruptModel(f"{path}: not a Keras 3 .keras archive (a .keras file is a zip); corrupt or another format")
    if path.suffix in (".h5", ".hdf5"):
        with path.open("rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                raise CorruptModel(f"{path}: not an HDF5 file; corrupt or another format")


def _load_keras3(path: Path, safe_mode: bool) -> tuple[Any, str]:
    import keras

    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=safe_mode)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "unsafe" in text.lower():
            raise UnsafeModel(f"{path}: Keras refused to load code from the file with safe_mode on "
                              f"({text.splitlines()[0][:120]}); if you trust it, pass --unsafe-keras") from None
        if path.suffix != ".keras":
            raise LegacyKerasRequired(f"{path}: Keras 3 cannot read this .h5 ({text.splitlines()[0][:120]})") from None
        raise CorruptModel(f"{path}: Keras 3 cannot load it ({text.splitlines()[0][:160]})") from None
    except Exception as exc:
        if path.suffix != ".keras":
            raise LegacyKerasRequired(f"{path}: Keras 3 cannot read this .h5 ({exc})") from None
        raise CorruptModel(f"{path}: Keras 3 cannot load it ({type(exc).__name__}: {str(exc)[:160]})") from None
    return model, f"keras {keras.__version__}"


def _load_tf_keras(path: Path, safe_mode: bool) -> tuple[Any, str]:
    import tf_keras

    try:
        model = tf_keras.models.load_model(str(path), compile=False, safe_mode=safe_mode)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text:
            raise UnsafeModel(f"{path}: tf-keras refused to load code from the file with safe_mode on; "
                              f"if you trust it, pass --unsafe-keras") from None
        raise CorruptModel(f"{path}: tf-keras cannot load it ({text.splitlines()[0][:160]})") from None
    except Exception as exc:
        raise CorruptModel(f"{path}: tf-keras cannot load it ({type(exc).__name__}: {str(exc)[:160]})") from None
    return model, f"tf-keras {tf_keras.__version__}"


def _output_names(model: Any) -> list[str]:
    names = list(getattr(model, "output_names", None) or [])
    return names if len(names) == len(model.outputs) else [f"output_{i}" for i in range(len(model.outputs))]


def _input_names(model: Any) -> list[str]:
    return [t.name.split(":")[0] for t in model.inputs]


def trace(model: Any) -> Any:
    """The model's inference call as a ConcreteFunction with keyword inputs and a dict of outputs."""
    import tensorflow as tf

    in_names, out_names = _input_names(model), _output_names(model)

    def call(**kwargs: Any) -> dict[str, Any]:
        args = [kwargs[n] for n in in_names]
        result = model(args[0] if len(args) == 1 else args, training=False)
        flat = result if isinstance(result, (list, tuple)) else list(result.values()) if isinstance(result, dict) else [result]
        return dict(zip(out_names, flat))

    specs = {n: tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in zip(in_names, model.inputs)}
    return tf.function(call).get_concrete_function(**specs)


def load(spec: ModelSpec, variant: str) -> SignatureModel:
    import tensorflow as tf

    path = Path(spec.path)
    devices.require(spec.device)
    require_thread_pool(spec, "Keras")
    check_file(path)
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    with tf.device(devices.tf_device(spec.device)):
        if legacy_process():
            model, which = _load_tf_keras(path, spec.safe_mode)
        else:
            model, which = _load_keras3(path, spec.safe_mode)
        phases["keras_load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        function = trace(model)
        phases["trace"] = time.perf_counter() - t0
    details = {"keras": which, "safe_mode": spec.safe_mode, "load_phases": phases}
    result = SignatureModel(variant, function, spec, str(path), variant.endswith("+xla"), details, CALL_PATH)
    result.owner = model
    result.idiomatic = _predict_call(model)
    return result


def _predict_call(model: Any) -> Any:
    """`model.predict(x, verbose=0)`, the call Keras users write (x: one array, or a list in the model's
    input order)."""
    names = _input_names(model)

    def factory(feeds: Any) -> tuple[Any, str]:
        arrays = [feeds[n] for n in names]
        x = arrays[0] if len(arrays) == 1 else arrays
        return (lambda: model.predict(x, verbose=0)), "model.predict(x, verbose=0)"

    return factory
