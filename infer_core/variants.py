"""The variant names (DESIGN.md, Variant names): one spelling everywhere, importable without numpy or TensorFlow."""

from __future__ import annotations

from infer_core.errors import UnknownFormat

BASE_FORMATS = ("checkpoint", "frozen", "saved_model", "keras", "tflite")
VARIANTS = (
    "checkpoint",
    "frozen",
    "saved_model",
    "saved_model+xla",
    "keras",
    "keras+xla",
    "tflite",
    "tflite+fp16",
    "tflite+int8dyn",
    "tflite+int8",
)
# Formats whose numbers are fp32 computations of the same weights: they must agree in a parity check.
FP32_VARIANTS = ("checkpoint", "frozen", "saved_model", "saved_model+xla", "keras", "keras+xla", "tflite")


def split_variant(variant: str) -> tuple[str, str]:
    """'tflite+int8' -> ('tflite', 'int8'); 'frozen' -> ('frozen', '')."""
    if variant not in VARIANTS:
        raise UnknownFormat(f"unknown format {variant!r}; known formats: {', '.join(VARIANTS)}")
    base, _, option = variant.partition("+")
    return base, option


# Formats whose calls run on TensorFlow's inter-op pool whatever the setting (eager functions): the caller's thread
# (inter_op_threads = -1) is a session setting, which they refuse.
POOL_ONLY_BASES = ("saved_model", "keras")
CALLER_THREAD_SCOPE = "-1 (the caller's thread) applies to sessions (checkpoint, frozen graph)"


def pool_only(variant: str) -> bool:
    """Whether the variant cannot run in the caller's thread (SavedModel and Keras functions)."""
    return split_variant(variant)[0] in POOL_ONLY_BASES
