"""One module per model format, each with the same shape: `load(spec, variant) -> Model`."""

from __future__ import annotations

import importlib

from infer_core.detect import resolve_variant
from infer_core.model import Model, ModelSpec, split_variant

# base format -> module; variants ("+xla", "+int8", ...) are handled inside the base's module,
# and a TFLite variant is a separate file, so it loads through the same module.
MODULES = {
    "checkpoint": "infer_core.formats.checkpoint",
    "frozen": "infer_core.formats.frozen",
    "saved_model": "infer_core.formats.saved_model",
    "keras": "infer_core.formats.keras",
    "tflite": "infer_core.formats.tflite",
}


def load(spec: ModelSpec) -> Model:
    """Load the model `spec` describes (imports TensorFlow: call it in a worker process)."""
    variant = resolve_variant(spec)
    base, _ = split_variant(variant)
    module = importlib.import_module(MODULES[base])
    return module.load(spec, variant)  # type: ignore[no-any-return]
